"""Adverse events of each trial with an explicit rate basis (the result table
``trial_adverse_events``, documented in :data:`helpers.data.RESULTS`).

A rate means something only when its numerator and denominator count the same thing: a
per-patient incidence (with its exact Clopper-Pearson 95% interval) is given only when both the
count and its denominator are patients; events over patients, counts over administrations and
counts without a denominator are kept as reported. Zero counts add the exact one-sided 95%
upper bound ``1 - 0.05^(1/n)`` (Hanley & Lippman-Hand 1983, JAMA 249:1743).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from helpers import data
from helpers.stats import effects
from helpers.stats.rows import records

LEVEL = 95
RATE_BASES = (
    "per patient",
    "per administration",
    "events (not patients)",
    "unknown denominator",
    "unknown unit",
    "named, no count",
)


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


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


def unit_text(unit: str, count: int) -> str:
    """The count's unit in words, singular for 1: 'event', 'cases', 'patients', ...

    A unit other than events, cases or patients reads 'events (count unit not stated)'.
    """
    if unit not in ("events", "cases", "patients"):
        return "event (count unit not stated)" if count == 1 else "events (count unit not stated)"
    return unit[:-1] if count == 1 else unit


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
    if basis == "unknown unit":
        events, total = row["per_administration"]
        return (
            f"{row['percent_reported']}% as reported: {count} of {denominator} patients or "
            f"{events} of {total} administrations; the source does not say which, so no "
            "per-patient rate"
        )
    if count is None:
        percent = row["percent_reported"]
        return f"{percent}% as reported; denominator not stated, so no rate can be computed"
    if basis == "per patient":
        return (
            f"{count}/{denominator} patients = {_percent(row['incidence'])} "
            f"(exact {level:g}% CI {_percent(row['ci_low'])} to {_percent(row['ci_high'])}"
            f"{bound})"
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
    return f"{count} {unit_text(unit, count)}; denominator not stated, so no rate can be computed"


def _also_per_administration(row: dict, administrations: object) -> int | None:
    """The count per administration that a percentage turned into a per-patient count also
    reproduces (18.75% = 3/16 patients = 12/64 administrations), if any: the percentage's unit
    is then unknown. Zero fits every denominator but means no patient either way."""
    if not (row["count_derived"] and row["rate_basis"] == "per patient" and row["count"]):
        return None
    if not _present(administrations) or int(administrations) < 2:
        return None
    return count_from_percent(row["percent_reported"], row["denominator"] * int(administrations))


def adverse_event_rates(
    adverse_events: pd.DataFrame,
    *,
    administrations: Mapping[str, object] | None = None,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Each adverse-event row with its count, units, rate basis and (where valid) incidence.

    * ``count`` is the reported count; when it is missing it is derived from the reported
      percentage x denominator only if that gives a whole number reproducing the percentage
      (:func:`count_from_percent`; ``count_derived`` says so).
    * ``rate_basis`` is one of :data:`RATE_BASES`. ``incidence`` with its exact
      Clopper-Pearson interval is given **only** for "per patient" (count and denominator both
      in patients). Events or cases over patients are never turned into a per-patient
      incidence, administrations are never mixed with patients, and an unknown denominator
      gives no rate; an event the source only names stays "named, no count".
    * ``upper_bound_one_sided``: for zero counts with a known denominator, the exact one-sided
      95% upper bound ``1 - 0.05^(1/n)`` (zero events also means zero patients, so it bounds
      the proportion of the denominator's units affected).
    * ``administrations`` (number per patient, by trial id): a count derived from a percentage
      that the patients times the administrations also reproduce has ``rate_basis`` "unknown
      unit" and no incidence (the source does not say which it is).
    * ``rate_text`` states the result with its unit in words.
    """
    rows = []
    for event in records(adverse_events):
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
        named_only = reported is None and not _present(event["percent_reported"])
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
                if named_only
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
        per_patient = None if administrations is None else administrations.get(event["trial_id"])
        per_administration = _also_per_administration(row, per_patient)
        if per_administration is not None:
            row["rate_basis"] = "unknown unit"
            row["per_administration"] = (
                per_administration,
                denominator * int(per_patient),
            )
        if count is not None and row["rate_basis"] not in ("unknown denominator", "unknown unit"):
            if count == 0:
                row["upper_bound_one_sided"] = float(
                    effects.exact_upper_bound(0, denominator, level)[0]
                )
            if row["rate_basis"] == "per patient":
                low, high = effects.clopper_pearson_interval(count, denominator, level)
                row.update(incidence=count / denominator, ci_low=low, ci_high=high)
        row["rate_text"] = _rate_text(row, level)
        row.pop("per_administration", None)
        rows.append(row)
    if not rows:
        return data.empty_frame("trial_adverse_events")
    columns = [column.name for column in data.RESULTS["trial_adverse_events"]]
    return data.conform("trial_adverse_events", pd.DataFrame(rows, columns=columns))
