"""Adverse events with an explicit rate basis (helpers.stats.harms, via estimates)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import data
from helpers.stats import effects, estimates


@pytest.fixture(scope="module")
def rates(fixture_tables) -> pd.DataFrame:
    return estimates.adverse_event_rates(fixture_tables["adverse_events"])


def _ae(trial_id: str, term: str, rates: pd.DataFrame) -> pd.Series:
    return rates[(rates["trial_id"] == trial_id) & (rates["term"] == term)].iloc[0]


def test_the_rates_are_the_documented_result_table(rates):
    assert list(rates.columns) == [c.name for c in data.RESULTS["trial_adverse_events"]]
    assert data.conform("trial_adverse_events", rates).equals(rates)


def test_zero_serious_events_get_the_one_sided_upper_bound(rates):
    sae = rates[(rates["trial_id"] == "sb_nguyen2023") & rates["serious"]].iloc[0]
    assert sae["rate_basis"] == "per patient"
    assert sae["upper_bound_one_sided"] == pytest.approx(1 - 0.05 ** (1 / 11))
    assert sae["upper_bound_one_sided"] == pytest.approx(0.2384, abs=1e-4)
    assert "one-sided 95% upper bound 23.8%" in sae["rate_text"]


def test_count_is_derived_from_percent_only_when_it_fits(rates):
    nausea = _ae("cp_akhlaghpasand2025", "nausea", rates)
    assert nausea["count"] == 3 and bool(nausea["count_derived"]) is True
    assert pd.isna(nausea["count_reported"])
    low, high = effects.clopper_pearson_ci(3, 16)
    assert nausea["incidence"] == pytest.approx(3 / 16)
    assert (nausea["ci_low"], nausea["ci_high"]) == pytest.approx((low[0], high[0]))
    assert "exact 95% CI 4.0% to 45.6%" in nausea["rate_text"]

    fever = _ae("sci_yang2021", "fever", rates)  # 14.1%, denominator unknown
    assert pd.isna(fever["count"]) and bool(fever["count_derived"]) is False
    assert fever["rate_basis"] == "unknown denominator" and math.isnan(fever["incidence"])
    assert "14.1%" in fever["rate_text"] and "no rate" in fever["rate_text"]


def test_events_over_patients_are_never_a_per_patient_incidence(rates):
    events = rates[rates["count_unit"].isin(["events", "cases"])]
    assert len(events) == 7
    assert (events["rate_basis"] == "events (not patients)").all()
    assert events["incidence"].isna().all() and events["ci_low"].isna().all()
    vomiting = _ae("cp_nguyen2017", "intermittent vomiting", rates)
    assert vomiting["rate_text"].startswith("9 cases among 40 patients")
    assert _ae("sb_nguyen2023", "fever", rates)["rate_text"].startswith("1 event among")


def test_incidence_only_for_patients_over_patients(rates):
    with_incidence = rates[rates["incidence"].notna()]
    assert (with_incidence["count_unit"] == "patients").all()
    assert (with_incidence["denominator_unit"] == "patients").all()
    assert set(rates["rate_basis"]) <= set(estimates.RATE_BASES)


def _events(*rows: dict) -> pd.DataFrame:
    blank = {c.name: None for c in data.TABLES["adverse_events"]}
    return data.conform("adverse_events", pd.DataFrame([{**blank, **row} for row in rows]))


def test_per_administration_counts_stay_per_administration():
    frame = _events(
        *(
            {
                "trial_id": "t1",
                "term": term,
                "serious": False,
                "count": count,
                "count_unit": "events",
                "denominator": 44,
                "denominator_unit": "administrations",
            }
            for term, count in (("fever", 5), ("rash", 0))
        )
    )
    rates = estimates.adverse_event_rates(frame)
    assert (rates["rate_basis"] == "per administration").all()
    assert rates["incidence"].isna().all()
    assert "5 events in 44 administrations" in rates.iloc[0]["rate_text"]
    assert "not per patient" in rates.iloc[0]["rate_text"]
    assert rates.iloc[1]["upper_bound_one_sided"] == pytest.approx(1 - 0.05 ** (1 / 44))


def test_named_only_events_stay_named_without_a_count():
    frame = _events({"trial_id": "t1", "term": "headache", "named_only": True})
    row = estimates.adverse_event_rates(frame).iloc[0]
    assert row["rate_basis"] == "named, no count"
    assert pd.isna(row["count"]) and math.isnan(row["incidence"])
    assert row["rate_text"] == "named by the source without a count: no rate"


@pytest.mark.parametrize(
    ("percent", "denominator", "expected"),
    [
        ("18.75", 16, 3),
        ("12.5%", 16, 2),
        ("33.3", 3, 1),
        ("14.1", 102, None),
        ("30", 40, 12),
        ("120", 10, None),
        ("n/a", 10, None),
        (None, 10, None),
        ("50", None, None),
    ],
)
def test_count_from_percent(percent, denominator, expected):
    assert estimates.count_from_percent(percent, denominator) == expected


def test_no_events_give_the_empty_typed_table():
    empty = estimates.adverse_event_rates(data.empty_frame("adverse_events"))
    assert empty.empty and list(empty.columns) == list(data.empty_frame("trial_adverse_events"))


def test_a_percentage_that_fits_patients_and_administrations_is_of_unknown_unit():
    frame = _events(
        *(
            {
                "trial_id": "t1",
                "term": term,
                "serious": False,
                "percent_reported": percent,
                "count_unit": "patients",
                "denominator": 16,
                "denominator_unit": "patients",
            }
            for term, percent in (("nausea", "18.75"), ("rash", "0"), ("cough", "6.25"))
        )
    )
    rates = estimates.adverse_event_rates(frame, administrations=pd.Series({"t1": 4}))
    nausea, rash, cough = (rates.iloc[i] for i in range(3))
    # 18.75% = 3/16 patients = 12/64 administrations: the source does not say which
    assert nausea["rate_basis"] == "unknown unit" and math.isnan(nausea["incidence"])
    assert nausea["count"] == 3
    assert "3 of 16 patients or 12 of 64 administrations" in nausea["rate_text"]
    assert "1 of 16 patients or 4 of 64 administrations" in cough["rate_text"]
    # no event means no patient whichever the unit
    assert rash["rate_basis"] == "per patient" and rash["incidence"] == 0
    # one administration each, or the number not given: the percentage is per patient
    for administrations in (pd.Series({"t1": 1}), None):
        alone = estimates.adverse_event_rates(frame, administrations=administrations)
        assert alone.iloc[0]["rate_basis"] == "per patient"
        assert alone.iloc[0]["incidence"] == pytest.approx(3 / 16)


def test_a_reported_count_keeps_its_unit_whatever_the_administrations():
    frame = _events(
        {
            "trial_id": "t1",
            "term": "fever",
            "serious": False,
            "count": 3,
            "percent_reported": "18.75",
            "count_unit": "patients",
            "denominator": 16,
            "denominator_unit": "patients",
        }
    )
    rates = estimates.adverse_event_rates(frame, administrations=pd.Series({"t1": 4}))
    assert rates.iloc[0]["rate_basis"] == "per patient"
    assert rates.iloc[0]["incidence"] == pytest.approx(3 / 16)
