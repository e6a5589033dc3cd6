"""Ingestion end to end on the fixture evidence base, and its refusals on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import FIXTURE_DATA, FIXTURE_TRIALS, FIXTURES, scratch_project

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence import ingest, tools


@pytest.fixture(scope="module")
def tables(fixture_tables) -> dict[str, pd.DataFrame]:
    return fixture_tables


@pytest.fixture
def project(tmp_path) -> Path:
    """A scratch copy of the fixture raw sources and sheets to break."""
    shutil.copytree(FIXTURE_DATA / "raw", tmp_path / "raw")
    shutil.copytree(FIXTURE_DATA / "extraction", tmp_path / "extraction")
    return tmp_path


def run_fixture(project: Path, out: Path | None = None) -> dict[str, pd.DataFrame]:
    return ingest.run(project / "extraction", project / "raw", out or project / "processed")


def test_every_trial_is_ingested(tables):
    assert sorted(tables["trials"]["trial_id"]) == FIXTURE_TRIALS


def test_every_row_with_a_quote_points_to_located_provenance(tables):
    provenance = tables["provenance"].set_index("quote_id")
    assert provenance["start"].notna().all()
    assert (provenance["end"] > provenance["start"]).all()
    for table in ("outcomes", "adverse_events", "characteristics", "outcome_narratives"):
        ids = tables[table]["quote_id"].dropna().str.split(";").explode()
        assert ids.isin(provenance.index).all(), table
        assert tables[table]["quote_id"].notna().all(), f"{table} has a row without a quote"


def test_spina_bifida_bladder_capacity_as_reported(tables):
    outcomes = tables["outcomes"]
    capacity = outcomes[
        (outcomes["trial_id"] == "sb_nguyen2023") & (outcomes["outcome_id"] == "bladder_capacity")
    ].set_index("timepoint")
    assert capacity.loc["baseline", ["mean", "sd", "n"]].tolist() == [127.7, 59.2, 7]
    assert capacity.loc["after 2nd infusion", ["mean", "sd", "n"]].tolist() == [158.3, 56.2, 7]
    assert capacity.loc["after 2nd infusion", "timepoint_months"] == 12


def test_p_values_stay_as_written(tables):
    outcomes = tables["outcomes"]
    gmfm = outcomes[
        (outcomes["trial_id"] == "cp_akhlaghpasand2025") & outcomes["p_reported"].notna()
    ]
    assert "<0.001" in set(gmfm["p_reported"])


def test_adverse_event_units_are_kept_apart(tables):
    events = tables["adverse_events"].set_index(["trial_id", "term"])
    assert events.loc[("sb_nguyen2023", "headache"), "count_unit"] == "events"
    yang = tables["adverse_events"].query("trial_id == 'sci_yang2021' and not serious")
    assert set(yang["denominator_unit"]) == {"unknown"}
    assert set(yang["percent_reported"]) == {"14.1", "4.2", "1.6", "1.3"}


def test_checks_surface_the_known_traps(tables):
    checks = tables["checks"]
    denominators = checks[
        (checks["trial_id"] == "sci_yang2021") & (checks["check"] == "denominators")
    ]
    assert len(denominators) == 1
    assert "patients in the safety analysis = 102: impossible" in denominators["message"].iloc[0]
    sex_ratio = checks[
        (checks["trial_id"] == "sb_nguyen2023") & (checks["check"] == "percent_count")
    ]
    assert sex_ratio["message"].str.contains("45.4").any()
    press = checks[(checks["check"] == "source_kind") & (checks["trial_id"] == "sci_honmou2021")]
    assert press["message"].str.contains("press report").all()


def test_processed_tables_are_deterministic(project):
    first, second = project / "a", project / "b"
    run_fixture(project, first)
    run_fixture(project, second)
    for csv in sorted(first.glob("*.csv")):
        assert csv.read_bytes() == (second / csv.name).read_bytes(), csv.name


def test_committed_processed_tables_are_current(tmp_path):
    """The live evidence base ingests, and data/processed/ is what its sheets give."""
    fresh = tmp_path / "processed"
    ingest.run(output_dir=fresh)
    for csv in sorted(fresh.glob("*.csv")):
        committed = paths.processed_dir() / csv.name
        assert committed.read_bytes() == csv.read_bytes(), (
            f"data/processed/{csv.name} is stale: run `make report` and commit"
        )


def edit_sheet(project: Path, trial_id: str, change) -> Path:
    path = project / "extraction" / f"{trial_id}.yaml"
    sheet = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(sheet)
    path.write_text(yaml.safe_dump(sheet, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def first_timepoint(sheet: dict, outcome_id: str) -> dict:
    return next(o for o in sheet["outcomes"] if o["id"] == outcome_id)["timepoints"][0]


BAD_INPUTS = [
    (
        "quote not in source",
        lambda s: first_timepoint(s, "bladder_capacity").update(
            quote="bladder capacity was 999 ml"
        ),
        "outcomes.",
        "a verbatim quote found in 000_db9ca307f0dc700e.txt",
    ),
    (
        "number not in quote",
        lambda s: first_timepoint(s, "bladder_capacity").update(mean=128.7),
        ".mean",
        "the number to appear in its quote",
    ),
    (
        "unregistered report file",
        lambda s: s["reports"][0].update(file="999_missing.txt"),
        "reports.0.file",
        "a file registered in data/raw/sources.yaml",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "words"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_sheet_stops_ingestion_and_keeps_previous_tables(project, change, field, words):
    out = project / "processed"
    ingest.run(project / "extraction", project / "raw", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    path = edit_sheet(project, "sb_nguyen2023", change)
    with pytest.raises(EvidenceInputError) as caught:
        ingest.run(project / "extraction", project / "raw", out)
    assert caught.value.file == str(path)
    assert field in caught.value.field
    assert words in str(caught.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_changed_raw_file_is_refused(project):
    raw = project / "raw" / "002_0c24e89f936fef74.txt"
    raw.write_text(raw.read_text(encoding="utf-8").replace("102", "120"), encoding="utf-8")
    with pytest.raises(EvidenceInputError, match="sha256") as caught:
        ingest.run(project / "extraction", project / "raw", project / "processed")
    assert caught.value.file.endswith("002_0c24e89f936fef74.txt")
    assert not (project / "processed").exists()


def test_quote_from_reader_comments_is_refused(project):
    comment = "I am so interested in this study."
    path = edit_sheet(
        project,
        "cp_nguyen2017",
        lambda s: s["limitations"].append({"value": "x", "quote": comment}),
    )
    with pytest.raises(EvidenceInputError, match="reader comments") as caught:
        ingest.run(project / "extraction", project / "raw", project / "processed")
    assert caught.value.file == str(path)


def test_main_exits_non_zero_with_one_line(project, monkeypatch, capsys):
    edit_sheet(project, "sb_nguyen2023", lambda s: s["trial"].update(titel="typo"))
    monkeypatch.setattr(paths, "extraction_dir", lambda: project / "extraction")
    assert ingest.main() == 2
    err = capsys.readouterr().err
    assert "sb_nguyen2023.yaml:" in err
    assert ": trial.titel: expected no such field" in err


# ------------------------------------------------------------------ studies and reports


@pytest.fixture
def grown(tmp_path, monkeypatch) -> Path:
    """A scratch project whose cp_nguyen2017 gains a second, more complete report."""
    root = scratch_project(tmp_path / "project", notebooks=False)
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    tools.add_report(
        "cp_nguyen2017",
        FIXTURES / "reports" / "cp_nguyen2017_abstract.txt",
        kind="abstract",
        citation="Invented abstract of the cerebral palsy trial, for the tests",
        doi="10.1186/s12887-017-0859-z",
        registry_id="NCT02569775",
        report_id="abstract",
    )
    return root


def edit(root: Path, trial_id: str, change) -> None:
    path = root / "data" / "extraction" / f"{trial_id}.yaml"
    sheet = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(sheet)
    path.write_text(yaml.safe_dump(sheet, sort_keys=False, allow_unicode=True), encoding="utf-8")


def abstract_values(sheet: dict) -> None:
    press = sheet["trial"]["n_enrolled"]
    sheet["trial"]["n_enrolled"] = [
        dict(press, report="press"),
        {"value": 42, "quote": "forty-two children aged 2 to 15 years", "report": "abstract"},
    ]
    sheet["trial"]["follow_up_months"] = {
        "value": 12,
        "quote": "were followed for 12 months",
        "report": "abstract",
    }
    sheet["adverse_events"].append(
        {"term": "headache", "serious": False, "quote": "headache was also reported"}
    )


def test_a_second_report_adds_values_and_loses_none(grown):
    edit(grown, "cp_nguyen2017", abstract_values)
    tables = ingest.run()
    trial = tables["trials"].set_index("trial_id").loc["cp_nguyen2017"]
    # The abstract is more complete than the press report: its values are used ...
    assert trial["n_enrolled"] == 42
    assert trial["follow_up_months"] == 12
    assert trial["source_kind"] == "abstract"
    assert trial["n_reports"] == 2
    # ... and what only the press report gave stays.
    events = tables["adverse_events"].query("trial_id == 'cp_nguyen2017'").set_index("term")
    assert events.loc["mild fever", ["count", "denominator"]].tolist() == [12, 40]
    assert events.loc["mild fever", "report"] == "004_87a12e4119554b9e.txt"
    assert bool(events.loc["headache", "named_only"])
    assert pd.isna(events.loc["headache", "count"])
    reports = tables["reports"].query("trial_id == 'cp_nguyen2017'").set_index("report_id")
    assert reports.loc["abstract", "primary"] and not reports.loc["press", "primary"]


def test_reports_that_disagree_are_flagged_and_kept(grown):
    edit(grown, "cp_nguyen2017", abstract_values)
    tables = ingest.run()
    superseded = tables["superseded"].query("trial_id == 'cp_nguyen2017'")
    enrolled = superseded[superseded["item"] == "patients enrolled"].iloc[0]
    assert (enrolled["value"], enrolled["used_value"]) == ("40", "42")
    assert not enrolled["agrees"]
    assert enrolled["report"] == "004_87a12e4119554b9e.txt"
    flags = tables["checks"].query("trial_id == 'cp_nguyen2017' and check == 'reports_disagree'")
    assert len(flags) == 1
    assert flags["severity"].iloc[0] == "warning"
    assert "42 in the abstract" in flags["message"].iloc[0]
    assert "40 in the press report" in flags["message"].iloc[0]


def test_quotes_without_a_report_are_credited_to_the_most_complete_report(grown):
    # "aged 2 to 15" is in both reports: the abstract (more complete) is credited.
    edit(grown, "cp_nguyen2017", abstract_values)
    tables = ingest.run()
    provenance = tables["provenance"].query("trial_id == 'cp_nguyen2017'")
    both = provenance[provenance["also_in"].notna()]
    assert not both.empty
    assert set(both["report"]) == {
        tables["trials"].set_index("trial_id").loc["cp_nguyen2017", "primary_report"]
    }


@pytest.mark.parametrize("shared", ["report file", "DOI", "registry id"])
def test_two_sheets_for_one_study_stop_ingestion_naming_both(project, shared):
    extraction, raw = project / "extraction", project / "raw"
    copy = yaml.safe_load((extraction / "cp_nguyen2017.yaml").read_text(encoding="utf-8"))
    copy.update(trial_id="cp_nguyen2017_again", label="Nguyen 2017 again")
    if shared != "report file":
        # A different file about the same study: same DOI and registry id in the manifest.
        manifest = (raw / "sources.yaml").read_text(encoding="utf-8")
        text = (FIXTURES / "reports" / "cp_nguyen2017_abstract.txt").read_bytes()
        name = tools.raw_name(text, raw)
        (raw / name).write_bytes(text)
        entry = {
            "file": name,
            "sha256": __import__("hashlib").sha256(text).hexdigest(),
            "kind": "abstract",
            "citation": "Invented abstract",
            "doi": "10.1186/s12887-017-0859-z" if shared == "DOI" else None,
            "registry_id": "NCT02569775" if shared == "registry id" else None,
        }
        (raw / "sources.yaml").write_text(manifest + "\n" + tools._entry_text(entry))
        copy["reports"] = [{"id": "abstract", "file": name}]
        copy = _only_reported(copy)
    (extraction / "cp_nguyen2017_again.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
    with pytest.raises(EvidenceInputError, match="one sheet per study") as caught:
        ingest.run(extraction, raw, project / "processed")
    assert "cp_nguyen2017" in str(caught.value)
    assert "cp_nguyen2017_again.yaml" in str(caught.value)
    assert shared in str(caught.value)


def _only_reported(sheet: dict) -> dict:
    """A minimal sheet about the invented abstract: every field not reported."""
    sheet = dict(sheet)
    for section in ("trial", "intervention"):
        sheet[section] = {
            name: {"not_reported": "not in the abstract"}
            for name in sheet[section]
            if name not in ("condition", "co_interventions")
        }
    sheet["trial"]["condition"] = {"value": "cerebral_palsy", "quote": "with cerebral palsy"}
    sheet.update(outcomes=[], adverse_events=[], limitations=[], contradictions=[])
    return sheet


def test_a_study_with_nothing_but_its_condition_ingests(project):
    sheet = yaml.safe_load((project / "extraction" / "cp_nguyen2017.yaml").read_text())
    minimal = _only_reported(sheet)
    (project / "extraction" / "cp_nguyen2017.yaml").write_text(yaml.safe_dump(minimal))
    tables = run_fixture(project)
    trial = tables["trials"].set_index("trial_id").loc["cp_nguyen2017"]
    for column in ("route", "n_administrations", "n_enrolled", "control", "follow_up_months"):
        assert pd.isna(trial[column]), column
    facts = tables["trial_facts"].query("trial_id == 'cp_nguyen2017'").set_index("field")
    assert facts.loc["intervention.route", "not_reported"] == "not in the abstract"
