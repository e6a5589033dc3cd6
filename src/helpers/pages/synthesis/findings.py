"""Summary of findings per condition, in GRADE's narrative form for evidence not pooled.

Murad et al. 2017 ("Rating the certainty in evidence in the absence of a single estimate of
effect", Evid Based Med 22:85): at most seven critical or important outcomes, ranked by
importance; the impact in words with numbers and units; participants (studies); follow-up;
certainty with footnoted reasons. Every judgment, with its reason, is in the appendix table
(:func:`judgments_table`).
"""

from __future__ import annotations

import string

import pandas as pd
from IPython.display import HTML
from markupsafe import escape

from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.inputs import Inputs, capitalised, outcome_words, shown_rows
from helpers.pages.synthesis.key_messages import CERTAINTY_SYMBOLS, findings_anchor
from helpers.stats import grade

MAX_OUTCOMES = 7  # GRADE: at most seven critical or important outcomes per table
FOLLOW_UP_NOTE = (
    "Follow-up: for efficacy, months from the first cell administration to the assessment "
    "used; for safety, the follow-up each trial reports."
)


def outcome_label(row: pd.Series) -> str:
    """'Serious adverse events', 'Adverse event: fever', 'Bladder (physiological measures)'."""
    if row["kind"] == "safety":
        if row["subject"] == "serious":
            return "Serious adverse events"
        return f"Adverse event: {row['subject']}"
    return outcome_words(row["subject"], bool(row["surrogate"]))


def follow_up(row: pd.Series) -> str:
    low, high = row["follow_up_min"], row["follow_up_max"]
    if not fmt.present(low):
        return fmt.MISSING
    if low == high:
        return fmt.months(low)
    return f"{fmt.reported(low)} to {fmt.months(high)}"


def _scale(estimate: pd.Series) -> str:
    unit = f" {estimate['unit']}" if fmt.present(estimate["unit"]) else ""
    scale = (
        f" (scale {fmt.reported(estimate['scale_min'])} to {fmt.reported(estimate['scale_max'])})"
        if fmt.present(estimate["scale_min"]) and fmt.present(estimate["scale_max"])
        else ""
    )
    return unit + scale


def _votes(row: pd.Series) -> str:
    if not fmt.present(row["outcomes_counted"]):
        return ""
    return (
        f" {int(row['outcomes_improved'])} of {fmt.plural(int(row['outcomes_counted']), 'outcome')}"
        f" improved in {fmt.plural(int(row['trials']), 'trial')}."
    )


def impact(row: pd.Series, inputs: Inputs) -> str:
    """The effect of one outcome in words, with its numbers and units."""
    evidence = row["evidence"]
    if row["kind"] == "safety":
        return _safety_impact(row, inputs)
    if evidence == "pooled":
        return (
            f"Pooled standardised change {fmt.number(row['estimate'])} (95% CI "
            f"{fmt.interval(row['ci_low'], row['ci_high'])}; {fmt.BENEFIT_NOTE})." + _votes(row)
        )
    if evidence == "change score":
        estimates = inputs["synthesis_efficacy_estimates"].set_index(["trial_id", "outcome_id"])
        shown = estimates.loc[(row["shown_trial_id"], row["shown_outcome_id"])]
        return (
            f"{shown['outcome']}: mean {fmt.reported(shown['pre_mean'])} before and "
            f"{fmt.reported(shown['post_mean'])} after{_scale(shown)} at "
            f"{fmt.months(shown['timepoint_months'])} in {fmt.plural(int(shown['n']), 'patient')}"
            f" ({inputs.study(row['shown_trial_id'])}); standardised change "
            f"{fmt.number(shown['smcr'])} (95% CI {fmt.interval(shown['ci_low'], shown['ci_high'])}"
            f"; {fmt.BENEFIT_NOTE})." + _votes(row)
        )
    if evidence == "counts":
        responders = inputs["synthesis_responders"].set_index(["trial_id", "outcome_id"])
        key = (row["shown_trial_id"], row["shown_outcome_id"])
        if key in responders.index:
            shown = responders.loc[key]
            return (
                f"{shown['outcome']}: {_counts(shown)} ({inputs.study(key[0])})."
                + _mcnemar(shown)
                + _votes(row)
            )
        votes = inputs["synthesis_votes"].set_index(["trial_id", "outcome_id"])
        shown = votes.loc[key]
        return f"{shown['outcome']}: {shown['detail']} ({inputs.study(key[0])})." + _votes(row)
    return "Stated in words only, without numbers." + _votes(row)


def _counts(shown: pd.Series) -> str:
    after = (
        f"{int(shown['events'])} of {int(shown['total'])} ({fmt.percent(shown['proportion'])}) "
        f"at {fmt.months(shown['timepoint_months'])}"
    )
    if not fmt.present(shown["baseline_events"]):
        return f"{after} (exact 95% CI {fmt.percent_interval(shown['ci_low'], shown['ci_high'])})"
    before = int(shown["baseline_events"]) / int(shown["baseline_total"])
    return (
        f"{int(shown['baseline_events'])} of {int(shown['baseline_total'])} "
        f"({fmt.percent(before)}) at baseline, {after}"
    )


def _mcnemar(shown: pd.Series) -> str:
    if not fmt.present(shown["mcnemar_p_min"]):
        return ""
    text = fmt.p_range(shown["mcnemar_p_min"], shown["mcnemar_p_max"])
    return f" Exact McNemar {text} (who changed is not reported)."


def _safety_impact(row: pd.Series, inputs: Inputs) -> str:
    if row["subject"] == "serious":
        pooled = inputs["synthesis_serious_pooled"]
        summary = pooled[pooled["scope"] == row["condition"]].iloc[0]
        events, patients = int(summary["events"]), int(summary["patients"])
        text = (
            f"No serious adverse events in {fmt.plural(patients, 'patient')}; the rate could be "
            f"up to {fmt.percent(summary['upper_bound'])} (exact one-sided 95% bound)."
            if events == 0
            else f"{events} of {fmt.plural(patients, 'patient')} "
            f"({fmt.percent(summary['proportion'])}; exact 95% CI "
            f"{fmt.percent_interval(summary['ci_low'], summary['ci_high'])})."
        )
        if bool(summary["pooled"]):
            text += (
                f" Pooled (binomial-normal model): {fmt.percent(summary['glmm_proportion'])} "
                f"(95% CI {fmt.percent_interval(summary['glmm_ci_low'], summary['glmm_ci_high'])})."
            )
        if fmt.present(summary["definitions"]) and int(summary["definitions"]) > 1:
            text += f" Definitions differ ({int(summary['definitions'])} wordings)."
        missing = inputs.studies(summary["trials_without_data"])
        if missing:
            text += f" Not reported per patient by {missing}."
        return text
    pooled = "pooled, binomial-normal model; " if row["evidence"] == "pooled" else ""
    return (
        f"{fmt.percent(row['estimate'])} of patients ({pooled}95% CI "
        f"{fmt.percent_interval(row['ci_low'], row['ci_high'])}) in "
        f"{fmt.plural(int(row['patients']), 'patient')}."
    )


def _footnotes(rows: pd.DataFrame, judgments: pd.DataFrame) -> tuple[dict[str, str], list[str]]:
    """Letters per outcome for each domain rated down, and the footnotes they point to."""
    letters: dict[str, str] = {}
    notes: list[str] = []
    seen: dict[str, str] = {}
    for key in rows["outcome_key"]:
        own = judgments[(judgments["outcome_key"] == key) & (judgments["levels_down"] > 0)]
        marks = []
        for judgment in own.itertuples(index=False):
            text = (
                f"{capitalised(judgment.domain)}, rated down "
                f"{'one level' if judgment.levels_down == 1 else 'two levels'}: {judgment.reason}."
            )
            if text not in seen:
                seen[text] = string.ascii_lowercase[len(seen) % 26] * (1 + len(seen) // 26)
                notes.append(f"{seen[text]}. {text}")
            marks.append(seen[text])
        letters[key] = " ".join(marks)
    return letters, notes


def summary_of_findings(inputs: Inputs, condition: str) -> HTML:
    """One condition's summary of findings, anchored for the key messages' links."""
    certainty = inputs["synthesis_certainty"]
    own = certainty[
        (certainty["condition"] == condition)
        & certainty["importance"].isin(["critical", "important"])
    ].sort_values("rank", kind="stable")
    name = capitalised(fmt.condition(condition))
    if own.empty:
        return HTML(
            f'<div id="{findings_anchor(condition)}"><p>{escape(name)}: no critical or '
            "important outcome could be rated.</p></div>"
        )
    shown = own.head(MAX_OUTCOMES)
    letters, notes = _footnotes(shown, inputs["synthesis_certainty_judgments"])
    rows = []
    for _, row in shown.iterrows():
        rows.append(
            {
                "Outcome": outcome_label(row),
                "Importance": row["importance"],
                "Impact": impact(row, inputs),
                "Participants (studies)": (
                    f"{int(row['patients'])} ({fmt.plural(int(row['trials']), 'study', 'studies')})"
                ),
                "Follow-up": follow_up(row),
                "Certainty": (
                    f"{CERTAINTY_SYMBOLS[row['certainty']]} {row['certainty']} "
                    f"{letters[row['outcome_key']]}"
                ).strip(),
            }
        )
    more = len(own) - len(shown)
    extra = (
        [f"{fmt.plural(more, 'further outcome')} of lower rank appear in the appendix."]
        if more
        else []
    )
    table = tables.Table(
        pd.DataFrame(rows),
        caption=f"Summary of findings: cell therapy for {fmt.condition(condition)}, outcomes "
        "ranked by importance",
        notes=[*notes, FOLLOW_UP_NOTE, *extra],
        lift_repeated=False,
    )
    return HTML(f'<div id="{findings_anchor(condition)}">{table.to_html()}</div>')


def summaries_of_findings(inputs: Inputs) -> HTML:
    """Every condition's summary of findings, in order."""
    return HTML("".join(summary_of_findings(inputs, c).data for c in inputs.conditions))


def judgments_table(inputs: Inputs) -> HTML:
    """Appendix: the evidence profile, one row per outcome with every GRADE domain's judgment
    and its reason, outcomes in the order of the summaries of findings."""
    certainty = inputs["synthesis_certainty"]
    judgments = inputs["synthesis_certainty_judgments"].set_index(["outcome_key", "domain"])
    rows = []
    for _, outcome in certainty.iterrows():
        row = {
            "condition": fmt.condition(outcome["condition"]),
            "outcome": outcome_label(outcome),
            "certainty": outcome["certainty"],
        }
        for domain in grade.DOMAINS:
            judgment = judgments.loc[(outcome["outcome_key"], domain)]
            down = int(judgment["levels_down"])
            row[domain] = (
                f"{judgment['rating']}"
                + (f" (−{down})" if down else "")
                + f": {judgment['reason']}"
            )
        rows.append(row)
    columns = ["condition", "outcome", "certainty", *grade.DOMAINS]
    frame, cut = shown_rows(
        pd.DataFrame(rows, columns=columns),
        what="outcomes",
        ranked="by condition and importance",
        table="synthesis_certainty_judgments",
    )
    table = tables.Table(
        frame.set_index(["condition", "outcome"]),
        caption="Evidence profile: every GRADE judgment with its reason, per condition and outcome",
        notes=[
            "Non-randomised evidence starts at low certainty and is rated down one level per "
            "serious concern (two for very serious), to no lower than very low.",
            *cut,
        ],
        lift_repeated=False,
    )
    return HTML(f'<div id="judgments">{table.to_html()}</div>')
