"""Efficacy across trials: change from baseline per condition and outcome domain.

Standardised mean change with raw-score standardisation (SMCR,
:func:`helpers.stats.estimates.change_from_baseline`) at each outcome's latest assessment,
oriented so that positive = benefit. Estimates are *compatible* only when they share the
condition **and** the outcome domain and come from different trials: one estimate per trial
(``chosen``: its independent outcome with the most patients, first listed on ties, so the choice
does not depend on the result). They are pooled with :func:`helpers.stats.meta.rma` only when
:func:`~.common.should_pool` allows, otherwise shown side by side with the reason. Outcomes
without an agreed direction of benefit are reported, never synthesised.

Responder-type outcomes (patients in a state) keep their exact intervals and the range of the
exact McNemar p over every pairing the reported counts allow
(:func:`helpers.stats.estimates.count_changes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers.stats import meta
from helpers.stats.rows import records
from helpers.stats.synthesis.common import join_ids, present, result_frame, should_pool

NO_DIRECTION = "no agreed direction of benefit: reported, not synthesised"


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """Each (trial, outcome)'s latest row, in the order the outcomes are first listed."""
    if frame.empty:
        return frame
    order = frame.drop_duplicates(["trial_id", "outcome_id"])[["trial_id", "outcome_id"]]
    latest = (
        frame.sort_values("timepoint_months", kind="stable")
        .groupby(["trial_id", "outcome_id"], sort=False)
        .tail(1)
    )
    return order.merge(latest, on=["trial_id", "outcome_id"], how="left")


def _outcome_facts(outcomes: pd.DataFrame) -> dict[tuple[object, object], dict[str, object]]:
    """Each (trial, outcome)'s name, scale limits and independence, from its first row."""
    columns = ["trial_id", "outcome_id", "outcome", "scale_min", "scale_max", "not_independent"]
    first = outcomes.drop_duplicates(["trial_id", "outcome_id"])[columns]
    return {(row["trial_id"], row["outcome_id"]): row for row in records(first)}


def efficacy_estimates(tables: Mapping[str, pd.DataFrame], *, r: float) -> pd.DataFrame:
    """SMCR (positive = benefit) of every outcome at its latest assessment, usable or why not.

    From the per-trial result table ``trial_changes``, which must be computed at ``r``.
    """
    changes = _latest(tables["trial_changes"])
    other_r = sorted(set(changes["r_used"].dropna()) - {r})
    if other_r:
        raise ValueError(f"trial_changes were computed at r = {other_r}, the synthesis asks {r}")
    facts = _outcome_facts(tables["outcomes"])
    condition = tables["trials"].set_index("trial_id")["condition"]
    rows = []
    for change in changes.itertuples(index=False):
        fact = facts[(change.trial_id, change.outcome_id)]
        sign = change.benefit_sign
        usable = present(change.yi) and not math.isnan(sign)
        if not present(change.yi):
            reason = change.note if present(change.note) and change.note else "SMCR not computed"
        elif math.isnan(sign):
            reason = NO_DIRECTION
        else:
            reason = ""
        low, high = sorted((change.ci_low * sign, change.ci_high * sign)) if usable else (None,) * 2
        rows.append(
            {
                "trial_id": change.trial_id,
                "outcome_id": change.outcome_id,
                "outcome": fact["outcome"],
                "condition": condition[change.trial_id],
                "domain": change.domain,
                "measure": change.measure,
                "unit": change.unit,
                "scale_min": fact["scale_min"],
                "scale_max": fact["scale_max"],
                "timepoint_months": change.timepoint_months,
                "n": change.n,
                "pre_mean": change.pre_mean,
                "pre_sd": change.pre_sd,
                "post_mean": change.post_mean,
                "post_sd": change.post_sd,
                "smcr": change.yi_benefit if usable else None,
                "ci_low": low,
                "ci_high": high,
                "vi": change.vi if usable else None,
                "r_used": change.r_used,
                "r_recovered": change.r_recovered,
                "p_reported": change.p_reported,
                "p_is_bound": change.p_is_bound,
                "usable": usable,
                "chosen": False,
                "reason": reason,
                "note": _note(change),
                "_independent": not present(fact["not_independent"]),
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["chosen"] = _chosen(frame)
        frame = frame.drop(columns="_independent")
    return result_frame("synthesis_efficacy_estimates", frame.to_dict("records"))


def _chosen(frame: pd.DataFrame) -> pd.Series:
    """The one estimate per trial, condition and domain: independent first, then most patients,
    then first listed."""
    candidates = frame[frame["usable"]].assign(
        _order=lambda f: np.arange(len(f)), _n=lambda f: f["n"].fillna(0)
    )
    best = (
        candidates.sort_values(
            ["_independent", "_n", "_order"], ascending=[False, False, True], kind="stable"
        )
        .groupby(["trial_id", "condition", "domain"], sort=False)
        .head(1)
    )
    return frame.index.isin(best.index)


def _note(change) -> str:
    notes = []
    if present(change.post_sd) and change.post_sd == 0:
        notes.append("follow-up SD reported as 0, implausible for a measured quantity")
    if present(change.r_recovered):
        bound = (
            " (p reported as a bound)" if present(change.p_is_bound) and change.p_is_bound else ""
        )
        notes.append(
            f"the reported p-value implies r = {change.r_recovered:.2f}{bound}, not the "
            f"assumed {change.r_used:g}: see the sensitivity analysis"
        )
    return "; ".join(notes)


def efficacy_groups(
    efficacy: pd.DataFrame, *, min_k: int, method: str, test: str
) -> tuple[pd.DataFrame, dict[tuple[str, str], meta.RmaResult]]:
    """Usable estimates per condition x domain: pooled when allowed (one per trial), or why not."""
    usable = efficacy[efficacy["usable"]]
    rows, fits = [], {}
    for (condition, domain), group in usable.groupby(["condition", "domain"], sort=True):
        chosen = group[group["chosen"]]
        ok, reason = should_pool(len(chosen), min_k)
        if len(chosen) == 1 and len(group) > 1:
            reason = (
                f"{len(group)} outcomes, all from one trial: the same patients, not "
                "independent estimates"
            )
        row: dict[str, object] = {
            "condition": condition,
            "domain": domain,
            "trials": len(chosen),
            "estimates": len(group),
            "trial_ids": join_ids(chosen["trial_id"]),
            "pooled": ok,
            "reason": reason,
            "method": method,
            "test": test,
        }
        if ok:
            fit = meta.rma(
                chosen["smcr"].to_numpy(float),
                chosen["vi"].to_numpy(float),
                method=method,
                test=test,
            )
            fits[(str(condition), str(domain))] = fit
            row.update(
                estimate=fit.estimate,
                ci_low=fit.ci_low,
                ci_high=fit.ci_high,
                pi_low=fit.pi_low,
                pi_high=fit.pi_high,
                tau2=fit.tau2,
                i2=fit.i2,
            )
        rows.append(row)
    return result_frame("synthesis_efficacy_groups", rows), fits


def responders(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Patients in a state at the latest assessment, against baseline where there is one.

    From the per-trial result tables ``trial_count_changes`` and ``trial_proportions``.
    """
    outcomes = tables["outcomes"]
    facts = _outcome_facts(outcomes)
    condition = tables["trials"].set_index("trial_id")["condition"]
    changes = _latest(tables["trial_count_changes"])
    rows = []
    for row in changes.itertuples(index=False):
        rows.append(
            {
                "trial_id": row.trial_id,
                "outcome_id": row.outcome_id,
                "outcome": facts[(row.trial_id, row.outcome_id)]["outcome"],
                "condition": condition[row.trial_id],
                "domain": row.domain,
                "population": row.population,
                "direction_of_benefit": row.direction_of_benefit,
                "timepoint_months": row.timepoint_months,
                "baseline_events": row.pre_events,
                "baseline_total": row.pre_total,
                "events": row.post_events,
                "total": row.post_total,
                "proportion": row.post_proportion,
                "ci_low": row.post_ci_low,
                "ci_high": row.post_ci_high,
                "mcnemar_p_min": row.mcnemar_p_min,
                "mcnemar_p_max": row.mcnemar_p_max,
                "p_reported": row.p_reported,
                "p_note": _first_text(
                    row.p_reported_note,
                    "" if present(row.mcnemar_p_min) else row.mcnemar_note,
                ),
            }
        )
    compared = set(zip(changes.get("trial_id", []), changes.get("outcome_id", []), strict=True))
    alone = _latest(tables["trial_proportions"])
    for row in alone.itertuples(index=False):
        if (row.trial_id, row.outcome_id) in compared:
            continue
        rows.append(
            {
                "trial_id": row.trial_id,
                "outcome_id": row.outcome_id,
                "outcome": facts[(row.trial_id, row.outcome_id)]["outcome"],
                "condition": condition[row.trial_id],
                "domain": row.domain,
                "population": row.population,
                "direction_of_benefit": row.direction_of_benefit,
                "timepoint_months": row.timepoint_months,
                "events": row.events,
                "total": row.total,
                "proportion": row.proportion,
                "ci_low": row.ci_low,
                "ci_high": row.ci_high,
            }
        )
    frame = result_frame("synthesis_responders", rows)
    return frame.sort_values(["condition", "trial_id"], kind="stable").reset_index(drop=True)


def _first_text(*values: object) -> str:
    return next((str(v) for v in values if present(v) and str(v)), "")


def per_trial(tables: Mapping[str, pd.DataFrame], *, r: float) -> dict[str, pd.DataFrame]:
    """The efficacy tables whose rows belong to one trial each."""
    return {
        "synthesis_efficacy_estimates": efficacy_estimates(tables, r=r),
        "synthesis_responders": responders(tables),
    }


def across_trials(
    results: Mapping[str, pd.DataFrame], *, min_k: int, method: str, test: str
) -> tuple[dict[str, pd.DataFrame], dict[tuple[str, str], meta.RmaResult]]:
    """Change scores per condition and domain, pooled or why not, and the fitted models (for
    the sensitivity analyses)."""
    groups, fits = efficacy_groups(
        results["synthesis_efficacy_estimates"], min_k=min_k, method=method, test=test
    )
    return {"synthesis_efficacy_groups": groups}, fits
