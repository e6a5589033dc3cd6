"""The Methods section of the synthesis page (issue 12 item 3): the protocol file and its errors,
the flow of reports and studies, the register, the analysis methods phrased from the settings,
and each study's funding and conflicts of interest. Facts come from the fixture evidence base."""

from __future__ import annotations

import dataclasses
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import FIXTURE_DATA, on_fixture_root, raw_table

from helpers.errors import EvidenceInputError
from helpers.evidence.protocol import ExcludedReport, load_protocol
from helpers.pages import site_checks
from helpers.pages import synthesis as page
from helpers.pages.synthesis import methods
from helpers.stats import estimates
from helpers.stats.analysis import Settings

PROTOCOL = FIXTURE_DATA / "context" / "protocol.yaml"


@pytest.fixture(scope="module")
def inputs() -> page.Inputs:
    with on_fixture_root():
        return page.load(Settings())


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(PROTOCOL)


def text_of(document: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", document)).split())


# --------------------------------------------------------------------------- the protocol file


def test_the_protocol_loads_with_every_criterion(protocol):
    assert protocol.conditions == ("spina_bifida", "cerebral_palsy", "spinal_cord_injury")
    assert "full_text" in protocol.report_kinds and "press_report" in protocol.report_kinds
    for text in (protocol.question, protocol.population, protocol.intervention):
        assert text and "\n" not in text
    assert protocol.excluded_reports == ()


def write_protocol(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"question": None}, "question", "required key"),
        ({"population": "  "}, "population", "a non-empty text"),
        ({"scope": "everything"}, "scope", "only the keys"),
        ({"conditions": ["spina_bifida", "autism"]}, "conditions[1]", "one of"),
        ({"conditions": []}, "conditions", "a non-empty list"),
        ({"report_kinds": ["full_text", "full_text"]}, "report_kinds", "each value once"),
        ({"report_kinds": ["preprint"]}, "report_kinds[0]", "one of"),
        ({"exclusion_reasons": {"Bad Key": "x"}}, "exclusion_reasons.Bad Key", "short key"),
        ({"excluded_reports": {"citation": "x"}}, "excluded_reports", "a list"),
        (
            {"excluded_reports": [{"citation": "Smith 2020", "reason": "weather"}]},
            "excluded_reports[0].reason",
            "a key of exclusion_reasons",
        ),
        (
            {"excluded_reports": [{"citation": "", "reason": "design"}]},
            "excluded_reports[0].citation",
            "a non-empty text",
        ),
        (
            {"excluded_reports": [{"citation": "A", "reason": "design", "condition": "autism"}]},
            "excluded_reports[0].condition",
            "one of",
        ),
        (
            {"excluded_reports": [{"citation": "A", "reason": "design", "year": 2020}]},
            "excluded_reports[0].year",
            "only the keys",
        ),
    ],
)
def test_a_bad_protocol_names_the_file_and_the_field(tmp_path, changes, field, expected):
    path = write_protocol(tmp_path, **changes)
    with pytest.raises(EvidenceInputError) as caught:
        load_protocol(path)
    assert caught.value.field == field
    assert expected in caught.value.expected
    assert str(path) in str(caught.value)


def test_a_missing_protocol_is_named(tmp_path):
    with pytest.raises(EvidenceInputError, match="protocol.yaml"):
        load_protocol(tmp_path / "protocol.yaml")


def test_excluded_reports_are_read_with_their_reason(tmp_path):
    excluded = [
        {"citation": "Smith 2020", "reason": "design", "condition": "cerebral_palsy"},
        {"citation": "Jones 2021", "reason": "population"},
    ]
    loaded = load_protocol(write_protocol(tmp_path, excluded_reports=excluded))
    assert loaded.excluded_reports == (
        ExcludedReport("Smith 2020", "design", "cerebral_palsy"),
        ExcludedReport("Jones 2021", "population", None),
    )


# --------------------------------------------------------------------------- the flow


def test_the_flow_counts_reports_and_studies_per_condition(inputs, protocol):
    reports, trials = raw_table("reports"), raw_table("trials")
    counts = methods.flow_counts(inputs.processed, set(trials["trial_id"]), protocol)
    conditions = sorted(set(trials["condition"]))
    assert list(counts.columns) == [*conditions, methods.ALL_CONDITIONS]
    per_report = reports["trial_id"].map(trials.set_index("trial_id")["condition"])
    for condition in conditions:
        assert counts.loc["Reports included", condition] == (per_report == condition).sum()
        assert counts.loc["Studies included", condition] == (trials["condition"] == condition).sum()
    everything = counts[methods.ALL_CONDITIONS]
    assert everything["Reports included"] == len(reports)
    assert everything["Reports assessed against the criteria"] == len(reports)
    assert everything["Reports excluded"] == 0
    assert everything["… of which a study's most complete report"] == reports["primary"].sum()
    assert everything["Studies included"] == len(trials)
    assert everything["Studies in this page's analyses"] == len(trials)


def test_the_flow_shows_exclusions_by_reason_and_the_studies_analysed(inputs, protocol):
    trials = raw_table("trials")
    condition = trials["condition"].iloc[0]
    excluded = (
        ExcludedReport("A", "design", condition),
        ExcludedReport("B", "design", None),
        ExcludedReport("C", "duplicate", condition),
    )
    with_exclusions = dataclasses.replace(protocol, excluded_reports=excluded)
    analysed = set(trials["trial_id"].iloc[:1])
    counts = methods.flow_counts(inputs.processed, analysed, with_exclusions)
    design = f"Reports excluded: {protocol.reason('design')}"
    duplicate = f"Reports excluded: {protocol.reason('duplicate')}"
    assert "Reports excluded" not in counts.index
    assert counts.loc[design, methods.ALL_CONDITIONS] == 2
    assert counts.loc[design, condition] == 1  # the one without a condition counts under all
    assert counts.loc[duplicate, condition] == 1
    assessed = counts.loc["Reports assessed against the criteria", methods.ALL_CONDITIONS]
    assert assessed == len(raw_table("reports")) + 3
    assert counts.loc["Studies in this page's analyses", methods.ALL_CONDITIONS] == 1


def test_studies_outside_the_criteria_are_counted_and_said(inputs, protocol):
    trials = raw_table("trials")
    kept = trials["condition"].iloc[0]
    narrower = dataclasses.replace(protocol, conditions=(kept,), report_kinds=("full_text",))
    outside = methods.outside_protocol(inputs.processed["trials"], narrower)
    expected = trials[(trials["condition"] != kept) | (trials["source_kind"] != "full_text")]
    assert set(outside) == set(expected["trial_id"])
    counts = methods.flow_counts(inputs.processed, set(trials["trial_id"]), narrower)
    stage = "Studies outside the criteria (kept and flagged in the register)"
    assert counts.loc[stage, methods.ALL_CONDITIONS] == len(expected)
    assert "Studies outside the criteria" not in " ".join(
        methods.flow_counts(inputs.processed, set(), protocol).index
    )


def test_the_flow_table_uses_condition_names(inputs, protocol):
    table = methods.flow_table(inputs, protocol)
    assert table.caption
    assert "Spinal cord injury" in table.frame.columns or "Cerebral palsy" in table.frame.columns
    assert not any("_" in str(column) for column in table.frame.columns)


# --------------------------------------------------------------------------- the register


def test_the_register_lists_every_report_with_its_study_and_role(inputs, protocol):
    reports, trials = raw_table("reports"), raw_table("trials")
    table = methods.register_table(inputs, protocol)
    frame = table.frame
    assert len(frame) == len(reports)
    assert (frame["the study's most complete report"] == "yes").sum() == len(trials)
    assert set(frame["report"]) == set(reports["citation"])
    shown = table.to_html()
    for row in trials.itertuples():
        assert f'href="trials/{row.trial_id}.html"' in shown and row.label in shown
    assert all(why.startswith("A study of ") for why in frame["why it was included"])
    assert site_checks.code_identifiers(text_of(shown)) == []


def test_the_register_says_which_reports_are_further_reports(inputs, protocol):
    processed = dict(inputs.processed)
    reports = processed["reports"].copy()
    extra = reports.iloc[[0]].assign(report_id="letter", report="zzz.txt", primary=False)
    processed["reports"] = pd.concat([reports, extra], ignore_index=True)
    grown = dataclasses.replace(inputs, processed=processed)
    frame = methods.register_table(grown, protocol).frame
    further = frame[frame["the study's most complete report"] == "no"]
    assert len(further) == 1
    assert "A further report of the study" in further["why it was included"].iloc[0]
    counts = methods.flow_counts(processed, set(), protocol)
    assert counts.loc["… of which further reports of a study", methods.ALL_CONDITIONS] == 1


def test_the_register_names_studies_the_settings_leave_out():
    kinds = ["full_text", "abstract", "bibliographic_record"]
    with on_fixture_root():
        selected = page.load(Settings(source_kinds=tuple(kinds)))
    trials = raw_table("trials")
    left_out = trials[~trials["source_kind"].isin(kinds)]
    table = methods.register_table(selected, load_protocol(PROTOCOL))
    assert len(table.frame) == len(raw_table("reports"))  # every report stays registered
    note = " ".join(table.notes)
    for label in left_out["label"]:
        assert label in note


def test_outside_the_criteria_is_the_reason_in_the_register(inputs, protocol):
    narrower = dataclasses.replace(protocol, report_kinds=("full_text",))
    frame = methods.register_table(inputs, narrower).frame
    not_full = raw_table("reports")["kind"] != "full_text"
    assert frame["why it was included"].str.startswith("Does not meet the criteria").sum() >= (
        not_full.sum() > 0
    )


def test_excluded_reports_table_or_a_sentence(protocol):
    assert "No report" in methods.excluded_table(protocol).data
    excluded = (ExcludedReport("Smith 2020", "design", "cerebral_palsy"),)
    table = methods.excluded_table(dataclasses.replace(protocol, excluded_reports=excluded))
    row = table.frame.iloc[0]
    assert row["report"] == "Smith 2020" and row["condition"] == "cerebral palsy"
    assert row["reason for exclusion"].lower() == protocol.reason("design")


def test_the_question_shows_the_pico_criteria_in_words(inputs, protocol):
    shown = methods.question(inputs, protocol).data
    assert protocol.question in text_of(shown)
    for criterion in ("Population", "Intervention", "Comparators", "Outcomes", "Study designs"):
        assert criterion in shown
    assert "<caption>" in shown
    assert "spinal cord injury" in shown and "spinal_cord_injury" not in shown
    assert site_checks.code_identifiers(text_of(shown)) == []


# --------------------------------------------------------------------------- analysis methods


def test_the_analysis_is_phrased_from_the_protocol_settings(inputs):
    text = text_of(methods.analysis(inputs).data)
    assert f"r = {estimates.PRIMARY_R:g} is assumed, the protocol's value" in text
    assert "restricted maximum likelihood (REML), Hartung-Knapp intervals" in text
    assert "at least 3 trials" in text
    assert "nothing was pooled" in text  # the fixture pools nothing
    for reference in ("Becker BJ", "Clopper CJ", "Hartung J", "Murad MH", "Stijnen T"):
        assert reference in text
    assert "DerSimonian" not in text


def test_the_analysis_follows_other_settings(inputs):
    settings = Settings(tau2_method="DL", test="z", assumed_r=0.5, min_k=2)
    changed = dataclasses.replace(inputs, settings=settings)
    text = text_of(methods.analysis(changed).data)
    assert "the DerSimonian-Laird method (DL), normal (z) intervals" in text
    assert "DerSimonian R, Laird N" in text and "Hartung J" not in text
    assert f"changed from the protocol's r = {estimates.PRIMARY_R:g}" in text
    assert "at least 2 trials" in text


def test_the_analysis_says_how_many_analyses_were_pooled(inputs):
    results = dict(inputs.results)
    groups = results["synthesis_efficacy_groups"].copy()
    if groups.empty:
        pytest.skip("the fixture has no efficacy group")
    groups.loc[groups.index[0], "pooled"] = True
    results["synthesis_efficacy_groups"] = groups
    pooled = dataclasses.replace(inputs, results=results)
    text = text_of(methods.analysis(pooled).data)
    assert "On this page 1 analysis had enough trials and was pooled." in text


# --------------------------------------------------------------------------- funding


def test_funding_and_conflicts_per_study_or_not_reported_with_the_reason(inputs):
    facts = raw_table("trial_facts").set_index(["trial_id", "field"])
    trials = raw_table("trials")
    frame = methods.funding_table(inputs).frame
    assert len(frame) == len(trials)
    ordered = trials.sort_values(["condition", "trial_id"]).reset_index(drop=True)
    for (_, row), (_, trial) in zip(frame.iterrows(), ordered.iterrows(), strict=True):
        for column, field in (
            ("funding", "funding"),
            ("conflicts of interest", "conflicts_of_interest"),
        ):
            if isinstance(trial[field], str):
                assert row[column] == trial[field]
            else:
                reason = facts.loc[(trial["trial_id"], f"trial.{field}"), "not_reported"]
                assert row[column] == f"not reported ({reason})"


def test_funding_that_is_reported_is_shown(inputs):
    processed = dict(inputs.processed)
    trials = processed["trials"].copy()
    trials.loc[trials.index[0], "funding"] = "National research grant"
    processed["trials"] = trials
    frame = methods.funding_table(dataclasses.replace(inputs, processed=processed)).frame
    assert "National research grant" in set(frame["funding"])
