"""Extraction-sheet schema: every kind of bad sheet gets one clear error naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.schema import (
    JBI_CASE_SERIES_ITEMS,
    load_sheet,
    load_sheets,
    read_yaml,
    sheet_problems,
)

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
        "outcomes.0.id",
        "unique outcome id",
    ),
    (
        "p-value that is not a number",
        lambda s: s["outcomes"][0]["timepoints"][1].update(p="banana"),
        "outcomes.0.timepoints.1.p",
        "a number between 0 and 1, or a bound such as '<0.001'",
    ),
    (
        "p-value NaN",
        lambda s: s["outcomes"][0]["timepoints"][1].update(p="NaN"),
        "outcomes.0.timepoints.1.p",
        "a p-value",
    ),
    (
        "p-value above 1",
        lambda s: s["outcomes"][0]["timepoints"][1].update(p=1.5),
        "outcomes.0.timepoints.1.p",
        "between 0 and 1",
    ),
    (
        "infinite follow-up",
        lambda s: s["trial"]["follow_up_months"].update(value=float("inf")),
        "trial.follow_up_months.value",
        "finite number",
    ),
    (
        "infinite timepoint",
        lambda s: s["outcomes"][0]["timepoints"][1].update(months=float("inf")),
        "outcomes.0.timepoints.1.months",
        "finite number",
    ),
    (
        "NaN mean",
        lambda s: s["outcomes"][0]["timepoints"][1].update(mean=float("nan")),
        "outcomes.0.timepoints.1.mean",
        "finite number",
    ),
    (
        "infinite percent",
        lambda s: s["adverse_events"][0].update(percent="inf"),
        "adverse_events.0.percent",
        "between 0 and 100",
    ),
    (
        "count without its unit",
        lambda s: s["adverse_events"][0].pop("count_unit"),
        "adverse_events.0.count_unit",
        "what the count counts",
    ),
    (
        "report id the sheet does not list",
        lambda s: s["trial"]["phase"].update(report="preprint"),
        "trial.phase.report",
        "one of the sheet's report ids",
    ),
    (
        "a report listed twice",
        lambda s: s["reports"].append(dict(s["reports"][0])),
        "reports.0.id",
        "each report listed once",
    ),
    (
        "two versions of one timepoint from the same report",
        lambda s: s["outcomes"][0]["timepoints"].append(dict(s["outcomes"][0]["timepoints"][0])),
        "outcomes.0.timepoints.2",
        "one entry per timepoint and report",
    ),
    (
        "direction of benefit without its basis",
        lambda s: s["outcomes"][0].pop("direction_basis"),
        "outcomes.0.direction_basis",
        "source, reference or assumed",
    ),
    (
        "a reference basis without the reference",
        lambda s: s["outcomes"][0].pop("direction_reference"),
        "outcomes.0.direction_reference",
        "the reference",
    ),
    (
        "condition not reported",
        lambda s: s["trial"].update(condition={"not_reported": "not said"}),
        "trial.condition",
        "",
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
        (b"trial_id: \x01\n", "well-formed YAML"),
        (b"- just\n- a list\n", "a YAML mapping"),
        (b"!!python/object/apply:os.system ['echo hacked']\n", "well-formed YAML"),
    ],
    ids=[
        "empty",
        "blank",
        "malformed",
        "non-utf8",
        "control-character",
        "not-a-mapping",
        "python-object",
    ],
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


OPTIONAL_FIELDS = [
    ("intervention", "route"),
    ("intervention", "n_administrations"),
    ("intervention", "interval_months"),
    ("intervention", "dose"),
    ("intervention", "cell_type"),
    ("trial", "n_enrolled"),
    ("trial", "n_safety"),
    ("trial", "n_efficacy"),
    ("trial", "follow_up_months"),
    ("trial", "control"),
    ("trial", "design"),
    ("trial", "title"),
]


@pytest.mark.parametrize(("section", "name"), OPTIONAL_FIELDS)
def test_any_field_may_be_not_reported(tmp_path, section, name):
    sheet = load_sheet(
        write_sheet(
            tmp_path, mutated(lambda s: s[section].update({name: {"not_reported": "not given"}}))
        )
    )
    assert getattr(getattr(sheet, section), name).not_reported == "not given"


def test_no_control_group_and_control_not_reported_differ(tmp_path):
    none = load_sheet(write_sheet(tmp_path, TEMPLATE))
    assert none.trial.control.value == "none"
    unknown = load_sheet(
        write_sheet(
            tmp_path,
            mutated(lambda s: s["trial"].update(control={"not_reported": "not stated"})),
        )
    )
    assert unknown.trial.control.not_reported == "not stated"


def test_adverse_event_named_without_counts(tmp_path):
    sheet = load_sheet(write_sheet(tmp_path, TEMPLATE))
    fever = next(event for event in sheet.adverse_events if event.term == "fever")
    assert fever.named_only
    assert fever.count is None and fever.count_unit is None


def test_versions_from_different_reports_are_accepted(tmp_path):
    def change(sheet):
        sheet["reports"].append({"id": "press", "file": "999_press.txt"})
        sheet["trial"]["n_enrolled"] = [
            {"value": 16, "quote": "16 children", "report": "article"},
            {"value": 18, "quote": "18 children", "report": "press"},
        ]
        first = sheet["outcomes"][0]["timepoints"][0]
        first["report"] = "article"
        sheet["outcomes"][0]["timepoints"].append(dict(first, report="press"))

    sheet = load_sheet(write_sheet(tmp_path, mutated(change)))
    assert [entry.value for entry in sheet.trial.n_enrolled] == [16, 18]
    assert sheet.enrolment_ceiling == 18


def test_every_problem_is_listed_with_its_line(tmp_path):
    def change(sheet):
        sheet["trial"].update(titel="typo")
        sheet["outcomes"][0]["timepoints"][1].update(p="banana")
        sheet["intervention"]["route"].update(value="oral")

    path = write_sheet(tmp_path, mutated(change))
    sheet, problems = sheet_problems(path)
    assert sheet is None
    lines = path.read_text(encoding="utf-8").splitlines()
    found = {problem.field: problem for problem in problems}
    assert set(found) == {"trial.titel", "outcomes.0.timepoints.1.p", "intervention.route.value"}
    for field, problem in found.items():
        assert field.split(".")[-1] in lines[problem.line - 1], field
    with pytest.raises(EvidenceInputError, match="and 2 more problems") as caught:
        load_sheet(path)
    assert caught.value.line is not None


def test_labels_are_unique_across_sheets(tmp_path):
    write_sheet(tmp_path, TEMPLATE)
    write_sheet(tmp_path, dict(TEMPLATE, trial_id="other_trial"), name="other_trial")
    with pytest.raises(EvidenceInputError, match="label not already used") as caught:
        load_sheets(tmp_path)
    assert caught.value.field == "label"
