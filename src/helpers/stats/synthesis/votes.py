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


def _numeric_direction(rows: list[dict], sign: float) -> tuple[str, str] | None:
    """Direction from baseline vs latest values (mean, else median, else proportion)."""
    baseline = [r for r in rows if r["timepoint_months"] == 0]
    later = [r for r in rows if present(r["timepoint_months"]) and r["timepoint_months"] > 0]
    if not baseline or not later:
        return None
    before, after = baseline[0], later[-1]
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


def _words(narrative: Mapping[str, object]) -> dict[str, str]:
    direction = str(narrative["direction"]).replace("_", " ")
    claimed = present(narrative["significant"]) and bool(narrative["significant"])
    significant = " (significant per source)" if claimed else ""
    return {"direction": direction, "basis": "words", "detail": f"source states it{significant}"}


def _grouped(frame: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    """Rows per (trial, outcome) as plain dicts, in the order the table lists them (plain
    Python: a pandas group per outcome costs a millisecond each, too slow at 1,000 trials)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in frame.to_dict("records"):
        groups.setdefault((row["trial_id"], row["outcome_id"]), []).append(row)
    return groups


def outcome_votes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every outcome, numeric or narrative, with its direction and whether it is counted."""
    condition = dict(zip(tables["trials"]["trial_id"], tables["trials"]["condition"], strict=True))
    narratives = _grouped(tables["outcome_narratives"])
    rows = []
    for (trial_id, outcome_id), group in _grouped(tables["outcomes"]).items():
        group.sort(
            key=lambda r: r["timepoint_months"] if present(r["timepoint_months"]) else math.inf
        )
        last = group[-1]
        sign = estimates.benefit_sign(last["direction_of_benefit"])
        narrative = narratives.get((trial_id, outcome_id), [None])[0]
        sizes = [r["n"] if present(r["n"]) else r["total"] for r in group]
        known = [int(v) for v in sizes if present(v)]
        record: dict[str, object] = {
            "trial_id": trial_id,
            "outcome_id": outcome_id,
            "outcome": last["outcome"],
            "condition": condition[trial_id],
            "domain": last["domain"],
            "patients": max(known) if known else None,
            "surrogate": surrogate(last["measure"], last["domain"]),
        }
        numeric = None if math.isnan(sign) else _numeric_direction(group, sign)
        if math.isnan(sign):
            record.update(
                direction="not classifiable", basis="numbers", detail="no agreed direction"
            )
        elif numeric is not None:
            direction, detail = numeric
            said = str(narrative["direction"]).replace("_", " ") if narrative else direction
            if said != direction:
                detail += f" (the source says {said})"
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
        single = len(known) == len(sizes) and all(v == 1 for v in known)
        record.update(_counted(record, last["not_independent"], single))
        rows.append(record)
    seen = set(zip(tables["outcomes"]["trial_id"], tables["outcomes"]["outcome_id"], strict=True))
    for key, (narrative, *_) in narratives.items():
        if key in seen:
            continue
        record = {
            "trial_id": key[0],
            "outcome_id": key[1],
            "outcome": narrative["outcome"],
            "condition": condition[key[0]],
            "domain": narrative["domain"],
            "patients": None,
            "surrogate": surrogate(narrative["measure"], narrative["domain"]),
            **_words(narrative),
        }
        record.update(_counted(record, narrative["not_independent"], False))
        rows.append(record)
    return result_frame("synthesis_votes", rows)


def _counted(record: Mapping[str, object], not_independent: object, single: bool) -> dict:
    if present(not_independent):
        return {"counted": False, "not_counted_because": f"not independent: {not_independent}"}
    if single:
        return {"counted": False, "not_counted_because": "one illustrative patient"}
    if record["direction"] not in DIRECTIONS:
        return {"counted": False, "not_counted_because": str(record["detail"])}
    return {"counted": True, "not_counted_because": ""}


def _majority(up: int, down: int, positive: str, negative: str, tie: str) -> str:
    return positive if up > down else negative if down > up else tie


def domain_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """One vote per outcome domain per trial: the majority of its counted outcomes."""
    counted = votes[votes["counted"]]
    directions: dict[tuple[str, str, str], list[str]] = {}  # plain Python: fast at scale
    keys = zip(counted["trial_id"], counted["condition"], counted["domain"], strict=True)
    for key, direction in zip(keys, counted["direction"], strict=True):
        if all(present(part) for part in key):  # as groupby, which drops missing keys
            directions.setdefault(key, []).append(direction)
    rows = []
    for (trial_id, condition, domain), group in sorted(directions.items()):
        up = sum(direction == "improved" for direction in group)
        down = sum(direction == "worsened" for direction in group)
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
    by_trial = dict(list(domains.groupby("trial_id", sort=False)))  # one pass, not one per trial
    rows = []
    for trial in trials.sort_values(["condition", "trial_id"], kind="stable").itertuples():
        own = by_trial.get(trial.trial_id, domains.iloc[:0])
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


def per_trial(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The vote tables whose rows belong to one trial each."""
    votes = outcome_votes(tables)
    domains = domain_votes(votes)
    return {
        "synthesis_votes": votes,
        "synthesis_vote_domains": domains,
        "synthesis_vote_trials": trial_votes(domains, tables["trials"]),
    }


def across_trials(
    results: Mapping[str, pd.DataFrame], trials: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Sign tests over the trials, domains and outcomes of every scope."""
    return {
        "synthesis_vote_tests": vote_tests(
            results["synthesis_votes"],
            results["synthesis_vote_domains"],
            results["synthesis_vote_trials"],
            trials,
        )
    }


__all__ = [
    "ALL",
    "DEPENDENCE",
    "DIRECTIONS",
    "across_trials",
    "per_trial",
    "sign_test",
    "surrogate",
]
