"""Efficacy on the synthesis page: change from baseline per condition and outcome domain,
side by side or pooled, and responder-type outcomes. Positive = benefit throughout."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from helpers.pages import forest, tables
from helpers.pages import format as fmt
from helpers.pages.figures import describe, forest_alt
from helpers.pages.synthesis.inputs import (
    FIGURE_ROWS,
    FIGURES_SHOWN,
    Inputs,
    anchored,
    capitalised,
    outcome_words,
    paragraphs,
    shown_rows,
)

SMCR = f"standardised mean change, SMCR ({fmt.BENEFIT_NOTE})"


def statements(inputs: Inputs) -> HTML:
    """How many change scores there are, what was pooled, and what the correlation r does."""
    estimates = inputs["synthesis_efficacy_estimates"]
    usable = estimates[estimates["usable"]]
    if usable.empty:
        return paragraphs(
            ["No outcome was reported with means and SDs before and after treatment."]
        )
    lines = [
        f"A standardised mean change could be computed for {fmt.plural(len(usable), 'outcome')} "
        f"with an agreed better direction in {fmt.plural(usable['trial_id'].nunique(), 'trial')}"
        + (
            f" ({len(estimates) - len(usable)} more have no agreed better direction or no "
            "estimate)."
            if len(estimates) > len(usable)
            else "."
        )
    ]
    groups = inputs["synthesis_efficacy_groups"]
    pooled = groups[groups["pooled"]]
    if pooled.empty:
        most = int(groups["trials"].max()) if not groups.empty else 0
        lines.append(
            f"No condition and outcome domain has estimates from at least "
            f"{fmt.plural(inputs.settings.min_k, 'trial')} (at most {fmt.plural(most, 'trial')}), "
            "so nothing was pooled: the estimates are shown side by side."
        )
    for row in pooled.itertuples(index=False):
        lines.append(
            f"{capitalised(fmt.domain(row.domain))} in {fmt.condition(row.condition)}: pooled "
            f"SMCR {fmt.number(row.estimate)} (95% CI {fmt.interval(row.ci_low, row.ci_high)}) "
            f"over {fmt.plural(int(row.trials), 'trial')}; I² {fmt.number(row.i2, 0)}%."
        )
    lines.append(correlation_statement(inputs))
    lines.append(
        "A change from baseline includes natural course, growth and rehabilitation: without a "
        "control group it is not a treatment effect."
    )
    return paragraphs(lines)


def correlation_statement(inputs: Inputs) -> str:
    """What the pre-post correlation r the sources imply does to the intervals."""
    table = inputs["synthesis_sensitivity_r"]
    recovered = table[table["r_source"] != "assumed"]
    if recovered.empty:
        return ""
    assumed = table[
        (table["r_source"] == "assumed")
        & (table["r"].round(6) == round(inputs.settings.assumed_r, 6))
    ]
    keys = set(zip(recovered["trial_id"], recovered["outcome_id"], strict=True))
    at_assumed = assumed[
        [k in keys for k in zip(assumed["trial_id"], assumed["outcome_id"], strict=True)]
    ]
    n = len(recovered)
    return (
        f"The p-values reported for {fmt.plural(n, 'change score')} "
        f"({inputs.studies(';'.join(sorted(set(recovered['trial_id']))))}) imply a pre-post "
        f"correlation r of {fmt.number(recovered['r'].min())} to "
        f"{fmt.number(recovered['r'].max())}; at those r, "
        f"{int(recovered['excludes_no_change'].sum())} of {n} intervals exclude no change, "
        f"against {int(at_assumed['excludes_no_change'].sum())} of {n} at the assumed "
        f"r = {fmt.reported(inputs.settings.assumed_r)}. Intervals at a recovered r only restate "
        "the reported p-values; the size of each change does not depend on r."
    )


def groups_table(inputs: Inputs) -> HTML:
    """Per condition and outcome domain: trials, and the pooled SMCR or why not (anchored for
    the key messages)."""
    groups = inputs["synthesis_efficacy_groups"]
    rows = [
        {
            "condition": fmt.condition(row.condition),
            "outcome domain": fmt.domain(row.domain),
            "trials": inputs.studies(row.trial_ids),
            "estimates": int(row.estimates),
            "pooled SMCR (95% CI)": (
                f"{fmt.number(row.estimate)} ({fmt.interval(row.ci_low, row.ci_high)})"
                if row.pooled
                else "—"
            ),
            "prediction interval": (
                fmt.interval(row.pi_low, row.pi_high)
                if row.pooled and fmt.present(row.pi_low)
                else "none (equal-effects model)"
                if row.pooled
                else "—"
            ),
            "I²": f"{fmt.number(row.i2, 0)}%" if row.pooled else "—",
            "pooled, or why not": "pooled: " + row.reason if row.pooled else row.reason,
        }
        for row in groups.itertuples(index=False)
    ]
    table = tables.Table(
        pd.DataFrame(rows).set_index(["condition", "outcome domain"])
        if rows
        else pd.DataFrame(rows),
        caption=f"Change from baseline per condition and outcome domain: pooled {SMCR}, or why not",
        notes=[
            "One estimate per trial: its independent outcome with the most patients. Estimates "
            "are combined only within one condition and one outcome domain."
        ],
    )
    return anchored("efficacy", table)


def _before_after(row) -> str:
    unit = f" {row.unit}" if fmt.present(row.unit) else ""
    return f"{fmt.reported(row.pre_mean)} → {fmt.reported(row.post_mean)}{unit}"


def estimates_table(inputs: Inputs) -> tables.Table:
    """Each outcome's change from baseline at its latest assessment, side by side."""
    estimates = inputs["synthesis_efficacy_estimates"]
    ranked = estimates.assign(_n=estimates["n"].fillna(0)).sort_values(
        ["usable", "condition", "domain", "_n"],
        ascending=[False, True, True, False],
        kind="stable",
    )
    rows = [
        {
            "condition": fmt.condition(row.condition),
            "outcome domain": fmt.domain(row.domain),
            "trial": inputs.study_link(row.trial_id),
            "outcome": row.outcome,
            "assessed at": fmt.months(row.timepoint_months),
            "patients": int(row.n) if fmt.present(row.n) else None,
            "mean before → after": _before_after(row),
            "SMCR (95% CI)": (
                f"{fmt.number(row.smcr)} ({fmt.interval(row.ci_low, row.ci_high)})"
                if row.usable
                else "—"
            ),
            "note": "; ".join(t for t in (row.reason, row.note) if fmt.present(t) and t),
        }
        for row in ranked.itertuples(index=False)
    ]
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="outcomes",
        ranked="usable estimates first, then by condition, domain and patients",
        table="synthesis_efficacy_estimates",
    )
    return tables.Table(
        frame,
        caption=f"Change from baseline of each outcome at its latest assessment: {SMCR}",
        notes=[
            f"SMCR: the change divided by the baseline SD (small-sample corrected); "
            f"{fmt.BENEFIT_NOTE}. Intervals assume a pre-post correlation r = "
            f"{fmt.reported(inputs.settings.assumed_r)}.",
            *notes,
        ],
    )


def _studies(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": labels,
            "n": frame["n"].to_numpy(dtype=float),
            "estimate": frame["smcr"].to_numpy(dtype=float),
            "ci_low": frame["ci_low"].to_numpy(dtype=float),
            "ci_high": frame["ci_high"].to_numpy(dtype=float),
            "weight": 1 / frame["vi"].to_numpy(dtype=float),
        }
    )


def _described(studies: pd.DataFrame, total: int, **options) -> Figure:
    pooled = options.get("pooled") or {}
    alt = forest_alt(
        options.get("title", ""), options.get("xlabel", ""), studies["label"], pooled.get("label")
    )
    if total > len(studies):
        alt += f" The {len(studies)} largest of {total} estimates are drawn."
    return describe(forest.forest_plot(studies, **options), alt)


def forests(inputs: Inputs) -> list[Figure]:
    """One forest per pooled group (with its diamond); the other estimates side by side."""
    estimates = inputs["synthesis_efficacy_estimates"]
    usable = estimates[estimates["usable"]]
    if usable.empty:
        return []
    xlabel = f"SMCR ({fmt.BENEFIT_NOTE})"
    figures, done = [], set()
    groups = inputs["synthesis_efficacy_groups"]
    largest = groups[groups["pooled"]].sort_values("trials", ascending=False, kind="stable")
    for row in largest.head(FIGURES_SHOWN).itertuples(index=False):
        group = usable[
            (usable["condition"] == row.condition)
            & (usable["domain"] == row.domain)
            & usable["chosen"]
        ]
        done.update(group.index)
        drawn = group.sort_values("n", ascending=False, kind="stable").head(FIGURE_ROWS)
        labels = [f"{inputs.study(r.trial_id)} · {r.outcome}" for r in drawn.itertuples()]
        figures.append(
            _described(
                _studies(drawn, labels),
                len(group),
                pooled={
                    "label": f"random effects ({row.method}, {row.test})",
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "pi_low": row.pi_low if fmt.present(row.pi_low) else None,
                    "pi_high": row.pi_high if fmt.present(row.pi_high) else None,
                },
                xlabel=xlabel,
                title=f"{capitalised(fmt.domain(row.domain))} in {fmt.condition(row.condition)}",
            )
        )
    pooled_keys = set(zip(largest["condition"], largest["domain"], strict=True))
    rest = usable.drop(index=list(done))
    rest = rest[[k not in pooled_keys for k in zip(rest["condition"], rest["domain"], strict=True)]]
    if not rest.empty:
        drawn = rest.assign(_n=rest["n"].fillna(0))
        if len(drawn) > FIGURE_ROWS:
            drawn = drawn.sort_values("_n", ascending=False, kind="stable").head(FIGURE_ROWS)
        drawn = drawn.sort_values(["condition", "domain"], kind="stable")
        labels = [
            f"{outcome_words(r.domain)} · {inputs.study(r.trial_id)} · {r.outcome}"
            for r in drawn.itertuples()
        ]
        figures.append(
            _described(
                _studies(drawn, labels),
                len(rest),
                xlabel=xlabel,
                label_header="outcome domain · trial · outcome",
                title="Change from baseline, side by side (not pooled)",
            )
        )
    return figures


def _proportion(events: object, total: object) -> str:
    return f"{int(events)} of {int(total)} ({fmt.percent(int(events) / int(total))})"


def responders_table(inputs: Inputs) -> tables.Table:
    """Patients in a state (walking independently, needing support...) before and after, with
    exact intervals and the exact McNemar p over every pairing the counts allow."""
    responders = inputs["synthesis_responders"]
    rows = []
    for row in responders.itertuples(index=False):
        if fmt.present(row.mcnemar_p_min):
            mcnemar = fmt.p_range(row.mcnemar_p_min, row.mcnemar_p_max)
        else:
            mcnemar = "no baseline" if not fmt.present(row.baseline_events) else "not computable"
        rows.append(
            {
                "condition": fmt.condition(row.condition),
                "trial": inputs.study_link(row.trial_id),
                "outcome": row.outcome,
                "patients assessed": row.population if fmt.present(row.population) else "all",
                "better": row.direction_of_benefit,
                "baseline": (
                    _proportion(row.baseline_events, row.baseline_total)
                    if fmt.present(row.baseline_events)
                    else "no baseline (improvement counted directly)"
                ),
                "latest (exact 95% CI)": (
                    f"{_proportion(row.events, row.total)} at {fmt.months(row.timepoint_months)} "
                    f"({fmt.percent_interval(row.ci_low, row.ci_high)})"
                ),
                "exact McNemar p (who changed is not reported)": mcnemar,
                "note": row.p_note if fmt.present(row.p_note) else "",
            }
        )
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="outcomes",
        ranked="by condition and trial",
        table="synthesis_responders",
    )
    return tables.Table(
        frame,
        caption="Responder-type outcomes: patients in each state before and after, with exact "
        "95% intervals",
        notes=notes,
    )
