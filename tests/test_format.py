"""The site's one convention for numbers, intervals, signs and words."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers.pages import format as fmt


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(0.514, 2, "0.51"), (-1.025, 2, "−1.02"), (3.0, 1, "3.0"), (None, 2, "not reported")],
)
def test_number(value, decimals, text):
    assert fmt.number(value, decimals) == text


def test_signed_has_no_negative_zero():
    assert fmt.signed(-0.0004) == "0.00"
    assert fmt.signed(0.51) == "+0.51"
    assert fmt.signed(-1.03) == "−1.03"


def test_reported_numbers_keep_their_digits():
    assert fmt.reported(127.7) == "127.7"
    assert fmt.reported(16.0) == "16"
    assert fmt.reported(-1.5) == "−1.5"
    assert fmt.reported(pd.NA) == "not reported"


def test_intervals_read_as_to_and_collapse_when_degenerate():
    assert fmt.interval(0.123, 0.851) == "0.12 to 0.85"
    assert fmt.interval(-0.5, 0.25) == "−0.50 to 0.25"
    assert fmt.interval(0.00781, 0.00781) == "0.01"
    assert fmt.percent_interval(0.0, 0.0881) == "0.0% to 8.8%"
    assert fmt.percent_interval(1.0, 1.0) == "100.0%"
    assert fmt.estimate(0.51, 0.12, 0.85) == "0.51 (95% CI 0.12 to 0.85)"


def test_percentages_always_have_one_decimal():
    assert fmt.percent(0.625) == "62.5%"
    assert fmt.percent(0.62) == "62.0%"


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0004, "p < 0.001"), (0.0047, "p = 0.0047"), (0.25, "p = 0.25"), (0.04, "p = 0.04")],
)
def test_p_values(p, text):
    assert fmt.p_value(p) == text


def test_plurals_agree_with_the_count():
    assert fmt.plural(1, "trial") == "1 trial"
    assert fmt.plural(0, "trial") == "0 trials"
    assert fmt.plural(3, "analysis", "analyses") == "3 analyses"
    assert fmt.months(12) == "12 months"
    assert fmt.months(1) == "1 month"
    assert fmt.months(1.5) == "1.5 months"


def test_benefit_orientation():
    assert fmt.benefit(0.5, "higher") == 0.5
    assert fmt.benefit(0.5, "lower") == -0.5
    assert math.isnan(fmt.benefit(0.5, "none"))
    assert math.isnan(fmt.benefit(None, "higher"))


def test_study_and_code_labels():
    trials = pd.DataFrame({"trial_id": ["cp_x2020"], "label": ["X 2020"]})
    assert fmt.study("cp_x2020", trials) == "X 2020"
    assert fmt.condition("spinal_cord_injury") == "spinal cord injury"
    assert fmt.domain("quality_of_life") == "quality of life"


def test_p_ranges_read_as_one_p_and_collapse_when_degenerate():
    assert fmt.p_range(0.25, 0.607) == "p = 0.25 to 0.61"
    assert fmt.p_range(0.0078125, 0.0078125) == "p = 0.0078"
    assert fmt.p_range(0.0004, 0.02) == "p < 0.001 to 0.02"
    assert fmt.p_range(None, 0.5) == "not reported"
