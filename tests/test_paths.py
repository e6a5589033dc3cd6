"""Paths come from the package location, so every working directory sees the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import paths

PRINT_PATHS = (
    "from helpers import paths; "
    "print(paths.project_root(), paths.raw_dir(), paths.processed_dir(), paths.reports_dir())"
)


def run_from(cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PRINT_PATHS],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_root_holds_the_project_files():
    root = paths.project_root()
    assert (root / "pyproject.toml").is_file()
    assert paths.notebooks_dir() == root / "notebooks"
    assert paths.processed_dir() == root / "data" / "processed"


def test_same_paths_from_any_working_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != paths.ROOT_ENV_VAR}
    from_tmp = run_from(tmp_path, env)
    from_notebooks = run_from(paths.notebooks_dir(), env)
    assert from_tmp == from_notebooks
    assert from_tmp.split()[0] == str(paths.project_root())


def test_root_override_moves_every_path(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    assert paths.reports_dir() == tmp_path.resolve() / "reports"
    assert paths.extraction_dir() == tmp_path.resolve() / "data" / "extraction"
