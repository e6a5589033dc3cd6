"""nbval runs the notebooks against a scratch copy of data/, so tests never rewrite the tree.

The kernel inherits ``CELL_EVIDENCE_ROOT`` from this process; every path in the helpers is
derived from it, so ingestion writes its tables into the copy and the later notebooks read
them from there. The copy starts with the committed processed tables, which is what the
committed outputs were computed from.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from helpers import paths

_scratch = Path(tempfile.mkdtemp(prefix="nbval-root-"))
shutil.copytree(paths.data_dir(), _scratch / "data")
shutil.copy2(paths.project_root() / "pyproject.toml", _scratch / "pyproject.toml")
os.environ[paths.ROOT_ENV_VAR] = str(_scratch)
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
