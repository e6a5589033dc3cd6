"""nbval runs the notebooks on a scratch copy of the example evidence base (tests/fixtures).

The stored outputs were computed on the same evidence base (``make notebooks``), so they
never depend on the live data/: the evidence can grow without touching them. The kernel
inherits ``CELL_EVIDENCE_ROOT`` from this process when nbval starts it; every path in the
helpers derives from it. The variable is set only around notebook cells, so unit tests in the
same session see their own roots.
"""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from functools import cache
from pathlib import Path

from helpers import paths
from helpers.run.notebooks import example_project

_stack = ExitStack()
atexit.register(_stack.close)


@cache
def scratch_root() -> Path:
    root = _stack.enter_context(example_project())
    os.environ.pop(paths.ROOT_ENV_VAR, None)  # set again around each notebook cell
    return root


def _is_notebook_cell(item) -> bool:
    return str(getattr(item, "path", "")).endswith(".ipynb")


def pytest_runtest_setup(item):
    if _is_notebook_cell(item):
        os.environ[paths.ROOT_ENV_VAR] = str(scratch_root())


def pytest_runtest_teardown(item):
    if _is_notebook_cell(item):
        os.environ.pop(paths.ROOT_ENV_VAR, None)
