"""Outcomes and effects of one study, rendered from the result tables.

Every effect is shown so that a positive value is a benefit (the column says so); an outcome
without a better direction given by the source or a cited reference is shown as measured and
never read as improved or worsened. The reasons behind each reading, and the cautions for
skewed or ordinal scores, sit where the reader meets the number: in the row, and in the
table's notes.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML
from markupsafe import Markup
from matplotlib.figure import Figure

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages import plots
from helpers.pages.tables import captioned, with_caption
from helpers.pages.trial import common
from helpers.pages.trial.common import MISSING, Tables, present, rows, text, trial_row
from helpers.stats import estimates

BENEFIT = "positive = benefit"
RESTATES_P = (
    "An interval at the r a reported p-value implies only restates that p-value (a two-sided "
    "paired t-test is assumed); it is not independent evidence of a change."
)
AS_MEASURED = "as measured (no established better direction)"


def _months(value: object) -> str:
    return fmt.reported(value) if present(value) else MISSING


def _comparison(row: pd.Series) -> str:
    return f"baseline → {row['timepoint']}"


def _in_order(frame: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rows back in the outcomes table's order (domains together, as the report lists them)."""
    order = {outcome: i for i, outcome in enumerate(dict.fromkeys(outcomes["outcome_id"]))}
    ranked = frame.assign(_order=frame["outcome_id"].map(order))
    ranked = ranked.sort_values(["_order", "timepoint_months"], kind="stable")
    return ranked.drop(columns="_order").reset_index(drop=True)


def _no_numbers(trial_id: str, tables: Tables) -> HTML:
    items = [
        Markup("{} {}").format(
            f"{text(row['outcome'], row['measure'])}: "
            f"{labels.label('narrative_direction', row['direction'])} as the report states"
            + (", called significant" if row["significant"] is True else ""),
            common.refs(row["quote_id"], trial_id),
        )
        for _, row in rows(tables, "outcome_narratives", trial_id).iterrows()
    ]
    if not items:
        return common.sentence("The reports give no outcomes, neither in numbers nor in words.")
    return common.sentence(
        "The reports give no numeric outcomes; they describe them in words:", items
    )


# --------------------------------------------------------------------------------------------
# Every outcome as reported
# --------------------------------------------------------------------------------------------


@with_caption("Every outcome at every assessment, as reported")
def outcome_table(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Every outcome at every assessment: patients, the value as reported (proportions with
    their exact 95% interval), the p-value versus baseline as reported, how a value not written
    in the quote was obtained, and the quotes."""
    trial_row(trial_id, tables)
    outcomes = rows(tables, "outcomes", trial_id)
    if outcomes.empty:
        return _no_numbers(trial_id, tables)
    exact = {
        (row["outcome_id"], row["timepoint"]): row
        for _, row in rows(tables, "trial_proportions", trial_id).iterrows()
    }
    shown = []
    for _, row in outcomes.iterrows():
        value = common.statistics_text(row)
        if value == "described in words only":
            value = "not reported (only a p-value versus baseline)"
        proportion = exact.get((row["outcome_id"], row["timepoint"]))
        n = row["n"] if present(row["n"]) else row["total"]
        shown.append(
            {
                "domain": labels.label("domain", row["domain"]),
                "outcome": common.outcome_name(row),
                "assessment": row["timepoint"],
                "months since first administration": _months(row["timepoint_months"]),
                "patients": fmt.count(n) if present(n) else MISSING,
                "as reported": value,
                "exact 95% CI": (
                    fmt.percent_interval(proportion["ci_low"], proportion["ci_high"])
                    if proportion is not None
                    else MISSING
                ),
                "p versus baseline, as reported": text(row["p_reported"]),
                "how obtained": text(row["derived"], "as written"),
                "sources": common.refs(row["quote_id"], trial_id),
            }
        )
    return pd.DataFrame(shown).set_index(["domain", "outcome", "assessment"])


# --------------------------------------------------------------------------------------------
# Scores: standardised mean change
# --------------------------------------------------------------------------------------------


def _smcr_cell(row: pd.Series) -> str:
    if not row["estimable"]:
        return "not estimable"
    if present(row["yi_benefit"]):
        return (
            f"{fmt.number(row['yi_benefit'])} "
            f"({fmt.interval(row['ci_low_benefit'], row['ci_high_benefit'])})"
        )
    return f"{fmt.number(row['yi'])} ({fmt.interval(row['ci_low'], row['ci_high'])}) {AS_MEASURED}"


def _interval_at(low: float, high: float, sign: float) -> str:
    """An interval oriented to benefit (or as measured when there is no direction)."""
    if present(sign) and sign == sign:
        low, high = sorted((low * sign, high * sign))
    return fmt.interval(low, high)


def _recovered_cell(row: pd.Series) -> str:
    if not present(row["p_reported"]):
        return "no p-value reported"
    if not present(row["r_recovered"]):
        return f"p {estimates.p_text(row['p_reported'])}: no r recoverable"
    at = _interval_at(row["ci_low_recovered"], row["ci_high_recovered"], row["benefit_sign"])
    cell = (
        f"p {estimates.p_text(row['p_reported'])} implies r ≈ {fmt.number(row['r_recovered'])}; "
        f"at that r the interval is {at}"
    )
    if row["r_recovered_plausible"] is False:
        cell += " (implausible, see note)"
    return cell


def _score_notes(changes: pd.DataFrame) -> list[str]:
    notes = [RESTATES_P] if changes["r_recovered"].notna().any() else []
    for _, row in changes.iterrows():
        name = f"{text(row['outcome'], row['measure'])}, {row['timepoint']}"
        if present(row["distribution_note"]):
            notes.append(f"{name}: {row['distribution_note']}.")
        if row["r_recovered_plausible"] is False:
            reason = str(row["r_recovered_note"]).split("implausible: ")[-1]
            notes.append(f"{name}: the r implied by the reported p-value is implausible: {reason}.")
    return list(dict.fromkeys(notes))


def score_changes(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Each score reported as mean ± SD at baseline and later: the change in its unit, the
    standardised mean change (SMCR) oriented to benefit with its 95% interval at the primary r,
    the reading and its reason, and the r the reported p-value implies."""
    trial_row(trial_id, tables)
    changes = rows(tables, "trial_changes", trial_id)
    if changes.empty:
        return common.sentence(
            "No score is reported as mean ± SD both at baseline and later, so no standardised "
            "change can be computed; the values are shown as reported above."
        )
    changes = _in_order(changes, rows(tables, "outcomes", trial_id))
    each = common.each_row(changes)
    r = changes["r_used"].iloc[0]
    smcr = f"SMCR, {BENEFIT} (95% CI, r = {r:g})"
    shown = pd.DataFrame(
        {
            "outcome": [common.outcome_name(row) for row in each],
            "comparison": [_comparison(row) for row in each],
            "months since first administration": changes["timepoint_months"].map(_months),
            "patients": changes["n"].map(lambda n: fmt.count(n) if present(n) else MISSING),
            "change as measured": [
                fmt.signed(row["mean_change"], _decimals(row)) + common.unit_words(row)
                for row in each
            ],
            smcr: [_smcr_cell(row) for row in each],
            "reading": changes["reading"],
            "why": changes["reading_reason"],
            "reported p and the r it implies": [_recovered_cell(row) for row in each],
            "sources": [common.refs(q, trial_id) for q in changes["quote_id"]],
        }
    ).set_index(["outcome", "comparison"])
    return captioned(
        shown,
        "Scores before and after: change from baseline and standardised mean change (SMCR), "
        f"{BENEFIT}",
        notes=_score_notes(changes),
    )


def _decimals(row: pd.Series) -> int:
    """Decimals of a change: as many as the reported means carry."""
    shown = [fmt.reported(row[column]) for column in ("pre_mean", "post_mean")]
    return max((len(s.split(".")[1]) if "." in s else 0) for s in shown)


# --------------------------------------------------------------------------------------------
# Counts: before/after proportions
# --------------------------------------------------------------------------------------------


def _proportion(events: object, total: object, low: float, high: float) -> str:
    return (
        f"{events}/{total} = {fmt.percent(int(events) / int(total))} "
        f"({fmt.percent_interval(low, high)})"
    )


def _difference_cell(row: pd.Series) -> str:
    if present(row["rd_benefit"]):
        return fmt.signed(100 * row["rd_benefit"], 1) + " percentage points"
    return fmt.signed(100 * row["risk_difference"], 1) + f" percentage points {AS_MEASURED}"


def count_changes(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Each finding counted at baseline and later: both proportions with exact 95% intervals,
    the change in percentage points oriented to benefit, the exact McNemar p over every pairing
    of patients the counts allow, the reading and its reason."""
    trial_row(trial_id, tables)
    changes = rows(tables, "trial_count_changes", trial_id)
    if changes.empty:
        return common.sentence(
            "No finding is counted both at baseline and later, so no before/after comparison "
            "of proportions is possible."
        )
    changes = _in_order(changes, rows(tables, "outcomes", trial_id))
    each = common.each_row(changes)
    shown = pd.DataFrame(
        {
            "outcome": [common.outcome_name(row) for row in each],
            "comparison": [_comparison(row) for row in each],
            "months since first administration": changes["timepoint_months"].map(_months),
            "baseline (exact 95% CI)": [
                _proportion(r["pre_events"], r["pre_total"], r["pre_ci_low"], r["pre_ci_high"])
                for r in each
            ],
            "later (exact 95% CI)": [
                _proportion(r["post_events"], r["post_total"], r["post_ci_low"], r["post_ci_high"])
                for r in each
            ],
            f"change, {BENEFIT}": [_difference_cell(row) for row in each],
            "exact McNemar test over the possible pairings": [
                fmt.p_range(row["mcnemar_p_min"], row["mcnemar_p_max"])
                if present(row["mcnemar_p_min"])
                else "no paired test"
                for row in each
            ],
            "p as reported": changes["p_reported"].map(text),
            "reading": changes["reading"],
            "why": changes["reading_reason"],
            "sources": [common.refs(q, trial_id) for q in changes["quote_id"]],
        }
    ).set_index(["outcome", "comparison"])
    notes = [
        "The reports give how many patients had the finding at each time, not who changed, so "
        "a paired (McNemar) test can only be bounded: the range covers every pairing of "
        "patients the counts allow."
    ]
    for row in each:
        name = f"{text(row['outcome'], row['measure'])}, {row['timepoint']}"
        if any(word in str(row["p_reported_note"]) for word in ("below", "above")):
            notes.append(f"{name}: {row['p_reported_note']}.")
    return captioned(
        shown,
        f"Findings counted before and after: proportions and change, {BENEFIT}",
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Sensitivity to r
# --------------------------------------------------------------------------------------------


def r_sensitivity_table(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """SMCR (95% CI) of each score under each assumed r and at the r the reported p implies."""
    trial_row(trial_id, tables)
    sensitivity = rows(tables, "trial_r_sensitivity", trial_id)
    if sensitivity.empty:
        return common.sentence(
            "No standardised mean change was computed for this study, so there is no interval "
            "whose width depends on r."
        )
    sensitivity = _in_order(sensitivity, rows(tables, "outcomes", trial_id))
    recovered_column = "at the r the reported p implies"
    shown = []
    for _, group in sensitivity.groupby(["outcome_id", "timepoint"], sort=False):
        first = group.iloc[0]
        oriented = present(first["yi_benefit"])
        estimate = first["yi_benefit"] if oriented else first["yi"]
        row = {
            "outcome": text(first["outcome"], first["measure"]),
            "comparison": _comparison(first),
            "patients": fmt.count(first["n"]),
            f"SMCR, {BENEFIT}": fmt.number(estimate) + ("" if oriented else f" {AS_MEASURED}"),
        }
        for _, entry in group.iterrows():
            low, high = (
                (entry["ci_low_benefit"], entry["ci_high_benefit"])
                if oriented
                else (entry["ci_low"], entry["ci_high"])
            )
            if entry["r_source"] == "assumed":
                row[f"95% CI at r = {entry['r']:g}"] = fmt.interval(low, high)
            else:
                row[recovered_column] = f"r ≈ {fmt.number(entry['r'])}: {fmt.interval(low, high)}"
        shown.append(row)
    frame = pd.DataFrame(shown)
    if recovered_column not in frame:
        frame[recovered_column] = "no p-value reported"
    frame[recovered_column] = frame[recovered_column].fillna("no p-value reported")
    ordered = [c for c in frame.columns if c != recovered_column] + [recovered_column]
    return captioned(
        frame[ordered].set_index(["outcome", "comparison"]),
        f"How the 95% intervals of the standardised mean change depend on r ({BENEFIT})",
        notes=[
            "The SMCR itself does not depend on r; its interval does: the higher r, the "
            "narrower the interval.",
            *([RESTATES_P] if (sensitivity["r_source"] != "assumed").any() else []),
        ],
    )


# --------------------------------------------------------------------------------------------
# In words, and over time
# --------------------------------------------------------------------------------------------


@with_caption("What the reports say in words about each outcome")
def narratives(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """What the reports say in words about each outcome, including claims of significance."""
    trial_row(trial_id, tables)
    found = rows(tables, "outcome_narratives", trial_id)
    if found.empty:
        return common.sentence("The reports make no claims about outcomes beyond the numbers.")
    significance = {True: "claimed", False: "not claimed"}
    return pd.DataFrame(
        {
            "domain": [labels.label("domain", d) for d in found["domain"]],
            "outcome": [
                text(o, m) for o, m in zip(found["outcome"], found["measure"], strict=True)
            ],
            "direction, as the report states it": [
                labels.label("narrative_direction", d) if present(d) else MISSING
                for d in found["direction"]
            ],
            "statistical significance": [
                significance.get(s, "not stated") if present(s) else "not stated"
                for s in found["significant"]
            ],
            "sources": [common.refs(q, trial_id) for q in found["quote_id"]],
        }
    ).set_index(["domain", "outcome"])


def outcomes_figure(trial_id: str, tables: Tables) -> Figure | HTML:
    """Small multiples of each numeric outcome over time, or a sentence when there are none."""
    trial_row(trial_id, tables)
    figure = plots.outcome_small_multiples(rows(tables, "outcomes", trial_id))
    if figure is None:
        return common.sentence("No outcome of this study is reported with numbers to plot.")
    return figure
