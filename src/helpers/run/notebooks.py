"""Keep the committed notebooks executed with their default parameters.

nbval compares a notebook's stored outputs with a fresh run. Both run on the frozen example
evidence base of the tests (``tests/fixtures/project``), copied to a scratch project, never on
the live ``data/``: adding a trial or a report changes no stored output, so ``make report``
then ``make test`` pass with no other step. ``python -m helpers.run.notebooks`` (``make
notebooks``) re-executes each notebook in place on the project's kernel, without timing
metadata, so that re-running unchanged code leaves the files byte-identical; run it after
changing the helpers or the notebooks.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers import paths
from helpers.run.kernel import KERNEL_ARGUMENTS, KERNEL_NAME, IPCKernelManager

# The evidence base the stored outputs are computed on, and the scratch prefix that
# notebooks/sanitize.cfg replaces in outputs.
EXAMPLE_EVIDENCE = Path("tests") / "fixtures" / "project"
SCRATCH_PREFIX = "nbval-root-"


@contextmanager
def example_project() -> Iterator[Path]:
    """A scratch project holding a copy of the example evidence base, used as the root
    (``CELL_EVIDENCE_ROOT``) while the block runs; removed afterwards."""
    real = paths.project_root()
    root = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    previous = os.environ.get(paths.ROOT_ENV_VAR)
    try:
        shutil.copytree(real / EXAMPLE_EVIDENCE / "data", root / "data")
        shutil.copy2(real / "pyproject.toml", root / "pyproject.toml")
        os.environ[paths.ROOT_ENV_VAR] = str(root)
        yield root
    finally:
        if previous is None:
            os.environ.pop(paths.ROOT_ENV_VAR, None)
        else:
            os.environ[paths.ROOT_ENV_VAR] = previous
        shutil.rmtree(root, ignore_errors=True)


def committed_notebooks() -> list[Path]:
    return sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def unexecuted_code_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indexes of code cells with source but no execution count (nbval cannot compare them)."""
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None
    ]


def execute_in_place(path: Path, timeout: int = 600) -> None:
    """Run one notebook top to bottom and store its outputs (call inside example_project)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=IPCKernelManager,
        extra_arguments=KERNEL_ARGUMENTS,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(notebook, path)


def main(argv: Sequence[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:])
    targets = [paths.notebooks_dir() / name for name in names] or committed_notebooks()
    with example_project():
        for path in targets:
            print(f"executing {path.name} on the example evidence base", file=sys.stderr)
            execute_in_place(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
