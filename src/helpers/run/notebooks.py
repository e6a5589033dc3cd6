"""Keep the committed notebooks executed with their default parameters.

nbval compares a notebook's stored outputs with a fresh run, so the committed notebooks must
hold the outputs of the current helpers and data. ``python -m helpers.run.notebooks`` (``make
notebooks``) re-executes each one in place on the project's kernel, without timing metadata,
so that re-running unchanged code leaves the files byte-identical.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers import paths
from helpers.run.kernel import KERNEL_ARGUMENTS, KERNEL_NAME, IPCKernelManager


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
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=IPCKernelManager,
        extra_arguments=KERNEL_ARGUMENTS,
        record_timing=False,
        resources={"metadata": {"path": str(paths.notebooks_dir())}},
    )
    client.execute()
    nbformat.write(notebook, path)


def main(argv: Sequence[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:])
    targets = [paths.notebooks_dir() / name for name in names] or committed_notebooks()
    for path in targets:
        print(f"executing {path.name}", file=sys.stderr)
        execute_in_place(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
