"""Heterogeneity and subgroups on the synthesis page."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML

from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.inputs import (
    Inputs,
    capitalised,
    paragraphs,
    scope_words,
    shown_rows,
)
from helpers.stats.synthesis.heterogeneity import MODERATORS, level_words


def _analysis(row) -> str:
    if row.analysis == "serious events":
        return f"serious adverse events, {scope_words(row.scope)}"
    if row.analysis == "adverse event":
        return f"adverse event: {row.subject}, {scope_words(row.scope)}"
    return f"change from baseline: {fmt.domain(row.subject)} in {fmt.condition(row.scope)}"


def heterogeneity_table(inputs: Inputs) -> tables.Table | HTML:
    """tau², I² and prediction interval where an analysis was pooled; why not elsewhere."""
    frame = inputs["synthesis_heterogeneity"]
    pooled = frame[frame["pooled"]]
    rows = [
        {
            "analysis": capitalised(_analysis(row)),
            "trials": int(row.trials),
            "model": row.model,
            "tau²": fmt.number(row.tau2, 3),
            "I²": f"{fmt.number(row.i2, 0)}%" if fmt.present(row.i2) else "not defined",
            "prediction interval": fmt.interval(row.pi_low, row.pi_high),
        }
        for row in pooled.itertuples(index=False)
    ]
    not_pooled = frame[~frame["pooled"]]
    reasons = not_pooled["reason"].value_counts()
    notes = [
        f"{capitalised(fmt.plural(int(n), 'analysis', 'analyses'))} not pooled because {reason}."
        for reason, n in reasons.head(5).items()
    ]
    if len(reasons) > 5:
        notes.append(
            f"{fmt.plural(int(reasons.iloc[5:].sum()), 'further analysis', 'further analyses')} "
            "were not pooled for other reasons (see the analysis results)."
        )
    if not rows:
        return paragraphs(
            [
                "No analysis was pooled, so there is no between-trial variance, I² or "
                "prediction interval to report.",
                *notes,
            ]
        )
    columns = ["analysis", "trials", "model", "tau²", "I²", "prediction interval"]
    frame, cut = shown_rows(
        pd.DataFrame(rows, columns=columns).sort_values("trials", ascending=False, kind="stable"),
        what="pooled analyses",
        ranked="the most trials first",
        table="synthesis_heterogeneity",
    )
    notes += cut
    return tables.Table(
        frame,
        caption="Between-trial heterogeneity of every pooled analysis",
        notes=[
            "I² is not defined for the binomial-normal model; for proportions it is taken from "
            "the logit sensitivity model.",
            *notes,
        ],
    )


def subgroup_statements(inputs: Inputs) -> HTML:
    contrasts = inputs["synthesis_subgroup_contrasts"]
    possible = contrasts[contrasts["possible"]]
    if possible.empty:
        return paragraphs(
            [
                "No subgroup contrast could be tested: a test of subgroup differences needs an "
                "analysis with at least two trials at each of at least two levels, and none has "
                "that (the table names the trials per level)."
            ]
        )
    return paragraphs(
        [
            f"{capitalised(MODERATORS[row.moderator])}, {row.analysis}: QM = "
            f"{fmt.number(row.qm)} on {int(row.qm_df)} df, {fmt.p_value(row.qm_p)}."
            for row in possible.itertuples(index=False)
        ]
    )


def contrasts_table(inputs: Inputs) -> tables.Table:
    frame = inputs["synthesis_subgroup_contrasts"]
    rows = [
        {
            "subgroups by": MODERATORS[row.moderator],
            "analysis": row.analysis,
            "trials per level": row.k_per_level if fmt.present(row.k_per_level) else "—",
            "test of subgroup differences": (
                f"QM = {fmt.number(row.qm)} on {int(row.qm_df)} df, {fmt.p_value(row.qm_p)}"
                if row.possible
                else f"not possible: {row.reason}"
            ),
        }
        for row in frame.itertuples(index=False)
    ]
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="contrasts",
        ranked="by subgroup",
        table="synthesis_subgroup_contrasts",
    )
    return tables.Table(
        frame.set_index("subgroups by"),
        caption="Tests of subgroup differences, or the trials per level that are missing",
        notes=notes,
    )


def levels_table(inputs: Inputs) -> tables.Table:
    frame = inputs["synthesis_subgroup_levels"]
    rows = [
        {
            "subgroups by": MODERATORS[row.moderator],
            "level": level_words(row.moderator, row.level),
            "trials": int(row.trials),
            "patients treated": int(row.patients),
            "serious events": (
                f"{int(row.serious_events)} of {int(row.serious_patients)}"
                if fmt.present(row.serious_patients)
                else "—"
            ),
            "exact one-sided 95% upper bound": fmt.percent(row.upper_bound)
            if fmt.present(row.upper_bound)
            else "—",
            "trials favouring benefit": f"{int(row.trials_favouring_benefit)} of {int(row.trials)}",
        }
        for row in frame.itertuples(index=False)
    ]
    return tables.Table(
        pd.DataFrame(rows).set_index(["subgroups by", "level"]),
        caption="Subgroups described (no test): trials, patients, serious events and votes",
    )
