"""The regeneration pipeline on a scratch copy of the project: incremental, safe, exclusive."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import paths
from helpers.run import pipeline


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A scratch project root holding data/, notebooks/ and pyproject.toml."""
    root = tmp_path / "project"
    shutil.copytree(paths.data_dir(), root / "data")
    (root / "notebooks").mkdir()
    for notebook in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    return root


def page_stamps(root: Path) -> dict[str, int]:
    reports = root / "reports"
    return {str(p.relative_to(reports)): p.stat().st_mtime_ns for p in reports.rglob("*.html")}


def site_bytes(root: Path) -> dict[str, bytes]:
    reports = root / "reports"
    return {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*.html"))}


def expected_pages(root: Path) -> set[str]:
    pages = {"index.html", "ingest.html"}
    notebooks = root / "notebooks"
    if (notebooks / pipeline.TRIAL_NOTEBOOK).is_file():
        trials = [p.stem for p in (root / "data" / "extraction").glob("[a-z]*.yaml")]
        pages |= {f"trials/{t}.html" for t in trials}
    if (notebooks / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pages.add("synthesis.html")
    return pages


def test_full_run_builds_every_page_then_a_rerun_does_nothing(project):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    assert set(page_stamps(project)) == expected_pages(project)
    before = page_stamps(project)
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    assert page_stamps(project) == before


def test_pages_are_self_contained_and_deterministic(project):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    first = site_bytes(project)
    assert pipeline.run(quiet=True, force=True) == pipeline.EXIT_OK
    assert site_bytes(project) == first
    for name, page in first.items():
        text = page.decode("utf-8")
        assert "<script" not in text, f"{name} carries a script"
        assert 'href="http' not in text.replace('href="https://doi.org', "").replace(
            'href="https://clinicaltrials.gov', ""
        ), f"{name} links a remote stylesheet or resource"


def test_editing_one_sheet_reruns_only_what_depends_on_it(project):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    before = page_stamps(project)
    sheet = project / "data" / "extraction" / "sci_honmou2021.yaml"
    sheet.write_text(
        sheet.read_text(encoding="utf-8").replace(
            "extracted_by:", "extracted_by: 'second reviewer checked' #", 1
        ),
        encoding="utf-8",
    )
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    after = page_stamps(project)
    changed = {page for page in after if after[page] != before.get(page)}
    expected = {"index.html", "ingest.html"}
    if "trials/sci_honmou2021.html" in after:
        expected.add("trials/sci_honmou2021.html")
    if "synthesis.html" in after:
        expected.add("synthesis.html")
    assert changed == expected


def test_failing_notebook_keeps_previous_reports(project, capsys):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    before = site_bytes(project)
    notebook_path = project / "notebooks" / pipeline.INGEST_NOTEBOOK
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')"))
    nbformat.write(notebook, notebook_path)
    assert pipeline.run(quiet=True) == pipeline.EXIT_NOTEBOOK_FAILED
    err = capsys.readouterr().err
    assert "01_ingest.ipynb (ingest) failed in cell" in err
    assert "RuntimeError: deliberate failure" in err
    assert site_bytes(project) == before
    assert (project / "build" / "failed" / "ingest.ipynb").is_file()
    assert not (project / "reports" / "ingest.ipynb").exists()


def test_bad_input_exits_2_and_names_the_field(project, capsys):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    before = site_bytes(project)
    processed = {p.name: p.read_bytes() for p in (project / "data" / "processed").iterdir()}
    sheet = project / "data" / "extraction" / "sb_nguyen2023.yaml"
    sheet.write_text(sheet.read_text(encoding="utf-8") + "\nunexpected_key: 1\n", encoding="utf-8")
    assert pipeline.run(quiet=True) == pipeline.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "sb_nguyen2023.yaml: unexpected_key: expected no such field" in err
    assert site_bytes(project) == before
    assert {p.name: p.read_bytes() for p in (project / "data" / "processed").iterdir()} == processed


def test_second_run_while_locked_exits_3(project, capsys):
    with pipeline.exclusive_lock(project / "build" / "pipeline.lock"):
        assert pipeline.run(quiet=True) == pipeline.EXIT_LOCKED
    assert "another regeneration is running" in capsys.readouterr().err
    assert not (project / "reports").exists()


def test_unknown_trial_lists_valid_ids(project, capsys):
    assert pipeline.run(quiet=True, only_trials=["../../etc"]) == pipeline.EXIT_USAGE
    err = capsys.readouterr().err
    assert "valid ids: cp_akhlaghpasand2025" in err


def test_damaged_cache_only_costs_a_rebuild(project):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    (project / "build" / "cache.json").write_text("{not json", encoding="utf-8")
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    assert json.loads((project / "build" / "cache.json").read_text(encoding="utf-8"))


def test_cli_usage_errors_exit_4():
    assert pipeline.main(["--stage", "nonsense"]) == pipeline.EXIT_USAGE
