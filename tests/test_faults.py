"""Faults a scheduler meets, through the command line: killed runs, concurrent runs, reruns,
cells that never end, kernels that die, a full disk, read-only folders, removed trials, and the
exit codes cron sees.

Every run here is ``python -m helpers.run.pipeline`` in its own process group on a scratch copy of
the project, as cron starts it. The scratch project keeps two trials (the largest sheet and a
small one): enough for a parallel trial stage and a synthesis, at half the time of all five.
Processes a test starts, kernels included, are found by the scratch root in their environment
and killed by pid when the test ends. A full disk and read-only folders are real: the run starts
in a mount namespace of its own (``unshare --mount``) with a small tmpfs or a read-only bind
mount over the folder, which vanishes with the run.

test_pipeline.py covers the same guarantees in-process (lock held, failing notebook, rerun
without --force); this module covers what only separate processes show.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import nbformat
import pytest
from support import scratch_project as fixture_project

from helpers import paths
from helpers.run import pipeline

KEPT_TRIALS = ("sb_nguyen2023", "sci_honmou2021")
RUN_TIMEOUT = 300  # seconds for one full regeneration (about 15 s on 2 cores)
START_TIMEOUT = 120  # seconds until a trial notebook starts executing


def scratch_project(root: Path) -> Path:
    """The fixture evidence base with two of its trial sheets, the notebooks and the pins."""
    fixture_project(root)
    for sheet in (root / "data" / "extraction").glob("[a-z]*.yaml"):
        if sheet.stem not in KEPT_TRIALS:
            sheet.unlink()
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


def regenerate(root: Path, *args: str, mounts: str = "") -> subprocess.CompletedProcess:
    """One run; ``mounts``: shell commands run first, in a mount namespace of the run's own."""
    command = [sys.executable, "-m", "helpers.run.pipeline", "--quiet", *args]
    if mounts:
        command = ["unshare", "--mount", "sh", "-c", f"{mounts} && exec {shlex.join(command)}"]
    return subprocess.run(
        command,
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
    shutil.rmtree(project / "build" / "rendered", ignore_errors=True)
    run = start(project, tmp_path / "killed.log", "--force")
    deadline = time.monotonic() + START_TIMEOUT
    # A rendered trial page appears when the first trial page is done: others still run.
    while not list((project / "build" / "rendered").glob("trials/*.html")):
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


# --------------------------------------------------------------------------- cells and kernels


def replace_trial_notebook(root: Path, last_cell: str) -> None:
    """A trial notebook of three cells: parameters, an import, then ``last_cell``."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('trial_id = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell("import os, time"),
        nbformat.v4.new_code_cell(last_cell),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "cell-evidence",
        "display_name": "Python",
        "language": "python",
    }
    nbformat.write(notebook, root / "notebooks" / pipeline.TRIAL_NOTEBOOK)


def assert_failed_cleanly(result: subprocess.CompletedProcess, code: int) -> list[str]:
    """The run exited ``code`` with one message and no traceback; returns the message lines."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "regeneration failed; reports/ left unchanged.", result.stderr
    return lines[1:]


def test_a_cell_that_never_ends_fails_its_notebook_at_the_cell_timeout(reference, project):
    replace_trial_notebook(project, "time.sleep(3600)")
    result = regenerate(project, "--cell-timeout", "5")
    message = assert_failed_cleanly(result, pipeline.EXIT_NOTEBOOK_FAILED)
    assert re.fullmatch(
        r"02_trial_summary\.ipynb \(trial-\w+\) failed: cell \d+ \('time\.sleep\(3600\)'\) "
        r"ran longer than the cell timeout of 5 s",
        message[0],
    ), message
    assert message[1].startswith("  executed notebook kept at ")
    kept = Path(message[1].split(" at ", 1)[1])
    assert kept.parent == project / "build" / "failed" and kept.is_file()
    assert not wait_gone(project, 15), "a kernel outlived the run"
    assert site(project) == reference[1]


def test_a_dead_kernel_names_the_cell_and_keeps_the_notebook(reference, project):
    replace_trial_notebook(project, "os._exit(1)")
    result = regenerate(project)
    message = assert_failed_cleanly(result, pipeline.EXIT_NOTEBOOK_FAILED)
    assert "('os._exit(1)') was running when the kernel died" in message[0], message
    kept = Path(message[1].split(" at ", 1)[1])
    executed = nbformat.read(kept, as_version=4)
    assert executed.cells[-2].source == "import os, time"
    assert executed.cells[-2].execution_count is not None  # it ran up to the cell that died
    assert not wait_gone(project, 15), "a kernel outlived the run"
    assert site(project) == reference[1]


# --------------------------------------------------------------------------- disks and folders


@cache
def can_mount() -> bool:
    """Whether this machine lets a process mount in a namespace of its own (root, CI)."""
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def require_mounts() -> None:
    if not can_mount():
        if os.environ.get("CI"):
            pytest.fail("CI must run as root with mount namespaces (unshare --mount)")
        pytest.skip("needs mount namespaces (unshare --mount, as root)")


def test_a_full_disk_ends_in_one_message_naming_the_path(reference, project):
    require_mounts()
    build = project / "build"
    full = f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(build))}"
    result = regenerate(project, "--stage", "ingest", "--force", mounts=full)
    (message,) = assert_failed_cleanly(result, pipeline.EXIT_WRITE_FAILED)
    # The first file that does not fit is written, or copied while the site is staged.
    assert re.fullmatch(
        rf"could not (write|copy \S+ to) {re.escape(str(build))}/\S+: No space left on device",
        message,
    ), message
    assert site(project) == reference[1]
    result = regenerate(project, "--force")  # room again: the next run recovers
    assert result.returncode == pipeline.EXIT_OK, result.stderr
    assert site(project) == reference[1]


@pytest.mark.parametrize("folder", ["build", "reports"])
def test_a_read_only_folder_ends_in_one_message_naming_the_path(reference, project, folder):
    require_mounts()
    target = shlex.quote(str(project / folder))
    read_only = f"mount --bind {target} {target} && mount -o remount,bind,ro {target}"
    result = regenerate(project, "--stage", "ingest", "--force", mounts=read_only)
    (message,) = assert_failed_cleanly(result, pipeline.EXIT_WRITE_FAILED)
    assert message.startswith(f"could not write {project / folder}"), message
    assert message.endswith(("Read-only file system", "Device or resource busy")), message
    assert site(project) == reference[1]


# --------------------------------------------------------------------------- trials removed


def test_the_page_of_a_removed_trial_is_unpublished(reference, project):
    removed, kept = KEPT_TRIALS[1], KEPT_TRIALS[0]
    (project / "data" / "extraction" / f"{removed}.yaml").unlink()
    result = regenerate(project)
    assert result.returncode == pipeline.EXIT_OK, result.stderr
    assert "removed 1 page(s) of trials no longer present" in result.stderr
    reports = project / "reports"
    assert not (reports / "trials" / f"{removed}.html").exists()
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert removed not in index and f"trials/{kept}.html" in index
    assert (reports / "trials" / f"{kept}.html").read_bytes() == reference[1][
        f"reports/trials/{kept}.html"
    ]


# --------------------------------------------------------------------------- make and cron


def make(*args: str, root: Path) -> subprocess.CompletedProcess:
    """``make <args>`` in the checkout, with the pipeline pointed at the scratch ``root``."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        env=environment(root),
        cwd=paths.project_root(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def test_make_report_passes_trial_jobs_and_force_to_the_pipeline(project):
    result = make(
        "-n", "report", "TRIAL=sb_nguyen2023 sci_honmou2021", "JOBS=3", "FORCE=1", root=project
    )
    assert result.returncode == 0, result.stderr
    assert (
        "-m helpers.run.pipeline --force --trial sb_nguyen2023 --trial sci_honmou2021 --jobs 3"
        in result.stdout
    )


def test_make_report_never_ignores_an_unknown_trial(project):
    result = make("report", "TRIAL=no_such_trial", root=project)
    assert result.returncode != 0
    assert "unknown trial id(s) ['no_such_trial']; valid ids: sb_nguyen2023" in result.stderr
    assert "Error 4" in result.stderr  # make shows the pipeline's own code


def cron_command(root: Path, log: Path) -> str:
    """The README's cron line, run in this checkout without pulling, logging to ``log``."""
    readme = (paths.project_root() / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"```cron\n(.+)\n```", readme)
    command = line.split(None, 5)[5]  # after the five schedule fields
    assert "git pull -q && " in command and ">> build/cron.log" in command, command
    command = command.replace(
        "cd /srv/cell-evidence", f"cd {shlex.quote(str(paths.project_root()))}"
    )
    command = command.replace("git pull -q && ", "")
    return command.replace(">> build/cron.log", f">> {shlex.quote(str(log))}")


def test_the_readme_cron_line_keeps_the_pipeline_exit_codes(project, tmp_path):
    log = tmp_path / "cron.log"
    command = cron_command(project, log)

    def cron() -> str:
        """What cron would mail: the line's output."""
        result = subprocess.run(
            ["sh", "-c", command],
            env=environment(project),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        return result.stdout + result.stderr

    with pipeline.exclusive_lock(project / "build" / "pipeline.lock"):
        assert cron() == "regeneration exited 3 (see build/cron.log)\n"
    os.mkfifo(project / "data" / "extraction" / "pipe.yaml")  # refused before any notebook runs
    assert cron() == "regeneration exited 2 (see build/cron.log)\n"
    logged = log.read_text(encoding="utf-8")
    assert "another regeneration is running" in logged
    assert "pipe.yaml: <file>: expected a regular file" in logged
