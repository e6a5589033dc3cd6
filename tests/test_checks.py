"""Tests for helpers.evidence.checks on numbers copied from the real sources (file named per test)."""

from __future__ import annotations

import pytest

from helpers.errors import EvidenceInputError
from helpers.evidence.checks import (
    CheckResult,
    counts_within_denominator,
    coverage,
    feasible_denominators,
    grim,
    percent_matches_count,
    sd_within_range,
)

# 002: "Mild AEs involving fever (14.1%), headache (4.2%), transient increase in muscle tension
# (1.6%) and dizziness (1.3%)" with "Safety ... assessments were performed on 102 ... subjects".
PERCENTS_002 = ["14.1", "4.2", "1.6", "1.3"]


# --------------------------------------------------------------------------- GRIM


def test_grim_fim_motor_is_consistent_by_half_up_rounding():
    # 001: "FIM motor scores increasing from 38.63 ± 24.35" with 16 children (integer-scored)
    result = grim("38.63", 16)
    assert isinstance(result, CheckResult) and result.ok and result.informative
    assert "618/16 = 38.625000 -> 38.63 (half-up rounding)" in result.message


def test_grim_accepts_half_even_rounding_too():
    # 001: "MAS reduced from 2.25 ± 1.18 to 1.62 ± 0.96": 26/16 = 1.625 -> 1.62 only half-even
    result = grim("1.62", 16)
    assert result.ok and "half-even" in result.message and "half-up" not in result.message


@pytest.mark.parametrize("mean", ["6.75", "9.88", "2.25", "47.44", "57.06", "70.88"])
def test_grim_other_001_integer_scores_are_consistent(mean):
    # 001: BBS 6.75 -> 9.88, MAS 2.25, FIM motor 47.44, FIM cognitive 57.06 -> 70.88; n = 16
    assert grim(mean, 16).ok


def test_grim_flags_gmfm_total_if_misapplied():
    # 001: "Total GMFM scores increased significantly from 47.01 ± 21.45". The GMFM total is an
    # average of domain percentages, not an integer score: GRIM does not apply, and this shows
    # why a sheet must not report it as a GRIM failure.
    result = grim("47.01", 16)
    assert not result.ok
    assert "752/16 = 47.000000 -> 47.00; 753/16 = 47.062500 -> 47.06" in result.message


def test_grim_not_informative_for_age_with_one_decimal_and_n_11():
    # 000: "an average age of 4.5 ± 2.8 years (mean ± SD, n = 11)"
    result = grim("4.5", 11)
    assert result.ok and not result.informative
    assert "GRIM not informative" in result.message


def test_grim_items_multiply_the_granularity():
    assert grim("3.48", 10, items=5).ok  # 174 / 50
    assert not grim("3.49", 10, items=5).ok
    assert not grim("3.48", 10).ok  # 34.8 is not an integer total
    assert grim(3.48, 10, decimals=2, items=5).ok


def test_grim_rejects_bad_n():
    with pytest.raises(EvidenceInputError):
        grim("4.5", 0)


# --------------------------------------------------------------------------- percentages


def test_sex_ratio_45_4_is_a_truncation_of_5_of_11():
    # 000: "a sex ratio of 45.4% vs. 54.5% (male vs. female)", n = 11
    male = percent_matches_count(5, 11, "45.4")
    assert not male.ok
    assert "5/11 = 45.4545% rounds to 45.5%" in male.message
    assert "truncation" in male.message
    assert percent_matches_count(6, 11, "54.5").ok
    # no whole denominator up to 100 makes both numbers proportions of the same group
    assert feasible_denominators(["45.4", "54.5"], n_max=100) == []


@pytest.mark.parametrize(
    ("count", "percent"),
    [(10, "62.5"), (7, "43.75"), (3, "18.75"), (2, "12.5")],
)
def test_001_percentages_are_whole_children_of_16(count, percent):
    # 001: Level V "decreasing from 62.5% to 43.75%"; "nausea (18.75%), fatigue (12.5%)"
    result = percent_matches_count(count, 16, percent)
    assert result.ok, result.message


def test_001_percentages_feasible_for_16():
    assert feasible_denominators(["62.5", "43.75", "18.75", "12.5"], n_max=100) == [
        16,
        32,
        48,
        64,
        80,
        96,
    ]


def test_002_percentages_cannot_be_patients_out_of_102():
    feasible = feasible_denominators(PERCENTS_002, n_max=1000)
    assert 102 not in feasible
    assert 408 not in feasible  # 102 patients × 4 administrations does not fit either
    assert feasible[0] == 306  # the smallest whole denominator: 43, 13, 5 and 4 of 306
    assert feasible[:8] == [306, 311, 312, 313, 377, 382, 383, 384]
    for count, percent in zip([43, 13, 5, 4], PERCENTS_002, strict=True):
        assert percent_matches_count(count, 306, percent).ok
    closest = percent_matches_count(14, 102, "14.1")
    assert not closest.ok and "14/102 = 13.7255% rounds to 13.7%" in closest.message


def test_feasible_denominators_validates_input():
    with pytest.raises(EvidenceInputError):
        feasible_denominators([])
    with pytest.raises(EvidenceInputError):
        feasible_denominators(["120"])


# --------------------------------------------------------------------------- SD and counts


def test_sd_within_range_on_berg_balance_scale():
    # 001: "BBS scores improved from 6.75 ± 10.88"; BBS ranges 0-56; n = 16
    result = sd_within_range("10.88", 0, 56, 16, mean="6.75")
    assert result.ok
    assert "sqrt((6.75 - 0) × (56 - 6.75)) × sqrt(16/15) = 18.831" in result.message


def test_sd_beyond_half_the_range_is_impossible():
    # MAS grades 0-4 with n = 16: the largest possible SD is 2 × sqrt(16/15) = 2.066
    result = sd_within_range("2.5", 0, 4, 16)
    assert not result.ok and "2.066" in result.message
    assert sd_within_range("1.18", 0, 4, 16, mean="2.25").ok  # 001: MAS 2.25 ± 1.18
    assert not sd_within_range("1.0", 0, 4, 16, mean="4.5").ok


def test_counts_within_denominator():
    # 000: "Ten out of 11 patients had to use clean intermittent catheterization"
    assert counts_within_denominator(10, 11).ok
    assert not counts_within_denominator(12, 11).ok
    with pytest.raises(EvidenceInputError):
        counts_within_denominator(-1, 11)


# --------------------------------------------------------------------------- coverage

RESULTS_000 = (
    "Cystometry revealed that the maximum detrusor pressure (pdet max) was 32.4 cm H2O, and the "
    "bladder volume was 127.7 mL (mean ± SD) at baseline (Table 2). After the 2nd infusion, 8 "
    "patients could walk independently [26], as reported before [13–19]; see Fig. 3. "
    "The rectal pressure at rest was -1.3 ± 8.4 mmHg."
)


def test_coverage_lists_uncaptured_numbers_with_offsets():
    missing = coverage(RESULTS_000, ["32.4", "127.7", "-1.3"])
    assert missing == [("8", RESULTS_000.index("8 ")), ("8.4", RESULTS_000.index("8.4"))]
    # citations, table/figure labels, ordinals and H2O are never reported
    assert coverage(RESULTS_000, ["32.4", 127.7, "-1.3", "8", "8.4"]) == []


def test_coverage_compares_numerically_and_respects_sign():
    text = "from 0.50 to 1.3 and −1.3"
    assert coverage(text, [0.5, 1.3]) == [("-1.3", text.index("−1.3"))]
    assert coverage(text, ["1.3"], ignore=["0.5", "-1.3"]) == []


@pytest.mark.parametrize(
    "noise",
    [
        "doi:10.1016/j.clineuro.2021.106565.",
        "https://doi.org/10.1186/s13287-023-03349-w)",
        "the ISCSCI-92 classification",
        "GMFM-88 and GMFM-66 scores",
        "the SF-36 and EQ-5D questionnaires",
    ],
)
def test_coverage_ignores_dois_and_instrument_names(noise):
    text = f"Scores improved in 12 patients ({noise}) after treatment."
    assert coverage(text, []) == [("12", text.index("12"))]
