"""Report regeneration: ingestion -> a summary per trial and the synthesis (in parallel) -> site.

``python -m helpers.run.pipeline`` (what ``make report`` runs). Each notebook is executed by
papermill's Python API on the project's kernel and rendered by nbconvert without code
cells into a self-contained page (figures embedded, no script or style from the network).
The trial pages and the synthesis, which all read the tables the ingestion wrote, run in
parallel, one warm kernel per worker (``--jobs``, default one per CPU) that runs notebook
after notebook and is reset to a fresh state before each (:mod:`helpers.run.kernel`): starting a
kernel and importing the scientific stack costs more than most trial pages. Workers are
threads, because the work happens in the kernels; this process renders the pages as they
come in. Each run writes where its time went to ``build/timings.json``.

Behaviour a scheduler can rely on:

* **Incremental** — a step reruns only when its fingerprint changes: the notebook, the
  helpers' code, the pinned environment, its parameters and the data it reads (a trial page:
  that trial's rows and its extraction sheet; the synthesis: every table and sheet), so an
  edited sheet reruns the ingestion, its trial's page and the synthesis, even when the edit
  changes no table. ``--force`` reruns everything.
* **Safe** — pages are built into ``build/staging/`` and swapped into ``reports/`` only when
  every step succeeded; a failure keeps the previous site, keeps the failed executed notebook
  in ``build/failed/`` and names the notebook and cell that failed.
* **Exclusive** — an OS lock (``build/pipeline.lock``, released by the kernel even when a run
  is killed) makes a second concurrent run exit at once with code 3.
* **Deterministic** — no wall-clock time in pages, fixed figure metadata: the same inputs give
  byte-identical HTML.

Exit codes: 0 success (or nothing to do), 1 a notebook failed, 2 bad input data (the
ingestion's message names the file and field), 3 another run holds the lock, 4 bad usage.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers import paths
from helpers.data import TABLES
from helpers.pages import site
from helpers.run.kernel import KernelPool

EXIT_OK, EXIT_NOTEBOOK_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_USAGE = 0, 1, 2, 3, 4
STAGES = ("ingest", "trials", "synthesis")
INGEST_NOTEBOOK = "01_ingest.ipynb"
TRIAL_NOTEBOOK = "02_trial_summary.ipynb"
SYNTHESIS_NOTEBOOK = "03_synthesis.ipynb"


@dataclass(frozen=True)
class Step:
    """One notebook run: what it executes, with which parameters, and where its page goes."""

    name: str
    notebook: str
    page: str  # path of the HTML page relative to reports/
    parameters: dict = field(default_factory=dict)
    inputs: tuple[str, ...] = ()  # digests of the data this step reads
    outputs: tuple[Path, ...] = ()  # files besides its page that must exist for it to be fresh


class StepFailed(Exception):
    """A notebook failed; picklable, because it travels back from worker processes."""

    def __init__(self, step_name: str, message: str, bad_input: bool) -> None:
        super().__init__(step_name, message, bad_input)
        self.step_name, self.message, self.bad_input = step_name, message, bad_input

    def __str__(self) -> str:
        return self.message


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


# --------------------------------------------------------------------------- fingerprints


def _digest_files(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(paths.project_root())).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_digest() -> str:
    """The helpers' code and templates and the pinned environment: what every page depends on."""
    package = Path(__file__).parents[1]  # the whole helpers package
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.j2"), *package.rglob("*.css")]):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    digest.update((paths.project_root() / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ingest_inputs() -> tuple[str, ...]:
    raw = sorted(paths.raw_dir().glob("*"))
    sheets = sorted(paths.extraction_dir().glob("*.yaml"))
    return (_digest_files([p for p in [*raw, *sheets] if p.is_file()]),)


def trial_digests() -> dict[str, str]:
    """Per trial, a digest of the processed rows its page reads (its own) and of its sheet."""
    from helpers import data

    tables = data.load_all()
    digests = {trial_id: hashlib.sha256() for trial_id in tables["trials"]["trial_id"]}
    for trial_id, digest in digests.items():
        sheet = paths.extraction_dir() / f"{trial_id}.yaml"
        digest.update(sheet.read_bytes() if sheet.is_file() else b"")
    for name, frame in sorted(tables.items()):
        for trial_id, rows in frame.groupby("trial_id", sort=True):
            if trial_id in digests:
                digests[trial_id].update(name.encode())
                digests[trial_id].update(rows.to_csv(index=False, lineterminator="\n").encode())
    return {trial_id: digest.hexdigest() for trial_id, digest in sorted(digests.items())}


def processed_inputs() -> tuple[str, ...]:
    """A digest of what the synthesis reads: every table, the context tables, every sheet."""
    files = sorted(paths.processed_dir().glob("*.csv"))
    context = sorted(paths.context_dir().glob("*")) if paths.context_dir().is_dir() else []
    sheets = sorted(paths.extraction_dir().glob("[!_]*.yaml"))
    return (_digest_files([*files, *context, *sheets]),)


def fingerprint(step: Step, code: str) -> str:
    notebook = (paths.notebooks_dir() / step.notebook).read_bytes()
    payload = json.dumps(
        {
            "notebook": hashlib.sha256(notebook).hexdigest(),
            "code": code,
            "parameters": step.parameters,
            "inputs": step.inputs,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    """Fingerprints of the pages currently published in reports/."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path.is_file():
            try:
                self.entries = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError):
                self.entries = {}  # a damaged cache only costs a full rebuild

    def fresh(self, step: Step, print_: str) -> bool:
        return (
            self.entries.get(step.page) == print_
            and (paths.reports_dir() / step.page).is_file()
            and all(path.is_file() for path in step.outputs)
        )

    def save(self, entries: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


# --------------------------------------------------------------------------- execution


def execute(
    step: Step, kernels: KernelPool, executed_dir: Path, failed_dir: Path
) -> tuple[nbformat.NotebookNode, dict[str, float]]:
    """Run one notebook with papermill on this worker's warm kernel: executed, with timings."""
    from papermill.exceptions import PapermillExecutionError

    executed = executed_dir / f"{step.name}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    try:
        return kernels.kernel().run(
            paths.notebooks_dir() / step.notebook, executed, step.parameters
        )
    except PapermillExecutionError as exc:
        kept = _keep_failed(executed, failed_dir)
        message = (
            f"{step.notebook} ({step.name}) failed in cell {exc.exec_count or exc.cell_index}: "
            f"{exc.ename}: {exc.evalue}\n  executed notebook kept at {kept}"
        )
        raise StepFailed(step.name, message, bad_input=exc.ename == "EvidenceInputError") from None
    except Exception as exc:  # the kernel died or never answered: still name the notebook
        message = f"{step.notebook} ({step.name}) failed: {type(exc).__name__}: {exc}"
        raise StepFailed(step.name, message, bad_input=False) from exc


def _keep_failed(executed: Path, failed_dir: Path) -> Path:
    failed_dir.mkdir(parents=True, exist_ok=True)
    kept = failed_dir / executed.name
    if executed.is_file():
        shutil.copyfile(executed, kept)
    return kept


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


class LockHeld(Exception):
    pass


def published_pages() -> list[str]:
    """The top-level pages this run publishes: the shared header links only these."""
    notebooks = {INGEST_NOTEBOOK: "ingest.html", SYNTHESIS_NOTEBOOK: "synthesis.html"}
    return [page for name, page in notebooks.items() if (paths.notebooks_dir() / name).is_file()]


def plan_steps(digests: dict[str, str]) -> tuple[list[Step], list[Step]]:
    """The trial pages and the synthesis page, for the notebooks that exist."""
    trial_steps = [
        Step(
            name=f"trial-{trial_id}",
            notebook=TRIAL_NOTEBOOK,
            page=f"trials/{trial_id}.html",
            parameters={"trial_id": trial_id},
            inputs=(digest,),
        )
        for trial_id, digest in digests.items()
        if (paths.notebooks_dir() / TRIAL_NOTEBOOK).is_file()
    ]
    synthesis = (
        [Step("synthesis", SYNTHESIS_NOTEBOOK, "synthesis.html", {}, processed_inputs())]
        if (paths.notebooks_dir() / SYNTHESIS_NOTEBOOK).is_file()
        else []
    )
    return trial_steps, synthesis


def run(
    *,
    force: bool = False,
    quiet: bool = False,
    only_trials: Sequence[str] = (),
    only_stage: str | None = None,
    jobs: int | None = None,
) -> int:
    """Regenerate the site; returns an exit code (see the module docstring)."""
    log = Log(quiet)
    build = paths.build_dir()
    try:
        with exclusive_lock(build / "pipeline.lock"):
            return _run_locked(log, build, force, only_trials, only_stage, jobs)
    except LockHeld as held:
        log.info(f"another regeneration is running (pid {held}); nothing done")
        return EXIT_LOCKED


def _run_locked(
    log: Log,
    build: Path,
    force: bool,
    only_trials: Sequence[str],
    only_stage: str | None,
    jobs: int | None,
) -> int:
    started = time.perf_counter()
    cache = Cache(build / "cache.json")
    code = code_digest()
    staging, executed_dir, failed_dir = build / "staging", build / "executed", build / "failed"
    rendered = build / "rendered"  # this run's pages, written as they come (not held in memory)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(rendered, ignore_errors=True)
    new_entries: dict[str, str] = {}
    pages: list[str] = []
    timings: dict[str, dict[str, float]] = {}

    def wanted(stage: str) -> bool:
        return only_stage is None or only_stage == stage

    def run_steps(steps: list[Step], kernels: KernelPool) -> None:
        todo = []
        for step in steps:
            print_ = fingerprint(step, code)
            new_entries[step.page] = print_
            if not force and cache.fresh(step, print_):
                continue
            todo.append(step)
        if not todo:
            return
        log.step(f"running {len(todo)} notebook(s): {', '.join(s.name for s in todo)}")
        futures = {
            kernels.submit(execute, step, kernels, executed_dir, failed_dir): step for step in todo
        }
        try:
            for future in as_completed(futures):
                step = futures.pop(future)  # the future holds the executed notebook: let it go
                notebook, timing = future.result()
                rendering = time.perf_counter()
                page = site.render_notebook(notebook, page=step.page, pages=published_pages())
                (rendered / step.page).parent.mkdir(parents=True, exist_ok=True)
                (rendered / step.page).write_text(page, encoding="utf-8")
                pages.append(step.page)
                timing["render"] = time.perf_counter() - rendering
                timings[step.name] = timing
                log.done(step.name, sum(timing.values()))
        finally:
            # After a failure, notebooks not yet started never start.
            for future in futures:
                future.cancel()
            wait(futures)

    try:
        # Threads suffice: the work happens in the kernels, this process only renders.
        workers = jobs or os.cpu_count() or 1
        with KernelPool(workers, paths.notebooks_dir()) as kernels:
            ingest = Step(
                "ingest",
                INGEST_NOTEBOOK,
                "ingest.html",
                inputs=ingest_inputs(),
                outputs=tuple(paths.processed_dir() / f"{table}.csv" for table in TABLES),
            )
            if wanted("ingest"):
                run_steps([ingest], kernels)
            else:
                new_entries[ingest.page] = cache.entries.get(ingest.page, "")
            digests = trial_digests()
            unknown = sorted(set(only_trials) - set(digests))
            if unknown:
                log.info(f"unknown trial id(s) {unknown}; valid ids: {', '.join(digests)}")
                return EXIT_USAGE
            trial_steps, synthesis = plan_steps(digests)
            selected_trials = [
                s for s in trial_steps if not only_trials or s.parameters["trial_id"] in only_trials
            ]
            # The synthesis reads the same tables as the trial pages, not the pages: it runs
            # beside them, queued first because it is the longest notebook.
            run_steps(
                [
                    *(synthesis if wanted("synthesis") and not only_trials else []),
                    *(selected_trials if wanted("trials") else []),
                ],
                kernels,
            )
        # Steps not selected this time keep whatever page and fingerprint they had.
        for step in [*trial_steps, *synthesis]:
            new_entries.setdefault(step.page, cache.entries.get(step.page, ""))
    except StepFailed as failure:
        log.info(f"regeneration failed; reports/ left unchanged.\n{failure}")
        return EXIT_BAD_INPUT if failure.bad_input else EXIT_NOTEBOOK_FAILED

    published = paths.reports_dir()
    if not pages and (published / "index.html").is_file():
        log.info(f"reports are up to date ({time.perf_counter() - started:.1f} s)")
        return EXIT_OK
    _assemble(staging, published, rendered, pages, new_entries, ingest.inputs[0])
    _publish(staging, published)
    cache.save({k: v for k, v in new_entries.items() if v})
    seconds = time.perf_counter() - started
    _save_timings(build / "timings.json", seconds, timings)
    log.info(
        f"regenerated {len(pages)} page(s) in {seconds:.1f} s; open {published / 'index.html'}"
    )
    return EXIT_OK


def _save_timings(path: Path, seconds: float, steps: dict[str, dict[str, float]]) -> None:
    """Where the last run's time went (read by ``benchmarks/bench_pipeline.py``).

    Seconds for the whole run and, per notebook, starting its kernel (a worker's first
    notebook only), resetting the kernel and running the cells, and rendering the page.
    """
    rounded = {name: {k: round(v, 3) for k, v in t.items()} for name, t in sorted(steps.items())}
    text = json.dumps({"seconds": round(seconds, 3), "steps": rounded}, indent=1)
    path.write_text(text + "\n", encoding="utf-8")


def _assemble(
    staging: Path,
    published: Path,
    rendered: Path,
    pages: list[str],
    entries: dict,
    input_digest: str,
) -> None:
    """Staging = the current site + the rebuilt pages (from ``rendered``) + a fresh index."""
    if published.is_dir():
        shutil.copytree(published, staging)
    staging.mkdir(parents=True, exist_ok=True)
    for page_path in pages:
        target = staging / page_path
        target.parent.mkdir(parents=True, exist_ok=True)
        (rendered / page_path).replace(target)
    shutil.rmtree(rendered, ignore_errors=True)
    pages_present = sorted(p for p in entries if (staging / p).is_file())
    index = site.index_page(pages_present, input_digest)
    (staging / "index.html").write_text(index, encoding="utf-8")


def _publish(staging: Path, published: Path) -> None:
    """Swap the staged site in with two renames; the old site is deleted only afterwards."""
    retired = published.with_name(".reports-retired")
    shutil.rmtree(retired, ignore_errors=True)
    if published.exists():
        published.rename(retired)
    staging.rename(published)
    shutil.rmtree(retired, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.run.pipeline",
        description="Regenerate data/processed and the reviewer site in reports/.",
        epilog="exit codes: 0 ok, 1 notebook failed, 2 bad input data, 3 locked, 4 usage",
    )
    parser.add_argument("--force", action="store_true", help="rerun every step")
    parser.add_argument("--quiet", action="store_true", help="plain log lines only (for cron)")
    parser.add_argument(
        "--trial", action="append", default=[], metavar="ID", help="only this trial (repeatable)"
    )
    parser.add_argument("--stage", choices=STAGES, help="only this stage")
    parser.add_argument(
        "--jobs", type=int, default=None, help="notebooks run at once (default: one per CPU)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    return run(
        force=args.force,
        quiet=args.quiet,
        only_trials=args.trial,
        only_stage=args.stage,
        jobs=args.jobs,
    )


if __name__ == "__main__":
    raise SystemExit(main())
