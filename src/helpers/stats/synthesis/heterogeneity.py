"""Between-trial heterogeneity of every analysis, and subgroups by trial characteristics.

Heterogeneity (tau², I², prediction interval) exists only for analyses that were pooled; every
other row says why not. Subgroups: each level of condition, cell type, donor and route is
described (trials, patients, serious events, trial votes: descriptive, no test); a test of
subgroup differences (:func:`helpers.stats.meta.moderator_test`, a mixed-effects model with
the moderator as a factor) is run only where an analysis has at least two levels with at least
two trials each, and otherwise the table names the k per level.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from helpers import labels
from helpers.stats import effects, meta
from helpers.stats.synthesis.common import (
    join_ids,
    result_frame,
    treated_patients,
)

# Trial characteristics a subgroup contrast can use, with the words the page shows.
MODERATORS = {
    "condition": "condition",
    "cell_type": "cell type",
    "cell_source": "donor (autologous or allogeneic)",
    "route": "route",
}


def heterogeneity(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """tau², I² and prediction interval of every pooled analysis; the reason for the others."""
    rows = []
    for row in results["synthesis_serious_pooled"].itertuples(index=False):
        rows.append(_proportion_row("serious events", row.scope, "serious", row))
    for row in results["synthesis_adverse_event_terms"].itertuples(index=False):
        rows.append(_proportion_row("adverse event", row.scope, row.term, row))
    for row in results["synthesis_efficacy_groups"].itertuples(index=False):
        pooled = bool(row.pooled)
        rows.append(
            {
                "analysis": "change from baseline",
                "scope": row.condition,
                "subject": row.domain,
                "trials": row.trials,
                "pooled": pooled,
                "model": f"random effects ({row.method}, {row.test})" if pooled else None,
                "tau2": row.tau2,
                "i2": row.i2,
                "pi_low": row.pi_low,
                "pi_high": row.pi_high,
                "reason": "" if pooled else row.reason,
            }
        )
    return result_frame("synthesis_heterogeneity", rows)


def _proportion_row(analysis: str, scope: str, subject: str, row) -> dict[str, object]:
    pooled = bool(row.pooled)
    return {
        "analysis": analysis,
        "scope": scope,
        "subject": subject,
        "trials": row.trials,
        "pooled": pooled,
        "model": "binomial-normal GLMM" if pooled else None,
        "tau2": row.glmm_tau2,
        "i2": row.logit_i2,  # not defined for the GLMM: from the logit sensitivity model
        "pi_low": row.glmm_pi_low,
        "pi_high": row.glmm_pi_high,
        "reason": "" if pooled else row.reason,
    }


def subgroup_levels(
    tables: Mapping[str, pd.DataFrame], results: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Each level of each moderator described: trials, patients, serious events, votes."""
    trials = tables["trials"]
    treated = treated_patients(trials)
    serious = results["synthesis_serious_events"].set_index("trial_id")
    serious = serious[serious["reported"].fillna(False)]
    votes = results["synthesis_vote_trials"].set_index("trial_id")["vote"]
    rows = []
    for moderator in MODERATORS:
        for level, group in trials.groupby(moderator, sort=True):
            ids = sorted(group["trial_id"])
            with_data = serious.loc[[t for t in ids if t in serious.index]]
            events, patients = int(with_data["events"].sum()), int(with_data["patients"].sum())
            rows.append(
                {
                    "moderator": moderator,
                    "level": level,
                    "trials": len(ids),
                    "trial_ids": join_ids(ids),
                    "patients": int(treated[ids].sum()),
                    "serious_events": events if patients else None,
                    "serious_patients": patients if patients else None,
                    "upper_bound": (
                        float(effects.exact_upper_bound(events, patients)[0]) if patients else None
                    ),
                    "trials_favouring_benefit": int(
                        sum(votes.get(t) == "favours benefit" for t in ids)
                    ),
                }
            )
    return result_frame("synthesis_subgroup_levels", rows)


def _units(results: Mapping[str, pd.DataFrame]) -> dict[str, list[tuple[str, pd.DataFrame]]]:
    """Per analysis, the sets of one-row-per-trial effects (trial_id, yi, vi, all_zero) a
    moderator test could run on: logit proportions for safety, benefit-oriented SMCR."""

    def logits(frame: pd.DataFrame, x: str, n: str) -> pd.DataFrame:
        events = frame[x].to_numpy(dtype=float)
        totals = frame[n].to_numpy(dtype=float)
        effect = effects.logit_proportion(events, totals)
        return pd.DataFrame(
            {
                "trial_id": frame["trial_id"].to_numpy(),
                "yi": effect.yi,
                "vi": effect.vi,
                "all_zero": bool((events == 0).all()),
            }
        )

    units: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    serious = results["synthesis_serious_events"]
    serious = serious[serious["reported"].fillna(False)]
    if not serious.empty:
        units["serious adverse events"] = [
            ("serious adverse events", logits(serious, "events", "patients"))
        ]
    events = results["synthesis_adverse_events"]
    per_patient = events[(events["basis"] == "per patient") & ~events["serious"].fillna(False)]
    units["common adverse events"] = [
        (f"adverse event: {term}", logits(group, "events", "denominator"))
        for term, group in per_patient.groupby("term", sort=True)
        if group["trial_id"].is_unique
    ]
    efficacy = results["synthesis_efficacy_estimates"]
    chosen = efficacy[efficacy["chosen"].fillna(False)]
    units["change from baseline"] = [
        (
            f"change from baseline: {labels.label('domain', domain)} in "
            f"{labels.label('condition', condition)}",
            pd.DataFrame(
                {
                    "trial_id": group["trial_id"].to_numpy(),
                    "yi": group["smcr"].to_numpy(float),
                    "vi": group["vi"].to_numpy(float),
                    "all_zero": False,
                }
            ),
        )
        for (condition, domain), group in chosen.groupby(["condition", "domain"], sort=True)
    ]
    return units


def level_words(moderator: str, level: object) -> str:
    """A moderator's level in words ("spinal cord injury", "BMMNC", "autologous")."""
    if moderator in labels.VOCABULARIES:
        return labels.label(moderator, level)
    return str(level).replace("_", " ")


def _k_text(k_by_level: Mapping[object, int], moderator: str) -> str:
    return ", ".join(
        f"{level_words(moderator, level)}: {k}"
        for level, k in sorted(k_by_level.items(), key=lambda item: str(item[0]))
    )


def _possible(k_by_level: Mapping[object, int], all_zero: bool, moderator: str) -> tuple[bool, str]:
    if all_zero:
        return False, "every trial reported zero events: nothing to contrast"
    if len(k_by_level) < 2:
        return False, "only one level among the trials with this outcome"
    short = [level_words(moderator, level) for level, k in k_by_level.items() if k < 2]
    if short:
        return False, f"fewer than 2 trials at {', '.join(short)}"
    return True, "at least 2 trials at each level"


def subgroup_contrasts(
    tables: Mapping[str, pd.DataFrame],
    results: Mapping[str, pd.DataFrame],
    *,
    method: str,
    test: str,
) -> pd.DataFrame:
    """Per moderator and analysis: the test of subgroup differences, or why none is possible."""
    trials = tables["trials"].set_index("trial_id")
    units = _units(results)
    rows = []
    for moderator in MODERATORS:
        for family, family_units in units.items():
            if family == "change from baseline" and moderator == "condition":
                rows.append(
                    {
                        "moderator": moderator,
                        "analysis": family,
                        "possible": False,
                        "reason": "change scores are combined only within one condition, so "
                        "condition cannot be a moderator of them",
                    }
                )
                continue
            tried = []
            for name, frame in family_units:
                levels = frame["trial_id"].map(trials[moderator])
                k_by_level = levels.value_counts().to_dict()
                ok, reason = _possible(k_by_level, bool(frame["all_zero"].iloc[0]), moderator)
                tried.append((name, frame, levels, k_by_level, ok, reason))
            for name, frame, levels, k_by_level, ok, _ in tried:
                if not ok:
                    continue
                fit = meta.moderator_test(
                    frame["yi"].to_numpy(float),
                    frame["vi"].to_numpy(float),
                    levels.astype(str).to_numpy(),
                    method=method,
                    test=test,
                )
                rows.append(
                    {
                        "moderator": moderator,
                        "analysis": name,
                        "k_per_level": _k_text(k_by_level, moderator),
                        "possible": True,
                        "qm": fit.qm,
                        "qm_df": fit.qm_df,
                        "qm_p": fit.qm_pvalue,
                        "reason": "",
                    }
                )
            if any(t[4] for t in tried):
                continue
            rows.append({"moderator": moderator, "analysis": family, **_why_not(tried, moderator)})
    return result_frame("synthesis_subgroup_contrasts", rows)


def _why_not(tried: list[tuple], moderator: str) -> dict[str, object]:
    if not tried:
        return {"possible": False, "reason": "no trial has this kind of data"}
    best = max(tried, key=lambda t: (len(t[3]), min(t[3].values(), default=0)))
    k_text = _k_text(best[3], moderator)
    if len(tried) > 1:
        k_text = f"{best[0]}: {k_text}"
    if len(tried) == 1:
        reason = best[5]
    elif max(len(t[1]) for t in tried) < 2:
        reason = f"each of the {len(tried)} analyses has a single trial: nothing to compare"
    else:
        reason = (
            f"none of the {len(tried)} analyses has at least 2 trials at each of 2 levels "
            f"(best: {best[5]})"
        )
    return {"k_per_level": k_text, "possible": False, "reason": reason}


def results(
    tables: Mapping[str, pd.DataFrame],
    results_so_far: Mapping[str, pd.DataFrame],
    *,
    method: str,
    test: str,
) -> dict[str, pd.DataFrame]:
    """Heterogeneity and subgroup result tables (from the safety, efficacy and vote tables)."""
    return {
        "synthesis_heterogeneity": heterogeneity(results_so_far),
        "synthesis_subgroup_levels": subgroup_levels(tables, results_so_far),
        "synthesis_subgroup_contrasts": subgroup_contrasts(
            tables, results_so_far, method=method, test=test
        ),
    }


__all__ = [
    "MODERATORS",
    "heterogeneity",
    "results",
    "subgroup_contrasts",
    "level_words",
    "subgroup_levels",
]
