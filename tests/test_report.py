"""The data-quality report's tables: sheets by file name, places in words, captions."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.pages import report

CHECKS = pd.DataFrame(
    {
        "trial_id": ["b_trial2020", "a_trial2019", "a_trial2019"],
        "check": ["derived_value", "sd_zero", "derived_value"],
        "severity": ["info", "warning", "info"],
        "field": ["trial.n_safety", "outcomes.6.timepoints.1", "adverse_events.0"],
        "message": ["taken as all 16", "SD of 0", "denominator = 16"],
    }
)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("outcomes.2.timepoints.0", "outcome 3 › timepoint 1"),
        ("trial.n_safety", "trial › n safety"),
        ("adverse_events.0", "adverse event 1"),
        ("contradictions.1", "contradiction 2"),
        ("baseline.0", "baseline 1"),
        ("categories.0", "category 1"),
        ("source_file", "source file"),
        ("0", "0"),
    ],
)
def test_field_label(path, words):
    assert report.field_label(path) == words


def test_flags_name_sheets_and_places_in_words_warnings_first():
    flags = report.flags(CHECKS)
    assert flags.attrs["caption"].startswith("Consistency findings")
    assert flags.index.name == "sheet"
    assert list(flags.index) == ["a_trial2019.yaml", "a_trial2019.yaml", "b_trial2020.yaml"]
    assert list(flags["severity"]) == ["warning", "info", "info"]
    assert list(flags["where in the sheet"]) == [
        "outcome 7 › timepoint 2",
        "adverse event 1",
        "trial › n safety",
    ]
    assert list(flags["check"]) == ["sd zero", "derived value", "derived value"]


def test_flags_of_one_trial_are_indexed_by_severity():
    flags = report.flags(CHECKS, "a_trial2019")
    assert flags.index.name == "severity" and list(flags.index) == ["warning", "info"]
    assert list(flags.columns) == ["check", "where in the sheet", "message"]


def test_uncaptured_numbers_name_their_sheet():
    coverage = pd.DataFrame(
        {"trial_id": ["a_trial2019", "b_trial2020"], "number": ["72", "14644"],
         "offset": [10, 20], "context": ["72 h", "ISO 14644"]}
    )  # fmt: skip
    table = report.uncaptured(coverage, "b_trial2020")
    assert list(table.index) == ["b_trial2020.yaml"] and table.attrs["caption"]
    assert list(table.columns) == ["number", "position (characters into the source)", "context"]


def test_table_sizes_name_the_files():
    sizes = report.table_sizes({"trials": pd.DataFrame({"a": [1, 2]})})
    assert sizes.loc["trials.csv"].to_dict() == {"rows": 2, "columns": 1}
    assert sizes.attrs["caption"]


def test_ingestion_overview_counts_per_sheet_in_words():
    from helpers import data

    tables = data.load_all()
    overview = report.ingestion_overview(tables)
    assert overview.index.name == "sheet"
    assert set(overview.index) == {f"{t}.yaml" for t in tables["trials"]["trial_id"]}
    assert not overview["condition"].str.contains("_").any()
    assert overview.attrs["caption"]


def test_paragraphs_escape_their_text():
    assert report.paragraphs(["<b>x</b>"]).data == "<p>&lt;b&gt;x&lt;/b&gt;</p>"
    assert "Nothing to report" in report.paragraphs([]).data
