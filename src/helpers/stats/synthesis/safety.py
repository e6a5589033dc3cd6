"""Safety across trials: serious adverse events, and common adverse events by harmonised term.

Rules, each applied here:

* **Per patient only.** A rate is pooled only over rows whose count *and* denominator are
  patients (``basis == "per patient"``); rates per administration, event or case counts, an
  unknown denominator and a percentage that fits both a per-patient and a per-administration
  denominator (18.75% = 3/16 patients = 12/64 administrations: ``basis == "unknown unit"``)
  are listed apart and never mixed in.
* **Serious** means what the source calls serious or severe (the sheet's ``serious``); each
  trial's definition and follow-up stay beside its count. A trial listing several serious
  terms counts its largest (one patient may have several), so its count is a lower bound
  when more than one term has events.
* **Summed counts.** The exact (Clopper-Pearson) interval and one-sided upper bound of the
  summed counts assume one common rate across trials; the ``assumption`` column says so with
  the number of definitions and the follow-up range (Hanley & Lippman-Hand 1983 for the
  zero-event bound). Trials without per-patient data are named beside every summed count.
* **Models.** Primary: binomial-normal GLMM (:func:`helpers.stats.meta.rma_glmm_proportions`;
  Stijnen, Hamza & Ozdemir 2010), only when :func:`~.common.should_pool` allows. Sensitivity:
  logit inverse-variance model (0.5 added to 0/n and n/n trials only), withheld when every
  trial needed the correction or its estimate exceeds the exact upper bound: such an estimate
  shows the correction, not the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers.labels import plural
from helpers.stats import effects, meta
from helpers.stats.rows import records
from helpers.stats.synthesis.common import (
    ALL,
    LEVEL,
    join_ids,
    present,
    result_frame,
    scopes,
    should_pool,
)

# Harmonised adverse-event terms: the first pattern that matches the reported term wins.
AE_TERM_PATTERNS: tuple[tuple[str, str], ...] = (
    ("any adverse event", r"\bany adverse event"),
    ("fever", r"\bfever|pyrexia|febrile"),
    ("vomiting", r"vomit"),
    ("nausea", r"nausea"),
    ("headache", r"headache"),
    ("fatigue", r"fatigue|tiredness"),
    ("dizziness", r"dizz|vertigo"),
    ("increased muscle tension", r"muscle tension"),
    ("urethral pain", r"urethralgia|urethral pain"),
    ("bone-marrow harvest-site swelling", r"swelling.*(extraction|harvest|aspiration)"),
)
PER_PATIENT = "per patient"
UNKNOWN_UNIT = "unknown unit"


def harmonise_term(term: object) -> str:
    """Common name of a reported adverse-event term ("mild fever" -> "fever")."""
    text = str(term).lower()
    for name, pattern in AE_TERM_PATTERNS:
        if re.search(pattern, text):
            return name
    return text.strip()


def adverse_events(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every adverse-event row with its harmonised term, basis and per-patient incidence.

    From the result table ``trial_adverse_events`` (:func:`helpers.stats.harms.adverse_event_rates`,
    where a percentage that fits patients and administrations alike is of ``"unknown unit"``).
    """
    rates = tables["trial_adverse_events"]
    rows = []
    for row in records(rates):
        record = {
            "trial_id": row["trial_id"],
            "term": harmonise_term(row["term"]),
            "as_reported": row["term"],
            "serious": bool(row["serious"]) if present(row["serious"]) else False,
            "basis": row["rate_basis"],
            "events": row["count"],
            "denominator": row["denominator"],
            "count_derived": bool(row["count_derived"]),
            "incidence": row["incidence"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "what_was_reported": row["rate_text"],
            "relatedness": row["relatedness"],
        }
        rows.append(record)
    return result_frame("synthesis_adverse_events", rows)


def _exact(events: int, patients: int) -> dict[str, float]:
    low, high = effects.clopper_pearson_interval(events, patients, LEVEL)
    return {
        "proportion": events / patients,
        "ci_low": low,
        "ci_high": high,
        "upper_bound": float(effects.exact_upper_bound(events, patients, LEVEL)[0]),
    }


def serious_events(tables: Mapping[str, pd.DataFrame], events: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: its per-patient serious-event count, or what it reports instead."""
    trials = tables["trials"].sort_values(["condition", "trial_id"], kind="stable")
    serious = events[events["serious"].fillna(False)]
    by_trial: dict[object, list[dict]] = {}  # plain rows: pandas per trial is too slow at scale
    for event in serious.to_dict("records"):
        by_trial.setdefault(event["trial_id"], []).append(event)
    rows = []
    for trial in trials.itertuples(index=False):
        own = by_trial.get(trial.trial_id, [])
        counted = [e for e in own if e["basis"] == PER_PATIENT and present(e["events"])]
        row: dict[str, object] = {
            "trial_id": trial.trial_id,
            "condition": trial.condition,
            "source_kind": trial.source_kind,
            "follow_up_months": trial.follow_up_months,
            "reported": bool(counted),
        }
        if not counted:
            bases = sorted({e["basis"] for e in own})
            row["why_no_data"] = (
                "serious or severe events reported "
                + " and ".join(_basis_words(b) for b in bases)
                + ", not per patient"
                if bases
                else "no report of the trial gives serious or severe adverse events"
            )
        else:
            x = int(max(e["events"] for e in counted))
            n = int(max(e["denominator"] for e in counted if present(e["denominator"])))
            row.update(
                definition="; ".join(e["as_reported"] for e in counted),
                relatedness="; ".join(
                    sorted({str(e["relatedness"]) for e in counted if present(e["relatedness"])})
                ),
                events=x,
                patients=n,
                several_terms=sum(e["events"] > 0 for e in counted) > 1,
                **_exact(x, n),
            )
        rows.append(row)
    return result_frame("synthesis_serious_events", rows)


def _basis_words(basis: str) -> str:
    return {
        "per administration": "per administration",
        "events (not patients)": "as events, not patients",
        "unknown denominator": "without a denominator",
        UNKNOWN_UNIT: "in an unknown unit",
        "named, no count": "by name only, without a count",
    }.get(basis, basis)


def logit_withheld(x: np.ndarray, n: np.ndarray, fit: meta.PooledProportionResult) -> str:
    """Why a logit-model estimate must not be shown (empty when it may be)."""
    corrected = (x == 0) | (x == n)
    if corrected.all():
        return (
            f"not shown: 0.5 was added to every one of the {len(x)} trials (zero or all "
            "events), so the estimate reflects the correction, not the data"
        )
    bound = float(effects.exact_upper_bound(int(x.sum()), int(n.sum()), LEVEL)[0])
    if fit.proportion > bound:
        return (
            "not shown: the estimate lies above the exact upper bound of the summed counts, "
            f"driven by the 0.5 added to {int(corrected.sum())} of {len(x)} trials"
        )
    return ""


def model_columns(
    x: np.ndarray, n: np.ndarray, ok: bool, reason: str, *, method: str
) -> dict[str, object]:
    """GLMM (primary) and logit (sensitivity) columns, when pooling is allowed and fits."""
    columns: dict[str, object] = {"pooled": False, "reason": reason}
    if not ok:
        return columns
    try:
        glmm = meta.rma_glmm_proportions(x, n, level=LEVEL)
    except ValueError as error:  # e.g. data too sparse for the model to converge
        columns["reason"] = f"the binomial-normal model could not be fitted: {error}"
        return columns
    columns.update(
        pooled=True,
        glmm_proportion=glmm.proportion,
        glmm_ci_low=glmm.ci_low,
        glmm_ci_high=glmm.ci_high,
        glmm_pi_low=glmm.pi_low,
        glmm_pi_high=glmm.pi_high,
        glmm_tau2=glmm.tau2,
    )
    logit = meta.rma_logit_proportions(x, n, method=method, level=LEVEL)
    note = logit_withheld(x, n, logit)
    columns["logit_note"] = note
    if not note:
        columns.update(
            logit_proportion=logit.proportion,
            logit_ci_low=logit.ci_low,
            logit_ci_high=logit.ci_high,
            logit_i2=logit.i2,
        )
    return columns


def _months(values: pd.Series) -> str:
    known = values.dropna()
    if known.empty:
        return "follow-up not reported"
    low, high = float(known.min()), float(known.max())
    text = f"{low:g} months" if low == high else f"{low:g} to {high:g} months"
    missing = len(values) - len(known)
    return f"follow-up of {text}" + (f" (not reported for {missing})" if missing else "")


def _assumption(counted: pd.DataFrame) -> str:
    k = len(counted)
    if k == 0:
        return ""
    if k == 1:
        return "one trial's own count: no assumption across trials"
    definitions = counted["definition"].str.lower().nunique()
    return (
        f"the {k} trials' counts are added, which assumes one common rate, although they word "
        f"'serious' in {plural(definitions, 'way')} and have {_months(counted['follow_up_months'])}"
    )


def serious_pooled(
    per_trial: pd.DataFrame, trials: pd.DataFrame, *, min_k: int, method: str
) -> pd.DataFrame:
    """Summed serious-event counts for every condition together and for each condition."""
    rows = []
    indexed = per_trial.set_index("trial_id")
    for scope, ids in scopes(trials):
        in_scope = indexed.loc[[i for i in ids if i in indexed.index]]
        counted = in_scope[in_scope["reported"].fillna(False)]
        row: dict[str, object] = {
            "scope": scope,
            "trials": len(counted),
            "trial_ids": join_ids(counted.index),
            "trials_without_data": join_ids(in_scope.index[~in_scope["reported"].fillna(False)]),
        }
        if counted.empty:
            row.update(pooled=False, reason="no trial reports serious events per patient")
            rows.append(row)
            continue
        x = counted["events"].to_numpy(dtype=float).astype(int)
        n = counted["patients"].to_numpy(dtype=float).astype(int)
        ok, reason = should_pool(
            len(x), min_k, all_zero=bool((x == 0).all()), all_full=bool((x == n).all())
        )
        row.update(
            events=int(x.sum()),
            patients=int(n.sum()),
            **_exact(int(x.sum()), int(n.sum())),
            definitions=counted["definition"].str.lower().nunique(),
            follow_up_min=counted["follow_up_months"].min(),
            follow_up_max=counted["follow_up_months"].max(),
            assumption=_assumption(counted.reset_index()),
            **model_columns(x, n, ok, reason, method=method),
        )
        rows.append(row)
    return result_frame("synthesis_serious_pooled", rows)


def adverse_event_terms(
    events: pd.DataFrame, trials: pd.DataFrame, *, min_k: int, method: str
) -> pd.DataFrame:
    """Non-serious terms reported per patient: pooled when allowed, else summed exactly."""
    common = events[~events["serious"].fillna(False)]
    per_patient = common[(common["basis"] == PER_PATIENT) & common["events"].notna()]
    other = common[common["basis"] != PER_PATIENT]
    rows = []
    for scope, ids in scopes(trials):
        in_scope = per_patient[per_patient["trial_id"].isin(ids)]
        for term, group in in_scope.groupby("term", sort=True):
            x = group["events"].to_numpy(dtype=float).astype(int)
            n = group["denominator"].to_numpy(dtype=float).astype(int)
            ok, reason = should_pool(
                len(group),
                min_k,
                n_trials=group["trial_id"].nunique(),
                all_zero=bool((x == 0).all()),
                all_full=bool((x == n).all()),
            )
            elsewhere = other[(other["term"] == term) & other["trial_id"].isin(ids)]
            rows.append(
                {
                    "scope": scope,
                    "term": term,
                    "trials": group["trial_id"].nunique(),
                    "trial_ids": join_ids(group["trial_id"]),
                    "events": int(x.sum()),
                    "patients": int(n.sum()),
                    **_exact(int(x.sum()), int(n.sum())),
                    "other_basis_trial_ids": join_ids(elsewhere["trial_id"]),
                    **model_columns(x, n, ok, reason, method=method),
                }
            )
    return result_frame("synthesis_adverse_event_terms", rows)


def per_trial(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The safety tables whose rows belong to one trial each."""
    events = adverse_events(tables)
    return {
        "synthesis_adverse_events": events,
        "synthesis_serious_events": serious_events(tables, events),
    }


def across_trials(
    results: Mapping[str, pd.DataFrame], trials: pd.DataFrame, *, min_k: int, method: str
) -> dict[str, pd.DataFrame]:
    """The safety tables that sum or pool trials: serious events and common terms."""
    return {
        "synthesis_serious_pooled": serious_pooled(
            results["synthesis_serious_events"], trials, min_k=min_k, method=method
        ),
        "synthesis_adverse_event_terms": adverse_event_terms(
            results["synthesis_adverse_events"], trials, min_k=min_k, method=method
        ),
    }


__all__ = [
    "AE_TERM_PATTERNS",
    "ALL",
    "adverse_event_terms",
    "adverse_events",
    "harmonise_term",
    "logit_withheld",
    "model_columns",
    "across_trials",
    "per_trial",
    "serious_events",
    "serious_pooled",
]
