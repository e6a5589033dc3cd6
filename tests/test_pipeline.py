"""The regeneration pipeline on a scratch copy of the project: incremental, safe, exclusive.

Planning (:mod:`helpers.run.plan`) and publishing (:mod:`helpers.run.publish`) are also tested
on small fixtures of their own, without running a notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support import scratch_project

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.pages import site
from helpers.run import pipeline, plan, publish
from helpers.run.kernel import CellAborted


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A scratch project root: the fixture evidence base, the notebooks and pyproject.toml."""
    root = scratch_project(tmp_path / "project")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    return root


def page_stamps(root: Path) -> dict[str, int]:
    reports = root / "reports"
    return {str(p.relative_to(reports)): p.stat().st_mtime_ns for p in reports.rglob("*.html")}


def site_bytes(root: Path) -> dict[str, bytes]:
    reports = root / "reports"
    return {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*.html"))}


def expected_pages(root: Path) -> set[str]:
    pages = {"index.html", "ingest.html", "changes.html"}
    notebooks = root / "notebooks"
    if (notebooks / pipeline.TRIAL_NOTEBOOK).is_file():
        trials = [p.stem for p in (root / "data" / "extraction").glob("[a-z]*.yaml")]
        pages |= {f"trials/{t}.html" for t in trials}
    if (notebooks / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pages.add("synthesis.html")
    return pages


HEAVY_MODULES = ("pandas", "numpy", "nbformat", "papermill", "jupyter_client", "jsonschema")


def test_full_run_builds_every_page_then_a_rerun_does_nothing(project):
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    assert set(page_stamps(project)) == expected_pages(project)
    before = page_stamps(project)
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    assert page_stamps(project) == before
    # A run with nothing to do decides from hashes, before importing the heavy machinery.
    probe = (
        "import sys; from helpers.run import pipeline; code = pipeline.main(['--quiet']); "
        f"print(code, [m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, paths.ROOT_ENV_VAR: str(project)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip() == "0 []", result.stderr
    assert "reports are up to date" in result.stderr
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
    assert re.search(r"sb_nguyen2023.yaml:\d+: unexpected_key: expected no such field", err)
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


@pytest.mark.parametrize(
    "arguments",
    [["--stage", "nonsense"], ["--jobs", "0"], ["--jobs", "two"], ["--cell-timeout", "-5"]],
)
def test_cli_usage_errors_exit_4(arguments):
    assert pipeline.main(arguments) == pipeline.EXIT_USAGE


# --------------------------------------------------------------------------- planning


def write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header), *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def tables(tmp_path, monkeypatch) -> Path:
    """A scratch root with two trials' processed rows and sheets (no notebook runs)."""
    root = tmp_path / "tables"
    (root / "data" / "extraction").mkdir(parents=True)
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    processed = root / "data" / "processed"
    write_table(processed / "trials.csv", ["trial_id", "title"], [["a", "A"], ["b", "B"]])
    write_table(
        processed / "outcomes.csv",
        ["outcome", "trial_id", "value"],
        [["x", "a", "1"], ["x", "b", "2"], ["y", "b", "3"]],
    )
    write_table(processed / "data_dictionary.csv", ["table", "column"], [["trials", "title"]])
    for trial in "ab":
        (root / "data" / "extraction" / f"{trial}.yaml").write_text(f"trial_id: {trial}\n", "utf-8")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    return root


def planner(root: Path) -> plan.Planner:
    """A planner of a new run, with the cache as the last run left it."""
    return plan.Planner(plan.Cache(root / "build" / "cache.json"))


def test_trial_digest_changes_only_for_the_trial_whose_rows_or_sheet_changed(tables):
    before = planner(tables).trial_digests()
    assert list(before) == ["a", "b"]
    write_table(
        tables / "data" / "processed" / "outcomes.csv",
        ["outcome", "trial_id", "value"],
        [["x", "a", "1"], ["x", "b", "2"], ["y", "b", "4"]],
    )
    after_rows = planner(tables).trial_digests()
    assert after_rows["a"] == before["a"] and after_rows["b"] != before["b"]
    (tables / "data" / "extraction" / "a.yaml").write_text("trial_id: a\n# edited\n", "utf-8")
    after_sheet = planner(tables).trial_digests()
    assert after_sheet["a"] != after_rows["a"] and after_sheet["b"] == after_rows["b"]


def test_trial_row_digests_are_reused_only_while_the_tables_are_unchanged(tables, monkeypatch):
    first = planner(tables)
    digests = first.trial_digests()
    first.cache.save({})
    parsed = []
    monkeypatch.setattr(plan, "_trial_row_digests", lambda: parsed.append(1) or {"a": "x"})
    assert planner(tables).trial_digests() == digests  # nothing parsed: the cache holds them
    assert parsed == []
    (tables / "data" / "processed" / "trials.csv").write_text("trial_id\na\n", "utf-8")
    assert list(planner(tables).trial_digests()) == ["a"]
    assert parsed == [1]


def test_results_are_computed_from_the_processed_tables_and_pages_read_them(tables):
    (step,) = planner(tables).results()
    assert (step.stage, step.notebook, step.page, step.key) == ("results", None, None, "results")
    assert step.outputs == (paths.results_dir(),)
    before = planner(tables).trial_digests()
    write_table(paths.results_dir() / "trial_changes.csv", ["trial_id", "yi"], [["a", "0.5"]])
    after = planner(tables).trial_digests()
    assert after["a"] != before["a"] and after["b"] == before["b"]
    write_table(paths.processed_dir() / "trials.csv", ["trial_id", "title"], [["a", "A"]])
    assert planner(tables).results()[0].inputs != step.inputs


def test_the_result_tables_follow_the_processed_tables_whatever_the_selection():
    results = plan.Step("results", "results", None, None, {}, "digest")
    trial = plan.Step(
        "trial-a", "trials", plan.TRIAL_NOTEBOOK, "trials/a.html", {"trial_id": "a"}, "digest"
    )
    only = pipeline.Options(only_trials=("b",), only_stage="synthesis")
    assert only.selects(results) and not only.selects(trial)


def test_pages_plan_a_step_per_trial_and_the_synthesis(tables):
    (tables / "notebooks").mkdir()
    for notebook in (plan.TRIAL_NOTEBOOK, plan.SYNTHESIS_NOTEBOOK):
        (tables / "notebooks" / notebook).write_text("{}", encoding="utf-8")
    steps = planner(tables).pages()
    assert [(s.name, s.stage, s.page) for s in steps] == [
        ("synthesis", "synthesis", "synthesis.html"),
        ("trial-a", "trials", "trials/a.html"),
        ("trial-b", "trials", "trials/b.html"),
    ]
    assert steps[1].parameters == {"trial_id": "a"}


def test_fingerprint_covers_notebook_parameters_and_inputs(tables):
    (tables / "notebooks").mkdir()
    notebook = tables / "notebooks" / plan.TRIAL_NOTEBOOK
    notebook.write_text("{}", encoding="utf-8")
    step = plan.Step(
        "trial-a", "trials", plan.TRIAL_NOTEBOOK, "trials/a.html", {"trial_id": "a"}, "1"
    )
    first = planner(tables).fingerprint(step)
    assert planner(tables).fingerprint(step) == first
    other_inputs = plan.Step(**{**step.__dict__, "inputs": "2"})
    other_parameters = plan.Step(**{**step.__dict__, "parameters": {"trial_id": "b"}})
    assert planner(tables).fingerprint(other_inputs) != first
    assert planner(tables).fingerprint(other_parameters) != first
    notebook.write_text('{"cells": []}', encoding="utf-8")
    assert planner(tables).fingerprint(step) != first


def test_files_are_hashed_once_until_steps_have_run(tables):
    run = planner(tables)
    (step,) = run.ingestion()
    sheet = tables / "data" / "extraction" / "a.yaml"
    sheet.write_text("trial_id: a\n# edited by a step\n", "utf-8")
    assert run.ingestion()[0].inputs == step.inputs  # still the digest this run began with
    run.forget()
    assert run.ingestion()[0].inputs != step.inputs


def test_a_settled_unchanged_file_is_not_read_again(tables, monkeypatch):
    sheet = tables / "data" / "extraction" / "a.yaml"
    monkeypatch.setattr(plan, "SETTLED_SECONDS", 0)  # as if the files were written long ago
    first = planner(tables)
    inputs = first.ingestion()[0].inputs
    first.cache.save({})
    reads = []
    real = plan._content_digest
    monkeypatch.setattr(
        plan, "_content_digest", lambda path, limit: reads.append(path) or real(path, limit)
    )
    assert planner(tables).ingestion()[0].inputs == inputs
    assert reads == []  # every digest came from the cache
    sheet.write_text("trial_id: a\n# edited\n", "utf-8")  # new times, so read again
    assert planner(tables).ingestion()[0].inputs != inputs
    assert reads == [sheet]


def test_a_file_modified_within_the_last_seconds_is_always_read(tables):
    run = planner(tables)
    run.ingestion()  # the files were all written just now
    assert run.cache.file_digests == {}


def test_ingestion_is_stale_when_its_outputs_were_changed_by_hand(tables):
    (tables / "reports").mkdir()
    (tables / "reports" / "ingest.html").write_text("page", encoding="utf-8")
    run = planner(tables)
    (step,) = run.ingestion()
    run.cache.save({step.page: run.entry(step, "f")})
    assert planner(tables).fresh(step, "f")
    assert not planner(tables).fresh(step, "other")
    (tables / "data" / "processed" / "trials.csv").write_text("trial_id\na\n", "utf-8")
    assert not planner(tables).fresh(step, "f")


def test_planning_refuses_a_fifo_in_data_without_blocking(tables):
    os.mkfifo(tables / "data" / "extraction" / "c.yaml")
    with pytest.raises(EvidenceInputError, match=r"c\.yaml: <file>: expected a regular file"):
        planner(tables).ingestion()


def test_sheet_trial_ids_are_the_sheet_names_without_templates(tables):
    (tables / "data" / "extraction" / "_template.yaml").write_text("x: 1\n", "utf-8")
    assert plan.sheet_trial_ids() == ["a", "b"]


# --------------------------------------------------------------------------- publishing


def test_stale_pages_are_pages_no_step_produces(tmp_path):
    site = tmp_path / "reports"
    for page in ("index.html", "ingest.html", "trials/a.html", "trials/gone.html", "README.md"):
        (site / page).parent.mkdir(parents=True, exist_ok=True)
        (site / page).write_text(page, encoding="utf-8")
    planned = ["ingest.html", "trials/a.html", "synthesis.html"]
    assert publish.stale_pages(site, planned) == ["trials/gone.html"]
    assert publish.stale_pages(tmp_path / "missing", planned) == []


def test_assembling_never_writes_into_the_published_site(tmp_path, monkeypatch):
    published, staging, rendered = (tmp_path / "reports", tmp_path / "staging", tmp_path / "new")
    pages = {"index.html": "old index", "ingest.html": "old", "trials/a.html": "a"}
    pages["trials/gone.html"] = "gone"
    for page, text in pages.items():
        (published / page).parent.mkdir(parents=True, exist_ok=True)
        (published / page).write_text(text, encoding="utf-8")
    (rendered).mkdir()
    (rendered / "ingest.html").write_text("new", encoding="utf-8")
    monkeypatch.setattr(site, "index_page", lambda present, digest: f"index of {present}")
    recorded = []
    monkeypatch.setattr(publish, "record_changes", lambda *args: recorded.append(args))
    planned = ["ingest.html", "trials/a.html"]
    publish.assemble(staging, published, rendered, ["ingest.html"], planned, "digest")
    assert {p: (published / p).read_text(encoding="utf-8") for p in pages} == pages
    assert (staging / "index.html").read_text(encoding="utf-8") == f"index of {planned}"
    assert (staging / "ingest.html").read_text(encoding="utf-8") == "new"
    assert (staging / "trials" / "a.html").read_text(encoding="utf-8") == "a"
    assert not (staging / "trials" / "gone.html").exists()
    assert [args[:2] for args in recorded] == [(staging, published)]


def test_swap_in_restores_the_old_site_when_the_new_cannot_be_moved_in(tmp_path, monkeypatch):
    published, staging = tmp_path / "reports", tmp_path / "build" / "staging"
    (published / "trials").mkdir(parents=True)
    (published / "index.html").write_text("old", encoding="utf-8")
    staging.mkdir(parents=True)
    (staging / "index.html").write_text("new", encoding="utf-8")
    real_rename = Path.rename

    def failing_rename(self, target):
        if self == staging:
            raise OSError(28, "No space left on device", str(self))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError):
        publish.swap_in(staging, published)
    assert (published / "index.html").read_text(encoding="utf-8") == "old"
    monkeypatch.setattr(Path, "rename", real_rename)
    publish.swap_in(staging, published)
    assert (published / "index.html").read_text(encoding="utf-8") == "new"
    assert not (tmp_path / ".reports-retired").exists()


# --------------------------------------------------------------------------- messages


def test_an_os_error_is_described_by_its_path():
    disk_full = OSError(28, "No space left on device", "/srv/build/staging/index.html")
    assert pipeline.describe_os_error(disk_full) == (
        "could not write /srv/build/staging/index.html: No space left on device"
    )
    busy = OSError(16, "Device or resource busy", "/srv/reports", None, "/srv/.reports-retired")
    assert "/srv/reports -> /srv/.reports-retired" in pipeline.describe_os_error(busy)
    source, target = "/srv/reports/a.html", "/srv/build/staging/a.html"
    reason = f"[Errno 28] No space left on device: '{source}' -> '{target}'"
    copy = shutil.Error([(source, target, reason)])
    assert pipeline.describe_os_error(copy) == (
        f"could not copy {source} to {target}: No space left on device"
    )
    unusual = shutil.Error([(source, target, "not an OSError's text")])
    assert pipeline.describe_os_error(unusual).endswith(": not an OSError's text")


def test_an_aborted_cell_is_named_by_its_number_and_first_line():
    timed_out = CellAborted("ran longer than the cell timeout of 5 s", 5, 4, "\nimport time\nx")
    assert str(timed_out) == "cell 4 ('import time') ran longer than the cell timeout of 5 s"
    died = CellAborted("was running when the kernel died", 3, None, "os._exit(1)")
    assert str(died).startswith("the cell at position 4 ('os._exit(1)')")


def test_a_long_wave_is_logged_by_its_first_steps_and_a_count():
    def steps(count):
        return [
            (plan.Step(f"trial-{i}", "trials", "n.ipynb", f"trials/{i}.html", {}, ""), "")
            for i in range(count)
        ]

    assert pipeline._listed(steps(1)) == "trial-0"
    listed = pipeline._listed(steps(1000))
    assert listed.startswith("trial-0, trial-1, ") and listed.endswith("trial-9 and 990 more")


RESET_PROBE = """
import gc, weakref, pandas as pd, matplotlib
from IPython.core.interactiveshell import InteractiveShell
from helpers.run.kernel import reset_to_fresh

shell = InteractiveShell.instance()
reset_to_fresh()  # the first call records the fresh state
shell.run_cell('''
import weakref
class Node: pass
kept = Node(); kept.me = kept            # a cycle held by a variable
kept_probe = weakref.ref(kept)
shown = Node(); shown.me = shown
shown_probe = weakref.ref(shown)
del shown
pd = __import__("pandas"); pd.set_option("display.max_rows", 3)
__import__("matplotlib").rcParams["lines.linewidth"] = 7
Node()                                  # an output: held by Out, _ and _1
''', store_history=True)
shell.run_cell("later = Node(); later.me = later; later", store_history=True)  # _2: kept by
shell.run_cell("1 + 1", store_history=True)  # __ and _2 (IPython's reset removes only _1)
probes = shell.user_ns["kept_probe"], shell.user_ns["shown_probe"]
shown = weakref.ref(shell.user_ns["Out"][1])
later = weakref.ref(shell.user_ns["Out"][2])
reset_to_fresh()
print(
    [probe() is None for probe in (*probes, shown, later)],
    sorted(name for name in shell.user_ns if name not in shell.user_ns_hidden),
    shell.user_ns["__name__"],
    shell.execution_count,
    pd.get_option("display.max_rows"),
    matplotlib.rcParams["lines.linewidth"] == matplotlib.rcParamsDefault["lines.linewidth"],
    gc.get_freeze_count() > 0,
)
"""


def test_a_warm_kernel_reset_frees_the_last_notebooks_objects_and_settings():
    # Reference cycles held by variables and outputs are freed before the survivors are frozen
    # (frozen garbage would never be freed: a leak per page).
    result = subprocess.run(
        [sys.executable, "-c", RESET_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "[True, True, True, True] ['__builtin__', '__builtins__', '__name__'] __main__ 1 60 True True"
    )
