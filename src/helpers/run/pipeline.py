"""Report regeneration: ingestion -> result tables -> a page per trial and the synthesis -> site.

``python -m helpers.run.pipeline`` (what ``make report`` runs). Each notebook is executed by
papermill's Python API on the project's kernel and rendered by nbconvert without code
cells into a self-contained page (figures embedded, no script or style from the network).
The steps and their order are planned in :mod:`helpers.run.plan`. After the ingestion, the
result tables are computed with the protocol's settings into ``data/results/`` in this process
(:func:`compute_results`), so pages render stored results; the trial pages and the
synthesis, which read the processed and the result tables, run in parallel, one warm kernel per
worker (``--jobs``, default one per CPU) that runs notebook after notebook and is reset to a
fresh state before each (:mod:`helpers.run.kernel`): starting a kernel and importing the
scientific stack costs more than most trial pages. Workers are threads, because the work
happens in the kernels; this process renders the pages as they come in. Each run that does
something writes where its time went to ``build/timings.json``.

Behaviour a scheduler can rely on:

* **Incremental** — a step reruns only when its fingerprint changes: the notebook, the
  helpers' code, the locked environment, its parameters and the data it reads (a trial page:
  that trial's rows and its extraction sheet; the synthesis: every table and sheet), so an
  edited sheet reruns the ingestion, its trial's page and the synthesis, even when the edit
  changes no table. The result tables are recomputed when ``data/processed`` or the code
  changed. ``--force`` reruns everything. With nothing to do it stops after hashing the
  inputs, before importing pandas or the notebook machinery.
* **Safe** — pages are built into ``build/staging/`` and swapped into ``reports/`` only when
  every step succeeded; a failure keeps the previous site, keeps the executed notebook in
  ``build/failed/`` and names the notebook and cell that failed. ``data/results/`` is
  replaced only once every result table is written. A cell running longer than
  ``--cell-timeout`` seconds, or a kernel that dies, fails its notebook the same way. Pages of
  trials that no longer exist are removed when the site is published.
* **Accountable** — the published site carries the tables it was built from
  (``reports/data/``) and says what changed since the site it replaced
  (``reports/changes.html`` and ``changes.json``, :func:`helpers.run.publish.record_changes`).
* **Exclusive** — an OS lock (``build/pipeline.lock``, released by the kernel even when a run
  is killed) makes a second concurrent run exit at once with code 3.
* **Deterministic** — no wall-clock time in pages, fixed figure metadata: the same inputs give
  byte-identical HTML.
* **Bounded** — only regular files are read from ``data/``, each within a size limit checked
  before reading; every failure ends in one message without a traceback.

Exit codes: 0 success (or nothing to do), 1 a notebook (or the analysis) failed, 2 bad input
data (the message
names the file and field), 3 another run holds the lock, 4 bad usage, 5 a file could not be
written (disk full, read-only folder; the message names the path).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.run import plan, publish
from helpers.run.plan import STAGES, Cache, Step

if TYPE_CHECKING:
    from helpers.run.kernel import KernelPool

EXIT_OK, EXIT_NOTEBOOK_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_USAGE, EXIT_WRITE_FAILED = range(6)
DEFAULT_CELL_TIMEOUT = 600  # seconds; the slowest cell (the synthesis at 1,000 trials) takes ~1 min
INGEST_NOTEBOOK, TRIAL_NOTEBOOK, SYNTHESIS_NOTEBOOK = (
    plan.INGEST_NOTEBOOK,
    plan.TRIAL_NOTEBOOK,
    plan.SYNTHESIS_NOTEBOOK,
)


class StepFailed(Exception):
    """A notebook failed: the message to print and the exit code it means."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message, exit_code)
        self.message, self.exit_code = message, exit_code

    def __str__(self) -> str:
        return self.message


class LockHeld(Exception):
    pass


class Log:
    """Progress for people at a terminal, plain lines for cron (``--quiet``)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.interactive = sys.stderr.isatty() and not quiet

    def step(self, message: str) -> None:
        if self.interactive:
            print(f"  … {message}", file=sys.stderr, flush=True)
        elif not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def done(self, name: str, seconds: float) -> None:
        self.step(f"{name} done in {seconds:.1f} s")

    def info(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    force: bool = False
    only_trials: tuple[str, ...] = ()
    only_stage: str | None = None
    jobs: int | None = None
    cell_timeout: int = DEFAULT_CELL_TIMEOUT

    def selects(self, step: Step) -> bool:
        if step.notebook is None:  # the result tables always follow data/processed
            return True
        if self.only_stage is not None and step.stage != self.only_stage:
            return False
        if self.only_trials and step.stage != "ingest":
            return step.parameters.get("trial_id") in self.only_trials
        return True


# --------------------------------------------------------------------------- execution


def execute(step: Step, kernels: KernelPool, build: Path, cell_timeout: int):
    """Run one notebook on this worker's warm kernel: the executed notebook and its timings."""
    from papermill.exceptions import PapermillExecutionError

    from helpers.run.kernel import CellAborted

    kept = build / "failed" / f"{step.name}.ipynb"  # written only if the notebook fails
    where = f"{step.notebook} ({step.name})"
    try:
        kernel = kernels.kernel()
    except OSError:
        raise  # reported with its path by run()
    except Exception as exc:  # it never started, or never answered
        message = f"{where}: the kernel did not start: {type(exc).__name__}: {exc}"
        raise StepFailed(message, EXIT_NOTEBOOK_FAILED) from None
    try:
        return kernel.run(
            paths.notebooks_dir() / step.notebook, kept, step.parameters, cell_timeout
        )
    except PapermillExecutionError as exc:
        cell = exc.exec_count or exc.cell_index
        if exc.ename in ("OSError", "PermissionError") and exc.evalue.startswith("[Errno "):
            # The notebook could not write its output (disk full, read-only folder).
            message = f"could not write: {exc.evalue} (in {where}, cell {cell})"
            raise StepFailed(message, EXIT_WRITE_FAILED) from None
        message = (
            f"{where} failed in cell {cell}: {exc.ename}: {exc.evalue}\n"
            f"  executed notebook kept at {kept}"
        )
        bad_input = exc.ename == "EvidenceInputError"
        raise StepFailed(message, EXIT_BAD_INPUT if bad_input else EXIT_NOTEBOOK_FAILED) from None
    except CellAborted as exc:
        message = f"{where} failed: {exc}\n  executed notebook kept at {kept}"
        raise StepFailed(message, EXIT_NOTEBOOK_FAILED) from None
    except OSError as exc:
        if exc.filename is None:  # nbformat writing the failed notebook names no file
            raise OSError(exc.errno, exc.strerror, str(kept)) from None
        raise  # reported with its path by run()
    except Exception as exc:  # the kernel stopped answering: still name the step
        message = f"{where} failed: {type(exc).__name__}: {exc}"
        raise StepFailed(message, EXIT_NOTEBOOK_FAILED) from None


# --------------------------------------------------------------------------- the run


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an OS lock for the whole run; a killed run's lock vanishes with its process."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise LockHeld(holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def published_pages() -> list[str]:
    """The top-level pages this run publishes: the shared header links only these."""
    notebooks = {INGEST_NOTEBOOK: "ingest.html", SYNTHESIS_NOTEBOOK: "synthesis.html"}
    pages = [page for name, page in notebooks.items() if (paths.notebooks_dir() / name).is_file()]
    return [*pages, publish.CHANGES_PAGE]


def compute_results() -> None:
    """The result tables of ``data/processed`` with the protocol's settings, written with their
    dictionary and the settings into ``data/results/`` (replaced only when all are written).

    Processed tables that are missing or not as documented are bad input; a computation that
    fails is reported like a failed notebook; a write that fails names the folder.
    """
    from helpers import data
    from helpers.stats import analysis

    processed = paths.processed_dir()
    try:
        tables = data.load_all()
    except FileNotFoundError as exc:
        expected = "every table the ingestion writes"
        raise EvidenceInputError(processed, "<table>", expected, str(exc)) from None
    except ValueError as exc:  # unreadable CSV, a missing column, a value of the wrong type
        raise EvidenceInputError(processed, "<table>", "the documented columns", str(exc)) from None
    try:
        results = analysis.compute(tables)
    except EvidenceInputError:
        raise
    except Exception as exc:
        message = f"the result tables could not be computed: {type(exc).__name__}: {exc}"
        raise StepFailed(message, EXIT_NOTEBOOK_FAILED) from None
    try:
        analysis.write(results, analysis.Settings())
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(paths.results_dir())) from None


def run(
    *,
    force: bool = False,
    quiet: bool = False,
    only_trials: Sequence[str] = (),
    only_stage: str | None = None,
    jobs: int | None = None,
    cell_timeout: int = DEFAULT_CELL_TIMEOUT,
) -> int:
    """Regenerate the site; returns an exit code (see the module docstring)."""
    log = Log(quiet)
    options = Options(force, tuple(only_trials), only_stage, jobs, cell_timeout)
    build = paths.build_dir()
    try:
        with exclusive_lock(build / "pipeline.lock"):
            try:
                return _run_locked(log, build, options)
            finally:
                for scratch in ("staging", "rendered"):
                    shutil.rmtree(build / scratch, ignore_errors=True)  # frees a full disk too
    except LockHeld as held:
        log.info(f"another regeneration is running (pid {held}); nothing done")
        return EXIT_LOCKED
    except StepFailed as failure:
        log.info(f"regeneration failed; reports/ left unchanged.\n{failure}")
        return failure.exit_code
    except EvidenceInputError as bad:
        log.info(f"regeneration failed; reports/ left unchanged.\n{bad}")
        return EXIT_BAD_INPUT
    except OSError as exc:
        log.info(f"regeneration failed; reports/ left unchanged.\n{describe_os_error(exc)}")
        return EXIT_WRITE_FAILED


def write_page(path: Path, text: str) -> None:
    """Write a rendered page; a failed write names the page (a full disk fails inside
    ``write``, where Python's error carries no file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


_ERROR_TEXT = re.compile(r"^\[Errno \d+\] (.*?)(?:: '.*)?$", re.DOTALL)


def describe_os_error(exc: OSError) -> str:
    """One line naming the path: ``could not write <path>: <reason>``."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        source, target, reason = exc.args[0][0]  # copytree collects (source, target, reason)
        # The reason is an OSError as text: "[Errno 28] No space left on device: 'a' -> 'b'".
        reason = _ERROR_TEXT.sub(r"\1", str(reason))
        return f"could not copy {source} to {target}: {reason}"
    path = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"could not write {path or 'a file'}: {exc.strerror or exc}"


def _run_locked(log: Log, build: Path, options: Options) -> int:
    started = time.perf_counter()
    valid_ids = plan.sheet_trial_ids()
    unknown = sorted(set(options.only_trials) - set(valid_ids))
    if unknown:
        log.info(f"unknown trial id(s) {unknown}; valid ids: {', '.join(valid_ids)}")
        return EXIT_USAGE
    cache = Cache(build / "cache.json")
    planner = plan.Planner(cache)
    rendered = build / "rendered"  # this run's pages, written as they come (not held in memory)
    shutil.rmtree(rendered, ignore_errors=True)
    entries: dict[str, dict[str, str]] = {}  # the cache after this run, by page
    planned: list[Step] = []
    new_pages: list[str] = []
    timings: dict[str, dict[str, float]] = {}
    computed = False  # the result tables were recomputed

    with ExitStack() as resources:
        kernels: KernelPool | None = None
        for wave in plan.WAVES:
            steps = wave(planner)
            planned += steps
            todo: list[tuple[Step, str]] = []
            for step in steps:
                fingerprint = planner.fingerprint(step)
                if options.selects(step) and (
                    options.force or not planner.fresh(step, fingerprint)
                ):
                    todo.append((step, fingerprint))
                elif step.key in cache.entries:
                    entries[step.key] = cache.entries[step.key]
            if not todo:
                continue
            notebooks = [(step, fingerprint) for step, fingerprint in todo if step.notebook]
            for step, _ in todo:
                if step.notebook is None:
                    log.step("computing the result tables")
                    computing = time.perf_counter()
                    compute_results()
                    timings[step.name] = {"compute": time.perf_counter() - computing}
                    log.done(step.name, timings[step.name]["compute"])
                    computed = True
            if notebooks and kernels is None:
                from helpers.run.kernel import KernelPool

                workers = options.jobs or os.cpu_count() or 1
                kernels = resources.enter_context(KernelPool(workers, paths.notebooks_dir()))
            if notebooks:
                log.step(f"running {len(notebooks)} notebook(s): {_listed(notebooks)}")
                for step, timing in _run_wave(notebooks, kernels, build, options, rendered):
                    new_pages.append(step.page)
                    timings[step.name] = timing
                    log.done(step.name, sum(timing.values()))
            planner.forget()  # the steps wrote files: hash them afresh
            for step, fingerprint in todo:
                entries[step.key] = planner.entry(step, fingerprint)

    published = paths.reports_dir()
    planned_pages = [step.page for step in planned if step.page]
    stale = publish.stale_pages(published, planned_pages)
    if not new_pages and not stale and not computed and (published / publish.INDEX).is_file():
        log.info(f"reports are up to date ({time.perf_counter() - started:.2f} s)")
        return EXIT_OK
    staging = build / "staging"
    ingest_inputs = next(step.inputs for step in planned if step.stage == "ingest")
    publish.assemble(
        staging, published, rendered, new_pages, planned_pages, ingest_inputs, published_pages()
    )
    publish.swap_in(staging, published)
    cache.save(entries)
    seconds = time.perf_counter() - started
    _save_timings(build / "timings.json", seconds, timings)
    removed = f", removed {len(stale)} page(s) of trials no longer present" if stale else ""
    log.info(
        f"regenerated {len(new_pages)} page(s){removed} in {seconds:.1f} s; "
        f"open {published / publish.INDEX}"
    )
    return EXIT_OK


def _listed(steps: Sequence[tuple[Step, str]], shown: int = 10) -> str:
    """The steps' names for a log line: the first ``shown``, then how many more."""
    names = [step.name for step, _ in steps]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _run_wave(
    todo: list[tuple[Step, str]],
    kernels: KernelPool,
    build: Path,
    options: Options,
    rendered: Path,
) -> Iterator[tuple[Step, dict[str, float]]]:
    """Run a wave's steps in parallel; render each page as it comes; stop at the first failure."""
    from concurrent.futures import as_completed, wait

    from helpers.pages import site

    futures = {
        kernels.submit(execute, step, kernels, build, options.cell_timeout): step
        for step, _ in todo
    }
    try:
        for future in as_completed(futures):
            step = futures.pop(future)  # the future holds the executed notebook
            notebook, timing = future.result()
            rendering = time.perf_counter()
            page = site.render_notebook(notebook, page=step.page, pages=published_pages())
            del notebook
            write_page(rendered / step.page, page)
            timing["render"] = time.perf_counter() - rendering
            yield step, timing
    finally:
        # After a failure, notebooks not yet started never start.
        for future in futures:
            future.cancel()
        wait(futures)


def _save_timings(path: Path, seconds: float, steps: dict[str, dict[str, float]]) -> None:
    """Where the last run's time went (read by ``benchmarks/bench_pipeline.py``).

    Seconds for the whole run and, per notebook, starting its kernel (a worker's first
    notebook only), resetting the kernel and running the cells, and rendering the page.
    """
    rounded = {name: {k: round(v, 3) for k, v in t.items()} for name, t in sorted(steps.items())}
    text = json.dumps({"seconds": round(seconds, 3), "steps": rounded}, indent=1)
    path.write_text(text + "\n", encoding="utf-8")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.run.pipeline",
        description="Regenerate data/processed and the reviewer site in reports/.",
        epilog="exit codes: 0 ok, 1 notebook failed, 2 bad input data, 3 locked, 4 usage, "
        "5 could not write (disk full, read-only)",
    )
    parser.add_argument("--force", action="store_true", help="rerun every step")
    parser.add_argument("--quiet", action="store_true", help="plain log lines only (for cron)")
    parser.add_argument(
        "--trial", action="append", default=[], metavar="ID", help="only this trial (repeatable)"
    )
    parser.add_argument("--stage", choices=STAGES, help="only this stage")
    parser.add_argument(
        "--jobs", type=_positive, default=None, help="notebooks run at once (default: one per CPU)"
    )
    parser.add_argument(
        "--cell-timeout",
        type=_positive,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"fail a notebook whose cell runs longer (default: {DEFAULT_CELL_TIMEOUT})",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    # jsonschema (imported by nbformat) builds rfc3987_syntax's grammar at import, ~2 s, for an
    # "iri" format check no notebook schema uses; this process never needs it.
    sys.modules.setdefault("rfc3987_syntax", None)
    return run(
        force=args.force,
        quiet=args.quiet,
        only_trials=args.trial,
        only_stage=args.stage,
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
    )


if __name__ == "__main__":
    raise SystemExit(main())
