"""The README's analyst session ("Analysing the data in JupyterLab") runs as written.

Its python blocks run one after another like notebook cells (what a notebook would show: the
value of a cell's last expression and whatever is passed to ``display``), in a temporary working
directory, on a scratch copy of the fixture evidence base whose results were stored as
``make report`` stores them.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shutil
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import support
from matplotlib.figure import Figure

from helpers import data
from helpers.stats import analysis, effects

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Analysing the data in JupyterLab"
METAFOR = support.FIXTURES / "metafor"

# The calls issue 14 asks the README to show, each answering one question in one call.
CALLS = (
    "data.load_all()",
    "data.load_results()",
    "effects.escalc(",
    'na_action="omit"',
    "meta.rma(",
    "print(res)",
    "res.summary()",
    "res.to_frame()",
    "meta.leave1out(res)",
    "forest.forest_plot(res)",
    'readings["improved"]',
    "analysis.Settings.from_parameters(",
    'data.export("evidence.xlsx")',
)


def analyst_cells() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def run_cell(source: str, namespace: dict) -> object:
    """Run a cell; return the value of its last expression (None if it ends otherwise)."""
    tree = ast.parse(source, filename=str(README))
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = ast.Module(body=tree.body[:-1] if last else tree.body, type_ignores=[])
    exec(compile(body, str(README), "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), str(README), "eval"), namespace)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = support.scratch_project(tmp_path_factory.mktemp("readme") / "project", notebooks=False)
    shutil.copytree(support.fixture_processed(), root / "data" / "processed")
    work = tmp_path_factory.mktemp("notebook")
    shown: list[object] = []
    namespace: dict = {"display": shown.append}
    with (
        support.on_fixture_root(root),
        contextlib.chdir(work),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", effects.MissingValuesOmitted)
        settings = analysis.Settings()
        analysis.write(analysis.compute(data.load_all(), settings), settings)
        for cell in analyst_cells():
            last = run_cell(cell, namespace)
            if last is not None:
                shown.append(last)
    return {"namespace": namespace, "shown": shown, "warnings": caught, "work": work}


def test_the_section_shows_every_analyst_call() -> None:
    code = "\n".join(analyst_cells())
    assert [call for call in CALLS if call not in code] == []


def test_what_the_cells_show_displays_in_a_notebook(session: dict) -> None:
    shown = session["shown"]
    assert len(shown) >= len(analyst_cells())
    for value in shown:
        if isinstance(value, Figure):
            image = io.BytesIO()
            value.savefig(image, format="png")
            assert image.getvalue().startswith(b"\x89PNG")
        elif hasattr(value, "_repr_html_"):
            assert "<table" in value._repr_html_()
        else:
            assert repr(value)
    assert {type(value).__name__ for value in shown} >= {"RmaSummary", "Leave1outResult", "Figure"}


def test_the_spina_bifida_filter_returns_improved_outcomes_of_spina_bifida_trials(
    session: dict,
) -> None:
    improved = next(
        value
        for value in session["shown"]
        if isinstance(value, pd.DataFrame) and "reading_reason" in value.columns
    )
    trials = support.fixture_tables()["trials"]
    spina_bifida = set(trials.loc[trials["condition"] == "spina_bifida", "trial_id"])
    assert len(improved) > 0
    assert set(improved["trial_id"]) <= spina_bifida
    readings = session["namespace"]["readings"]
    assert readings.loc[improved.index.unique(), "improved"].all()


def test_omitting_missing_values_warns_with_the_rows(session: dict) -> None:
    omitted = [w for w in session["warnings"] if w.category is effects.MissingValuesOmitted]
    assert len(omitted) == 1 and "r_recovered" in str(omitted[0].message)
    at_recovered_r = session["namespace"]["at_recovered_r"]
    assert at_recovered_r["r_recovered"].notna().all()
    assert at_recovered_r[["yi", "vi"]].notna().all().all()


def test_the_bcg_example_is_the_published_data_and_gives_metafors_numbers(session: dict) -> None:
    columns = ["author", "year", "tpos", "tneg", "cpos", "cneg"]
    published = pd.read_csv(METAFOR / "dat_bcg.csv")[columns]
    pd.testing.assert_frame_equal(session["namespace"]["bcg"][columns], published)

    reference = pd.read_csv(METAFOR / "rma.csv")
    row = reference[
        (reference["effects"] == "bcg_RR")
        & (reference["method"] == "REML")
        & (reference["test"] == "z")
    ].iloc[0]
    res = session["namespace"]["res"]
    for ours, theirs in (
        ("estimate", "estimate"),
        ("se", "se"),
        ("ci_low", "ci_lb"),
        ("ci_high", "ci_ub"),
        ("pi_low", "pi_lb"),
        ("pi_high", "pi_ub"),
        ("tau2", "tau2"),
        ("i2", "I2"),
        ("q", "QE"),
    ):
        assert getattr(res, ours) == pytest.approx(float(row[theirs]), rel=1e-8), ours


def test_changed_settings_are_computed_and_named(session: dict) -> None:
    settings = session["namespace"]["settings"]
    assert set(settings.changed()) == {"tau2_method", "test", "r_grid"}
    assert set(session["namespace"]["rerun"]) == set(data.RESULTS)


def test_the_export_is_one_workbook_of_every_table(session: dict) -> None:
    workbook = openpyxl.load_workbook(session["work"] / "evidence.xlsx", read_only=True)
    expected = {*data.TABLES, "data_dictionary", *data.RESULTS, "results_dictionary"}
    assert set(workbook.sheetnames) == {name[:31] for name in expected}


def test_the_quoted_settings_error_is_the_real_one() -> None:
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1]
    call, message = re.search(r"`(assumed_r=[^`]+)` → \"([^\"]+)\"", section).groups()
    name, value = call.split("=")
    with pytest.raises(ValueError) as error:
        analysis.Settings.from_parameters(**{name: float(value)})
    assert str(error.value) == message
