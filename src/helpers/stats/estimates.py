"""Per-trial estimates from the processed tables: what changed, how sure we are, what went wrong.

Every function takes a processed table (``helpers.data.load(...)``), works on all trials at once
and returns one row per comparison with every assumption in its own column, so a page or the
cross-trial synthesis can show the assumption next to the number.

* :func:`change_from_baseline` - continuous outcomes: baseline vs each later timepoint as the
  standardised mean change with raw-score standardisation (SMCR, metafor ``escalc``), with the
  pre-post correlation ``r`` assumed (and, where a p-value is reported, recovered from it).
* :func:`r_sensitivity` - the same SMCR under a grid of assumed ``r`` (and the recovered one).
* :func:`proportions` - every count outcome's proportion with its exact (Clopper-Pearson) CI.
* :func:`count_changes` - count outcomes: baseline vs each later timepoint, with the range of
  the exact McNemar p over every pairing the reported margins allow (the pairing is unknown).
* :func:`adverse_event_rates` - adverse events with an explicit rate basis: per-patient
  incidence only when both the count and its denominator are patients.

Intervals: continuous effects use the 95% Wald interval ``yi ± 1.96 √vi`` (metafor
``summary.escalc``); proportions use the exact Clopper-Pearson interval; zero counts add the
exact one-sided 95% upper bound ``1 - 0.05^(1/n)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from helpers.stats import effects

__all__ = [
    "CI_METHOD_CONTINUOUS",
    "CI_METHOD_PROPORTION",
    "PAIRING_UNKNOWN",
    "RATE_BASES",
    "adverse_event_rates",
    "benefit_sign",
    "change_from_baseline",
    "count_changes",
    "count_from_percent",
    "join_quote_ids",
    "p_text",
    "unit_text",
    "proportions",
    "r_sensitivity",
]

LEVEL = 95
CI_METHOD_CONTINUOUS = "95% Wald interval: yi ± 1.96 × √vi (metafor summary.escalc)"
CI_METHOD_PROPORTION = "exact Clopper–Pearson 95% interval"
PAIRING_UNKNOWN = (
    "unknown: only the number of patients with the finding at each time was reported, not who "
    "changed, so a paired test can only be bounded"
)
RATE_BASES = (
    "per patient",
    "per administration",
    "events (not patients)",
    "unknown denominator",
    "named, no count",
)

_BENEFIT_SIGNS = {"higher": 1.0, "lower": -1.0}


# --------------------------------------------------------------------------------------------
# Small shared pieces
# --------------------------------------------------------------------------------------------


def benefit_sign(direction_of_benefit: object) -> float:
    """+1 when higher is better, -1 when lower is better, NaN when no direction is agreed."""
    if direction_of_benefit is None or pd.isna(direction_of_benefit):
        return math.nan
    return _BENEFIT_SIGNS.get(str(direction_of_benefit), math.nan)


def join_quote_ids(*values: object) -> str:
    """Union of ';'-separated quote ids, first occurrence first (empty values are skipped)."""
    seen: dict[str, None] = {}
    for value in values:
        if value is None or pd.isna(value):
            continue
        for quote_id in str(value).split(";"):
            if quote_id.strip():
                seen.setdefault(quote_id.strip(), None)
    return ";".join(seen)


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def _float(value: object) -> float:
    return float(value) if _present(value) else math.nan


def _frame(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    """Rows as a frame with exactly ``columns`` (name -> dtype), also when there are none."""
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(columns)


def _baseline_and_later(
    rows: pd.DataFrame,
) -> Iterable[tuple[pd.Series, pd.Series]]:
    """(baseline row, later row) pairs per (trial, outcome), in the order the table lists them."""
    for _, group in rows.groupby(["trial_id", "outcome_id"], sort=False):
        group = group.sort_values("timepoint_months", kind="stable")
        baselines = group[group["timepoint_months"] == 0]
        if baselines.empty:
            continue  # nothing to compare with: the value is shown on its own elsewhere
        baseline = baselines.iloc[0]
        for _, later in group[group["timepoint_months"] > 0].iterrows():
            yield baseline, later


def p_text(p_reported: object) -> str:
    """'= 0.0047' or '< 0.001': the reported p with its relation, for labels."""
    text = str(p_reported).strip()
    match = re.match(r"^\s*(?:p\s*)?(<=|≤|<|=|>=|≥|>)?\s*(.*)$", text, re.I)
    relation, number = (match.group(1) or "=", match.group(2)) if match else ("=", text)
    return f"{relation} {number}"


# --------------------------------------------------------------------------------------------
# Continuous outcomes: standardised mean change
# --------------------------------------------------------------------------------------------

CHANGE_COLUMNS = {
    "trial_id": "string",
    "outcome_id": "string",
    "domain": "string",
    "measure": "string",
    "unit": "string",
    "direction_of_benefit": "string",
    "population": "string",
    "timepoint": "string",
    "timepoint_months": "float64",
    "n": "Int64",
    "pre_mean": "float64",
    "pre_sd": "float64",
    "post_mean": "float64",
    "post_sd": "float64",
    "mean_change": "float64",
    "yi": "float64",
    "vi": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "r_used": "float64",
    "r_source": "string",
    "p_reported": "string",
    "r_recovered": "float64",
    "p_is_bound": "boolean",
    "benefit_sign": "float64",
    "yi_benefit": "float64",
    "quote_id": "string",
    "note": "string",
}


def _check_r(r: float) -> None:
    if not (isinstance(r, int | float) and -1 <= r <= 1):
        raise ValueError(f"r must be a number in [-1, 1], got {r!r}")


def _recover_r(
    pre: pd.Series, post: pd.Series, n: int
) -> tuple[effects.ChangeSdRecovery | None, str]:
    """r recovered from the later row's reported p-value, or None with the reason."""
    p_reported = post["p_reported"]
    if not _present(p_reported):
        return None, ""
    try:
        recovered = effects.recover_change_sd(
            pre_mean=float(pre["mean"]),
            post_mean=float(post["mean"]),
            pre_sd=float(pre["sd"]),
            post_sd=float(post["sd"]),
            n=n,
            p_value=str(p_reported),
        )
    except ValueError as error:
        return None, f"r not recoverable from p {p_text(p_reported)}: {error}"
    return recovered, recovered.note


def _smcr_row(pre: pd.Series, post: pd.Series, r: float, use_recovered: bool, level: float) -> dict:
    ns = [int(value) for value in (pre["n"], post["n"]) if _present(value)]
    n = min(ns) if ns else None
    sign = benefit_sign(post["direction_of_benefit"])
    row = {
        "trial_id": post["trial_id"],
        "outcome_id": post["outcome_id"],
        "domain": post["domain"],
        "measure": post["measure"],
        "unit": post["unit"],
        "direction_of_benefit": post["direction_of_benefit"],
        "population": post["population"],
        "timepoint": post["timepoint"],
        "timepoint_months": float(post["timepoint_months"]),
        "n": n,
        "pre_mean": float(pre["mean"]),
        "pre_sd": float(pre["sd"]),
        "post_mean": float(post["mean"]),
        "post_sd": float(post["sd"]),
        "mean_change": float(post["mean"]) - float(pre["mean"]),
        "yi": math.nan,
        "vi": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "r_used": r,
        "r_source": "assumed",
        "p_reported": post["p_reported"] if _present(post["p_reported"]) else None,
        "r_recovered": math.nan,
        "p_is_bound": None,
        "benefit_sign": sign,
        "yi_benefit": math.nan,
        "quote_id": join_quote_ids(pre["quote_id"], post["quote_id"]),
        "note": "",
    }
    if n is None or n < 3:
        row["note"] = "SMCR not computed: n < 3 (or not reported) at one of the two times"
        return row
    if row["pre_sd"] <= 0:
        row["note"] = "SMCR not computed: baseline SD is 0, so there is no scale to standardise by"
        return row

    recovered, note = _recover_r(pre, post, n)
    notes = [note] if note else []
    if recovered is not None:
        row["r_recovered"] = recovered.r
        row["p_is_bound"] = recovered.p_is_bound
        if use_recovered:
            row["r_used"] = recovered.r
            bound = f" (a bound: p = {recovered.p_used:g} used)" if recovered.p_is_bound else ""
            row["r_source"] = f"recovered from p {p_text(post['p_reported'])}{bound}"
    if row["post_sd"] == 0:
        notes.append("follow-up SD reported as 0 (implausible for a measured quantity)")

    estimate = effects.smcr(
        pre_mean=row["pre_mean"],
        post_mean=row["post_mean"],
        pre_sd=row["pre_sd"],
        n=n,
        r=row["r_used"],
    )
    low, high = estimate.ci(level)
    row.update(
        yi=float(estimate.yi[0]),
        vi=float(estimate.vi[0]),
        ci_low=float(low[0]),
        ci_high=float(high[0]),
        yi_benefit=float(estimate.yi[0]) * sign,
        note=" ".join(notes),
    )
    return row


def change_from_baseline(
    outcomes: pd.DataFrame,
    r: float = 0.5,
    *,
    use_recovered: bool = False,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Baseline vs each later timepoint of every outcome reported as mean and SD.

    One row per (trial_id, outcome_id, later timepoint) for non-count outcomes with mean and SD
    both at baseline (``timepoint_months == 0``) and later. ``n`` is the smaller of the two
    n; ``yi`` is the SMCR ``J(n-1) (post - pre) / SD_pre`` with Becker's variance
    (:func:`helpers.stats.effects.smcr`), ``ci_low``/``ci_high`` the 95% Wald interval
    ``yi ± 1.96 √vi``. ``yi`` does not depend on ``r``; its variance does.

    ``r_used`` is the assumed ``r`` (``r_source = "assumed"``). When the later row reports a
    p-value versus baseline, the r implied by a two-sided paired t-test is recovered
    (:func:`helpers.stats.effects.recover_change_sd`) into ``r_recovered`` (``p_is_bound`` when the
    report was "p < x"); it replaces the assumed r only with ``use_recovered=True``
    (``r_source = "recovered from p = ..."``). ``benefit_sign`` is +1 (higher is better), -1
    (lower is better) or NaN (no agreed direction); ``yi_benefit = yi * benefit_sign`` is
    positive when patients benefited. ``note`` explains anything not computed or unusual.
    """
    _check_r(r)
    measured = outcomes[
        outcomes["kind"].ne("count").fillna(True)
        & outcomes["mean"].notna()
        & outcomes["sd"].notna()
        & outcomes["timepoint_months"].notna()
    ]
    rows = [
        _smcr_row(pre, post, r, use_recovered, level) for pre, post in _baseline_and_later(measured)
    ]
    return _frame(rows, CHANGE_COLUMNS)


SENSITIVITY_COLUMNS = {
    "trial_id": "string",
    "outcome_id": "string",
    "measure": "string",
    "timepoint": "string",
    "timepoint_months": "float64",
    "n": "Int64",
    "r_source": "string",
    "r": "float64",
    "yi": "float64",
    "vi": "float64",
    "se": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "note": "string",
}


def r_sensitivity(
    row_or_frame: pd.Series | pd.DataFrame,
    grid: Sequence[float] = (0.3, 0.5, 0.7, 0.9),
    *,
    level: float = LEVEL,
) -> pd.DataFrame:
    """SMCR and its 95% CI under each assumed r in ``grid``, plus the r recovered from p.

    Takes rows of :func:`change_from_baseline` (one row as a Series, or a frame); a frame of
    raw outcomes is first passed through :func:`change_from_baseline`. Wraps
    :func:`helpers.stats.effects.smcr_sensitivity`: one row per r (``r_source = "assumed"``) and,
    when the comparison reports a usable p-value, one ``"recovered"`` (or
    ``"recovered (p bound)"``) row. Comparisons whose SMCR is not computable are skipped.
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
    for _, comparison in frame.iterrows():
        if not _present(comparison["yi"]):
            continue
        arguments = {
            "pre_mean": float(comparison["pre_mean"]),
            "post_mean": float(comparison["post_mean"]),
            "pre_sd": float(comparison["pre_sd"]),
            "post_sd": float(comparison["post_sd"]),
            "n": int(comparison["n"]),
            "r_values": tuple(grid),
            "level": level,
        }
        note = ""
        p_reported = comparison.get("p_reported")
        try:
            table = effects.smcr_sensitivity(
                **arguments, p_value=str(p_reported) if _present(p_reported) else None
            )
        except ValueError as error:  # p unusable (e.g. follow-up SD 0): assumed r only
            note = f"r not recoverable from p {p_text(p_reported)}: {error}"
            table = effects.smcr_sensitivity(**arguments)
        for record in table.to_dict("records"):
            rows.append(
                {
                    "trial_id": comparison["trial_id"],
                    "outcome_id": comparison["outcome_id"],
                    "measure": comparison["measure"],
                    "timepoint": comparison["timepoint"],
                    "timepoint_months": float(comparison["timepoint_months"]),
                    "n": int(comparison["n"]),
                    **record,
                    "note": note,
                }
            )
    return _frame(rows, SENSITIVITY_COLUMNS)


# --------------------------------------------------------------------------------------------
# Count outcomes: proportions and before/after comparisons
# --------------------------------------------------------------------------------------------

PROPORTION_COLUMNS = {
    "trial_id": "string",
    "outcome_id": "string",
    "domain": "string",
    "measure": "string",
    "population": "string",
    "direction_of_benefit": "string",
    "timepoint": "string",
    "timepoint_months": "float64",
    "events": "Int64",
    "total": "Int64",
    "proportion": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "quote_id": "string",
}


def _counted(outcomes: pd.DataFrame) -> pd.DataFrame:
    return outcomes[
        outcomes["kind"].eq("count").fillna(False)
        & outcomes["events"].notna()
        & outcomes["total"].notna()
    ]


def proportions(outcomes: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
    """Every count outcome's events/total with the exact Clopper-Pearson 95% interval."""
    rows = []
    for _, row in _counted(outcomes).iterrows():
        events, total = int(row["events"]), int(row["total"])
        low, high = effects.clopper_pearson_ci(events, total, level)
        rows.append(
            {
                **{column: row[column] for column in PROPORTION_COLUMNS if column in row.index},
                "events": events,
                "total": total,
                "proportion": events / total,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
            }
        )
    return _frame(rows, PROPORTION_COLUMNS)


COUNT_CHANGE_COLUMNS = {
    "trial_id": "string",
    "outcome_id": "string",
    "domain": "string",
    "measure": "string",
    "population": "string",
    "direction_of_benefit": "string",
    "timepoint": "string",
    "timepoint_months": "float64",
    "pre_events": "Int64",
    "pre_total": "Int64",
    "pre_proportion": "float64",
    "pre_ci_low": "float64",
    "pre_ci_high": "float64",
    "post_events": "Int64",
    "post_total": "Int64",
    "post_proportion": "float64",
    "post_ci_low": "float64",
    "post_ci_high": "float64",
    "risk_difference": "float64",
    "benefit_sign": "float64",
    "rd_benefit": "float64",
    "mcnemar_p_min": "float64",
    "mcnemar_p_max": "float64",
    "n_pairings": "Int64",
    "pairing": "string",
    "mcnemar_note": "string",
    "p_reported": "string",
    "p_reported_note": "string",
    "quote_id": "string",
}


def _reported_p_versus_range(p_reported: object, p_min: float, p_max: float) -> str:
    """Whether a reported p could be the exact McNemar p of these margins."""
    if not _present(p_reported) or not np.isfinite(p_min):
        return ""
    try:
        p_value, is_bound = effects.parse_p_value(str(p_reported))
    except ValueError:
        return f"reported p {p_text(p_reported)} could not be read as a number"
    bounds = f"{p_min:.3g} to {p_max:.3g}"
    if p_value < p_min:
        return (
            f"reported p {p_text(p_reported)} is below every exact McNemar p these margins "
            f"allow ({bounds}): the source's test (not named) is not an exact McNemar test of "
            "these counts"
        )
    if p_value > p_max and not is_bound:
        return f"reported p {p_text(p_reported)} is above the exact McNemar range ({bounds})"
    return f"reported p {p_text(p_reported)} lies within the exact McNemar range ({bounds})"


def count_changes(outcomes: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
    """Baseline vs each later timepoint of every count outcome (events/total).

    Both proportions carry exact Clopper-Pearson 95% intervals; ``risk_difference`` is
    post - pre (``rd_benefit`` = risk difference x benefit sign, positive = benefit). The same
    patients' pairing is unknown (``pairing``), so when the totals are equal the exact McNemar
    p is given as the range ``mcnemar_p_min`` .. ``mcnemar_p_max`` over all ``n_pairings`` 2x2
    tables consistent with the margins (:func:`helpers.stats.effects.before_after_unknown_pairing`).
    With different totals no paired test is attempted. A reported p is compared with that
    range in ``p_reported_note``.
    """
    rows = []
    for pre, post in _baseline_and_later(_counted(outcomes)):
        x1, n1, x2, n2 = (
            int(v) for v in (pre["events"], pre["total"], post["events"], post["total"])
        )
        (pre_low, pre_high), (post_low, post_high) = (
            effects.clopper_pearson_ci(x, n, level) for x, n in ((x1, n1), (x2, n2))
        )
        sign = benefit_sign(post["direction_of_benefit"])
        difference = x2 / n2 - x1 / n1
        if n1 == n2:
            comparison = effects.before_after_unknown_pairing(
                before_events=x1, before_n=n1, after_events=x2, after_n=n2, level=level
            )
            p_min, p_max = comparison.p_value_min, comparison.p_value_max
            n_pairings, mcnemar_note = len(comparison.tables), comparison.note
        else:
            p_min = p_max = math.nan
            n_pairings = None
            mcnemar_note = (
                f"totals differ ({n1} at baseline, {n2} later): not shown to be the same "
                "patients, so no paired test"
            )
        rows.append(
            {
                **{k: post[k] for k in ("trial_id", "outcome_id", "domain", "measure")},
                "population": post["population"],
                "direction_of_benefit": post["direction_of_benefit"],
                "timepoint": post["timepoint"],
                "timepoint_months": float(post["timepoint_months"]),
                "pre_events": x1,
                "pre_total": n1,
                "pre_proportion": x1 / n1,
                "pre_ci_low": float(pre_low[0]),
                "pre_ci_high": float(pre_high[0]),
                "post_events": x2,
                "post_total": n2,
                "post_proportion": x2 / n2,
                "post_ci_low": float(post_low[0]),
                "post_ci_high": float(post_high[0]),
                "risk_difference": difference,
                "benefit_sign": sign,
                "rd_benefit": difference * sign,
                "mcnemar_p_min": p_min,
                "mcnemar_p_max": p_max,
                "n_pairings": n_pairings,
                "pairing": PAIRING_UNKNOWN,
                "mcnemar_note": mcnemar_note,
                "p_reported": post["p_reported"] if _present(post["p_reported"]) else None,
                "p_reported_note": _reported_p_versus_range(post["p_reported"], p_min, p_max),
                "quote_id": join_quote_ids(pre["quote_id"], post["quote_id"]),
            }
        )
    return _frame(rows, COUNT_CHANGE_COLUMNS)


# --------------------------------------------------------------------------------------------
# Adverse events
# --------------------------------------------------------------------------------------------

ADVERSE_EVENT_COLUMNS = {
    "trial_id": "string",
    "term": "string",
    "serious": "boolean",
    "count_reported": "Int64",
    "count": "Int64",
    "count_derived": "boolean",
    "count_unit": "string",
    "denominator": "Int64",
    "denominator_unit": "string",
    "percent_reported": "string",
    "rate_basis": "string",
    "incidence": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "upper_bound_one_sided": "float64",
    "rate_text": "string",
    "relatedness": "string",
    "note": "string",
    "quote_id": "string",
    "derived": "string",
}


def count_from_percent(percent_reported: object, denominator: object) -> int | None:
    """The whole count a reported percentage of ``denominator`` stands for, if one fits.

    ``k = round(percent x denominator / 100)`` is accepted only when ``k / denominator``
    reproduces the reported percentage to its written precision (half a unit of its last
    decimal), e.g. 18.75% of 16 -> 3; 14.1% of 102 (14.38) -> None.
    """
    if not _present(percent_reported) or not _present(denominator) or int(denominator) <= 0:
        return None
    text = str(percent_reported).strip().rstrip("%").strip()
    try:
        percent = float(text)
    except ValueError:
        return None
    decimals = len(text.split(".")[1]) if "." in text else 0
    total = int(denominator)
    count = round(percent * total / 100)
    if not 0 <= count <= total:
        return None
    if abs(100 * count / total - percent) <= 0.5 * 10**-decimals + 1e-9:
        return count
    return None


def _rate_basis(count_unit: str, denominator: int | None, unit: str) -> str:
    if denominator is None or unit not in ("patients", "administrations"):
        return "unknown denominator"
    if unit == "administrations":
        return "per administration"
    if count_unit == "patients":
        return "per patient"
    return "events (not patients)"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def unit_text(unit: str, count: int) -> str:
    """The count's unit in words, singular for 1: 'event', 'cases', 'patients', ...

    A unit other than events, cases or patients reads 'events (count unit not stated)'.
    """
    if unit not in ("events", "cases", "patients"):
        return "event (count unit not stated)" if count == 1 else "events (count unit not stated)"
    return unit[:-1] if count == 1 else unit


def _rate_text(row: dict, level: float) -> str:
    count, unit, denominator = row["count"], row["count_unit"], row["denominator"]
    basis = row["rate_basis"]
    bound = (
        f"; one-sided {level:g}% upper bound {_percent(row['upper_bound_one_sided'])}"
        if _present(row["upper_bound_one_sided"])
        else ""
    )
    if basis == "named, no count":
        return "named by the source without a count: no rate"
    if count is None:
        percent = row["percent_reported"]
        return f"{percent}% as reported; denominator not stated, so no rate can be computed"
    if basis == "per patient":
        return (
            f"{count}/{denominator} patients = {_percent(row['incidence'])} "
            f"(exact {level:g}% CI {_percent(row['ci_low'])}–{_percent(row['ci_high'])}{bound})"
        )
    if basis == "per administration":
        return (
            f"{count} {unit_text(unit, count)} in {denominator} administrations: a rate per "
            f"administration, not per patient{bound}"
        )
    if basis == "events (not patients)":
        counted = unit_text(unit, count)
        if count == 0:
            return f"0 {counted} among {denominator} patients{bound}"
        return (
            f"{count} {counted} among {denominator} patients: a patient may count more than "
            "once, so no per-patient incidence"
        )
    return f"{count} {unit}; denominator not stated, so no rate can be computed"


def adverse_event_rates(adverse_events: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
    """Each adverse-event row with its count, units, rate basis and (where valid) incidence.

    * ``count`` is the reported count; when it is missing it is derived from the reported
      percentage x denominator only if that gives a whole number reproducing the percentage
      (:func:`count_from_percent`; ``count_derived`` says so).
    * ``rate_basis`` is one of :data:`RATE_BASES`. ``incidence`` with its exact
      Clopper-Pearson interval is given **only** for "per patient" (count and denominator both
      in patients). Events or cases over patients are never turned into a per-patient
      incidence, administrations are never mixed with patients, and an unknown denominator
      gives no rate.
    * ``upper_bound_one_sided``: for zero counts with a known denominator, the exact one-sided
      95% upper bound ``1 - 0.05^(1/n)`` (zero events also means zero patients, so it bounds
      the proportion of the denominator's units affected).
    * ``rate_text`` states the result with its unit in words.
    """
    rows = []
    for _, event in adverse_events.iterrows():
        reported = int(event["count"]) if _present(event["count"]) else None
        denominator = int(event["denominator"]) if _present(event["denominator"]) else None
        denominator_unit = (
            str(event["denominator_unit"]) if _present(event["denominator_unit"]) else "unknown"
        )
        count_unit = str(event["count_unit"]) if _present(event["count_unit"]) else "unknown"
        count, derived = reported, False
        if count is None and denominator_unit != "unknown":
            count = count_from_percent(event["percent_reported"], denominator)
            derived = count is not None
        row = {
            "trial_id": event["trial_id"],
            "term": event["term"],
            "serious": event["serious"],
            "count_reported": reported,
            "count": count,
            "count_derived": derived,
            "count_unit": count_unit,
            "denominator": denominator,
            "denominator_unit": denominator_unit,
            "percent_reported": event["percent_reported"],
            "rate_basis": (
                "named, no count"
                if reported is None and not _present(event["percent_reported"])
                else _rate_basis(count_unit, denominator, denominator_unit)
            ),
            "incidence": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "upper_bound_one_sided": math.nan,
            "relatedness": event["relatedness"],
            "note": event["note"],
            "quote_id": event["quote_id"],
            "derived": event["derived"],
        }
        if count is not None and row["rate_basis"] != "unknown denominator":
            if count == 0:
                row["upper_bound_one_sided"] = float(
                    effects.exact_upper_bound(0, denominator, level)[0]
                )
            if row["rate_basis"] == "per patient":
                low, high = effects.clopper_pearson_ci(count, denominator, level)
                row.update(
                    incidence=count / denominator, ci_low=float(low[0]), ci_high=float(high[0])
                )
        row["rate_text"] = _rate_text(row, level)
        rows.append(row)
    return _frame(rows, ADVERSE_EVENT_COLUMNS)
