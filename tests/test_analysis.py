"""Analysis settings are checked together; results are written with their settings."""

from __future__ import annotations

import pytest

from helpers.evidence import sources
from helpers.stats import analysis
from helpers.stats.analysis import Settings


def test_defaults_are_the_protocol():
    assert Settings.from_parameters() == Settings()
    assert Settings().changed() == {}
    assert Settings().source_kinds == sources.KINDS


def test_every_bad_parameter_is_named_in_one_message():
    with pytest.raises(ValueError) as caught:
        Settings.from_parameters(assumed_r=1.5, r_grid=0.5, test="t", min_k=1, colour="red")
    message = str(caught.value)
    assert "unknown settings ['colour']" in message
    assert "assumed_r: expected a correlation strictly between -1 and 1, got 1.5" in message
    assert "r_grid: expected a list, got 0.5 (a single value: write [0.5])" in message
    assert "test: expected one of ['z', 'knha'], got 't'" in message
    assert "min_k: expected at least 2" in message


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("full_text", ("full_text",)),
        ("full_text, abstract", ("full_text", "abstract")),
        ('["full_text", "abstract"]', ("full_text", "abstract")),
    ],
)
def test_lists_given_as_text_by_papermill_are_read_as_lists(text, kinds):
    assert Settings.from_parameters(source_kinds=text).source_kinds == kinds


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"source_kinds: .*got \['preprint'\]"):
        Settings.from_parameters(source_kinds=["full_text", "preprint"])


def test_settings_round_trip_through_their_table():
    settings = Settings.from_parameters(test="z", r_grid=[0.2, 0.8], source_kinds="full_text")
    assert Settings.from_frame(settings.to_frame()) == settings
    assert settings.changed()["test"] == ("knha", "z")


def test_written_results_carry_their_settings(tmp_path):
    settings = Settings.from_parameters(assumed_r=0.6)
    analysis.write({}, settings, tmp_path / "results")
    assert analysis.stored_settings(tmp_path / "results") == settings
    assert (tmp_path / "results" / "results_dictionary.csv").is_file()
    assert analysis.stored_settings(tmp_path / "nothing") is None
