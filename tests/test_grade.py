"""GRADE judgments on constructed inputs: each domain's rule, its reason, and the floor."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.stats import grade
from helpers.stats.grade import OutcomeEvidence


def appraisal(answers: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"trial_id": trial, "item": f"q{i + 1}", "question": "?", "answer": a, "reason": ""}
            for trial, items in answers.items()
            for i, a in enumerate(items)
        ]
    )


def evidence(**changes) -> OutcomeEvidence:
    base = {
        "outcome": "motor",
        "trial_ids": ("a", "b", "c"),
        "n_patients": 500,
        "conditions": ("cerebral_palsy",),
        "pooled": True,
        "estimate": 0.5,
        "ci_low": 0.2,
        "ci_high": 0.8,
        "pi_low": 0.1,
        "pi_high": 0.9,
        "i2": 10.0,
    }
    return OutcomeEvidence(**{**base, **changes})


ALL_YES = appraisal({"a": ["yes"] * 10, "b": ["yes"] * 10, "c": ["yes"] * 10})


# --------------------------------------------------------------------------- risk of bias


@pytest.mark.parametrize(
    ("answers", "rating", "down"),
    [
        (["yes"] * 10, "not serious", 0),
        (["yes"] * 7 + ["unclear"] * 3, "not serious", 0),
        (["yes"] * 5 + ["no"] * 5, "serious", 1),
        (["yes"] * 3 + ["unclear"] * 7, "very serious", 2),
        (["unclear"] * 10, "very serious", 2),
    ],
)
def test_risk_of_bias_from_the_share_of_yes(answers, rating, down):
    judgment = grade.risk_of_bias(appraisal({"a": answers}), ("a",))
    assert (judgment.rating, judgment.downgrade) == (rating, down)
    assert "JBI" in judgment.reason


def test_risk_of_bias_is_weighted_by_patients_and_ignores_not_applicable():
    table = appraisal({"small": ["yes"] * 10, "large": ["unclear"] * 9 + ["not_applicable"]})
    equal = grade.risk_of_bias(table, ("small", "large"))
    weighted = grade.risk_of_bias(table, ("small", "large"), {"small": 10, "large": 90})
    assert equal.rating == "serious"  # 50% yes
    assert weighted.rating == "very serious"  # 10% yes
    assert "10%" in weighted.reason and "9 unclear" in weighted.reason


def test_risk_of_bias_without_appraisal_is_very_serious():
    judgment = grade.risk_of_bias(ALL_YES, ("zzz",))
    assert judgment.downgrade == 2 and "no critical appraisal" in judgment.reason


# --------------------------------------------------------------------------- inconsistency


def test_one_trial_is_not_assessable_and_not_rated_down():
    judgment = grade.inconsistency(evidence(trial_ids=("a",), pooled=False, i2=None))
    assert (judgment.rating, judgment.downgrade) == ("not assessable", 0)
    assert "one trial" in judgment.reason


@pytest.mark.parametrize(
    ("changes", "rating"),
    [
        ({"i2": 10.0}, "not serious"),
        ({"i2": 60.0}, "serious"),
        ({"i2": 10.0, "pi_low": -0.2}, "serious"),  # prediction interval crosses the null
    ],
)
def test_pooled_inconsistency_uses_i2_and_the_prediction_interval(changes, rating):
    assert grade.inconsistency(evidence(**changes)).rating == rating


def test_unpooled_trials_are_judged_by_agreement_of_direction():
    agree = evidence(pooled=False, i2=None, directions=("improved", "improved", "improved"))
    disagree = evidence(pooled=False, i2=None, directions=("improved", "worsened", "improved"))
    assert grade.inconsistency(agree).rating == "not serious"
    judgment = grade.inconsistency(disagree)
    assert judgment.downgrade == 1 and "disagree" in judgment.reason


# --------------------------------------------------------------------------- indirectness


def test_indirectness_counts_mixed_conditions_and_surrogates():
    assert grade.indirectness(evidence()).downgrade == 0
    mixed = grade.indirectness(evidence(conditions=("cerebral_palsy", "spina_bifida")))
    assert mixed.rating == "serious" and "cerebral palsy, spina bifida" in mixed.reason
    both = grade.indirectness(evidence(conditions=("a", "b"), surrogate=True))
    assert (both.rating, both.downgrade) == ("very serious", 2)


# --------------------------------------------------------------------------- imprecision


@pytest.mark.parametrize(
    ("changes", "rating"),
    [
        ({}, "not serious"),  # n above OIS, CI excludes 0
        ({"n_patients": 100}, "serious"),
        ({"ci_low": -0.1}, "serious"),
        ({"n_patients": 100, "ci_low": -0.1}, "very serious"),
        ({"numeric": False}, "very serious"),
        ({"zero_events": True, "n_patients": 182, "null_value": None}, "serious"),
        ({"zero_events": True, "n_patients": 1000, "null_value": None}, "not serious"),
        ({"includes_null": True, "null_reason": "McNemar p up to 0.7"}, "serious"),
        ({"includes_null": False, "ci_low": -0.1}, "not serious"),  # override wins
    ],
)
def test_imprecision(changes, rating):
    assert grade.imprecision(evidence(**changes)).rating == rating


def test_imprecision_reason_names_the_sample_and_the_threshold():
    judgment = grade.imprecision(evidence(n_patients=182), optimal_information_size=400)
    assert "182 patients" in judgment.reason and "400" in judgment.reason
    narrative = grade.imprecision(evidence(numeric=False))
    assert "words only" in narrative.reason


# --------------------------------------------------------------------------- publication bias


def test_publication_bias_is_not_assessable_below_ten_studies():
    judgment = grade.publication_bias(evidence())
    assert (judgment.rating, judgment.downgrade) == ("not assessable", 0)
    assert "fewer than 10" in judgment.reason
    many = evidence(trial_ids=tuple(f"t{i}" for i in range(12)))
    assert grade.publication_bias(many).rating == "not serious"


# --------------------------------------------------------------------------- certainty


def test_non_randomised_evidence_starts_low_and_floors_at_very_low():
    clean = grade.assess(evidence(), ALL_YES)
    assert clean.start == "low" and clean.certainty == "low" and clean.downgrade == 0
    worst = grade.assess(
        evidence(numeric=False, conditions=("a", "b"), surrogate=True),
        appraisal({"a": ["unclear"] * 10}),
    )
    assert worst.certainty == "very low"
    assert worst.downgrade > 1 and worst.notes  # floored, and says so


def test_randomised_evidence_starts_high():
    result = grade.assess(evidence(randomised=True), ALL_YES)
    assert (result.start, result.certainty) == ("high", "high")
    one_down = grade.assess(evidence(randomised=True, n_patients=100), ALL_YES)
    assert one_down.certainty == "moderate"


def test_assessment_gives_every_domain_a_rating_and_a_reason():
    result = grade.assess(evidence(trial_ids=("a",), n_patients=16), ALL_YES)
    assert [j.domain for j in result.judgments] == list(grade.DOMAINS)
    by_domain = {j.domain: j for j in result.judgments}
    assert by_domain["imprecision"].rating == "serious"
    assert by_domain["inconsistency"].rating == "not assessable"
    assert all(len(j.reason) > 10 for j in result.judgments)
    assert result.certainty == "very low"


def test_reasons_agree_in_number():
    two = grade.inconsistency(
        evidence(pooled=False, i2=None, trial_ids=("a", "b"), directions=("improved", "improved"))
    )
    assert two.reason.startswith("both trials agree (improved)")
    one = grade.publication_bias(evidence(trial_ids=("a",)))
    assert one.reason.startswith("1 trial, fewer than 10")
    weighted = grade.risk_of_bias(ALL_YES, ("a",))
    assert "over 1 trial;" in weighted.reason and "(s)" not in weighted.reason
