"""Direction of effect: SWiM vote counting, one vote per outcome domain per trial.

Synthesis without meta-analysis (Campbell et al. 2020, BMJ 368:l6890; McKenzie & Brennan,
Cochrane Handbook version 6, chapter 12). Each outcome gets a direction: numbers first (latest
assessment against baseline: mean, else median, else the proportion, times the direction of
benefit); a follow-up-only count of patients improved counts as improved when more than half
improved; otherwise the source's words. Outcomes without an agreed direction of benefit are
not classifiable; **every outcome marked not independent** (a component or subgroup of an
outcome already counted, whatever its kind) and single illustrative patients are not counted.

Votes: the counted outcomes of one trial in one domain give **one vote** (the majority
direction; a tie has no clear direction), because they share patients. A trial favours
benefit when more of its domains improved than worsened. The exact two-sided sign test
(:func:`scipy.stats.binomtest`) is given at trial level first (independent votes), then over
trial domains and outcomes, whose dependence is stated in the table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pandas as pd
from scipy import stats

from helpers.stats import estimates
from helpers.stats.synthesis.common import ALL, present, result_frame, scopes

DIRECTIONS = ("improved", "worsened", "no change", "mixed")
# Physiological and imaging measures: surrogate outcomes for GRADE indirectness.
SURROGATE_PATTERN = re.compile(
    r"manometry|cystomanometry|cystometric|detrusor pressure|cystourethrogram|magnetic resonance"
    r"|\bMRI\b|residual urine",
    re.IGNORECASE,
)
DEPENDENCE = {
    "trials": "one vote per trial: the trials are independent",
    "domains": (
        "one vote per outcome domain per trial: domains of one trial share its patients, so "
        "these votes are not independent and the test overstates the evidence"
    ),
    "outcomes": (
        "one vote per outcome: outcomes of one trial share its patients and often measure "
        "the same thing, so these votes are not independent and the test overstates the "
        "evidence most"
    ),
}


def surrogate(measure: object, domain: object) -> bool:
    """A physiological or imaging measure (not a patient-important outcome)."""
    return bool(SURROGATE_PATTERN.search(str(measure))) or domain == "imaging"


def _numeric_direction(group: pd.DataFrame, sign: float) -> tuple[str, str] | None:
    """Direction from baseline vs latest values (mean, else median, else proportion)."""
    baseline = group[group["timepoint_months"] == 0]
    later = group[group["timepoint_months"] > 0]
    if baseline.empty or later.empty:
        return None
    before, after = baseline.iloc[0], later.iloc[-1]
    for column in ("mean", "median"):
        if present(before[column]) and present(after[column]):
            a, b = float(before[column]), float(after[column])
            text = f"{column} {a:g} → {b:g}"
            break
    else:
        if not all(
            present(v) for v in (before["events"], before["total"], after["events"], after["total"])
        ):
            return None
        a = float(before["events"]) / float(before["total"])
        b = float(after["events"]) / float(after["total"])
        text = (
            f"{int(before['events'])}/{int(before['total'])} → "
            f"{int(after['events'])}/{int(after['total'])}"
        )
    change = (b - a) * sign
    return ("improved" if change > 0 else "worsened" if change < 0 else "no change"), text


def _words(narrative) -> dict[str, str]:
    direction = str(narrative.direction).replace("_", " ")
    claimed = present(narrative.significant) and bool(narrative.significant)
    significant = " (significant per source)" if claimed else ""
    return {"direction": direction, "basis": "words", "detail": f"source states it{significant}"}


def outcome_votes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every outcome, numeric or narrative, with its direction and whether it is counted."""
    condition = tables["trials"].set_index("trial_id")["condition"]
    outcomes = tables["outcomes"]
    narratives = tables["outcome_narratives"]
    narrative_by_key = {(r.trial_id, r.outcome_id): r for r in narratives.itertuples(index=False)}
    rows = []
    for (trial_id, outcome_id), group in outcomes.groupby(["trial_id", "outcome_id"], sort=False):
        group = group.sort_values("timepoint_months", kind="stable")
        last = group.iloc[-1]
        sign = estimates.benefit_sign(last["direction_of_benefit"])
        narrative = narrative_by_key.get((trial_id, outcome_id))
        sizes = group["n"].fillna(group["total"])
        record: dict[str, object] = {
            "trial_id": trial_id,
            "outcome_id": outcome_id,
            "outcome": last["outcome"],
            "condition": condition[trial_id],
            "domain": last["domain"],
            "patients": int(sizes.max()) if sizes.notna().any() else None,
            "surrogate": surrogate(last["measure"], last["domain"]),
        }
        numeric = None if math.isnan(sign) else _numeric_direction(group, sign)
        if math.isnan(sign):
            record.update(
                direction="not classifiable", basis="numbers", detail="no agreed direction"
            )
        elif numeric is not None:
            direction, detail = numeric
            if narrative is not None and narrative.direction.replace("_", " ") != direction:
                detail += f" (the source says {narrative.direction.replace('_', ' ')})"
            record.update(direction=direction, basis="numbers", detail=detail)
        elif last["kind"] == "count" and present(last["events"]) and present(last["total"]):
            share = float(last["events"]) / float(last["total"])
            record.update(
                direction="improved" if share > 0.5 else "mixed",
                basis="responders",
                detail=f"{int(last['events'])}/{int(last['total'])} improved",
            )
        elif narrative is not None:
            record.update(_words(narrative))
        else:
            record.update(direction="not classifiable", basis="numbers", detail="no usable values")
        record.update(_counted(record, last["not_independent"], sizes))
        rows.append(record)
    seen = set(zip(outcomes["trial_id"], outcomes["outcome_id"], strict=True))
    for row in narratives.itertuples(index=False):
        if (row.trial_id, row.outcome_id) in seen:
            continue
        record = {
            "trial_id": row.trial_id,
            "outcome_id": row.outcome_id,
            "outcome": row.outcome,
            "condition": condition[row.trial_id],
            "domain": row.domain,
            "patients": None,
            "surrogate": surrogate(row.measure, row.domain),
            **_words(row),
        }
        record.update(_counted(record, row.not_independent, pd.Series(dtype=float)))
        rows.append(record)
    return result_frame("synthesis_votes", rows)


def _counted(record: Mapping[str, object], not_independent: object, sizes: pd.Series) -> dict:
    if present(not_independent):
        return {"counted": False, "not_counted_because": f"not independent: {not_independent}"}
    if len(sizes) and sizes.notna().all() and (sizes == 1).all():
        return {"counted": False, "not_counted_because": "one illustrative patient"}
    if record["direction"] not in DIRECTIONS:
        return {"counted": False, "not_counted_because": str(record["detail"])}
    return {"counted": True, "not_counted_because": ""}


def _majority(up: int, down: int, positive: str, negative: str, tie: str) -> str:
    return positive if up > down else negative if down > up else tie


def domain_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """One vote per outcome domain per trial: the majority of its counted outcomes."""
    counted = votes[votes["counted"]]
    rows = []
    for (trial_id, condition, domain), group in counted.groupby(
        ["trial_id", "condition", "domain"], sort=True
    ):
        up = int((group["direction"] == "improved").sum())
        down = int((group["direction"] == "worsened").sum())
        rows.append(
            {
                "trial_id": trial_id,
                "condition": condition,
                "domain": domain,
                "outcomes": len(group),
                "improved": up,
                "worsened": down,
                "unchanged": len(group) - up - down,
                "vote": _majority(up, down, "improved", "worsened", "no clear direction"),
            }
        )
    return result_frame("synthesis_vote_domains", rows)


def trial_votes(domains: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """One vote per trial: more domains improved than worsened, or the reverse."""
    rows = []
    for trial in trials.sort_values(["condition", "trial_id"], kind="stable").itertuples():
        own = domains[domains["trial_id"] == trial.trial_id]
        up = int((own["vote"] == "improved").sum())
        down = int((own["vote"] == "worsened").sum())
        vote = (
            "not classifiable"
            if own.empty
            else _majority(up, down, "favours benefit", "favours harm", "no clear direction")
        )
        rows.append(
            {
                "trial_id": trial.trial_id,
                "condition": trial.condition,
                "domains_improved": up,
                "domains_worsened": down,
                "domains_unclear": len(own) - up - down,
                "vote": vote,
            }
        )
    return result_frame("synthesis_vote_trials", rows)


def sign_test(up: int, down: int) -> float:
    """Exact two-sided sign test of ``up`` successes in ``up + down`` at 1/2 (1 when empty)."""
    if up + down == 0:
        return 1.0
    return float(stats.binomtest(up, up + down, 0.5).pvalue)


def vote_tests(
    votes: pd.DataFrame, domains: pd.DataFrame, per_trial: pd.DataFrame, trials: pd.DataFrame
) -> pd.DataFrame:
    """Sign tests per scope at trial level first, then over trial domains and outcomes."""
    counted = votes[votes["counted"]]
    levels = {
        "trials": (per_trial, "vote", "favours benefit", "favours harm"),
        "domains": (domains, "vote", "improved", "worsened"),
        "outcomes": (counted, "direction", "improved", "worsened"),
    }
    rows = []
    for scope, ids in scopes(trials):
        for level, (frame, column, positive, negative) in levels.items():
            in_scope = frame[frame["trial_id"].isin(ids)]
            if level == "trials":
                in_scope = in_scope[in_scope["vote"] != "not classifiable"]
            up = int((in_scope[column] == positive).sum())
            down = int((in_scope[column] == negative).sum())
            rows.append(
                {
                    "scope": scope,
                    "level": level,
                    "favour_benefit": up,
                    "favour_harm": down,
                    "ties": len(in_scope) - up - down,
                    "sign_test_p": sign_test(up, down),
                    "independent": level == "trials",
                    "dependence": DEPENDENCE[level],
                }
            )
    return result_frame("synthesis_vote_tests", rows)


def results(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every vote-counting result table."""
    votes = outcome_votes(tables)
    domains = domain_votes(votes)
    per_trial = trial_votes(domains, tables["trials"])
    return {
        "synthesis_votes": votes,
        "synthesis_vote_domains": domains,
        "synthesis_vote_trials": per_trial,
        "synthesis_vote_tests": vote_tests(votes, domains, per_trial, tables["trials"]),
    }


__all__ = ["ALL", "DEPENDENCE", "DIRECTIONS", "results", "sign_test", "surrogate"]
