"""Ingestion end to end on the real sources, and its refusals on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import data, paths
from helpers.errors import EvidenceInputError
from helpers.evidence import ingest

TRIALS = [
    "cp_akhlaghpasand2025",
    "cp_nguyen2017",
    "sb_nguyen2023",
    "sci_honmou2021",
    "sci_yang2021",
]


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("processed")
    ingest.run(output_dir=out)
    return data.load_all(out)


@pytest.fixture
def project(tmp_path) -> Path:
    """A scratch copy of raw sources and sheets to break."""
    shutil.copytree(paths.raw_dir(), tmp_path / "raw")
    shutil.copytree(paths.extraction_dir(), tmp_path / "extraction")
    return tmp_path


def test_every_trial_is_ingested(tables):
    assert sorted(tables["trials"]["trial_id"]) == TRIALS


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
    assert "n_safety = 102: impossible" in denominators["message"].iloc[0]
    sex_ratio = checks[
        (checks["trial_id"] == "sb_nguyen2023") & (checks["check"] == "percent_count")
    ]
    assert sex_ratio["message"].str.contains("45.4").any()
    press = checks[(checks["check"] == "source_kind") & (checks["trial_id"] == "sci_honmou2021")]
    assert press["message"].str.contains("press report").all()


def test_processed_tables_are_deterministic(tmp_path, tables):
    first, second = tmp_path / "a", tmp_path / "b"
    ingest.run(output_dir=first)
    ingest.run(output_dir=second)
    for csv in sorted(first.glob("*.csv")):
        assert csv.read_bytes() == (second / csv.name).read_bytes(), csv.name


def test_committed_processed_tables_are_current(tmp_path):
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
        "unknown source file",
        lambda s: s.update(source_file="999_missing.txt"),
        "source_file",
        "one of the files in sources.yaml",
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
    assert "sb_nguyen2023.yaml: trial.titel: expected no such field" in err
