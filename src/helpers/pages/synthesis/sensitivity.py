"""Sensitivity analyses on the synthesis page: kinds of report, leaving one trial out, other
estimators, and the pre-post correlation r."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML

from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.efficacy import correlation_statement
from helpers.pages.synthesis.inputs import Inputs, capitalised, paragraphs, scope_words, shown_rows


def statements(inputs: Inputs) -> HTML:
    """What changes under the sensitivity analyses, in words."""
    lines = [correlation_statement(inputs)]
    sources = inputs["synthesis_sensitivity_sources"]
    parts = [
        f"{row.scenario}: {fmt.plural(int(row.trials), 'trial')}, serious events "
        f"{int(row.serious_events)} of {int(row.serious_patients)} (upper bound "
        f"{fmt.percent(row.upper_bound)})"
        for row in sources.itertuples(index=False)
        if row.trials and fmt.present(row.serious_patients)
    ]
    if parts:
        lines.append("By kind of report: " + "; ".join(parts) + ".")
    loo = inputs["synthesis_sensitivity_leave_one_out"]
    serious = loo[loo["analysis"] == "serious events"]
    if not serious.empty:
        worst = serious.loc[serious["upper_bound"].astype(float).idxmax()]
        lines.append(
            f"Leaving one trial out, the serious-event bound is largest without "
            f"{inputs.study(worst['omitted'])} ({fmt.percent(worst['upper_bound'])}): that "
            "trial contributes the most patients."
        )
    return paragraphs(lines)


def sources_table(inputs: Inputs) -> tables.Table:
    frame = inputs["synthesis_sensitivity_sources"]
    rows = [
        {
            "reports kept": capitalised(row.scenario),
            "trials": int(row.trials),
            "patients treated": int(row.patients) if fmt.present(row.patients) else "—",
            "serious events": (
                f"{int(row.serious_events)} of {int(row.serious_patients)}"
                if fmt.present(row.serious_patients)
                else "—"
            ),
            "exact one-sided 95% upper bound": fmt.percent(row.upper_bound)
            if fmt.present(row.upper_bound)
            else "—",
            "trials favouring benefit": (
                f"{int(row.trials_favouring_benefit)} of {int(row.trials)}"
                if fmt.present(row.trials_favouring_benefit)
                else "—"
            ),
            "sign test (trials)": fmt.p_value(row.trial_sign_test_p)
            if fmt.present(row.trial_sign_test_p)
            else "—",
            "change scores": int(row.smcr_estimates) if fmt.present(row.smcr_estimates) else 0,
        }
        for row in frame.itertuples(index=False)
    ]
    return tables.Table(
        pd.DataFrame(rows).set_index("reports kept"),
        caption="Key figures when press reports and abstract-only sources are left out",
        notes=["Computed on every trial, whatever kinds of report the settings include."],
    )


def leave_one_out_table(inputs: Inputs) -> tables.Table:
    """Each omission's result, the most influential first."""
    frame = inputs["synthesis_sensitivity_leave_one_out"]
    rows = []
    for row in frame.itertuples(index=False):
        if row.analysis == "serious events":
            analysis = "serious adverse events (summed counts)"
            result = (
                f"{int(row.events)} of {int(row.patients)}; upper bound "
                f"{fmt.percent(row.upper_bound)}"
            )
            influence = float(row.upper_bound)
        else:
            analysis = (
                f"change from baseline: {fmt.domain(row.subject)} in {scope_words(row.scope)}"
            )
            result = (
                f"SMCR {fmt.number(row.estimate)} (95% CI {fmt.interval(row.ci_low, row.ci_high)})"
            )
            influence = abs(float(row.estimate))
        rows.append(
            {
                "analysis": analysis,
                "trial left out": inputs.study(row.omitted),
                "result without it": result,
                "_influence": influence,
            }
        )
    table = pd.DataFrame(
        rows, columns=["analysis", "trial left out", "result without it", "_influence"]
    )
    table = table.sort_values(["analysis", "_influence"], ascending=[True, False], kind="stable")
    shown, notes = shown_rows(
        table.drop(columns="_influence"),
        what="omissions",
        ranked="by analysis, the largest result first",
        table="synthesis_sensitivity_leave_one_out",
    )
    if table.empty:
        notes.append("No analysis has more than one trial to leave out.")
    return tables.Table(shown, caption="Leaving one trial out of each analysis", notes=notes)


def estimators_table(inputs: Inputs) -> tables.Table:
    """The same data under each estimator: one row per analysis, one column per estimator."""
    frame = inputs["synthesis_sensitivity_estimators"]
    rows: dict[str, dict[str, str]] = {}
    notes: dict[str, None] = {}
    for row in frame.itertuples(index=False):
        if row.analysis == "change from baseline":
            analysis = (
                f"change from baseline: {fmt.domain(row.subject)} in {fmt.condition(row.scope)}"
            )
            value = f"{fmt.number(row.estimate)} ({fmt.interval(row.ci_low, row.ci_high)})"
        else:
            subject = "serious adverse events" if row.analysis == "serious events" else row.subject
            analysis = f"{subject} (proportion)"
            value = f"{fmt.percent(row.estimate)} ({fmt.percent_interval(row.ci_low, row.ci_high)})"
        if not row.shown:
            value = "not shown"
            notes[f"{capitalised(analysis)}, {row.estimator}: {row.note}."] = None
        rows.setdefault(analysis, {"analysis": capitalised(analysis)})[row.estimator] = value
    table = pd.DataFrame(list(rows.values()))
    if table.empty:
        table = pd.DataFrame({"analysis": []})
        notes["No analysis has two or more trials to compare estimators on."] = None
    table, cut = shown_rows(
        table,
        what="analyses",
        ranked="by kind of analysis",
        table="synthesis_sensitivity_estimators",
    )
    notes.update(dict.fromkeys(cut))
    if len(notes) > 10:
        hidden = len(notes) - 10
        notes = dict.fromkeys(
            [*list(notes)[:10], f"{hidden} more notes are in the analysis results."]
        )
    return tables.Table(
        table.set_index("analysis") if not table.empty else table,
        caption="The same analyses under other estimators (estimate and 95% CI)",
        notes=list(notes),
    )


def correlation_table(inputs: Inputs) -> tables.Table:
    """Each change score's interval under every assumed r and the r its p-value implies."""
    frame = inputs["synthesis_sensitivity_r"]
    estimates = inputs["synthesis_efficacy_estimates"].set_index(["trial_id", "outcome_id"])
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for row in frame.itertuples(index=False):
        key = (row.trial_id, row.outcome_id)
        entry = rows.setdefault(
            key,
            {
                "trial": inputs.study_link(row.trial_id),
                "outcome": estimates.loc[key, "outcome"],
                "SMCR": fmt.number(row.smcr),
            },
        )
        interval = fmt.interval(row.ci_low, row.ci_high)
        if row.r_source == "assumed":
            entry[f"95% CI at r = {fmt.reported(row.r)}"] = interval
        else:
            bound = " (from a bound)" if row.r_source == "recovered from a bound" else ""
            entry["r implied by the reported p"] = f"{fmt.number(row.r)}{bound}"
            entry["95% CI at that r"] = interval
    table = pd.DataFrame(list(rows.values()))
    for column in ("r implied by the reported p", "95% CI at that r"):
        if not table.empty and column not in table.columns:
            table[column] = "no p reported"
    if not table.empty:
        table = table.fillna(
            {"r implied by the reported p": "no p reported", "95% CI at that r": "—"}
        )
    shown, notes = shown_rows(
        table, what="change scores", ranked="by trial", table="synthesis_sensitivity_r"
    )
    return tables.Table(
        shown,
        caption="Change scores under other pre-post correlations r (the SMCR does not depend "
        "on r, its interval does)",
        notes=[
            f"SMCR: {fmt.BENEFIT_NOTE}. An interval at the r a reported p-value implies only "
            "restates that p-value.",
            *notes,
        ],
    )
