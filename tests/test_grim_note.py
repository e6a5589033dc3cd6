"""The GRIM note of cp_akhlaghpasand2025 says what the GRIM test shows (issue 13, item 8).

The sheet once said "every reported mean is GRIM-consistent with n = 16". GRIM applies to
integer-scored means only (the GMFM total is a percentage score), and two of the integer-scored
means fit only under different rounding rules; the note must say so, and each claim it makes
must be what :func:`helpers.evidence.checks.grim` finds.
"""

from __future__ import annotations

import re

import pytest
from support import FIXTURE_DATA

from helpers.evidence import checks, safe_yaml

SHEET = FIXTURE_DATA / "extraction" / "cp_akhlaghpasand2025.yaml"


@pytest.fixture(scope="module")
def note() -> str:
    sheet = safe_yaml.read_yaml(SHEET)
    return sheet["trial"]["n_efficacy"]["derived"]


def rules(mean: str) -> set[str]:
    """The rounding rules under which ``mean`` is attainable with n = 16."""
    result = checks.grim(mean, 16)
    if not result.ok:
        return set()
    return set(re.search(r"\(([^)]*) rounding\)", result.message).group(1).split(" and "))


def test_the_note_no_longer_claims_every_mean_fits(note):
    assert "every reported mean is GRIM-consistent" not in note
    assert "percentage score" in note and "GRIM does not apply" in note


def test_the_gmfm_total_is_not_a_grim_candidate(note):
    # A percentage score need not be a whole number over 16 children: 47.01 is not.
    assert rules("47.01") == set()
    assert "GMFM total (47.01, 54.69) is a percentage score" in note


@pytest.mark.parametrize(
    ("mean", "only"),
    [("38.63", "round-half-up"), ("1.62", "round-half-even")],
)
def test_each_mean_said_to_fit_one_rule_only_does(note, mean, only):
    assert f"{mean} fits only with {only}" in note or f"{mean} only with {only}" in note
    assert rules(mean) == {only.removeprefix("round-")}


@pytest.mark.parametrize("mean", ["6.75", "9.88", "47.44"])
def test_each_mean_said_to_fit_either_rule_does(note, mean):
    assert mean in note and "either rounding rule" in note
    assert rules(mean) == {"half-up", "half-even"}
