"""Per-trial estimates: SMCR at the cited r, readings, flags, exact proportions, unknown pairing,
and the per-trial result tables they form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from helpers import data
from helpers.stats import analysis, effects, estimates


@pytest.fixture(scope="module")
def outcomes(fixture_tables) -> pd.DataFrame:
    return fixture_tables["outcomes"]


@pytest.fixture(scope="module")
def changes(outcomes) -> pd.DataFrame:
    return estimates.change_from_baseline(outcomes)


def _outcome_rows(*rows: dict) -> pd.DataFrame:
    """A typed outcomes table from a few hand-written rows (unspecified columns empty)."""
    frame = data.empty_frame("outcomes")
    filled = pd.DataFrame([{c: row.get(c) for c in frame.columns} for row in rows])
    return data.conform("outcomes", filled)


def _continuous(outcome_id="x", direction="higher", basis="source", **timepoints) -> list[dict]:
    """Rows for one continuous outcome: timepoints as name -> (month, mean, sd, n, p)."""
    rows = []
    for label, (month, mean, sd, n, p) in timepoints.items():
        rows.append(
            {
                "trial_id": "t1",
                "outcome_id": outcome_id,
                "outcome": f"outcome {outcome_id}",
                "domain": "motor",
                "measure": f"measure {outcome_id}",
                "direction_of_benefit": direction,
                "direction_basis": basis,
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


def _j(n: int) -> float:
    """Exact small-sample correction J(n - 1), written out independently of helpers.stats.effects."""
    m = n - 1
    return math.exp(special.gammaln(m / 2) - 0.5 * math.log(m / 2) - special.gammaln((m - 1) / 2))


# ------------------------------------------------------------------ the primary r (issue 13.2)


def test_the_primary_r_is_the_cited_one_and_the_protocol_default():
    assert estimates.PRIMARY_R == 0.7
    assert analysis.Settings().assumed_r == estimates.PRIMARY_R
    cited = " ".join(estimates.PRIMARY_R_SOURCES)
    assert "6.5.2.8" in cited and "23.2.7.2" in cited and "Phys Ther 2000;80:873" in cited
    assert "sensitivity" in estimates.PRIMARY_R_REASON


def test_smcr_of_the_gmfm_total_matches_the_formula(changes):
    row = _select(changes, "cp_akhlaghpasand2025", "gmfm_total")
    assert len(row) == 1
    row = row.iloc[0]
    n, r = 16, estimates.PRIMARY_R
    yi = _j(n) * (54.69 - 47.01) / 21.45
    vi = 2 * (1 - r) / n + yi**2 / (2 * n)
    assert row["n"] == n and row["r_used"] == r
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
    assert row["outcome"] == "GMFM total"
    assert row["benefit_sign"] == 1 and row["yi_benefit"] == pytest.approx(yi)
    assert (row["ci_low_benefit"], row["ci_high_benefit"]) == (row["ci_low"], row["ci_high"])


def test_the_recovered_r_gives_its_own_interval_beside_the_primary_one(changes):
    gmfm = _select(changes, "cp_akhlaghpasand2025", "gmfm_total").iloc[0]
    recovery = effects.recover_change_sd(
        pre_mean=47.01, post_mean=54.69, pre_sd=21.45, post_sd=22.62, n=16, p_value="<0.001"
    )
    assert gmfm["r_recovered"] == pytest.approx(recovery.r)
    assert bool(gmfm["p_is_bound"]) is True and gmfm["p_reported"] == "<0.001"
    at_recovered = effects.smcr(pre_mean=47.01, post_mean=54.69, pre_sd=21.45, n=16, r=recovery.r)
    low, high = at_recovered.ci()
    assert (gmfm["ci_low_recovered"], gmfm["ci_high_recovered"]) == pytest.approx((low[0], high[0]))
    assert gmfm["ci_high_recovered"] - gmfm["ci_low_recovered"] < gmfm["ci_high"] - gmfm["ci_low"]
    assert bool(gmfm["r_recovered_plausible"]) is True
    assert "paired t-test" in gmfm["r_recovered_note"]


def test_a_near_perfect_recovered_r_for_skewed_scores_is_flagged(changes):
    bbs = _select(changes, "cp_akhlaghpasand2025", "bbs").iloc[0]
    assert bbs["r_recovered"] > 0.99
    assert bool(bbs["r_recovered_plausible"]) is False
    assert "implausible" in bbs["r_recovered_note"] and "skewed" in bbs["r_recovered_note"]


def test_a_recovered_r_outside_minus_one_to_one_is_implausible():
    # A huge change with a large p: no positive correlation can give it.
    rows = _continuous(base=(0, 10.0, 2.0, 10, None), later=(3, 16.0, 2.0, 10, "0.9"))
    row = estimates.change_from_baseline(_outcome_rows(*rows)).iloc[0]
    assert row["r_recovered"] == -1 and bool(row["r_recovered_plausible"]) is False
    assert "clipped" in row["r_recovered_note"]


# ------------------------------------------------------------------ skewed and ordinal (13.3)


def test_bounded_scores_near_their_floor_are_flagged_as_skewed(changes):
    bbs = _select(changes, "cp_akhlaghpasand2025", "bbs").iloc[0]  # 6.75 ± 10.88 on 0-56
    assert bool(bbs["skewed"]) is True and bool(bbs["ordinal"]) is False
    assert "Altman & Bland 1996" in bbs["distribution_note"]
    assert "lowest possible score (0)" in bbs["distribution_note"]
    gmfm = _select(changes, "cp_akhlaghpasand2025", "gmfm_total").iloc[0]  # 47.01 ± 21.45 of 100
    assert bool(gmfm["skewed"]) is False and pd.isna(gmfm["distribution_note"])


def test_ordinal_scales_are_flagged_and_their_reading_tempered(changes):
    mas = _select(changes, "cp_akhlaghpasand2025", "mas").iloc[0]
    assert bool(mas["ordinal"]) is True
    assert "ordinal scale" in mas["distribution_note"]
    assert mas["reading"] in estimates.READINGS
    assert "the direction counts, not the size" in mas["reading_reason"]


def test_the_skew_check_uses_the_highest_score_too():
    rows = _continuous(base=(0, 90.0, 8.0, 10, None), later=(6, 95.0, 6.0, 10, None))
    for row in rows:
        row.update(scale_min=0, scale_max=100)
    change = estimates.change_from_baseline(_outcome_rows(*rows)).iloc[0]
    assert bool(change["skewed"]) is True
    assert "highest possible score (100)" in change["distribution_note"]


# ------------------------------------------------------------------ degenerate estimates (13.4)


def test_no_smcr_when_the_follow_up_sd_is_zero(changes):
    cough = _select(changes, "sb_nguyen2023", "anorectal_rectal_pressure_cough").iloc[0]
    assert (cough["post_mean"], cough["post_sd"]) == (104.0, 0.0)
    assert bool(cough["estimable"]) is False
    assert math.isnan(cough["yi"]) and math.isnan(cough["ci_low"])
    assert "not estimable" in cough["not_estimable_reason"]
    assert "follow-up SD is reported as 0" in cough["not_estimable_reason"]
    assert cough["reading"] == "not judged" and bool(cough["not_judged"]) is True


def test_small_or_sd_free_comparisons_are_explained_not_computed():
    too_small = _continuous(base=(0, 1.0, 1.0, 2, None), later=(6, 2.0, 1.0, 2, None))
    zero_sd = _continuous("y", base=(0, 1.0, 0.0, 9, None), later=(6, 2.0, 1.0, 9, None))
    no_n = _continuous("z", base=(0, 1.0, 1.0, None, None), later=(6, 2.0, 1.0, None, None))
    changes = estimates.change_from_baseline(_outcome_rows(*too_small, *zero_sd, *no_n))
    assert changes["yi"].isna().all() and not changes["estimable"].any()
    reasons = changes["not_estimable_reason"].tolist()
    assert "2 patients are too few" in reasons[0]
    assert "baseline SD is reported as 0" in reasons[1]
    assert "not reported at both times" in reasons[2]


# ------------------------------------------------------------------ assumed directions (13.7)


def test_an_assumed_better_direction_never_supports_a_claim(changes):
    rair = _select(changes, "sb_nguyen2023", "anorectal_rair_volume").iloc[0]
    assert rair["direction_of_benefit"] == "lower" and rair["direction_basis"] == "assumed"
    assert np.isfinite(rair["yi"]) and rair["ci_high"] < 0  # it fell beyond chance ...
    assert math.isnan(rair["benefit_sign"]) and math.isnan(rair["yi_benefit"])
    assert rair["reading"] == "not judged"  # ... but nobody said lower is better
    assert "assumed by the extractor" in rair["reading_reason"]


def test_an_assumed_direction_gives_no_benefit_sign_for_counts_either():
    rows = [
        {
            "trial_id": "t1",
            "outcome_id": "c",
            "domain": "bowel",
            "measure": "m",
            "direction_of_benefit": "lower",
            "direction_basis": "assumed",
            "kind": "count",
            "timepoint": label,
            "timepoint_months": month,
            "events": events,
            "total": 20,
        }
        for label, month, events in (("baseline", 0, 20), ("later", 6, 0))
    ]
    row = estimates.count_changes(_outcome_rows(*rows)).iloc[0]
    assert row["mcnemar_p_max"] < 0.05
    assert math.isnan(row["rd_benefit"]) and row["reading"] == "not judged"


# ------------------------------------------------------------------ readings (issue 14.5)


def test_readings_are_one_filter_away(changes):
    flags = changes[["improved", "worsened", "uncertain", "not_judged"]].astype(bool)
    assert (flags.sum(axis=1) == 1).all()  # exactly one reading per row
    for reading, column in zip(estimates.READINGS, flags.columns, strict=True):
        assert (flags[column] == (changes["reading"] == reading)).all()
    assert changes["reading_reason"].notna().all()


def test_the_reading_follows_the_benefit_oriented_interval():
    up = _continuous(base=(0, 10.0, 2.0, 30, None), later=(6, 14.0, 2.0, 30, None))
    down = _continuous("d", "lower", base=(0, 10.0, 2.0, 30, None), later=(6, 14.0, 2.0, 30, None))
    flat = _continuous("f", base=(0, 10.0, 2.0, 30, None), later=(6, 10.1, 2.0, 30, None))
    none = _continuous("n", "none", base=(0, 10.0, 2.0, 30, None), later=(6, 14.0, 2.0, 30, None))
    readings = estimates.change_from_baseline(_outcome_rows(*up, *down, *flat, *none))
    assert readings["reading"].tolist() == ["improved", "worsened", "uncertain", "not judged"]
    worse = readings.iloc[1]
    assert worse["yi"] > 0 > worse["yi_benefit"] and worse["ci_high_benefit"] < 0


def test_benefit_sign_follows_the_direction_of_benefit(changes):
    pdet = _select(changes, "sb_nguyen2023", "pdet_max").iloc[-1]  # lower is better, fell
    assert pdet["benefit_sign"] == -1 and pdet["yi"] < 0 < pdet["yi_benefit"]
    assert pdet["ci_low_benefit"] == pytest.approx(-pdet["ci_high"])
    rest = _select(changes, "sb_nguyen2023", "anorectal_rectal_pressure_rest").iloc[0]
    assert math.isnan(rest["benefit_sign"]) and math.isnan(rest["yi_benefit"])
    assert rest["reading_reason"] == "no agreed better direction for this outcome"


# ------------------------------------------------------------------ shape of the table


def test_one_row_per_later_timepoint_with_the_smaller_n(changes):
    capacity = _select(changes, "sb_nguyen2023", "bladder_capacity")
    assert capacity["timepoint"].tolist() == ["after 1st infusion", "after 2nd infusion"]
    assert capacity["n"].tolist() == [7, 7]
    assert capacity["post_mean"].tolist() == [136.3, 158.3]
    assert (capacity["pre_mean"] == 127.7).all() and (capacity["pre_sd"] == 59.2).all()


def test_only_outcomes_with_mean_and_sd_at_both_times(changes):
    ids = set(changes["outcome_id"])
    assert "gmfm_lying" not in ids  # p-value only
    assert "bladder_capacity_age_adjusted_pct" not in ids  # medians
    assert "bladder_capacity_pct_patient11" not in ids  # no SD (n = 1)
    assert "bowel_support_stool_evacuation" not in ids  # a count
    assert set(changes["trial_id"]) == {"cp_akhlaghpasand2025", "sb_nguyen2023"}
    assert list(changes.columns) == [c.name for c in data.RESULTS["trial_changes"]]


def test_a_lower_bound_p_is_not_used():
    rows = _continuous(base=(0, 10.0, 2.0, 10, None), later=(3, 11.0, 2.0, 10, "> 0.05"))
    row = estimates.change_from_baseline(_outcome_rows(*rows)).iloc[0]
    assert math.isnan(row["r_recovered"]) and "lower bound" in row["r_recovered_note"]


def test_no_baseline_means_no_comparison_and_empty_input_keeps_columns():
    rows = _continuous(later=(6, 2.0, 1.0, 9, None))
    assert estimates.change_from_baseline(_outcome_rows(*rows)).empty
    empty = estimates.change_from_baseline(data.empty_frame("outcomes"))
    assert empty.empty and list(empty.columns) == list(data.empty_frame("trial_changes"))


def test_comparisons_follow_the_listing_and_time_with_the_first_listed_baseline():
    x = _continuous(late=(12, 14.0, 2.0, 10, None), base=(0, 10.0, 2.0, 10, None))
    y = _continuous("y", base=(0, 20.0, 2.0, 10, None), mid=(6, 21.0, 2.0, 10, None))
    again = _continuous(early=(3, 12.0, 2.0, 10, None), rebase=(0, 99.0, 2.0, 10, None))
    untimed = _continuous("y", unknown=(0, 30.0, 2.0, 10, None))
    untimed[0]["timepoint_months"] = None
    table = _outcome_rows(*x, *y, *again, *untimed)
    found = estimates.change_from_baseline(table)
    assert list(zip(found["outcome_id"], found["timepoint"], strict=True)) == [
        ("x", "early"),
        ("x", "late"),
        ("y", "mid"),
    ]
    assert (found.loc[found["outcome_id"] == "x", "pre_mean"] == 10.0).all()


@pytest.mark.parametrize("bad", [1.5, -2, "0.5", True])
def test_r_outside_minus_one_to_one_is_refused(outcomes, bad):
    with pytest.raises(ValueError, match="r must be"):
        estimates.change_from_baseline(outcomes, r=bad)


# ------------------------------------------------------------------ r_sensitivity


def test_sensitivity_grid_plus_recovered_row(changes):
    gmfm = _select(changes, "cp_akhlaghpasand2025", "gmfm_total").iloc[0]
    table = estimates.r_sensitivity(gmfm)
    assert table["r_source"].tolist() == ["assumed"] * 4 + ["recovered (p bound)"]
    assert table["r"].tolist()[:4] == [0.3, 0.5, 0.7, 0.9]
    assert table["r"].iloc[-1] == pytest.approx(gmfm["r_recovered"])
    assert np.allclose(table["yi"], gmfm["yi"])
    widths = (table["ci_high"] - table["ci_low"]).to_numpy()
    assert np.all(np.diff(widths[:4]) < 0)  # higher r, narrower interval
    at_primary = table[table["r"] == estimates.PRIMARY_R].iloc[0]
    assert (at_primary["ci_low"], at_primary["ci_high"]) == pytest.approx(
        (gmfm["ci_low"], gmfm["ci_high"])
    )
    recovered = table.iloc[-1]
    assert (recovered["ci_low"], recovered["ci_high"]) == pytest.approx(
        (gmfm["ci_low_recovered"], gmfm["ci_high_recovered"])
    )


def test_sensitivity_is_benefit_oriented(changes):
    mas = _select(changes, "cp_akhlaghpasand2025", "mas").iloc[0]  # lower is better
    table = estimates.r_sensitivity(mas, grid=(0.5,))
    row = table.iloc[0]
    assert row["yi"] < 0 < row["yi_benefit"]
    assert (row["ci_low_benefit"], row["ci_high_benefit"]) == (-row["ci_high"], -row["ci_low"])


def test_sensitivity_accepts_frames_and_raw_outcomes(outcomes):
    sb = outcomes[outcomes["trial_id"] == "sb_nguyen2023"]
    from_raw = estimates.r_sensitivity(sb, grid=(0.2, 0.8))
    assert set(from_raw["r_source"]) == {"assumed"}  # the SB source reports no p-values
    estimable = estimates.change_from_baseline(sb)["estimable"].sum()
    assert len(from_raw) == 2 * estimable
    with pytest.raises(ValueError, match="change_from_baseline"):
        estimates.r_sensitivity(pd.DataFrame({"a": [1]}))


def test_sensitivity_keeps_assumed_rows_when_p_is_unusable():
    rows = _continuous(base=(0, 25.3, 9.0, 6, None), later=(12, 25.3, 9.0, 6, "0.01"))
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
    assert bool(honmou["compared_with_baseline"]) is False  # reported after treatment only
    compared = table[table["trial_id"] == "sb_nguyen2023"]["compared_with_baseline"]
    assert compared.all()


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
    assert last["reading"] == "improved"

    only_pairing = _select(changes, "sb_nguyen2023", "bowel_support_stool_evacuation").iloc[-1]
    assert only_pairing["mcnemar_p_min"] == only_pairing["mcnemar_p_max"] == pytest.approx(2**-7)
    unchanged = _select(changes, "sb_nguyen2023", "cic_use").iloc[-1]
    assert unchanged["rd_benefit"] == 0 and not np.signbit(unchanged["rd_benefit"])
    assert unchanged["reading"] == "uncertain"


def test_a_pairing_dependent_result_is_uncertain():
    rows = [
        {
            "trial_id": "t1",
            "outcome_id": "c",
            "domain": "bowel",
            "measure": "m",
            "direction_of_benefit": "lower",
            "direction_basis": "source",
            "kind": "count",
            "timepoint": label,
            "timepoint_months": month,
            "events": events,
            "total": 20,
        }
        for label, month, events in (("baseline", 0, 12), ("later", 6, 4))
    ]
    row = estimates.count_changes(_outcome_rows(*rows)).iloc[0]
    assert row["mcnemar_p_min"] < 0.05 <= row["mcnemar_p_max"]
    assert row["reading"] == "uncertain" and "some pairings" in row["reading_reason"]


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
            "direction_basis": "source",
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
    assert row["reading"] == "not judged" and "totals differ" in row["reading_reason"]


# ------------------------------------------------------------------ the result tables


def test_the_per_trial_results_are_computed_first_and_documented(fixture_tables):
    assert analysis.COMPUTATIONS[0] is estimates.trial_results
    results = estimates.trial_results(fixture_tables, analysis.Settings())
    assert set(results) == set(data.results.TRIAL_RESULTS)
    for name, frame in results.items():
        assert data.conform(name, frame).equals(frame), name
    described = data.results_dictionary()
    assert described["description"].str.len().gt(10).all()
    assert set(described["table"]) >= set(results)


def test_the_results_follow_the_settings(fixture_tables):
    settings = analysis.Settings.from_parameters(assumed_r=0.3, r_grid=[0.1, 0.6])
    results = estimates.trial_results(fixture_tables, settings)
    assert (results["trial_changes"]["r_used"] == 0.3).all()
    assumed = results["trial_r_sensitivity"].query("r_source == 'assumed'")
    assert set(assumed["r"]) == {0.1, 0.6}


def test_stored_results_read_back_identical(fixture_tables, tmp_path):
    results = estimates.trial_results(fixture_tables, analysis.Settings())
    analysis.write(results, analysis.Settings(), tmp_path / "results")
    for name, frame in results.items():
        back = data.load(name, tmp_path / "results")
        pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_empty_tables_give_empty_typed_frames():
    outcomes = data.empty_frame("outcomes")
    for frame, name in (
        (estimates.count_changes(outcomes), "trial_count_changes"),
        (estimates.proportions(outcomes), "trial_proportions"),
        (estimates.r_sensitivity(estimates.change_from_baseline(outcomes)), "trial_r_sensitivity"),
    ):
        assert frame.empty and list(frame.columns) == list(data.empty_frame(name)), name


def test_join_quote_ids_keeps_first_occurrence_order():
    assert estimates.join_quote_ids("a;b", None, "b;c", pd.NA, "") == "a;b;c"
