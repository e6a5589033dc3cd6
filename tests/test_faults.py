"""Faults a scheduler meets, through the command line: killed runs, concurrent runs, reruns.

Every run here is ``python -m helpers.run.pipeline`` in its own process group on a scratch copy of
the project, as cron starts it. The scratch project keeps two trials (the largest sheet and a
small one): enough for a parallel trial stage and a synthesis, at half the time of all five.
Processes a test starts, kernels included, are found by the scratch root in their environment
and killed by pid when the test ends.

test_pipeline.py covers the same guarantees in-process (lock held, failing notebook, rerun
without --force); this module covers what only separate processes show.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import paths
from helpers.run import pipeline

KEPT_TRIALS = ("sb_nguyen2023", "sci_honmou2021")
RUN_TIMEOUT = 300  # seconds for one full regeneration (about 15 s on 2 cores)
START_TIMEOUT = 120  # seconds until a trial notebook starts executing


def scratch_project(root: Path) -> Path:
    """A copy of the pipeline's inputs with two of the trial sheets."""
    shutil.copytree(paths.data_dir(), root / "data")
    for sheet in (root / "data" / "extraction").glob("[a-z]*.yaml"):
        if sheet.stem not in KEPT_TRIALS:
            sheet.unlink()
    (root / "notebooks").mkdir()
    for notebook in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    return root


def environment(root: Path) -> dict[str, str]:
    return {**os.environ, paths.ROOT_ENV_VAR: str(root)}


def start(root: Path, log: Path, *args: str) -> subprocess.Popen:
    """``python -m helpers.run.pipeline --quiet <args>`` in a new process group (its own session)."""
    return subprocess.Popen(
        [sys.executable, "-m", "helpers.run.pipeline", "--quiet", *args],
        env=environment(root),
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def regenerate(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.run.pipeline", "--quiet", *args],
        env=environment(root),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def processes_of(root: Path) -> list[int]:
    """Pids whose environment names this scratch root: its runs, workers and kernels."""
    needle = f"{paths.ROOT_ENV_VAR}={root}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return found


def kill_all(root: Path) -> None:
    for pid in processes_of(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_gone(root: Path, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_of(root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def site(root: Path) -> dict[str, bytes]:
    """reports/ and data/processed/, by path relative to the project: what users get."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for directory in (root / "reports", root / "data" / "processed")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def expected_pages(root: Path) -> set[str]:
    pages = {"reports/index.html", "reports/ingest.html"}
    if (root / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pages |= {f"reports/trials/{trial}.html" for trial in KEPT_TRIALS}
    if (root / "notebooks" / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pages.add("reports/synthesis.html")
    return pages


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A scratch project after one full regeneration, and its site's bytes."""
    root = scratch_project(tmp_path_factory.mktemp("faults") / "reference")
    try:
        result = regenerate(root, "--force")
        assert result.returncode == pipeline.EXIT_OK, result.stderr
        built = site(root)
        assert expected_pages(root) <= set(built)
        yield root, built
    finally:
        kill_all(root)


@pytest.fixture
def project(reference, tmp_path) -> Iterator[Path]:
    """A copy of the reference project (published site, cache, lock file) to abuse."""
    root = tmp_path / "project"
    shutil.copytree(reference[0], root)
    try:
        yield root
    finally:
        kill_all(root)


def test_two_cli_regenerations_are_byte_identical(reference, project):
    result = regenerate(project, "--force")
    assert result.returncode == pipeline.EXIT_OK, result.stderr
    assert site(project) == reference[1]


def test_sigkill_mid_trial_stage_keeps_the_site_and_the_next_run_recovers(
    reference, project, tmp_path
):
    if not (project / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pytest.skip(f"{pipeline.TRIAL_NOTEBOOK} does not exist yet: no trial stage to kill")
    shutil.rmtree(project / "build" / "executed", ignore_errors=True)
    run = start(project, tmp_path / "killed.log", "--force")
    deadline = time.monotonic() + START_TIMEOUT
    # An executed trial notebook appears when the first trial page is done: others still run.
    while not list((project / "build").rglob("trial-*.ipynb")):
        assert run.poll() is None, "the run ended before its trial stage: " + (
            tmp_path / "killed.log"
        ).read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "no trial notebook started"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # the run, its workers: as the OOM killer or a reboot
    run.wait(timeout=30)
    # Kernels live in sessions of their own; they notice their parent is gone and exit.
    orphans = wait_gone(project, 15)
    kill_all(project)
    assert not orphans, f"kernels outlived the killed run: pids {orphans}"

    assert site(project) == reference[1], "a killed run changed the published site"
    assert (project / "build" / "pipeline.lock").is_file()  # stale: only its flock died

    result = regenerate(project, "--force")
    assert result.returncode == pipeline.EXIT_OK, result.stderr
    assert "another regeneration is running" not in result.stderr
    assert site(project) == reference[1]
    assert not (project / "build" / "staging").exists()


def test_two_runs_started_together_never_interleave(reference, project, tmp_path):
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    runs = [start(project, log, "--force") for log in logs]
    codes = [run.wait(timeout=RUN_TIMEOUT) for run in runs]
    output = [log.read_text(encoding="utf-8") for log in logs]
    assert sorted(codes) in ([0, 0], [0, 3]), output
    for code, text in zip(codes, output, strict=True):
        if code == pipeline.EXIT_LOCKED:
            assert "another regeneration is running" in text
    # The site is complete and exactly what one run alone produces.
    assert site(project) == reference[1]
    assert not (project / "build" / "staging").exists()
