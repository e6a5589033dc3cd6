"""Sensitivity analyses: kinds of source, leaving one trial out, estimators, the correlation r.

* **Sources**: the key figures recomputed on all trials, without press reports, and on full
  articles only, whatever the settings select.
* **Leave one out**: the serious-event bound without each trial; every pooled change score
  with at least three trials without each trial (:func:`helpers.stats.meta.leave1out`).
* **Estimators**: proportions under the GLMM, the logit model (REML and DL; withheld when the
  0.5 correction drives it, :func:`.safety.logit_withheld`) and exact summed counts; pooled
  change scores under REML, DL and PM with z and Hartung-Knapp intervals.
* **r**: each change score's interval under every assumed pre-post correlation and the one its
  reported p-value implies (:func:`helpers.stats.estimates.r_sensitivity`); the SMCR itself does
  not depend on r.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.stats import effects, estimates, meta
from helpers.stats.synthesis import safety, votes
from helpers.stats.synthesis.common import (
    ALL,
    LEVEL,
    SOURCE_SCENARIOS,
    result_frame,
    treated_patients,
)


def sources(everything: Mapping[str, pd.DataFrame], trials: pd.DataFrame) -> pd.DataFrame:
    """Key figures under each selection of report kinds, from the per-trial tables of every
    trial (whatever the settings select)."""
    serious = everything["synthesis_serious_events"]
    serious = serious[serious["reported"].fillna(False)]
    trial_votes = everything["synthesis_vote_trials"]
    usable = everything["synthesis_efficacy_estimates"]
    usable = usable[usable["usable"]]
    treated = treated_patients(trials)
    rows = []
    for scenario, kinds in SOURCE_SCENARIOS.items():
        ids = set(trials.loc[trials["source_kind"].isin(list(kinds)), "trial_id"])
        row: dict[str, object] = {
            "scenario": scenario,
            "source_kinds": ";".join(kinds),
            "trials": len(ids),
        }
        if not ids:
            rows.append(row)
            continue
        kept = serious[serious["trial_id"].isin(ids)]
        events, patients = int(kept["events"].sum()), int(kept["patients"].sum())
        votes_kept = trial_votes.loc[trial_votes["trial_id"].isin(ids), "vote"]
        up = int((votes_kept == "favours benefit").sum())
        down = int((votes_kept == "favours harm").sum())
        row.update(
            patients=int(treated[sorted(ids)].sum()),
            serious_events=events if patients else None,
            serious_patients=patients if patients else None,
            upper_bound=(
                float(effects.exact_upper_bound(events, patients, LEVEL)[0]) if patients else None
            ),
            trials_favouring_benefit=up,
            trials_favouring_harm=down,
            trial_sign_test_p=votes.sign_test(up, down),
            smcr_estimates=int(usable["trial_id"].isin(ids).sum()),
        )
        rows.append(row)
    return result_frame("synthesis_sensitivity_sources", rows)


def leave_one_out(
    results: Mapping[str, pd.DataFrame], fits: Mapping[tuple[str, str], meta.RmaResult]
) -> pd.DataFrame:
    """The serious-event bound and every pooled change score (k >= 3), without each trial."""
    rows = []
    serious = results["synthesis_serious_events"]
    serious = serious[serious["reported"].fillna(False)].reset_index(drop=True)
    if len(serious) > 1:
        events, patients = int(serious["events"].sum()), int(serious["patients"].sum())
        for row in serious.itertuples(index=False):
            rest_events, rest_patients = events - int(row.events), patients - int(row.patients)
            rows.append(
                {
                    "analysis": "serious events",
                    "scope": ALL,
                    "subject": "serious",
                    "omitted": row.trial_id,
                    "events": rest_events,
                    "patients": rest_patients,
                    "upper_bound": float(
                        effects.exact_upper_bound(rest_events, rest_patients, LEVEL)[0]
                    ),
                }
            )
    chosen = results["synthesis_efficacy_estimates"]
    chosen = chosen[chosen["chosen"].fillna(False)]
    for (condition, domain), fit in fits.items():
        if fit.k < 3:
            continue
        group = chosen[(chosen["condition"] == condition) & (chosen["domain"] == domain)]
        refits = meta.leave1out(fit, labels=list(group["trial_id"]))
        for row in refits.itertuples(index=False):
            rows.append(
                {
                    "analysis": "change from baseline",
                    "scope": condition,
                    "subject": domain,
                    "omitted": row.omitted,
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                }
            )
    return result_frame("synthesis_sensitivity_leave_one_out", rows)


def _proportion_estimators(
    analysis: str, subject: str, x: np.ndarray, n: np.ndarray, pooled: pd.Series | None
) -> list[dict[str, object]]:
    """Every estimator on one set of proportions; the GLMM already fitted for the analysis
    (``pooled``, a row of its result table) is reused rather than refitted."""
    base = {"analysis": analysis, "scope": ALL, "subject": subject}
    rows = []
    try:
        if pooled is not None and bool(pooled["pooled"]):
            estimate, low, high = (pooled[f"glmm_{c}"] for c in ("proportion", "ci_low", "ci_high"))
        else:
            fit = meta.rma_glmm_proportions(x, n, level=LEVEL)
            estimate, low, high = fit.proportion, fit.ci_low, fit.ci_high
        rows.append(
            {
                **base,
                "estimator": "GLMM (ML)",
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "shown": True,
                "note": "binomial-normal model",
            }
        )
    except ValueError as error:
        rows.append(
            {
                **base,
                "estimator": "GLMM (ML)",
                "shown": False,
                "note": f"no estimate: {str(error).split(':')[0]}",
            }
        )
    for method in ("REML", "DL"):
        fit = meta.rma_logit_proportions(x, n, method=method, level=LEVEL)
        withheld = safety.logit_withheld(x, n, fit)
        shown = not withheld
        rows.append(
            {
                **base,
                "estimator": f"logit {method}",
                "estimate": fit.proportion if shown else None,
                "ci_low": fit.ci_low if shown else None,
                "ci_high": fit.ci_high if shown else None,
                "shown": shown,
                "note": withheld or "0.5 added to trials with zero or all events only",
            }
        )
    low, high = effects.clopper_pearson_ci(int(x.sum()), int(n.sum()), LEVEL)
    rows.append(
        {
            **base,
            "estimator": "exact, summed counts",
            "estimate": x.sum() / n.sum(),
            "ci_low": float(low[0]),
            "ci_high": float(high[0]),
            "shown": True,
            "note": "assumes one common rate across trials",
        }
    )
    return rows


def estimators(
    results: Mapping[str, pd.DataFrame], fits: Mapping[tuple[str, str], meta.RmaResult]
) -> pd.DataFrame:
    """The same data under each estimator (analyses with at least two trials)."""
    rows: list[dict[str, object]] = []
    serious = results["synthesis_serious_events"]
    serious = serious[serious["reported"].fillna(False)]
    overall = results["synthesis_serious_pooled"].set_index("scope")
    if len(serious) >= 2:
        rows += _proportion_estimators(
            "serious events",
            "serious",
            serious["events"].to_numpy(dtype=float).astype(int),
            serious["patients"].to_numpy(dtype=float).astype(int),
            overall.loc[ALL] if ALL in overall.index else None,
        )
    terms = results["synthesis_adverse_event_terms"]
    terms = terms[terms["scope"] == ALL].set_index("term")
    events = results["synthesis_adverse_events"]
    per_patient = events[(events["basis"] == "per patient") & ~events["serious"].fillna(False)]
    for term, group in per_patient.groupby("term", sort=True):
        if group["trial_id"].nunique() < 2 or not group["trial_id"].is_unique:
            continue
        rows += _proportion_estimators(
            "adverse event",
            str(term),
            group["events"].to_numpy(dtype=float).astype(int),
            group["denominator"].to_numpy(dtype=float).astype(int),
            terms.loc[term] if term in terms.index else None,
        )
    for (condition, domain), fit in fits.items():
        for method in ("REML", "DL", "PM"):
            for test in ("z", "knha"):
                refit = meta.rma(fit.yi, fit.vi, method=method, test=test, level=LEVEL)
                rows.append(
                    {
                        "analysis": "change from baseline",
                        "scope": condition,
                        "subject": domain,
                        "estimator": f"{method}, {test}",
                        "estimate": refit.estimate,
                        "ci_low": refit.ci_low,
                        "ci_high": refit.ci_high,
                        "shown": True,
                        "note": "",
                    }
                )
    return result_frame("synthesis_sensitivity_estimators", rows)


def correlation(efficacy_table: pd.DataFrame, grid: Sequence[float]) -> pd.DataFrame:
    """Each usable change score's 95% CI under every r of ``grid`` and the recovered r."""
    usable = efficacy_table[efficacy_table["usable"]]
    if usable.empty:
        return result_frame("synthesis_sensitivity_r", [])
    changes = pd.DataFrame(
        {
            "trial_id": usable["trial_id"].to_numpy(),
            "outcome_id": usable["outcome_id"].to_numpy(),
            "measure": usable["measure"].to_numpy(),
            "timepoint": "",
            "timepoint_months": usable["timepoint_months"].to_numpy(float),
            "n": usable["n"].to_numpy(),
            "pre_mean": usable["pre_mean"].to_numpy(float),
            "pre_sd": usable["pre_sd"].to_numpy(float),
            "post_mean": usable["post_mean"].to_numpy(float),
            "post_sd": usable["post_sd"].to_numpy(float),
            "p_reported": usable["p_reported"].to_numpy(object),
            "yi": usable["smcr"].to_numpy(float),
            "benefit_sign": 1.0,  # oriented below, against the synthesis' own SMCR
        }
    )
    smcr = usable.set_index(["trial_id", "outcome_id"])["smcr"]
    rows = []
    for row in estimates.r_sensitivity(changes, grid, level=LEVEL).itertuples(index=False):
        benefit = float(smcr[(row.trial_id, row.outcome_id)])
        sign = -1.0 if benefit * row.yi < 0 else 1.0  # the table's SMCR is not oriented
        low, high = sorted((row.ci_low * sign, row.ci_high * sign))
        rows.append(
            {
                "trial_id": row.trial_id,
                "outcome_id": row.outcome_id,
                "r_source": (
                    "assumed"
                    if row.r_source == "assumed"
                    else "recovered from a bound"
                    if "bound" in row.r_source
                    else "recovered"
                ),
                "r": row.r,
                "smcr": benefit,
                "ci_low": low,
                "ci_high": high,
                "excludes_no_change": bool(low > 0 or high < 0),
            }
        )
    return result_frame("synthesis_sensitivity_r", rows)


def results(
    everything: Mapping[str, pd.DataFrame],
    all_trials: pd.DataFrame,
    results_so_far: Mapping[str, pd.DataFrame],
    fits: Mapping[tuple[str, str], meta.RmaResult],
    *,
    grid: Sequence[float],
) -> dict[str, pd.DataFrame]:
    """Every sensitivity result table (``everything``: the per-trial tables of every trial)."""
    return {
        "synthesis_sensitivity_sources": sources(everything, all_trials),
        "synthesis_sensitivity_leave_one_out": leave_one_out(results_so_far, fits),
        "synthesis_sensitivity_estimators": estimators(results_so_far, fits),
        "synthesis_sensitivity_r": correlation(
            results_so_far["synthesis_efficacy_estimates"], grid
        ),
    }
