"""Two consistency checks that must reach checks.csv (issue 13 items 5 and 6): a before-after
p-value no exact McNemar test of its counts can give, and a percentage that fits a count of
patients and a count of administrations alike. Both are warnings, so the index and the
data-quality report count them."""

from __future__ import annotations

import pytest

from helpers.evidence import checks
from helpers.pages import report, site
from helpers.stats import effects


@pytest.mark.parametrize(
    ("before", "after", "n"),
    [(10, 7, 16), (11, 3, 11), (6, 8, 11), (0, 6, 7), (2, 1, 10), (10, 2, 11)],
)
def test_mcnemar_range_equals_the_statistics_helper(before, after, n):
    expected = effects.before_after_unknown_pairing(
        before_events=before, before_n=n, after_events=after, after_n=n
    )
    low, high = checks.mcnemar_p_range(before, after, n)
    assert low == pytest.approx(expected.p_value_min, rel=1e-12)
    assert high == pytest.approx(expected.p_value_max, rel=1e-12)


def test_a_p_value_outside_every_pairing_is_inconsistent():
    result = checks.paired_p_attainable(10, 7, 16, "0.0047")
    assert not result.ok
    assert "0.25 to 0.607" in result.message and "no exact McNemar test" in result.message


@pytest.mark.parametrize(
    ("p", "ok"),
    [("0.3", True), ("0.607", True), ("0.7", False), ("<0.5", True), ("<0.05", False)],
)
def test_reported_p_values_and_bounds_against_the_range(p, ok):
    assert checks.paired_p_attainable(10, 7, 16, p).ok is ok


def test_percentages_of_unknown_unit():
    ambiguous = checks.percent_unit("18.75", 16, 4)
    assert not ambiguous.ok and "3/16" in ambiguous.message and "12/64" in ambiguous.message
    assert checks.percent_unit("14.1", 102, 4).ok  # fits neither: another check's business
    assert checks.percent_unit("12.5", 16, 1).informative is False


def test_both_warnings_reach_checks_csv(fixture_tables):
    found = fixture_tables["checks"]
    paired = found[found["check"] == "paired_p"]
    assert paired[["trial_id", "severity"]].values.tolist() == [["cp_akhlaghpasand2025", "warning"]]
    assert "0.0047" in paired["message"].iloc[0]
    units = found[found["check"] == "percent_unit"]
    assert set(units["severity"]) == {"warning"}
    assert {"adverse event: nausea", "adverse event: fatigue", "adverse event: headache"} == set(
        units["subject"]
    )


def test_the_index_and_the_data_quality_report_count_them(fixture_tables):
    warnings = fixture_tables["checks"]
    own = warnings[
        (warnings["trial_id"] == "cp_akhlaghpasand2025") & (warnings["severity"] == "warning")
    ]
    assert {"paired_p", "percent_unit"} <= set(own["check"])
    overview = report.ingestion_overview(fixture_tables)
    assert overview.loc[report.sheet_name("cp_akhlaghpasand2025"), "warnings"] == len(own)
    trials = fixture_tables["trials"]
    table = site.trials_table(trials, warnings, pages=[])
    order = trials.sort_values(["condition", "trial_id"], kind="stable")["trial_id"].tolist()
    shown = table.frame["data-quality warnings"].iloc[order.index("cp_akhlaghpasand2025")]
    assert int(shown) == len(own)
