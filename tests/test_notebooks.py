"""The committed notebooks: executed, thin, parameterised with literals, on the project's kernel.

nbval (run on notebooks/ by `make test`) proves the stored outputs reproduce; these checks
cover what nbval cannot see: a cell that was never executed is never compared, and a
computed value in the parameters cell is not recomputed after papermill injects overrides.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from helpers import paths
from helpers.run import notebooks

NOTEBOOKS = notebooks.committed_notebooks()
LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_the_three_stages_are_committed():
    names = [path.name for path in NOTEBOOKS]
    assert names == ["01_ingest.ipynb", "02_trial_summary.ipynb", "03_synthesis.ipynb"]


def test_every_code_cell_was_executed_in_order(notebook):
    assert notebooks.unexecuted_code_cells(notebook) == []
    counts = [cell.execution_count for cell in code_cells(notebook) if cell.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), "re-run top to bottom: make notebooks"


def test_notebook_names_the_project_kernel(notebook):
    assert notebook.metadata.kernelspec.name == paths.KERNEL_NAME


def test_parameters_cell_holds_only_literals(notebook):
    tagged = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign), ast.dump(statement)
        ast.literal_eval(statement.value)  # raises if the value is computed


def test_cells_define_no_logic_of_their_own(notebook):
    for cell in code_cells(notebook):
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, LOGIC), f"move this into src/helpers: {cell.source!r}"


def test_no_output_on_stderr(notebook):
    for cell in code_cells(notebook):
        streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not streams, f"stray stderr in cell {cell.execution_count}: {streams}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors


def test_nbval_markers_are_tags_not_comments(notebook):
    # Markers belong in cell tags, which no rendered page or code view shows.
    for cell in code_cells(notebook):
        assert "NBVAL_" not in cell.source


def test_markdown_needs_no_mathjax(notebook):
    # Pages load no script, so TeX would show raw.
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert "$" not in cell.source
