"""The analysis settings in words, and which of them had no effect on this page."""

from __future__ import annotations

from IPython.display import HTML

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages.synthesis.inputs import Inputs, paragraphs
from helpers.stats.synthesis import SOURCE_KINDS

METHOD_WORDS = {
    "REML": "restricted maximum likelihood (REML)",
    "ML": "maximum likelihood (ML)",
    "DL": "the DerSimonian-Laird method (DL)",
    "PM": "the Paule-Mandel method (PM)",
    "EE": "an equal-effects model (no between-trial variance)",
}
TEST_WORDS = {"knha": "Hartung-Knapp intervals", "z": "normal (z) intervals"}
SETTING_WORDS = {
    "tau2_method": "the between-trial variance estimator",
    "test": "the interval method",
    "assumed_r": "the assumed pre-post correlation",
    "r_grid": "the correlations of the sensitivity analysis",
    "source_kinds": "the kinds of report included",
    "min_k": "the minimum number of trials for pooling",
}


def pooled_analyses(inputs: Inputs) -> int:
    """Analyses with a model estimate: pooled change scores, serious events, terms."""
    return int(
        inputs["synthesis_efficacy_groups"]["pooled"].sum()
        + inputs["synthesis_serious_pooled"]["pooled"].fillna(False).sum()
        + inputs["synthesis_adverse_event_terms"]["pooled"].fillna(False).sum()
    )


def largest_k(inputs: Inputs) -> int:
    """The most trials any analysis could pool."""
    counts = [
        inputs["synthesis_efficacy_groups"]["trials"],
        inputs["synthesis_serious_pooled"]["trials"],
        inputs["synthesis_adverse_event_terms"]["trials"],
    ]
    return int(max((int(c.max()) for c in counts if not c.empty), default=0))


def without_effect(inputs: Inputs) -> list[str]:
    """Settings that changed nothing on this page, each with the reason."""
    notes = []
    if not pooled_analyses(inputs):
        notes.append(
            "Nothing was pooled, so the between-trial variance estimator and the interval "
            "method changed no number on this page."
        )
    if largest_k(inputs) < 2:
        notes.append(
            "No analysis has more than one trial, so the minimum number of trials for pooling "
            "changed nothing either."
        )
    return notes


def statement(inputs: Inputs) -> HTML:
    """The settings used, what differs from the protocol, and what had no effect."""
    settings = inputs.settings
    kinds = (
        "every kind"
        if set(settings.source_kinds) == set(SOURCE_KINDS)
        else ", ".join(labels.label("kind", k) for k in settings.source_kinds)
    )
    grid = ", ".join(fmt.reported(r) for r in settings.r_grid)
    lines = [
        f"Pooled change scores: between-trial variance by {METHOD_WORDS[settings.tau2_method]}, "
        f"{TEST_WORDS[settings.test]}; pooling needs at least "
        f"{fmt.plural(settings.min_k, 'trial')}. Change scores assume a pre-post correlation "
        f"r = {fmt.reported(settings.assumed_r)} (sensitivity analysis: r = {grid} and the r "
        "implied by reported p-values). Reports included: "
        f"{kinds} ({fmt.plural(len(inputs.trials), 'trial')}).",
    ]
    changed = settings.changed()
    if changed:
        lines.append(
            "These settings differ from the review's protocol: "
            + "; ".join(SETTING_WORDS[name] for name in changed)
            + "."
        )
    lines += without_effect(inputs)
    return paragraphs(lines)


def top_note(inputs: Inputs) -> HTML:
    """At the top of the page, only when the settings differ from the protocol."""
    if not inputs.settings.changed():
        return HTML("")
    return paragraphs(
        [
            "This page was computed with settings that differ from the review's protocol; the "
            "settings section at the end lists them and says which had an effect."
        ]
    )
