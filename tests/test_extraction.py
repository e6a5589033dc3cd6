"""Extraction-sheet schema: every kind of bad sheet gets one clear error naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.schema import JBI_CASE_SERIES_ITEMS, load_sheet, load_sheets, read_yaml

TEMPLATE = yaml.safe_load((paths.extraction_dir() / "_template.yaml").read_text(encoding="utf-8"))
TRIAL_ID = TEMPLATE["trial_id"]


def write_sheet(directory: Path, sheet: dict, name: str = TRIAL_ID) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sheet, sort_keys=False), encoding="utf-8")
    return path


def mutated(change) -> dict:
    sheet = copy.deepcopy(TEMPLATE)
    change(sheet)
    return sheet


def test_template_is_a_valid_sheet(tmp_path):
    sheet = load_sheet(write_sheet(tmp_path, TEMPLATE))
    assert sheet.trial_id == TRIAL_ID
    assert set(sheet.appraisal) == set(JBI_CASE_SERIES_ITEMS)


def test_bare_yes_no_answers_are_read_as_words(tmp_path):
    # YAML 1.1 turns a bare `yes` into True; the appraisal must still read "yes".
    sheet = load_sheet(write_sheet(tmp_path, TEMPLATE))
    assert sheet.appraisal["q1"].answer == "yes"


BAD_SHEETS = [
    # (case, change to the template, field path in the message, words in the message)
    ("unknown key", lambda s: s["trial"].update(titel="x"), "trial.titel", "no such field"),
    (
        "typo in quote key",
        lambda s: s["trial"]["design"].update(qoute="x"),
        "trial.design.qoute",
        "no such field",
    ),
    ("missing field", lambda s: s["trial"].pop("design"), "trial.design", "required"),
    (
        "wrong type",
        lambda s: s["trial"]["n_enrolled"].update(value="ten"),
        "trial.n_enrolled.value",
        "integer",
    ),
    (
        "negative SD",
        lambda s: s["outcomes"][0]["timepoints"][0].update(sd=-1.0),
        "outcomes.0.timepoints.0.sd",
        ">= 0",
    ),
    (
        "events above total",
        lambda s: s["outcomes"][0]["timepoints"][0].update(events=5, total=3),
        "outcomes.0.timepoints.0.events",
        "at most total",
    ),
    (
        "percent above 100",
        lambda s: s["adverse_events"][0].update(percent="140"),
        "adverse_events.0.percent",
        "between 0 and 100",
    ),
    (
        "n above enrolment",
        lambda s: s["outcomes"][0]["timepoints"][1].update(n=17),
        "outcomes.0.timepoints.1.n",
        "at most the 16 enrolled",
    ),
    (
        "AE denominator above enrolment",
        lambda s: s["adverse_events"][0].update(denominator=40, count=1),
        "adverse_events.0.denominator",
        "enrolled",
    ),
    (
        "patients above denominator",
        lambda s: s["adverse_events"][0].update(count=12, count_unit="patients"),
        "adverse_events.0.count",
        "at most the denominator",
    ),
    ("unsafe trial id", lambda s: s.update(trial_id="../../etc"), "trial_id", "safe slug"),
    (
        "duplicate outcome ids",
        lambda s: s["outcomes"].append(copy.deepcopy(s["outcomes"][0])),
        "outcomes",
        "unique outcome ids",
    ),
    (
        "unknown route",
        lambda s: s["intervention"]["route"].update(value="oral"),
        "intervention.route.value",
        "intrathecal",
    ),
    ("appraisal item missing", lambda s: s["appraisal"].pop("q10"), "appraisal", "q10"),
    (
        "mean outside scale",
        lambda s: s["outcomes"][0]["timepoints"][0].update(mean=140.0),
        "outcomes.0.timepoints.0.mean",
        "scale range",
    ),
    (
        "value without quote",
        lambda s: s["trial"]["phase"].pop("quote"),
        "trial.phase.quote",
        "required",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "words"), [c[1:] for c in BAD_SHEETS], ids=[c[0] for c in BAD_SHEETS]
)
def test_bad_sheet_is_one_clear_error(tmp_path, change, field, words):
    path = write_sheet(tmp_path, mutated(change))
    with pytest.raises(EvidenceInputError) as caught:
        load_sheet(path)
    error = caught.value
    assert error.file == str(path)
    assert error.field == field
    assert words in str(error)


def test_sheet_name_must_match_trial_id(tmp_path):
    path = write_sheet(tmp_path, TEMPLATE, name="other_name")
    with pytest.raises(EvidenceInputError, match="file name stem"):
        load_sheet(path)


def test_duplicate_trial_id_across_sheets(tmp_path):
    write_sheet(tmp_path, TEMPLATE)
    # A second file claiming the same id cannot have a matching stem, so it fails on the stem;
    # the loader also guards the id itself.
    second = tmp_path / "zz_copy.yaml"
    second.write_text(yaml.safe_dump(TEMPLATE), encoding="utf-8")
    with pytest.raises(EvidenceInputError):
        load_sheets(tmp_path)


def test_templates_are_not_ingested(tmp_path):
    write_sheet(tmp_path, TEMPLATE, name="_draft")
    with pytest.raises(EvidenceInputError, match="at least one"):
        load_sheets(tmp_path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "non-empty"),
        (b"   \n", "non-empty"),
        (b"trial_id: [unclosed\n", "well-formed YAML"),
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"- just\n- a list\n", "a YAML mapping"),
        (b"!!python/object/apply:os.system ['echo hacked']\n", "well-formed YAML"),
    ],
    ids=["empty", "blank", "malformed", "non-utf8", "not-a-mapping", "python-object"],
)
def test_unreadable_sheets(tmp_path, content, words):
    path = tmp_path / f"{TRIAL_ID}.yaml"
    path.write_bytes(content)
    with pytest.raises(EvidenceInputError, match=words) as caught:
        load_sheet(path)
    assert caught.value.file == str(path)


def test_yaml_bomb_is_refused_before_expansion(tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = tmp_path / f"{TRIAL_ID}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(EvidenceInputError, match="aliases are expanded"):
        read_yaml(path)


def test_p_values_and_percentages_stay_as_written(tmp_path):
    def change(sheet):
        sheet["outcomes"][0]["timepoints"][1]["p"] = 0.001
        sheet["adverse_events"][0]["percent"] = "12.50"

    sheet = load_sheet(write_sheet(tmp_path, mutated(change)))
    assert sheet.outcomes[0].timepoints[1].p == "0.001"
    assert sheet.outcomes[0].timepoints[1].months == 15
    assert sheet.adverse_events[0].percent == "12.50"
    assert TEMPLATE["outcomes"][0]["timepoints"][1]["p"] == "<0.001"
