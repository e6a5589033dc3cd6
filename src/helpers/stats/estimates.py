"""Per-trial estimates from the processed tables: what changed, and how sure we can be.

Every function takes a processed table (``helpers.data.load(...)``), works on all trials at once
and returns one row per comparison with every assumption in its own column, so that a page or
the cross-trial synthesis can show the assumption next to the number. The frames are the result
tables of :data:`helpers.data.RESULTS` (documented column by column there);
:func:`trial_results` computes them all for :func:`helpers.stats.analysis.compute`.

* :func:`change_from_baseline` - outcomes reported as mean ± SD: baseline vs each later
  assessment as the standardised mean change with raw-score standardisation (SMCR, metafor
  ``escalc``), at the primary pre-post correlation :data:`PRIMARY_R`, with the r the reported
  p-value implies, flags for skewed and ordinal scores, and a reading (improved, worsened,
  uncertain, not judged) with its reason.
* :func:`r_sensitivity` - the same SMCR under a grid of assumed r (and the recovered one).
* :func:`proportions` - every count outcome's proportion with its exact (Clopper-Pearson) CI.
* :func:`count_changes` - count outcomes: baseline vs each later assessment, with the range of
  the exact McNemar p over every pairing the reported margins allow (the pairing is unknown).
* :func:`adverse_event_rates` (:mod:`helpers.stats.harms`) - adverse events with an explicit
  rate basis.

Intervals: continuous effects use the 95% Wald interval ``yi ± 1.96 √vi`` (metafor
``summary.escalc``); proportions use the exact Clopper-Pearson interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import data
from helpers.stats import effects
from helpers.stats.harms import (
    RATE_BASES,
    adverse_event_rates,
    count_from_percent,
    unit_text,
)
from helpers.stats.rows import Row, records

if TYPE_CHECKING:
    from helpers.stats.analysis import Settings

__all__ = [
    "CI_METHOD_CONTINUOUS",
    "CI_METHOD_PROPORTION",
    "PAIRING_UNKNOWN",
    "PRIMARY_R",
    "PRIMARY_R_REASON",
    "PRIMARY_R_SOURCES",
    "RATE_BASES",
    "READINGS",
    "adverse_event_rates",
    "benefit_sign",
    "change_from_baseline",
    "count_changes",
    "count_from_percent",
    "join_quote_ids",
    "p_text",
    "proportions",
    "r_sensitivity",
    "trial_results",
    "unit_text",
]

LEVEL = 95
CI_METHOD_CONTINUOUS = "95% Wald interval: yi ± 1.96 × √vi (metafor summary.escalc)"
CI_METHOD_PROPORTION = "exact Clopper–Pearson 95% interval"
PAIRING_UNKNOWN = (
    "unknown: only the number of patients with the finding at each time was reported, not who "
    "changed, so a paired test can only be bounded"
)
READINGS = ("improved", "worsened", "uncertain", "not judged")

# The primary pre-post correlation. The Cochrane Handbook (v6.5, 6.5.2.8 and 23.2.7.2) asks
# for a correlation taken from other studies or external evidence, with a sensitivity analysis
# over plausible values; see PRIMARY_R_REASON.
PRIMARY_R = 0.7
PRIMARY_R_SOURCES = (
    "Cochrane Handbook for Systematic Reviews of Interventions, version 6.5 (2024), sections "
    "6.5.2.8 and 23.2.7.2: impute a correlation from other studies or external evidence and "
    "show how the results change over plausible values",
    "Russell DJ et al. Improved scaling of the Gross Motor Function Measure for children with "
    "cerebral palsy. Phys Ther 2000;80:873–885: test–retest ICC 0.99 one week apart",
    "Bjornson KF et al. Test–retest reliability of the Gross Motor Function Measure in children "
    "with cerebral palsy. Phys Occup Ther Pediatr 1998;18(2):51–61: ICC 0.76 to 1.00",
)
PRIMARY_R_REASON = (
    "A patient's baseline and follow-up scores are correlated, and the interval of a change "
    "depends on how strongly; no report gives the correlation. Test–retest reliability a week "
    "apart (0.76 to 0.99 for the GMFM) is the most it can be; over 6 to 15 months patients "
    "change by different amounts, which lowers it. r = 0.7 lies below that ceiling and below "
    "the correlations the reported p-values imply, so the primary intervals are wider than the "
    "reports' own tests; 0.3 to 0.9 are shown as a sensitivity analysis."
)

# Skewness from summary statistics (Altman & Bland 1996, BMJ 313:1200): a mean closer than
# two SDs to a limit of the scale cannot come from roughly normal scores.
SKEW_SDS = 2.0
# A near-perfect linear pre-post correlation is not credible for skewed or ordinal scores.
IMPLAUSIBLE_R = 0.95
_BENEFIT_SIGNS = {"higher": 1.0, "lower": -1.0}


# --------------------------------------------------------------------------------------------
# Small shared pieces
# --------------------------------------------------------------------------------------------


def benefit_sign(direction_of_benefit: object, direction_basis: object = None) -> float:
    """+1 when higher is better, -1 when lower is better, NaN when no direction is agreed.

    A direction the extractor assumed (``direction_basis == "assumed"``) gives NaN too: it
    never supports an improvement claim.
    """
    if not _present(direction_of_benefit) or _is(direction_basis, "assumed"):
        return math.nan
    return _BENEFIT_SIGNS.get(str(direction_of_benefit), math.nan)


def join_quote_ids(*values: object) -> str:
    """Union of ';'-separated quote ids, first occurrence first (empty values are skipped)."""
    seen: dict[str, None] = {}
    for value in values:
        if not _present(value):
            continue
        for quote_id in str(value).split(";"):
            if quote_id.strip():
                seen.setdefault(quote_id.strip(), None)
    return ";".join(seen)


def p_text(p_reported: object) -> str:
    """'= 0.0047' or '< 0.001': the reported p with its relation, for labels."""
    text = str(p_reported).strip()
    match = re.match(r"^\s*(?:p\s*)?(<=|≤|<|=|>=|≥|>)?\s*(.*)$", text, re.I)
    relation, number = (match.group(1) or "=", match.group(2)) if match else ("=", text)
    return f"{relation} {number}"


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def _is(value: object, expected: str) -> bool:
    return _present(value) and str(value) == expected


def _value(row: Row, column: str) -> object:
    """The row's value, or None when the column is missing or empty."""
    value = row.get(column)
    return value if _present(value) else None


def _baseline_and_later(rows: pd.DataFrame) -> Iterable[tuple[Row, Row]]:
    """(baseline row, later row) pairs per (trial, outcome), in the order the table lists them.

    Per (trial, outcome), in order of first listing (rows missing either id are skipped): the
    first row at ``timepoint_months == 0`` against each later row, by time then listing. One
    pass in plain Python (:func:`helpers.stats.rows.records`): a pandas group per outcome costs
    far more than its few rows.
    """
    months = rows["timepoint_months"].to_numpy(dtype=float, na_value=np.nan)
    keys = zip(rows["trial_id"], rows["outcome_id"], strict=True)
    groups: dict[tuple[object, object], list[int]] = {}
    for position, key in enumerate(keys):
        if _present(key[0]) and _present(key[1]):
            groups.setdefault(key, []).append(position)
    listed = records(rows)
    for positions in groups.values():
        baseline = next((p for p in positions if months[p] == 0), None)
        if baseline is None:
            continue  # nothing to compare with: the value is shown on its own elsewhere
        for p in sorted((p for p in positions if months[p] > 0), key=lambda p: months[p]):
            yield listed[baseline], listed[p]


def _outcome_columns(post: Row) -> dict:
    return {
        "trial_id": post["trial_id"],
        "outcome_id": post["outcome_id"],
        "outcome": _value(post, "outcome") or post["measure"],
        "domain": post["domain"],
        "measure": post["measure"],
        "population": _value(post, "population"),
        "not_independent": _value(post, "not_independent"),
        "direction_of_benefit": _value(post, "direction_of_benefit"),
        "direction_basis": _value(post, "direction_basis"),
        "timepoint": post["timepoint"],
        "timepoint_months": float(post["timepoint_months"]),
    }


def _reading(reading: str, reason: str) -> dict:
    """The reading with its four yes/no columns (one filter answers 'which improved?')."""
    return {
        "reading": reading,
        "improved": reading == "improved",
        "worsened": reading == "worsened",
        "uncertain": reading == "uncertain",
        "not_judged": reading == "not judged",
        "reading_reason": reason,
    }


def _direction_problem(direction: object, basis: object) -> str:
    """Why an outcome's change cannot be judged better or worse ('' when it can)."""
    if not _present(direction) or str(direction) not in _BENEFIT_SIGNS:
        return "no agreed better direction for this outcome"
    if _is(basis, "assumed"):
        return (
            "the better direction was assumed by the extractor, not given by the source or a "
            "cited reference"
        )
    return ""


def _table(name: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as the result table ``name`` (typed, documented columns), also when empty."""
    if not rows:
        return data.empty_frame(name)
    columns = [column.name for column in data.RESULTS[name]]
    return data.conform(name, pd.DataFrame(rows, columns=columns))


# --------------------------------------------------------------------------------------------
# Continuous and ordinal outcomes: standardised mean change
# --------------------------------------------------------------------------------------------


def _check_r(r: float) -> None:
    if isinstance(r, bool) or not (isinstance(r, int | float) and -1 <= r <= 1):
        raise ValueError(f"r must be a number in [-1, 1], got {r!r}")


def _not_estimable(n: int | None, pre_sd: float, post_sd: float) -> str:
    if n is None:
        return "no SMCR: the number of patients is not reported at both times"
    if n < 3:
        return f"no SMCR: {n} patients are too few for a standardised change (3 or more needed)"
    for sd, when in ((pre_sd, "baseline"), (post_sd, "follow-up")):
        if sd <= 0:
            return (
                f"not estimable: the {when} SD is reported as {sd:g}, i.e. every patient had the "
                "same value, which is implausible for a measured quantity; a standardised "
                "change computed from it would be meaningless"
            )
    return ""


def _skewness(post: Row, pre: Row) -> str:
    """Why the scores are skewed (Altman & Bland 1996), or ''."""
    low, high = _value(post, "scale_min"), _value(post, "scale_max")
    for row, when in ((pre, "baseline"), (post, "follow-up")):
        mean, sd = float(row["mean"]), float(row["sd"])
        if sd <= 0:
            continue
        for limit, side in ((low, "lowest"), (high, "highest")):
            if limit is not None and abs(mean - float(limit)) < SKEW_SDS * sd:
                return (
                    f"skewed scores: the {when} mean {mean:g} lies less than 2 SD ({sd:g}) from "
                    f"the {side} possible score ({float(limit):g}), so the scores cannot be "
                    "roughly normal (Altman & Bland 1996); the mean ± SD, and an SMCR built on "
                    "them, describe the patients poorly: read its direction, not its size"
                )
    return ""


ORDINAL_NOTE = (
    "ordinal scale: grades are not equal steps, so a mean ± SD and an SMCR built on them treat "
    "them as if they were; read the direction of the change, not its size"
)


def _recovery(pre: Row, post: Row, n: int) -> effects.ChangeSdRecovery | str:
    """r recovered from the later row's reported p-value, or the reason it could not be."""
    p_reported = _value(post, "p_reported")
    if p_reported is None:
        return ""
    try:
        return effects.recover_change_sd(
            pre_mean=float(pre["mean"]),
            post_mean=float(post["mean"]),
            pre_sd=float(pre["sd"]),
            post_sd=float(post["sd"]),
            n=n,
            p_value=str(p_reported),
        )
    except ValueError as error:
        return f"r not recoverable from p {p_text(p_reported)}: {error}"


def _recovered_columns(
    recovered: effects.ChangeSdRecovery | str, skewed: bool, ordinal: bool
) -> dict:
    if isinstance(recovered, str):
        return {"r_recovered_note": recovered or None}
    notes = [recovered.note]
    plausible = True
    if recovered.r_clipped:
        plausible = False
    elif recovered.r >= IMPLAUSIBLE_R and (skewed or ordinal):
        plausible = False
        scores = "ordinal grades" if ordinal else "skewed scores"
        notes.append(
            f"implausible: r = {recovered.r:.2f} means almost every patient kept their rank and "
            f"spacing, which is not credible for {scores}; the reported p-value probably comes "
            "from another test (e.g. a rank test) or other patients"
        )
    return {
        "r_recovered": recovered.r,
        "p_is_bound": recovered.p_is_bound,
        "r_recovered_plausible": plausible,
        "r_recovered_note": " ".join(notes),
    }


def _continuous_reading(row: dict) -> dict:
    if not row["estimable"]:
        return _reading("not judged", row["not_estimable_reason"])
    problem = _direction_problem(row["direction_of_benefit"], row["direction_basis"])
    if problem:
        return _reading("not judged", problem)
    low, high = row["ci_low_benefit"], row["ci_high_benefit"]
    at = f"r = {row['r_used']:g}"
    if low > 0 or high < 0:
        reading = "improved" if low > 0 else "worsened"
        reason = f"the 95% interval ({at}) excludes no change"
    else:
        reading, reason = "uncertain", f"the 95% interval ({at}) includes no change"
    caveats = [
        c for c, on in (("ordinal scale", row["ordinal"]), ("skewed scores", row["skewed"])) if on
    ]
    if caveats:
        reason += f"; {' and '.join(caveats)}: the direction counts, not the size"
    return _reading(reading, reason)


def _smcr_row(pre: Row, post: Row, r: float, level: float) -> dict:
    ns = [int(value) for value in (pre["n"], post["n"]) if _present(value)]
    n = min(ns) if ns else None
    pre_sd, post_sd = float(pre["sd"]), float(post["sd"])
    sign = benefit_sign(_value(post, "direction_of_benefit"), _value(post, "direction_basis"))
    ordinal = _is(_value(post, "kind"), "ordinal")
    reason = _not_estimable(n, pre_sd, post_sd)
    skew = "" if reason else _skewness(post, pre)
    row = {
        **_outcome_columns(post),
        "scale": _value(post, "scale"),
        "unit": _value(post, "unit"),
        "kind": _value(post, "kind"),
        "n": n,
        "pre_mean": float(pre["mean"]),
        "pre_sd": pre_sd,
        "post_mean": float(post["mean"]),
        "post_sd": post_sd,
        "mean_change": float(post["mean"]) - float(pre["mean"]),
        "estimable": not reason,
        "not_estimable_reason": reason or None,
        "yi": math.nan,
        "vi": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "r_used": r,
        "p_reported": _value(post, "p_reported"),
        "p_is_bound": None,
        "r_recovered": math.nan,
        "r_recovered_plausible": None,
        "r_recovered_note": None,
        "ci_low_recovered": math.nan,
        "ci_high_recovered": math.nan,
        "benefit_sign": sign,
        "yi_benefit": math.nan,
        "ci_low_benefit": math.nan,
        "ci_high_benefit": math.nan,
        "skewed": bool(skew),
        "ordinal": ordinal,
        "distribution_note": "; ".join(note for note in (ORDINAL_NOTE * ordinal, skew) if note),
        "quote_id": join_quote_ids(pre["quote_id"], post["quote_id"]),
        "note": reason or None,
    }
    if not reason:
        estimate = effects.smcr(
            pre_mean=row["pre_mean"], post_mean=row["post_mean"], pre_sd=pre_sd, n=n, r=r
        )
        low, high = estimate.ci(level)
        yi = float(estimate.yi[0])
        row.update(yi=yi, vi=float(estimate.vi[0]), ci_low=float(low[0]), ci_high=float(high[0]))
        benefit = sorted((yi * sign, float(low[0]) * sign, float(high[0]) * sign))
        row.update(yi_benefit=yi * sign, ci_low_benefit=benefit[0], ci_high_benefit=benefit[2])
        if math.isnan(sign):
            row.update(ci_low_benefit=math.nan, ci_high_benefit=math.nan)
        recovered = _recovery(pre, post, n)
        row.update(_recovered_columns(recovered, bool(skew), ordinal))
        if not isinstance(recovered, str):
            at_recovered = effects.smcr(
                pre_mean=row["pre_mean"],
                post_mean=row["post_mean"],
                pre_sd=pre_sd,
                n=n,
                r=recovered.r,
            )
            low_r, high_r = at_recovered.ci(level)
            row.update(ci_low_recovered=float(low_r[0]), ci_high_recovered=float(high_r[0]))
        elif recovered:
            row["note"] = recovered
    row["distribution_note"] = row["distribution_note"] or None
    row.update(_continuous_reading(row))
    return row


def change_from_baseline(
    outcomes: pd.DataFrame, r: float = PRIMARY_R, *, level: float = LEVEL
) -> pd.DataFrame:
    """Baseline vs each later assessment of every outcome reported as mean and SD.

    One row per (trial_id, outcome_id, later timepoint) for continuous and ordinal outcomes
    with mean and SD both at baseline (``timepoint_months == 0``) and later: the result table
    ``trial_changes`` (every column is documented in :data:`helpers.data.RESULTS`).

    ``yi`` is the SMCR ``J(n-1) (post - pre) / SD_pre`` with Becker's variance at ``r``
    (:func:`helpers.stats.effects.smcr`), ``ci_low``/``ci_high`` the 95% Wald interval; ``n`` is
    the smaller n of the two. No SMCR when n < 3 or an SD is 0 (``not_estimable_reason``).
    Where the later row reports a p-value versus baseline, the r a two-sided paired t-test
    implies is recovered (:func:`helpers.stats.effects.recover_change_sd`) with the interval at
    that r, which restates the reported p-value; it is flagged implausible when clipped or
    near 1 for skewed or ordinal scores. ``yi_benefit`` is positive for a benefit, empty when
    the better direction is not given by the source or a reference. The reading is improved or
    worsened when the benefit-oriented interval excludes 0, with the reason.
    """
    _check_r(r)
    kinds = outcomes["kind"].astype("string")
    measured = outcomes[
        kinds.ne("count").fillna(True)
        & outcomes["mean"].notna()
        & outcomes["sd"].notna()
        & outcomes["timepoint_months"].notna()
    ]
    rows = [_smcr_row(pre, post, r, level) for pre, post in _baseline_and_later(measured)]
    return _table("trial_changes", rows)


@lru_cache(maxsize=65536)
def _sensitivity_records(
    summaries: tuple[str, str, str, str],
    n: int,
    grid: tuple[float, ...],
    level: float,
    p_reported: str | None,
) -> tuple[tuple[tuple[str, object], ...], str | None]:
    """The rows of :func:`helpers.stats.effects.smcr_sensitivity` as (column, value) pairs (the
    values ``to_dict("records")`` gives), and the note when p gives no r.

    Remembered: the synthesis asks again for the comparisons of the per-trial table. The means
    and SDs come as ``float.hex`` text, so that 0.0 and -0.0 are different arguments.
    """
    pre_mean, post_mean, pre_sd, post_sd = (float.fromhex(value) for value in summaries)
    arguments = {
        "pre_mean": pre_mean,
        "post_mean": post_mean,
        "pre_sd": pre_sd,
        "post_sd": post_sd,
        "n": n,
        "r_values": grid,
        "level": level,
    }
    note = None
    try:
        table = effects.smcr_sensitivity(**arguments, p_value=p_reported)
    except ValueError as error:  # p unusable (e.g. no change at all): assumed r only
        note = f"r not recoverable from p {p_text(p_reported)}: {error}"
        table = effects.smcr_sensitivity(**arguments)
    values = {column: table[column].tolist() for column in table.columns}
    rows = tuple(
        tuple((column, column_values[position]) for column, column_values in values.items())
        for position in range(len(table))
    )
    return rows, note


def r_sensitivity(
    row_or_frame: pd.Series | pd.DataFrame,
    grid: Sequence[float] = (0.3, 0.5, 0.7, 0.9),
    *,
    level: float = LEVEL,
) -> pd.DataFrame:
    """SMCR and its 95% CI under each assumed r in ``grid``, plus the r recovered from p.

    Takes rows of :func:`change_from_baseline` (one row as a Series, or a frame); a frame of
    raw outcomes is first passed through it. One row per r (``r_source = "assumed"``) and,
    when the comparison reports a usable p-value, one ``"recovered"`` (or ``"recovered (p
    bound)"``) row: the result table ``trial_r_sensitivity``. Comparisons without an SMCR are
    skipped.
    """
    for r in grid:
        _check_r(r)
    frame = row_or_frame.to_frame().T if isinstance(row_or_frame, pd.Series) else row_or_frame
    if "pre_mean" not in frame.columns:
        if {"mean", "sd", "timepoint_months"} <= set(frame.columns):
            frame = change_from_baseline(frame)
        else:
            raise ValueError(
                "r_sensitivity needs rows of change_from_baseline() (pre_mean, post_mean, ...) "
                f"or raw outcomes; got columns {sorted(frame.columns)}"
            )
    rows: list[dict] = []
    for comparison in records(frame):
        if not _present(comparison["yi"]):
            continue
        p_reported = comparison.get("p_reported")
        sensitivity, note = _sensitivity_records(
            tuple(
                float(comparison[column]).hex()
                for column in ("pre_mean", "post_mean", "pre_sd", "post_sd")
            ),
            int(comparison["n"]),
            tuple(grid),
            level,
            str(p_reported) if _present(p_reported) else None,
        )
        sign = float(comparison["benefit_sign"])
        for record in map(dict, sensitivity):
            ends = sorted((record["ci_low"] * sign, record["ci_high"] * sign))
            rows.append(
                {
                    "trial_id": comparison["trial_id"],
                    "outcome_id": comparison["outcome_id"],
                    "outcome": comparison.get("outcome", comparison["measure"]),
                    "measure": comparison["measure"],
                    "timepoint": comparison["timepoint"],
                    "timepoint_months": float(comparison["timepoint_months"]),
                    "n": int(comparison["n"]),
                    **record,
                    "yi_benefit": record["yi"] * sign,
                    "ci_low_benefit": ends[0],
                    "ci_high_benefit": ends[1],
                    "note": note,
                }
            )
    return _table("trial_r_sensitivity", rows)


# --------------------------------------------------------------------------------------------
# Count outcomes: proportions and before/after comparisons
# --------------------------------------------------------------------------------------------


def _counted(outcomes: pd.DataFrame) -> pd.DataFrame:
    return outcomes[
        outcomes["kind"].astype("string").eq("count").fillna(False)
        & outcomes["events"].notna()
        & outcomes["total"].notna()
    ]


def proportions(outcomes: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
    """Every count outcome's events/total with the exact Clopper-Pearson 95% interval.

    The result table ``trial_proportions``; ``compared_with_baseline`` is false for outcomes
    reported only after treatment (no baseline to compare with).
    """
    counted = _counted(outcomes)
    with_baseline = set(
        counted.loc[counted["timepoint_months"] == 0, ["trial_id", "outcome_id"]].itertuples(
            index=False, name=None
        )
    )
    rows = []
    for row in records(counted):
        events, total = int(row["events"]), int(row["total"])
        low, high = effects.clopper_pearson_interval(events, total, level)
        columns = _outcome_columns(row)
        rows.append(
            {
                **columns,
                "events": events,
                "total": total,
                "percent_reported": _value(row, "percent_reported"),
                "proportion": events / total,
                "ci_low": low,
                "ci_high": high,
                "compared_with_baseline": (row["trial_id"], row["outcome_id"]) in with_baseline,
                "quote_id": _value(row, "quote_id"),
            }
        )
    return _table("trial_proportions", rows)


def _reported_p_versus_range(p_reported: object, p_min: float, p_max: float) -> str:
    """Whether a reported p could be the exact McNemar p of these margins."""
    if not _present(p_reported):
        return "no p-value reported"
    if not np.isfinite(p_min):
        return f"reported p {p_text(p_reported)}: no exact McNemar range to compare it with"
    try:
        p_value, is_bound = effects.parse_p_value(str(p_reported))
    except ValueError:
        return f"reported p {p_text(p_reported)} could not be read as a number"
    bounds = f"{p_min:.2g} to {p_max:.2g}"
    if p_value < p_min:
        return (
            f"reported p {p_text(p_reported)} is below every exact McNemar p these counts "
            f"allow ({bounds}): the source's test (not named) is not an exact McNemar test of "
            "these counts"
        )
    if p_value > p_max and not is_bound:
        return f"reported p {p_text(p_reported)} is above the exact McNemar range ({bounds})"
    return f"reported p {p_text(p_reported)} lies within the exact McNemar range ({bounds})"


def _count_reading(row: dict) -> dict:
    problem = _direction_problem(row["direction_of_benefit"], row["direction_basis"])
    if problem:
        return _reading("not judged", problem)
    p_min, p_max = row["mcnemar_p_min"], row["mcnemar_p_max"]
    if not _present(p_min) or math.isnan(p_min):
        return _reading("not judged", row["mcnemar_note"])
    if row["risk_difference"] == 0 or p_min >= 0.05:
        return _reading("uncertain", "every possible pairing of patients gives p ≥ 0.05")
    if p_max < 0.05:
        reading = "improved" if row["rd_benefit"] > 0 else "worsened"
        return _reading(reading, "every possible pairing of patients gives p < 0.05")
    return _reading(
        "uncertain",
        "p < 0.05 for some pairings of patients only, and the source does not say who changed",
    )


def count_changes(outcomes: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
    """Baseline vs each later assessment of every count outcome (events/total).

    The result table ``trial_count_changes``: both proportions with exact Clopper-Pearson 95%
    intervals; ``risk_difference`` is post - pre (``rd_benefit`` positive = benefit). The same
    patients' pairing is unknown, so when the totals are equal the exact McNemar p is given as
    the range ``mcnemar_p_min`` .. ``mcnemar_p_max`` over every 2x2 table consistent with the
    margins (:func:`helpers.stats.effects.exact_mcnemar_range`); with different
    totals no paired test is attempted. A reported p is compared with that range.
    """
    rows = []
    for pre, post in _baseline_and_later(_counted(outcomes)):
        x1, n1, x2, n2 = (
            int(v) for v in (pre["events"], pre["total"], post["events"], post["total"])
        )
        (pre_low, pre_high), (post_low, post_high) = (
            effects.clopper_pearson_interval(x, n, level) for x, n in ((x1, n1), (x2, n2))
        )
        columns = _outcome_columns(post)
        sign = benefit_sign(columns["direction_of_benefit"], columns["direction_basis"])
        difference = x2 / n2 - x1 / n1 + 0.0
        p_min = p_max = math.nan
        n_pairings, mcnemar_note = None, None
        if n1 == n2:
            p_min, p_max, n_pairings = effects.exact_mcnemar_range(x1, x2, n1)
        else:
            mcnemar_note = (
                f"the totals differ ({n1} at baseline, {n2} later): not shown to be the same "
                "patients, so no paired test"
            )
        row = {
            **columns,
            "pre_events": x1,
            "pre_total": n1,
            "pre_proportion": x1 / n1,
            "pre_ci_low": pre_low,
            "pre_ci_high": pre_high,
            "post_events": x2,
            "post_total": n2,
            "post_proportion": x2 / n2,
            "post_ci_low": post_low,
            "post_ci_high": post_high,
            "risk_difference": difference,
            "benefit_sign": sign,
            "rd_benefit": difference * sign + 0.0,  # + 0.0: no negative zero
            "mcnemar_p_min": p_min,
            "mcnemar_p_max": p_max,
            "n_pairings": n_pairings,
            "pairing": PAIRING_UNKNOWN,
            "mcnemar_note": mcnemar_note,
            "p_reported": _value(post, "p_reported"),
            "p_reported_note": _reported_p_versus_range(post["p_reported"], p_min, p_max),
            "quote_id": join_quote_ids(pre["quote_id"], post["quote_id"]),
        }
        row.update(_count_reading(row))
        rows.append(row)
    return _table("trial_count_changes", rows)


# --------------------------------------------------------------------------------------------
# Every per-trial result table
# --------------------------------------------------------------------------------------------


def trial_results(
    tables: Mapping[str, pd.DataFrame], settings: Settings
) -> dict[str, pd.DataFrame]:
    """The per-trial result tables from the processed tables (a computation of
    :data:`helpers.stats.analysis.COMPUTATIONS`): every trial, whatever the synthesis includes.
    """
    outcomes = tables["outcomes"]
    changes = change_from_baseline(outcomes, r=settings.assumed_r)
    return {
        "trial_changes": changes,
        "trial_r_sensitivity": r_sensitivity(changes, settings.r_grid),
        "trial_count_changes": count_changes(outcomes),
        "trial_proportions": proportions(outcomes),
        "trial_adverse_events": adverse_event_rates(
            tables["adverse_events"],
            administrations=tables["trials"].set_index("trial_id")["n_administrations"],
        ),
    }
