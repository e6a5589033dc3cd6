"""Shared test support: the frozen fixture evidence base and scratch projects built from it."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from helpers import data, paths

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATA = FIXTURES / "project" / "data"
FIXTURE_TRIALS = sorted(p.stem for p in (FIXTURE_DATA / "extraction").glob("[a-z]*.yaml"))


@functools.cache
def fixture_processed() -> Path:
    """The fixture sheets ingested once per test process into a scratch folder."""
    from helpers.evidence import ingest

    out = Path(tempfile.mkdtemp(prefix="fixture-processed-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    ingest.run(FIXTURE_DATA / "extraction", FIXTURE_DATA / "raw", out / "processed")
    return out / "processed"


def fixture_tables() -> dict[str, pd.DataFrame]:
    """Every processed table of the fixture evidence base (typed, as the helpers load them)."""
    return data.load_all(fixture_processed())


def raw_table(table: str) -> pd.DataFrame:
    """A fixture processed table read with plain pandas, not through the helpers."""
    return pd.read_csv(fixture_processed() / f"{table}.csv")


def scratch_project(root: Path, *, notebooks: bool = True) -> Path:
    """A project root at ``root`` with the fixture data, the template, the committed
    notebooks and pyproject.toml: what ``CELL_EVIDENCE_ROOT`` can point at."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(FIXTURE_DATA, root / "data")
    shutil.copy2(paths.extraction_dir() / "_template.yaml", root / "data" / "extraction")
    if notebooks:
        (root / "notebooks").mkdir()
        for notebook in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"):
            shutil.copy2(notebook, root / "notebooks" / notebook.name)
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    return root


@functools.cache
def fixture_root() -> Path:
    """A scratch project of the fixture evidence base, already ingested (read-only use)."""
    root = Path(tempfile.mkdtemp(prefix="fixture-root-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    scratch_project(root, notebooks=False)
    shutil.copytree(fixture_processed(), root / "data" / "processed")
    return root


@contextlib.contextmanager
def on_fixture_root(root: Path | None = None) -> Iterator[Path]:
    """Point the helpers (and kernels started meanwhile) at a project root."""
    root = root or fixture_root()
    previous = os.environ.get(paths.ROOT_ENV_VAR)
    os.environ[paths.ROOT_ENV_VAR] = str(root)
    try:
        yield root
    finally:
        if previous is None:
            os.environ.pop(paths.ROOT_ENV_VAR, None)
        else:
            os.environ[paths.ROOT_ENV_VAR] = previous


def run_notebook_here(path: Path, parameters: dict | None = None) -> list[dict]:
    """Run a notebook's code cells in an in-process IPython shell, as a kernel would, and
    return every rich output (mimetype -> data) it displayed. Much faster than papermill,
    for tests that run pages many times; any error in a cell is raised."""
    import nbformat
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    outputs: list[dict] = []

    class Capture(DisplayPublisher):
        def publish(self, data, metadata=None, **kwargs) -> None:
            outputs.append(data)

    shell = InteractiveShell.instance()
    shell.display_pub = Capture(parent=shell)
    shell.displayhook.write_format_data = lambda data, metadata=None: outputs.append(data)
    shell.reset(new_session=False)
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []) and parameters:
            source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        result = shell.run_cell(source, store_history=False, silent=False)
        result.raise_error()
    return outputs
