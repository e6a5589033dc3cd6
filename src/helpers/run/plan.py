"""What a regeneration would run, decided from hashes alone (no pandas, no notebook machinery).

A regeneration is a sequence of *waves* (:data:`WAVES`). A wave is planned from what the waves
before it left on disk, and its steps run in parallel: the ingestion alone, then the trial pages
and the synthesis, which all read the tables the ingestion wrote. Each :class:`Step` has a
fingerprint: the hash of its notebook, the helpers' code, the locked environment, its
parameters and the data it reads. A step whose fingerprint and outputs match the published site
(:class:`Cache`) is fresh and does not run, so a regeneration with nothing to do reads a few
files, hashes them and stops — before pandas, nbformat or papermill are imported.

To add a step (say, result tables computed into ``data/results/`` between the ingestion and
the pages), write a planner that returns its steps, with the files it reads as inputs and the
folder it writes as outputs, and put it in :data:`WAVES` in its place: a later wave that reads
its outputs then reruns exactly when they change.

Every file read here comes from ``data/``: it is opened only if it is a regular file within
its size limit (:mod:`helpers.evidence.input_files`), so a FIFO or a link to ``/dev/zero`` ends
the planning with an :class:`~helpers.errors.EvidenceInputError` naming the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.input_files import MAX_DOCUMENT_BYTES, MAX_SHEET_BYTES, open_regular

INGEST_NOTEBOOK = "01_ingest.ipynb"
TRIAL_NOTEBOOK = "02_trial_summary.ipynb"
SYNTHESIS_NOTEBOOK = "03_synthesis.ipynb"
STAGES = ("ingest", "trials", "synthesis")
ENVIRONMENT_FILES = ("pyproject.toml", "requirements.lock")


@dataclass(frozen=True)
class Step:
    """One notebook run: what it executes, with which parameters, and where its page goes."""

    name: str
    stage: str  # one of STAGES: what ``--stage`` selects
    notebook: str
    page: str  # path of the HTML page relative to reports/
    parameters: dict
    inputs: str  # digest of the data this step reads
    outputs: tuple[Path, ...] = ()  # folders it writes besides its page (their CSV files count)

    def outputs_digest(self) -> str:
        return _digest(_csv_files(self.outputs), MAX_DOCUMENT_BYTES)


# --------------------------------------------------------------------------- hashing files


def _digest(files: Iterable[Path], max_bytes: int) -> str:
    """SHA-256 over the files' names (relative to the project) and contents, in name order."""
    digest = hashlib.sha256()
    root = paths.project_root()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        content = hashlib.sha256()
        with open_regular(path, max_bytes) as handle:
            while chunk := handle.read(1 << 20):
                content.update(chunk)
                if handle.tell() > max_bytes:  # it grew after the size check
                    raise EvidenceInputError(path, "<file>", f"at most {max_bytes} bytes")
        digest.update(content.digest())
    return digest.hexdigest()


def _entries(directory: Path, pattern: str = "*") -> list[Path]:
    """Everything in ``directory`` matching ``pattern`` except folders; none if it is missing."""
    return sorted(p for p in directory.glob(pattern) if not p.is_dir())


def _csv_files(directories: Iterable[Path]) -> list[Path]:
    return [path for directory in directories for path in _entries(directory, "*.csv")]


def _sheets() -> list[Path]:
    """Extraction sheets, without templates (``_*.yaml``)."""
    return _entries(paths.extraction_dir(), "[!_]*.yaml")


def code_digest() -> str:
    """The helpers' code and templates and the locked environment: every page depends on them."""
    package = Path(__file__).parents[1]  # the whole helpers package
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.j2")]):
        digest.update(str(path.relative_to(package)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in ENVIRONMENT_FILES:
        environment = paths.project_root() / name
        if environment.is_file():
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(environment.read_bytes()).digest())
    return digest.hexdigest()


class Fingerprints:
    """Step fingerprints for one run: the code and each notebook are hashed once.

    A fingerprint covers the step's notebook, the helpers' code and the locked environment
    (:func:`code_digest`), its parameters and the digest of the data it reads.
    """

    def __init__(self) -> None:
        self.code = code_digest()
        self.notebooks: dict[str, str] = {}  # every trial page shares one notebook of ~1 MB

    def __call__(self, step: Step) -> str:
        if step.notebook not in self.notebooks:
            notebook = paths.notebooks_dir() / step.notebook
            self.notebooks[step.notebook] = _digest([notebook], MAX_DOCUMENT_BYTES)
        payload = {
            "notebook": self.notebooks[step.notebook],
            "code": self.code,
            "parameters": step.parameters,
            "inputs": step.inputs,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- the waves


def plan_ingestion() -> list[Step]:
    """The ingestion reads data/raw and the sheets and writes data/processed."""
    raw = _entries(paths.raw_dir())
    sheets = _entries(paths.extraction_dir(), "*.yaml")
    inputs = hashlib.sha256(
        (_digest(raw, MAX_DOCUMENT_BYTES) + _digest(sheets, MAX_SHEET_BYTES)).encode()
    ).hexdigest()
    return [
        Step(
            name="ingest",
            stage="ingest",
            notebook=INGEST_NOTEBOOK,
            page="ingest.html",
            parameters={},
            inputs=inputs,
            outputs=(paths.processed_dir(),),
        )
    ]


def plan_pages() -> list[Step]:
    """A page per trial (its rows and its sheet) and the synthesis (every table and sheet).

    The synthesis comes first: it is the longest notebook, and the waves run in list order.
    """
    steps = []
    if (paths.notebooks_dir() / SYNTHESIS_NOTEBOOK).is_file():
        context = _entries(paths.context_dir())
        synthesis_inputs = hashlib.sha256(
            (
                _digest([*_csv_files([paths.processed_dir()]), *context], MAX_DOCUMENT_BYTES)
                + _digest(_sheets(), MAX_SHEET_BYTES)
            ).encode()
        ).hexdigest()
        steps.append(
            Step(
                "synthesis", "synthesis", SYNTHESIS_NOTEBOOK, "synthesis.html", {}, synthesis_inputs
            )
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
            for trial_id, digest in trial_digests().items()
        ]
    return steps


WAVES: tuple[Callable[[], list[Step]], ...] = (plan_ingestion, plan_pages)


def sheet_trial_ids() -> list[str]:
    """The trial ids the sheets declare (a sheet is named after its trial), sorted."""
    return [sheet.stem for sheet in _sheets()]


def trial_ids() -> list[str]:
    """The trials of the processed tables, in their order; none before the first ingestion."""
    trials = paths.processed_dir() / "trials.csv"
    if not trials.exists():
        return []
    return [row[0] for row in _rows_by_trial(trials, max_bytes=MAX_DOCUMENT_BYTES)]


def trial_digests() -> dict[str, str]:
    """Per trial, a digest of the processed rows its page reads (its own) and of its sheet."""
    digests = {trial_id: hashlib.sha256() for trial_id in trial_ids()}
    for table in _csv_files([paths.processed_dir()]):
        for trial_id, row in _rows_by_trial(table, MAX_DOCUMENT_BYTES):
            if trial_id in digests:
                digests[trial_id].update(f"{table.stem}{row}".encode())
    for trial_id, digest in digests.items():
        sheet = paths.extraction_dir() / f"{trial_id}.yaml"
        digest.update(_digest([sheet], MAX_SHEET_BYTES).encode() if sheet.exists() else b"")
    return {trial_id: digest.hexdigest() for trial_id, digest in sorted(digests.items())}


def _rows_by_trial(table: Path, max_bytes: int) -> list[tuple[str, str]]:
    """(trial id, the row's ``repr``) for every row of a table with a ``trial_id`` column."""
    with open_regular(table, max_bytes) as handle:
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
        header = next(reader, [])
        if "trial_id" not in header:
            return []
        column = header.index("trial_id")
        return [(row[column], repr(row)) for row in reader if len(row) > column]


# --------------------------------------------------------------------------- the cache


class Cache:
    """Fingerprints (and output digests) of the pages currently published in reports/."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, str]] = {}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}  # missing or damaged: that only costs a full rebuild
        if isinstance(loaded, dict):
            self.entries = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    def fresh(self, step: Step, fingerprint: str) -> bool:
        entry = self.entries.get(step.page, {})
        return (
            entry.get("fingerprint") == fingerprint
            and (paths.reports_dir() / step.page).is_file()
            and (not step.outputs or entry.get("outputs") == step.outputs_digest())
        )

    @staticmethod
    def entry(step: Step, fingerprint: str) -> dict[str, str]:
        """What to remember of a step that has just run (its outputs as it left them)."""
        entry = {"fingerprint": fingerprint}
        if step.outputs:
            entry["outputs"] = step.outputs_digest()
        return entry

    def save(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)
