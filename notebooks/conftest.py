"""nbval runs the notebooks against a scratch copy of data/, so tests never rewrite the tree.

The kernel inherits ``CELL_EVIDENCE_ROOT`` from this process when nbval starts it; every path
in the helpers derives from it, so ingestion writes its tables into the copy and the later
notebooks read them from there. The variable is set only around notebook cells, so unit
tests in the same session see the real project root.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

from helpers import paths


@cache
def scratch_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="nbval-root-"))
    shutil.copytree(paths.data_dir(), root / "data")
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _is_notebook_cell(item) -> bool:
    return str(getattr(item, "path", "")).endswith(".ipynb")


def pytest_runtest_setup(item):
    if _is_notebook_cell(item):
        os.environ[paths.ROOT_ENV_VAR] = str(scratch_root())


def pytest_runtest_teardown(item):
    if _is_notebook_cell(item):
        os.environ.pop(paths.ROOT_ENV_VAR, None)
