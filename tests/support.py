"""Shared test support: scratch projects built from the frozen fixture evidence base."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import paths

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATA = FIXTURES / "project" / "data"
FIXTURE_TRIALS = sorted(p.stem for p in (FIXTURE_DATA / "extraction").glob("[a-z]*.yaml"))


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
