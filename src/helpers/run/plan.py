"""What a regeneration would run, decided from hashes alone (no pandas, no notebook machinery).

A regeneration is a sequence of *waves* (:data:`WAVES`). A wave is planned from what the waves
before it left on disk, and its steps run in parallel: the ingestion alone, then the result
tables (computed into ``data/results/`` in the pipeline's own process, no notebook and no
page), then the trial pages and the synthesis, which read both. Each :class:`Step` has a
fingerprint: the hash of its notebook, the helpers' code, the locked environment, its
parameters and the data it reads. A step whose fingerprint and outputs match the published site
(:class:`Cache`) is fresh and does not run, so a regeneration with nothing to do reads and
hashes its input files and stops — before pandas, nbformat or papermill are imported.

To add a step, give :class:`Planner` a method that returns its steps, with the digest of the
files it reads as inputs and the folder it writes as outputs, and put it in :data:`WAVES` in
its place: a later wave that reads its outputs then reruns exactly when they change (as the
pages do with the result tables).

Every file read here comes from ``data/``: it is opened only if it is a regular file within
its size limit (:mod:`helpers.evidence.input_files`), so a FIFO or a link to ``/dev/zero`` ends
the planning with an :class:`~helpers.errors.EvidenceInputError` naming the file.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.input_files import MAX_DOCUMENT_BYTES, MAX_SHEET_BYTES, open_regular

INGEST_NOTEBOOK = "01_ingest.ipynb"
TRIAL_NOTEBOOK = "02_trial_summary.ipynb"
SYNTHESIS_NOTEBOOK = "03_synthesis.ipynb"
STAGES = ("ingest", "results", "trials", "synthesis")
ENVIRONMENT_FILES = ("pyproject.toml", "requirements.lock")
# A file's digest is reused while its inode, size and times are unchanged, unless it was modified
# this recently: two writes within the file system's timestamp granularity look the same.
SETTLED_SECONDS = 2.0


@dataclass(frozen=True)
class Step:
    """One notebook run: what it executes, with which parameters, and where its page goes."""

    name: str
    stage: str  # one of STAGES: what ``--stage`` selects
    notebook: str | None  # None: computed in the pipeline's process (the result tables)
    page: str | None  # path of the HTML page relative to reports/ (None: no page)
    parameters: dict
    inputs: str  # digest of the data this step reads
    outputs: tuple[Path, ...] = ()  # folders it writes besides its page (their CSV files count)

    @property
    def key(self) -> str:
        """What the cache knows the step by: its page, or its name when it has none."""
        return self.page or self.name


def code_digest() -> str:
    """The helpers' code and templates and the locked environment: every page depends on them."""
    package = Path(__file__).parents[1]  # the whole helpers package
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.j2"), *package.rglob("*.css")]):
        digest.update(str(path.relative_to(package)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in ENVIRONMENT_FILES:
        environment = paths.project_root() / name
        if environment.is_file():
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(environment.read_bytes()).digest())
    return digest.hexdigest()


def sheet_trial_ids() -> list[str]:
    """The trial ids the sheets declare (a sheet is named after its trial), sorted."""
    return [sheet.stem for sheet in _sheets()]


class Planner:
    """Plans the steps of one run.

    Each file is read at most once until :meth:`forget` (called after steps have run, since
    they write files), and not at all when the cache holds its digest for the same inode, size,
    modification and change times (as git's index does). The digests of each trial's
    processed rows, which take parsing every table, are kept in the cache with the digest of
    ``data/processed`` they came from and reused while it is unchanged.
    """

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.code = code_digest()
        self.root = paths.project_root()  # resolved once: it costs a few stat calls each time
        self.notebooks, self.reports = paths.notebooks_dir(), paths.reports_dir()
        self.files: dict[Path, bytes] = {}  # path -> its name and content digest
        # The cache keeps the digests of the files this run hashes, no others.
        self.known, cache.file_digests = cache.file_digests, {}

    def forget(self) -> None:
        self.files.clear()

    # ------------------------------------------------------------------- digests

    def digest(self, files: Iterable[Path], max_bytes: int) -> str:
        """SHA-256 over the files' names (relative to the project) and contents, in name order."""
        digest = hashlib.sha256()
        for path in sorted(files):
            if path not in self.files:
                name = str(path.relative_to(self.root))
                self.files[path] = name.encode() + b"\0" + self._content(path, name, max_bytes)
            digest.update(self.files[path])
        return digest.hexdigest()

    def _content(self, path: Path, name: str, max_bytes: int) -> bytes:
        try:
            info = os.stat(path)
        except OSError:
            info = None  # open_regular below says what is wrong
        key = None
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes:
            key = [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
            known = self.known.get(name)
            if known is not None and known[:4] == key:
                self.cache.file_digests[name] = known
                return bytes.fromhex(known[4])
        content = _content_digest(path, max_bytes)
        settled = time.time_ns() - int(SETTLED_SECONDS * 1e9)
        if key is not None and max(info.st_mtime_ns, info.st_ctime_ns) < settled:
            self.cache.file_digests[name] = [*key, content.hex()]
        return content

    def fingerprint(self, step: Step) -> str:
        notebook = [self.notebooks / step.notebook] if step.notebook else []
        payload = {
            "notebook": self.digest(notebook, MAX_DOCUMENT_BYTES),
            "code": self.code,
            "parameters": step.parameters,
            "inputs": step.inputs,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def outputs_digest(self, step: Step) -> str:
        return self.digest(_csv_files(step.outputs), MAX_DOCUMENT_BYTES)

    def fresh(self, step: Step, fingerprint: str) -> bool:
        """Whether the published page (and the step's outputs) are what this step would make."""
        entry = self.cache.entries.get(step.key, {})
        return (
            entry.get("fingerprint") == fingerprint
            and (step.page is None or (self.reports / step.page).is_file())
            and (not step.outputs or entry.get("outputs") == self.outputs_digest(step))
        )

    def entry(self, step: Step, fingerprint: str) -> dict[str, str]:
        """What the cache keeps of a step that has just run (its outputs as it left them)."""
        entry = {"fingerprint": fingerprint}
        if step.outputs:
            entry["outputs"] = self.outputs_digest(step)
        return entry

    # ------------------------------------------------------------------- the waves

    def ingestion(self) -> list[Step]:
        """The ingestion reads data/raw and the sheets and writes data/processed."""
        raw = self.digest(_entries(paths.raw_dir()), MAX_DOCUMENT_BYTES)
        sheets = self.digest(_entries(paths.extraction_dir(), "*.yaml"), MAX_SHEET_BYTES)
        return [
            Step(
                name="ingest",
                stage="ingest",
                notebook=INGEST_NOTEBOOK,
                page="ingest.html",
                parameters={},
                inputs=_combined(raw, sheets),
                outputs=(paths.processed_dir(),),
            )
        ]

    def results(self) -> list[Step]:
        """The result tables: computed from data/processed into data/results (no page)."""
        processed = self.digest(_csv_files([paths.processed_dir()]), MAX_DOCUMENT_BYTES)
        return [
            Step(
                name="results",
                stage="results",
                notebook=None,
                page=None,
                parameters={},
                inputs=processed,
                outputs=(paths.results_dir(),),
            )
        ]

    def pages(self) -> list[Step]:
        """A page per trial (its rows and its sheet) and the synthesis (every table and sheet).

        Rows are those of the processed and the result tables.

        The synthesis comes first: it is the longest notebook, and steps start in list order.
        """
        steps = []
        if (paths.notebooks_dir() / SYNTHESIS_NOTEBOOK).is_file():
            tables = [*_csv_files(_table_directories()), *_entries(paths.context_dir())]
            inputs = _combined(
                self.digest(tables, MAX_DOCUMENT_BYTES), self.digest(_sheets(), MAX_SHEET_BYTES)
            )
            steps.append(
                Step("synthesis", "synthesis", SYNTHESIS_NOTEBOOK, "synthesis.html", {}, inputs)
            )
        if (paths.notebooks_dir() / TRIAL_NOTEBOOK).is_file():
            steps += [
                Step(
                    name=f"trial-{trial_id}",
                    stage="trials",
                    notebook=TRIAL_NOTEBOOK,
                    page=f"trials/{trial_id}.html",
                    parameters={"trial_id": trial_id},
                    inputs=digest,
                )
                for trial_id, digest in self.trial_digests().items()
            ]
        return steps

    def trial_digests(self) -> dict[str, str]:
        """Per trial, a digest of the processed and result rows its page reads (its own) and of
        its sheet."""
        tables = self.digest(_csv_files(_table_directories()), MAX_DOCUMENT_BYTES)
        remembered = self.cache.trial_rows
        if remembered.get("tables") != tables:
            self.cache.trial_rows = {"tables": tables, "rows": _trial_row_digests()}
        digests = {}
        extraction = paths.extraction_dir()
        for trial_id, rows in self.cache.trial_rows["rows"].items():
            sheet = extraction / f"{trial_id}.yaml"
            sheet_digest = self.digest([sheet], MAX_SHEET_BYTES) if sheet.exists() else ""
            digests[trial_id] = _combined(rows, sheet_digest)
        return digests


WAVES: tuple[Callable[[Planner], list[Step]], ...] = (
    Planner.ingestion,
    Planner.results,
    Planner.pages,
)


# --------------------------------------------------------------------------- files


def _content_digest(path: Path, max_bytes: int) -> bytes:
    content = hashlib.sha256()
    try:
        with open_regular(path, max_bytes) as handle:
            while chunk := handle.read(1 << 20):
                content.update(chunk)
                if handle.tell() > max_bytes:  # it grew after the size check
                    raise EvidenceInputError(path, "<file>", f"at most {max_bytes} bytes")
    except OSError as exc:  # unreadable (permissions), or gone since the folder was listed
        raise EvidenceInputError(path, "<file>", "a readable file", exc.strerror) from None
    return content.digest()


def _combined(*digests: str) -> str:
    return hashlib.sha256("\0".join(digests).encode()).hexdigest()


def _entries(directory: Path, pattern: str = "*") -> list[Path]:
    """Everything in ``directory`` matching ``pattern`` except folders; none if it is missing.

    Hidden files are left out, as ``glob`` would.
    """
    try:
        with os.scandir(directory) as listing:
            names = [
                entry.name
                for entry in listing
                if not entry.name.startswith(".")
                and fnmatch.fnmatchcase(entry.name, pattern)
                and not entry.is_dir()
            ]
    except FileNotFoundError:
        return []
    return [directory / name for name in sorted(names)]


def _table_directories() -> list[Path]:
    """The folders of stored tables: processed (ingestion) and results (analysis)."""
    return [paths.processed_dir(), paths.results_dir()]


def _csv_files(directories: Iterable[Path]) -> list[Path]:
    return [path for directory in directories for path in _entries(directory, "*.csv")]


def _sheets() -> list[Path]:
    """Extraction sheets, without templates (``_*.yaml``)."""
    return _entries(paths.extraction_dir(), "[!_]*.yaml")


def _trial_row_digests() -> dict[str, str]:
    """Per trial of ``trials.csv`` (sorted), a digest of its rows in every processed and result
    table."""
    trials_table = paths.processed_dir() / "trials.csv"
    if not trials_table.exists():
        return {}  # nothing ingested yet
    trial_ids = [trial_id for trial_id, _ in _rows_by_trial(trials_table)]
    digests = {trial_id: hashlib.sha256() for trial_id in sorted(trial_ids)}
    for table in _csv_files(_table_directories()):
        for trial_id, row in _rows_by_trial(table):
            if trial_id in digests:
                digests[trial_id].update(f"{table.stem}{row}".encode())
    return {trial_id: digest.hexdigest() for trial_id, digest in digests.items()}


def _rows_by_trial(table: Path) -> list[tuple[str, str]]:
    """(trial id, the row's ``repr``) for every row of a table with a ``trial_id`` column."""
    with open_regular(table, MAX_DOCUMENT_BYTES) as handle:
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
        header = next(reader, [])
        if "trial_id" not in header:
            return []
        column = header.index("trial_id")
        return [(row[column], repr(row)) for row in reader if len(row) > column]


# --------------------------------------------------------------------------- the cache


class Cache:
    """What the published site was built from: per page, its step's fingerprint (and outputs).

    Also the digests of the input files and the per-trial row digests (:class:`Planner`).
    Stored as JSON in ``build/cache.json``; a missing or damaged file only costs a full rebuild.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, str]] = {}
        self.trial_rows: dict = {}
        self.file_digests: dict[str, list] = {}  # name -> [inode, size, mtime, ctime, digest]
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(loaded, dict) and isinstance(loaded.get("pages"), dict):
            self.entries = {k: v for k, v in loaded["pages"].items() if isinstance(v, dict)}
            rows = loaded.get("trial_rows")
            if isinstance(rows, dict) and isinstance(rows.get("rows"), dict):
                self.trial_rows = rows
            files = loaded.get("files")
            if isinstance(files, dict):
                self.file_digests = {
                    name: entry
                    for name, entry in files.items()
                    if isinstance(entry, list) and len(entry) == 5
                }

    def save(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        document = {"pages": entries, "trial_rows": self.trial_rows, "files": self.file_digests}
        tmp.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)
