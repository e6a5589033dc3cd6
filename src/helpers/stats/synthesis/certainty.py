"""Certainty of the evidence (GRADE) per condition and outcome, from the synthesis results.

One GRADE outcome per condition for serious adverse events, per common adverse-event term,
and per outcome domain (physiological and imaging measures apart from clinical ones); each is
rated by :func:`helpers.stats.grade.assess` with a reason for every domain.

Outcomes are ranked by importance to patients, as GRADE asks before rating (Guyatt et al. 2011,
J Clin Epidemiol 64:395, "rating the importance of outcomes"). The ranking is a protocol
choice, stated here so a reader can disagree: serious harms and the condition's core
functions (motor function, daily function, neurological status, bladder and bowel) are
*critical*; spasticity, balance, cognition, sensation, quality of life and common adverse
events are *important*; physiological or imaging measures and other outcomes are of *limited*
importance (surrogates). Within a tier, the order of :data:`DOMAIN_ORDER`.

The effect shown for an efficacy outcome is, in this order: the pooled SMCR; the SMCR of the
outcome with the most patients; the count change of the outcome with the most patients (first
listed on ties, so the choice does not depend on the result), whose exact McNemar p range
decides whether the data can exclude no change; otherwise the words of the source.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers.stats import grade
from helpers.stats.synthesis.common import join_ids, present, result_frame, treated_patients

IMPORTANCE = ("critical", "important", "limited")
CRITICAL_DOMAINS = ("motor", "function", "neurological", "bladder", "bowel")
IMPORTANT_DOMAINS = ("spasticity", "balance", "cognition", "sensory", "quality_of_life")
DOMAIN_ORDER = (*CRITICAL_DOMAINS, *IMPORTANT_DOMAINS, "imaging", "other")
SERIOUS = "serious"


def importance(kind: str, subject: str, surrogate: bool) -> str:
    """critical | important | limited (see the module docstring)."""
    if kind == "safety":
        return "critical" if subject == SERIOUS else "important"
    if surrogate:
        return "limited"
    if subject in CRITICAL_DOMAINS:
        return "critical"
    return "important" if subject in IMPORTANT_DOMAINS else "limited"


def _sort_key(row: Mapping[str, object]) -> tuple:
    subject = str(row["subject"])
    order = DOMAIN_ORDER.index(subject) if subject in DOMAIN_ORDER else len(DOMAIN_ORDER)
    return (
        IMPORTANCE.index(str(row["importance"])),
        row["kind"] != "safety" or subject != SERIOUS,  # serious harms first among critical
        row["kind"] == "safety",  # efficacy before common adverse events among important
        order,
        -int(row["patients"] or 0),
        subject,
        bool(row["surrogate"]),
    )


def _months(values: pd.Series) -> tuple[float | None, float | None]:
    known = pd.to_numeric(values, errors="coerce").dropna()
    return (float(known.min()), float(known.max())) if not known.empty else (None, None)


def _consistency(row, *, all_zero: bool) -> dict[str, object]:
    """What GRADE's inconsistency judgment reads for proportions: I² (of the logit model) and
    the GLMM's prediction interval when pooled; agreement when every trial had zero events;
    else nothing to compare (trials with and without events are what sampling gives)."""
    if bool(row.pooled):
        return {
            "pooled": True,
            "i2": None if not present(row.logit_i2) else float(row.logit_i2),
            "estimate": float(row.glmm_proportion),
            "ci_low": float(row.glmm_ci_low),
            "ci_high": float(row.glmm_ci_high),
            "pi_low": float(row.glmm_pi_low),
            "pi_high": float(row.glmm_pi_high),
        }
    directions = ("no events",) * int(row.trials) if all_zero else ()
    return {
        "estimate": float(row.proportion),
        "ci_low": float(row.ci_low),
        "ci_high": float(row.ci_high),
        "directions": directions,
    }


def _safety_evidence(
    results: Mapping[str, pd.DataFrame], trials: pd.DataFrame
) -> list[tuple[dict, grade.OutcomeEvidence]]:
    follow_up = trials.set_index("trial_id")["follow_up_months"]
    per_trial = results["synthesis_serious_events"].set_index("trial_id")
    items = []
    for row in results["synthesis_serious_pooled"].itertuples(index=False):
        if row.scope not in set(trials["condition"]) or not row.trials:
            continue
        ids = tuple(row.trial_ids.split(";"))
        all_zero = bool((per_trial.loc[list(ids), "events"].astype(int) == 0).all())
        items.append(
            _safety_item(
                row,
                f"{row.scope}:{SERIOUS}",
                SERIOUS,
                ids,
                follow_up,
                all_zero=all_zero,
                zero_events=int(row.events) == 0,
            )
        )
    for row in results["synthesis_adverse_event_terms"].itertuples(index=False):
        if row.scope not in set(trials["condition"]):
            continue
        ids = tuple(row.trial_ids.split(";"))
        key = f"{row.scope}:adverse event:{row.term}"
        items.append(
            _safety_item(row, key, row.term, ids, follow_up, all_zero=int(row.events) == 0)
        )
    return items


def _safety_item(
    row,
    key: str,
    subject: str,
    ids: tuple[str, ...],
    follow_up: pd.Series,
    *,
    all_zero: bool,
    zero_events: bool = False,
) -> tuple[dict, grade.OutcomeEvidence]:
    """The facts shown and the GRADE evidence of one safety row (serious events or one term)."""
    facts = {
        "outcome_key": key,
        "condition": row.scope,
        "kind": "safety",
        "subject": subject,
        "surrogate": False,
        "evidence": "pooled" if row.pooled else "events",
        "estimate": row.glmm_proportion if row.pooled else row.proportion,
        "ci_low": row.glmm_ci_low if row.pooled else row.ci_low,
        "ci_high": row.glmm_ci_high if row.pooled else row.ci_high,
        "follow_up": follow_up[list(ids)],
    }
    evidence = grade.OutcomeEvidence(
        outcome=key,
        trial_ids=ids,
        n_patients=int(row.patients),
        conditions=(row.scope,),
        null_value=None,
        zero_events=zero_events,
        **_consistency(row, all_zero=all_zero),
    )
    return facts, evidence


def _efficacy_evidence(
    tables: Mapping[str, pd.DataFrame], results: Mapping[str, pd.DataFrame]
) -> list[tuple[dict, grade.OutcomeEvidence]]:
    trials = tables["trials"].set_index("trial_id")
    efficacy_n = trials["n_efficacy"].fillna(treated_patients(tables["trials"]))
    latest = tables["outcomes"].groupby(["trial_id", "outcome_id"])["timepoint_months"].max()
    votes = results["synthesis_votes"]
    votes = votes[votes["counted"]]
    estimates = results["synthesis_efficacy_estimates"]
    usable = estimates[estimates["usable"]]
    groups = results["synthesis_efficacy_groups"].set_index(["condition", "domain"])
    responders = results["synthesis_responders"].set_index(["trial_id", "outcome_id"])
    items = []
    for (condition, domain, surrogate), group in votes.groupby(
        ["condition", "domain", "surrogate"], sort=True
    ):
        ids = tuple(sorted(group["trial_id"].unique()))
        tally = (
            group.assign(
                up=group["direction"].eq("improved"), down=group["direction"].eq("worsened")
            )
            .groupby("trial_id", sort=True)[["up", "down"]]
            .sum()
        )
        directions = np.where(
            tally["up"] > tally["down"],
            "improved",
            np.where(tally["down"] > tally["up"], "worsened", "no_change"),
        ).tolist()
        trials_improved = int((tally["up"] > tally["down"]).sum())
        measured = group.groupby("trial_id")["patients"].max()
        patients = int(
            sum(
                int(measured[t]) if present(measured[t]) else int(efficacy_n.get(t) or 0)
                for t in ids
            )
        )
        follow_up = pd.Series(
            [
                latest.get(
                    (row.trial_id, row.outcome_id), trials.loc[row.trial_id, "follow_up_months"]
                )
                for row in group.itertuples(index=False)
            ],
            dtype="Float64",
        )
        facts: dict[str, object] = {
            "outcome_key": f"{condition}:{domain}" + (":physiological" if surrogate else ""),
            "condition": condition,
            "kind": "efficacy",
            "subject": domain,
            "surrogate": bool(surrogate),
            "follow_up": follow_up,
            "outcomes_improved": int((group["direction"] == "improved").sum()),
            "outcomes_counted": len(group),
            "trials_improved": trials_improved,
        }
        options = _shown_effect(
            facts, group, usable, groups, responders, condition, domain, bool(surrogate)
        )
        evidence = grade.OutcomeEvidence(
            outcome=str(facts["outcome_key"]),
            trial_ids=ids,
            n_patients=patients,
            conditions=(str(condition),),
            numeric=bool(group["basis"].isin(["numbers", "responders"]).any()),
            surrogate=bool(surrogate),
            directions=tuple(directions),
            **options,
        )
        items.append((facts, evidence))
    return items


def _shown_effect(
    facts: dict,
    group: pd.DataFrame,
    usable: pd.DataFrame,
    groups: pd.DataFrame,
    responders: pd.DataFrame,
    condition: str,
    domain: str,
    surrogate: bool,
) -> dict[str, object]:
    """Fill ``facts`` with the effect shown and return the GRADE options that go with it."""
    key = (condition, domain)
    if not surrogate and key in groups.index and bool(groups.loc[key, "pooled"]):
        pooled = groups.loc[key]
        facts.update(
            evidence="pooled",
            estimate=pooled["estimate"],
            ci_low=pooled["ci_low"],
            ci_high=pooled["ci_high"],
        )
        return {
            "pooled": True,
            "estimate": float(pooled["estimate"]),
            "ci_low": float(pooled["ci_low"]),
            "ci_high": float(pooled["ci_high"]),
            "pi_low": None if not present(pooled["pi_low"]) else float(pooled["pi_low"]),
            "pi_high": None if not present(pooled["pi_high"]) else float(pooled["pi_high"]),
            "i2": float(pooled["i2"]),
            "null_value": 0.0,
        }
    keys = set(zip(group["trial_id"], group["outcome_id"], strict=True))
    candidates = usable[
        [k in keys for k in zip(usable["trial_id"], usable["outcome_id"], strict=True)]
    ]
    if not candidates.empty:
        shown = candidates.sort_values("n", ascending=False, kind="stable").iloc[0]
        facts.update(
            evidence="change score",
            shown_trial_id=shown["trial_id"],
            shown_outcome_id=shown["outcome_id"],
            estimate=shown["smcr"],
            ci_low=shown["ci_low"],
            ci_high=shown["ci_high"],
        )
        return {
            "estimate": float(shown["smcr"]),
            "ci_low": float(shown["ci_low"]),
            "ci_high": float(shown["ci_high"]),
            "null_value": 0.0,
        }
    numbered = group[group["basis"].isin(["numbers", "responders"])]
    if numbered.empty:
        facts["evidence"] = "words"
        return {"null_value": None}
    shown = (
        numbered.assign(_order=np.arange(len(numbered)), _n=numbered["patients"].fillna(0))
        .sort_values(["_n", "_order"], ascending=[False, True], kind="stable")
        .iloc[0]
    )
    facts.update(
        evidence="counts", shown_trial_id=shown["trial_id"], shown_outcome_id=shown["outcome_id"]
    )
    key = (shown["trial_id"], shown["outcome_id"])
    if key not in responders.index:
        return {"null_value": None}
    counted = responders.loc[key]
    facts.update(
        estimate=counted["proportion"], ci_low=counted["ci_low"], ci_high=counted["ci_high"]
    )
    if not present(counted["mcnemar_p_max"]):
        return {"null_value": None}
    p_high = float(counted["mcnemar_p_max"])
    return {
        "null_value": None,
        "includes_null": p_high >= 0.05,
        "null_reason": f"exact McNemar p up to {p_high:.2g}: the change could be no change",
    }


def results(
    tables: Mapping[str, pd.DataFrame],
    results_so_far: Mapping[str, pd.DataFrame],
    *,
    optimal_information_size: int = grade.DEFAULT_OIS,
) -> dict[str, pd.DataFrame]:
    """The certainty of every outcome (ranked by importance per condition) and its judgments."""
    items = _safety_evidence(results_so_far, tables["trials"])
    items += _efficacy_evidence(tables, results_so_far)
    patients = treated_patients(tables["trials"]).dropna().astype(int).to_dict()
    rows, judgments = [], []
    for facts, evidence in items:
        assessment = grade.assess(
            evidence,
            tables["appraisal"],
            patients=patients,
            optimal_information_size=optimal_information_size,
        )
        low, high = _months(facts.pop("follow_up"))
        row = {
            **facts,
            "importance": importance(str(facts["kind"]), str(facts["subject"]), facts["surrogate"]),
            "trials": evidence.k,
            "trial_ids": join_ids(evidence.trial_ids),
            "patients": evidence.n_patients,
            "follow_up_min": low,
            "follow_up_max": high,
            "start": assessment.start,
            "levels_down": assessment.downgrade,
            "certainty": assessment.certainty,
        }
        rows.append(row)
        judgments += [
            {
                "outcome_key": facts["outcome_key"],
                "domain": judgment.domain,
                "rating": judgment.rating,
                "levels_down": judgment.downgrade,
                "reason": judgment.reason,
            }
            for judgment in assessment.judgments
        ]
    ranked = []
    for condition in sorted({str(row["condition"]) for row in rows}):
        own = sorted((r for r in rows if r["condition"] == condition), key=_sort_key)
        ranked += [{**row, "rank": rank} for rank, row in enumerate(own, start=1)]
    order = {row["outcome_key"]: i for i, row in enumerate(ranked)}
    judgments.sort(key=lambda j: (order[j["outcome_key"]], grade.DOMAINS.index(j["domain"])))
    return {
        "synthesis_certainty": result_frame("synthesis_certainty", ranked),
        "synthesis_certainty_judgments": result_frame("synthesis_certainty_judgments", judgments),
    }
