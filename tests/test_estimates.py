"""Per-trial estimates: SMCR with its r assumption, exact proportions, unknown pairing, AE rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from helpers import data
from helpers.stats import effects, estimates


@pytest.fixture(scope="module")
def outcomes() -> pd.DataFrame:
    return data.load("outcomes")


@pytest.fixture(scope="module")
def adverse_events() -> pd.DataFrame:
    return data.load("adverse_events")


def _outcome_rows(*rows: dict) -> pd.DataFrame:
    """A typed outcomes table from a few hand-written rows (unspecified columns empty)."""
    frame = data.empty_frame("outcomes")
    filled = pd.DataFrame([{c: row.get(c) for c in frame.columns} for row in rows])
    return data.conform("outcomes", filled)


def _continuous(outcome_id="x", direction="higher", **timepoints) -> list[dict]:
    """Rows for one continuous outcome: timepoints as month -> (mean, sd, n, p)."""
    rows = []
    for label, (month, mean, sd, n, p) in timepoints.items():
        rows.append(
            {
                "trial_id": "t1",
                "outcome_id": outcome_id,
                "domain": "motor",
                "measure": f"measure {outcome_id}",
                "direction_of_benefit": direction,
                "kind": "continuous",
                "timepoint": label,
                "timepoint_months": month,
                "n": n,
                "mean": mean,
                "sd": sd,
                "p_reported": p,
                "quote_id": f"t1-q{month:02.0f}",
            }
        )
    return rows


def _select(frame: pd.DataFrame, trial_id: str, outcome_id: str) -> pd.DataFrame:
    return frame[(frame["trial_id"] == trial_id) & (frame["outcome_id"] == outcome_id)]


# ------------------------------------------------------------------ change_from_baseline


def test_smcr_of_the_gmfm_total_matches_the_formula(outcomes):
    row = _select(estimates.change_from_baseline(outcomes), "cp_akhlaghpasand2025", "gmfm_total")
    assert len(row) == 1
    row = row.iloc[0]
    n = 16
    j = math.exp(special.gammaln((n - 1) / 2) - 0.5 * math.log((n - 1) / 2))
    j /= math.exp(special.gammaln((n - 2) / 2))
    yi = j * (54.69 - 47.01) / 21.45
    vi = 2 * (1 - 0.5) / n + yi**2 / (2 * n)
    assert row["n"] == n
    assert row["yi"] == pytest.approx(yi, rel=1e-12)
    assert row["vi"] == pytest.approx(vi, rel=1e-12)
    assert row["ci_low"] == pytest.approx(yi - stats.norm.isf(0.025) * math.sqrt(vi))
    assert row["ci_high"] == pytest.approx(yi + 1.959964 * math.sqrt(vi), rel=1e-6)
    assert row["mean_change"] == pytest.approx(7.68)
    assert (row["pre_mean"], row["pre_sd"], row["post_mean"], row["post_sd"]) == (
        47.01,
        21.45,
        54.69,
        22.62,
    )
    assert row["timepoint"] == "12 months post-treatment" and row["timepoint_months"] == 15
    assert row["quote_id"] == "cp_akhlaghpasand2025-q007;cp_akhlaghpasand2025-q015"
    assert row["benefit_sign"] == 1 and row["yi_benefit"] == pytest.approx(yi)


def test_r_is_recovered_from_the_reported_p_but_used_only_on_request(outcomes):
    assumed = _select(
        estimates.change_from_baseline(outcomes, r=0.5), "cp_akhlaghpasand2025", "gmfm_total"
    ).iloc[0]
    recovery = effects.recover_change_sd(
        pre_mean=47.01, post_mean=54.69, pre_sd=21.45, post_sd=22.62, n=16, p_value="<0.001"
    )
    assert assumed["r_used"] == 0.5 and assumed["r_source"] == "assumed"
    assert assumed["r_recovered"] == pytest.approx(recovery.r)
    assert bool(assumed["p_is_bound"]) is True
    assert assumed["p_reported"] == "<0.001"

    used = _select(
        estimates.change_from_baseline(outcomes, use_recovered=True),
        "cp_akhlaghpasand2025",
        "gmfm_total",
    ).iloc[0]
    assert used["r_used"] == pytest.approx(recovery.r)
    assert used["r_source"].startswith("recovered from p < 0.001")
    assert used["yi"] == pytest.approx(assumed["yi"])  # raw-score standardisation: r-free
    assert used["vi"] < assumed["vi"]  # r ~ 0.94 > 0.5 narrows the interval


def test_exact_p_gives_an_unbounded_recovery(outcomes):
    row = _select(estimates.change_from_baseline(outcomes), "cp_akhlaghpasand2025", "mas").iloc[0]
    assert bool(row["p_is_bound"]) is False
    changed = estimates.change_from_baseline(outcomes, use_recovered=True)
    assert _select(changed, "cp_akhlaghpasand2025", "mas").iloc[0]["r_source"] == (
        "recovered from p = 0.004"
    )


def test_one_row_per_later_timepoint_with_the_smaller_n(outcomes):
    changes = estimates.change_from_baseline(outcomes)
    capacity = _select(changes, "sb_nguyen2023", "bladder_capacity")
    assert capacity["timepoint"].tolist() == ["after 1st infusion", "after 2nd infusion"]
    assert capacity["n"].tolist() == [7, 7]
    assert capacity["post_mean"].tolist() == [136.3, 158.3]
    assert (capacity["pre_mean"] == 127.7).all() and (capacity["pre_sd"] == 59.2).all()


def test_only_outcomes_with_mean_and_sd_at_both_times(outcomes):
    changes = estimates.change_from_baseline(outcomes)
    ids = set(changes["outcome_id"])
    assert "gmfm_lying" not in ids  # p-value only
    assert "bladder_capacity_age_adjusted_pct" not in ids  # medians
    assert "bladder_capacity_pct_patient11" not in ids  # no SD (n = 1)
    assert "bowel_support_stool_evacuation" not in ids  # a count
    assert set(changes["trial_id"]) == {"cp_akhlaghpasand2025", "sb_nguyen2023"}
    assert list(changes.columns[:10]) == [
        "trial_id",
        "outcome_id",
        "domain",
        "measure",
        "unit",
        "direction_of_benefit",
        "population",
        "timepoint",
        "timepoint_months",
        "n",
    ]


def test_benefit_sign_follows_the_direction_of_benefit(outcomes):
    changes = estimates.change_from_baseline(outcomes)
    pdet = _select(changes, "sb_nguyen2023", "pdet_max").iloc[-1]  # lower is better, fell
    assert pdet["benefit_sign"] == -1 and pdet["yi"] < 0 < pdet["yi_benefit"]
    rest = _select(changes, "sb_nguyen2023", "anorectal_rectal_pressure_rest").iloc[0]
    assert math.isnan(rest["benefit_sign"]) and math.isnan(rest["yi_benefit"])


def test_zero_follow_up_sd_is_noted_and_blocks_recovery():
    rows = _continuous(base=(0, 25.3, 9.0, 6, None), later=(12, 104.0, 0.0, 6, "0.01"))
    row = estimates.change_from_baseline(_outcome_rows(*rows)).iloc[0]
    assert np.isfinite(row["yi"])  # SMCR needs the baseline SD only
    assert "r not recoverable" in row["note"] and "SD reported as 0" in row["note"]
    assert math.isnan(row["r_recovered"])


def test_small_or_sd_free_comparisons_are_explained_not_computed():
    too_small = _continuous(base=(0, 1.0, 1.0, 2, None), later=(6, 2.0, 1.0, 2, None))
    zero_sd = _continuous("y", base=(0, 1.0, 0.0, 9, None), later=(6, 2.0, 1.0, 9, None))
    changes = estimates.change_from_baseline(_outcome_rows(*too_small, *zero_sd))
    assert changes["yi"].isna().all()
    assert "n < 3" in changes.iloc[0]["note"]
    assert "baseline SD is 0" in changes.iloc[1]["note"]


def test_a_lower_bound_p_is_not_used():
    rows = _continuous(base=(0, 10.0, 2.0, 10, None), later=(3, 11.0, 2.0, 10, "> 0.05"))
    row = estimates.change_from_baseline(_outcome_rows(*rows), use_recovered=True).iloc[0]
    assert row["r_source"] == "assumed" and "lower bound" in row["note"]


def test_no_baseline_means_no_comparison_and_empty_input_keeps_columns():
    rows = _continuous(later=(6, 2.0, 1.0, 9, None))
    assert estimates.change_from_baseline(_outcome_rows(*rows)).empty
    empty = estimates.change_from_baseline(data.empty_frame("outcomes"))
    assert empty.empty and "yi_benefit" in empty.columns and "r_recovered" in empty.columns


@pytest.mark.parametrize("bad", [1.5, -2, "0.5"])
def test_r_outside_minus_one_to_one_is_refused(outcomes, bad):
    with pytest.raises(ValueError, match="r must be"):
        estimates.change_from_baseline(outcomes, r=bad)


# ------------------------------------------------------------------ r_sensitivity


def test_sensitivity_grid_plus_recovered_row(outcomes):
    changes = estimates.change_from_baseline(outcomes)
    gmfm = _select(changes, "cp_akhlaghpasand2025", "gmfm_total").iloc[0]
    table = estimates.r_sensitivity(gmfm)
    assert table["r_source"].tolist() == ["assumed"] * 4 + ["recovered (p bound)"]
    assert table["r"].tolist()[:4] == [0.3, 0.5, 0.7, 0.9]
    assert table["r"].iloc[-1] == pytest.approx(gmfm["r_recovered"])
    assert np.allclose(table["yi"], gmfm["yi"])
    widths = (table["ci_high"] - table["ci_low"]).to_numpy()
    assert np.all(np.diff(widths[:4]) < 0)  # higher r, narrower interval
    at_half = table[table["r"] == 0.5].iloc[0]
    assert (at_half["ci_low"], at_half["ci_high"]) == pytest.approx(
        (gmfm["ci_low"], gmfm["ci_high"])
    )


def test_sensitivity_accepts_frames_and_raw_outcomes(outcomes):
    sb = outcomes[outcomes["trial_id"] == "sb_nguyen2023"]
    from_raw = estimates.r_sensitivity(sb, grid=(0.2, 0.8))
    assert set(from_raw["r_source"]) == {"assumed"}  # the SB source reports no p-values
    assert len(from_raw) == 2 * len(estimates.change_from_baseline(sb))
    with pytest.raises(ValueError, match="change_from_baseline"):
        estimates.r_sensitivity(pd.DataFrame({"a": [1]}))


def test_sensitivity_keeps_assumed_rows_when_p_is_unusable():
    rows = _continuous(base=(0, 25.3, 9.0, 6, None), later=(12, 104.0, 0.0, 6, "0.01"))
    table = estimates.r_sensitivity(estimates.change_from_baseline(_outcome_rows(*rows)))
    assert table["r_source"].tolist() == ["assumed"] * 4
    assert table["note"].str.contains("not recoverable").all()


# ------------------------------------------------------------------ counts


def test_proportions_carry_exact_intervals(outcomes):
    table = estimates.proportions(outcomes)
    honmou = table[table["trial_id"] == "sci_honmou2021"].iloc[0]
    low, high = effects.clopper_pearson_ci(12, 13)
    assert (honmou["events"], honmou["total"]) == (12, 13)
    assert honmou["proportion"] == pytest.approx(12 / 13)
    assert (honmou["ci_low"], honmou["ci_high"]) == pytest.approx((low[0], high[0]))


def test_count_changes_bound_the_mcnemar_p_over_pairings(outcomes):
    changes = estimates.count_changes(outcomes)
    bristol = _select(changes, "sb_nguyen2023", "bristol_type_1")
    assert bristol["timepoint"].tolist() == ["after 1st infusion", "after 2nd infusion"]
    last = bristol.iloc[-1]
    reference = effects.before_after_unknown_pairing(
        before_events=10, before_n=11, after_events=2, after_n=11
    )
    assert (last["mcnemar_p_min"], last["mcnemar_p_max"]) == (
        reference.p_value_min,
        reference.p_value_max,
    )
    assert last["mcnemar_p_min"] < last["mcnemar_p_max"]
    assert last["n_pairings"] == len(reference.tables) == 2
    assert last["risk_difference"] == pytest.approx(2 / 11 - 10 / 11)
    assert last["benefit_sign"] == -1 and last["rd_benefit"] > 0
    assert "unknown" in last["pairing"]
    assert (last["post_ci_low"], last["post_ci_high"]) == pytest.approx(reference.after_ci)

    only_pairing = _select(changes, "sb_nguyen2023", "bowel_support_stool_evacuation").iloc[-1]
    assert only_pairing["mcnemar_p_min"] == only_pairing["mcnemar_p_max"] == pytest.approx(2**-7)


def test_a_reported_p_outside_the_mcnemar_range_is_called_out(outcomes):
    gmfcs = _select(estimates.count_changes(outcomes), "cp_akhlaghpasand2025", "gmfcs_level_v")
    note = gmfcs.iloc[0]["p_reported_note"]
    assert "0.0047" in note and "below every exact McNemar p" in note


def test_different_totals_get_no_paired_test():
    rows = [
        {
            "trial_id": "t1",
            "outcome_id": "c",
            "domain": "bowel",
            "measure": "m",
            "direction_of_benefit": "lower",
            "kind": "count",
            "timepoint": label,
            "timepoint_months": month,
            "events": events,
            "total": total,
        }
        for label, month, events, total in (("baseline", 0, 9, 10), ("later", 6, 3, 11))
    ]
    row = estimates.count_changes(_outcome_rows(*rows)).iloc[0]
    assert math.isnan(row["mcnemar_p_min"]) and pd.isna(row["n_pairings"])
    assert "totals differ" in row["mcnemar_note"]


# ------------------------------------------------------------------ adverse events


def _ae(trial_id: str, term: str, rates: pd.DataFrame) -> pd.Series:
    return rates[(rates["trial_id"] == trial_id) & (rates["term"] == term)].iloc[0]


def test_zero_serious_events_get_the_one_sided_upper_bound(adverse_events):
    rates = estimates.adverse_event_rates(adverse_events)
    sae = rates[(rates["trial_id"] == "sb_nguyen2023") & rates["serious"]].iloc[0]
    assert sae["rate_basis"] == "per patient"
    assert sae["upper_bound_one_sided"] == pytest.approx(1 - 0.05 ** (1 / 11))
    assert sae["upper_bound_one_sided"] == pytest.approx(0.2384, abs=1e-4)
    assert "one-sided 95% upper bound 23.8%" in sae["rate_text"]


def test_count_is_derived_from_percent_only_when_it_fits(adverse_events):
    rates = estimates.adverse_event_rates(adverse_events)
    nausea = _ae("cp_akhlaghpasand2025", "nausea", rates)
    assert nausea["count"] == 3 and bool(nausea["count_derived"]) is True
    assert pd.isna(nausea["count_reported"])
    low, high = effects.clopper_pearson_ci(3, 16)
    assert nausea["incidence"] == pytest.approx(3 / 16)
    assert (nausea["ci_low"], nausea["ci_high"]) == pytest.approx((low[0], high[0]))

    fever = _ae("sci_yang2021", "fever", rates)  # 14.1%, denominator unknown
    assert pd.isna(fever["count"]) and bool(fever["count_derived"]) is False
    assert fever["rate_basis"] == "unknown denominator" and math.isnan(fever["incidence"])
    assert "14.1%" in fever["rate_text"] and "no rate" in fever["rate_text"]


def test_events_over_patients_are_never_a_per_patient_incidence(adverse_events):
    rates = estimates.adverse_event_rates(adverse_events)
    events = rates[rates["count_unit"].isin(["events", "cases"])]
    assert len(events) == 7
    assert (events["rate_basis"] == "events (not patients)").all()
    assert events["incidence"].isna().all() and events["ci_low"].isna().all()
    vomiting = _ae("cp_nguyen2017", "intermittent vomiting", rates)
    assert vomiting["rate_text"].startswith("9 cases among 40 patients")
    assert _ae("sb_nguyen2023", "fever", rates)["rate_text"].startswith("1 event among")


def test_incidence_only_for_patients_over_patients(adverse_events):
    rates = estimates.adverse_event_rates(adverse_events)
    with_incidence = rates[rates["incidence"].notna()]
    assert (with_incidence["count_unit"] == "patients").all()
    assert (with_incidence["denominator_unit"] == "patients").all()
    assert set(rates["rate_basis"]) <= set(estimates.RATE_BASES)


def test_per_administration_counts_stay_per_administration():
    frame = data.conform(
        "adverse_events",
        pd.DataFrame(
            [
                {
                    **{c.name: None for c in data.TABLES["adverse_events"]},
                    "trial_id": "t1",
                    "term": term,
                    "serious": False,
                    "count": count,
                    "count_unit": "events",
                    "denominator": 44,
                    "denominator_unit": "administrations",
                }
                for term, count in (("fever", 5), ("rash", 0))
            ]
        ),
    )
    rates = estimates.adverse_event_rates(frame)
    assert (rates["rate_basis"] == "per administration").all()
    assert rates["incidence"].isna().all()
    assert "5 events in 44 administrations" in rates.iloc[0]["rate_text"]
    assert "not per patient" in rates.iloc[0]["rate_text"]
    assert rates.iloc[1]["upper_bound_one_sided"] == pytest.approx(1 - 0.05 ** (1 / 44))


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


def test_empty_tables_give_empty_frames_with_columns():
    assert list(estimates.count_changes(data.empty_frame("outcomes")).columns) == list(
        estimates.COUNT_CHANGE_COLUMNS
    )
    assert estimates.adverse_event_rates(data.empty_frame("adverse_events")).empty


def test_join_quote_ids_keeps_first_occurrence_order():
    assert estimates.join_quote_ids("a;b", None, "b;c", pd.NA, "") == "a;b;c"
