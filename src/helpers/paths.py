"""Every path the project uses, derived from the package location.

The project root is found from this file, never from the working directory, so code
behaves the same under JupyterLab (cwd = notebook folder), papermill (cwd = caller) and
nbval. ``CELL_EVIDENCE_ROOT`` overrides the root, which lets tests and the benchmark
run the whole pipeline on a scratch copy of the project.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV_VAR = "CELL_EVIDENCE_ROOT"
KERNEL_NAME = "cell-evidence"
# "1" in a kernel whose notebooks only become pages (see pages_only)
PAGES_ONLY_ENV_VAR = "CELL_EVIDENCE_PAGES_ONLY"


def pages_only() -> bool:
    """Whether this kernel's notebooks only become pages (:data:`PAGES_ONLY_ENV_VAR` is ``1``).

    Their outputs then carry only what a page shows: figures as SVG without a PNG beside them
    (:mod:`helpers.pages.figures`), tables with their caption and size as plain text instead
    of a text preview (:mod:`helpers.pages.tables`).
    """
    return os.environ.get(PAGES_ONLY_ENV_VAR) == "1"


def _default_root() -> Path:
    # src/helpers/paths.py -> parents[2] is the project root (src layout, editable install).
    return Path(__file__).resolve().parents[2]


def project_root() -> Path:
    """The project root: ``$CELL_EVIDENCE_ROOT`` if set, else the checkout holding this package."""
    override = os.environ.get(ROOT_ENV_VAR)
    root = Path(override).resolve() if override else _default_root()
    if not (root / "pyproject.toml").is_file() and not override:
        raise RuntimeError(
            f"helpers is not installed from a project checkout (no pyproject.toml in {root}); "
            "install it with `pip install -e .` from the project root"
        )
    return root


def data_dir() -> Path:
    return project_root() / "data"


def raw_dir() -> Path:
    """Immutable source documents and ``sources.yaml``."""
    return data_dir() / "raw"


def sources_manifest() -> Path:
    return raw_dir() / "sources.yaml"


def extraction_dir() -> Path:
    """Human-curated extraction sheets, one ``<trial_id>.yaml`` per trial."""
    return data_dir() / "extraction"


def processed_dir() -> Path:
    """Tidy tables written by ingestion: the only input of summaries and synthesis."""
    return data_dir() / "processed"


def results_dir() -> Path:
    """Result tables written by the analysis: what pages and comparisons read."""
    return data_dir() / "results"


def context_dir() -> Path:
    """Small cited reference tables (prior meta-analyses) shown beside our estimates."""
    return data_dir() / "context"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def reports_dir() -> Path:
    """The published reviewer site."""
    return project_root() / "reports"


def build_dir() -> Path:
    """Scratch space for the pipeline: staging, executed notebooks, failed runs, cache."""
    return project_root() / "build"
