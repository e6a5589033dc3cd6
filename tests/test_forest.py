"""Forest plots and the evidence heatmap: structure a reviewer relies on, and crisp SVG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.patches import Polygon, Rectangle

from helpers.pages import forest, plots
from helpers.stats.effects import EffectSizes, escalc
from helpers.stats.meta import rma

STUDIES = pd.DataFrame(
    {
        "label": ["trial A", "trial B", "trial C"],
        "n": [16, 40, 102],
        "estimate": [0.2, 0.5, 0.35],
        "ci_low": [-0.1, 0.1, 0.2],
        "ci_high": [0.5, 0.9, 0.5],
        "weight": [1.0, 2.0, 6.0],
    }
)
POOLED = {
    "label": "REML, knha",
    "n": 158,
    "estimate": 0.36,
    "ci_low": 0.1,
    "ci_high": 0.62,
    "pi_low": -0.3,
    "pi_high": 1.0,
}


def artists(figure, gid):
    found = []
    for axis in figure.axes:
        found += [a for a in axis.get_children() if a.get_gid() == gid]
    return found


def texts(figure) -> list[str]:
    return [t.get_text() for axis in figure.axes for t in axis.texts]


def test_one_square_and_one_interval_per_study_row():
    figure = forest.forest_plot(STUDIES, pooled=POOLED)
    (squares,) = artists(figure, "study-square")
    assert isinstance(squares, PathCollection)
    assert len(squares.get_offsets()) == len(STUDIES)
    (intervals,) = artists(figure, "study-ci")
    assert isinstance(intervals, LineCollection)
    assert len(intervals.get_segments()) == len(STUDIES)


def test_squares_are_sized_by_weight():
    (squares,) = artists(forest.forest_plot(STUDIES), "study-square")
    sizes = squares.get_sizes()
    assert sizes[2] > sizes[1] > sizes[0]


def test_pooled_row_is_a_diamond_spanning_the_ci_with_a_prediction_interval():
    figure = forest.forest_plot(STUDIES, pooled=POOLED)
    (diamond,) = artists(figure, "pooled-diamond")
    assert isinstance(diamond, Polygon)
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(POOLED["ci_low"])
    assert xs.max() == pytest.approx(POOLED["ci_high"])
    (prediction,) = artists(figure, "prediction-interval")
    (segment,) = prediction.get_segments()
    assert segment[:, 0].tolist() == pytest.approx([POOLED["pi_low"], POOLED["pi_high"]])
    assert "prediction interval" in texts(figure)


def test_null_line_is_drawn_at_the_null_value_and_can_be_omitted():
    (line,) = artists(forest.forest_plot(STUDIES, null_value=0.0), "null-line")
    assert line.get_xdata()[0] == 0.0
    assert artists(forest.forest_plot(STUDIES, null_value=None), "null-line") == []


def test_text_columns_label_n_and_estimate_with_ci():
    shown = texts(forest.forest_plot(STUDIES, pooled=POOLED))
    for row in STUDIES.itertuples():
        assert row.label in shown
        assert str(row.n) in shown
    assert "0.20 [-0.10, 0.50]" in shown
    assert "0.36 [0.10, 0.62]" in shown  # pooled row
    assert {"n", "estimate [95% CI]"} <= set(shown)


def test_summary_that_is_not_a_model_estimate_is_a_bar_not_a_diamond():
    pooled = {"label": "summed counts", "estimate": 0.0, "ci_low": 0.0, "ci_high": 0.02}
    figure = forest.forest_plot(
        STUDIES.assign(estimate=0.0, ci_low=0.0, ci_high=0.2),
        pooled={**pooled, "style": "interval"},
        null_value=None,
        percent=True,
    )
    assert artists(figure, "pooled-diamond") == []
    (bar,) = artists(figure, "pooled-interval")
    assert isinstance(bar, Rectangle)
    assert "0.0% [0.0, 2.0]" in texts(figure)


def test_without_a_pooled_row_there_is_no_diamond():
    figure = forest.forest_plot(STUDIES)
    assert artists(figure, "pooled-diamond") == []
    assert artists(figure, "prediction-interval") == []


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="lack columns"):
        forest.forest_plot(STUDIES.drop(columns="ci_low"))
    with pytest.raises(ValueError, match="no study rows"):
        forest.forest_plot(STUDIES.iloc[0:0])
    with pytest.raises(ValueError, match="ci_low <= estimate"):
        forest.forest_plot(STUDIES.assign(estimate=[1.0, 0.5, 0.35]))
    with pytest.raises(ValueError, match="style"):
        forest.forest_plot(STUDIES, pooled={**POOLED, "style": "star"})


def test_dollar_signs_in_data_are_drawn_literally():
    figure = forest.forest_plot(STUDIES.assign(label=["cost $5", "b", "c"]), title="$x$")
    svg = io.BytesIO()
    figure.savefig(svg, format="svg")  # mathtext would fail or render differently
    assert r"cost \$5" in texts(figure)


def test_svg_is_deterministic_and_keeps_ids():
    plots.setup()

    def render() -> bytes:
        buffer = io.BytesIO()
        figure = forest.forest_plot(STUDIES, pooled=POOLED)
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()

    first, second = render(), render()
    assert first == second
    assert b'id="pooled-diamond"' in first and b'id="prediction-interval"' in first


def test_evidence_heatmap_annotates_n_and_marks():
    matrix = pd.DataFrame(
        {"safety": [16.0, 102.0], "motor": [16.0, np.nan]}, index=["trial A", "trial B"]
    )
    marks = pd.DataFrame({"safety": ["", ""], "motor": ["†", ""]}, index=matrix.index)
    figure = forest.evidence_heatmap(matrix, marks=marks, mark_legend="† words only")
    annotations = sorted(t.get_text() for t in figure.axes[0].texts if t.get_text())
    assert annotations == ["102", "16", "16†"]
    assert "† words only" in figure.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="empty"):
        forest.evidence_heatmap(pd.DataFrame())


def test_format_interval():
    assert forest.format_interval(0.3, 0.1666, 0.4653, percent=True) == "30.0% [16.7, 46.5]"
    assert forest.format_interval(0.339, -0.164, 0.844) == "0.34 [-0.16, 0.84]"


# ---------------------------------------------------------------------------------------------
# Effect sizes and fitted models drawn directly (metafor's forest(escalc) and forest(res))
# ---------------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "metafor"
DAT_BCG = pd.read_csv(FIXTURES / "dat_bcg.csv")
WEIGHTS = pd.read_csv(FIXTURES / "weights_bcg_rr.csv")


def bcg_effects(**kwargs) -> EffectSizes:
    d = DAT_BCG
    return escalc("RR", ai=d.tpos, bi=d.tneg, ci=d.cpos, di=d.cneg, **kwargs)


def test_a_fitted_model_is_drawn_with_its_weights_diamond_and_prediction_interval():
    res = rma(bcg_effects())
    figure = forest.forest_plot(res)
    (squares,) = artists(figure, "study-square")
    # squares follow metafor's weights(res): same order of sizes
    order = np.argsort(squares.get_sizes(), kind="stable")
    np.testing.assert_array_equal(order, np.argsort(WEIGHTS["REML"].to_numpy(), kind="stable"))
    (diamond,) = artists(figure, "pooled-diamond")
    xs = diamond.get_xy()[:, 0]
    assert (xs.min(), xs.max()) == pytest.approx((res.ci_low, res.ci_high))
    (prediction,) = artists(figure, "prediction-interval")
    assert prediction.get_segments()[0][:, 0].tolist() == pytest.approx([res.pi_low, res.pi_high])
    shown = texts(figure)
    assert "Study 1" in shown and "Study 13" in shown  # labels by default
    assert str(int(res.ni.sum())) in shown and str(int(res.ni[0])) in shown  # n from escalc
    assert "Random-effects model (REML)" in shown
    assert figure.axes[1].get_xlabel() == "Log Risk Ratio"  # metafor's axis title for RR
    (intervals,) = artists(figure, "study-ci")
    first = intervals.get_segments()[0][:, 0]  # Wald intervals at the model's level
    half = 1.959963984540054 * np.sqrt(res.vi[0])
    assert first.tolist() == pytest.approx([res.yi[0] - half, res.yi[0] + half])


def test_an_equal_effects_model_has_a_diamond_but_no_prediction_interval():
    figure = forest.forest_plot(rma(bcg_effects(), method="EE"), labels=DAT_BCG.author)
    assert len(artists(figure, "pooled-diamond")) == 1
    assert artists(figure, "prediction-interval") == []
    assert "Aronson" in texts(figure) and "Equal-effects model" in texts(figure)


def test_effect_sizes_are_drawn_without_a_pooled_row_sized_by_inverse_variance():
    effects = bcg_effects(slab=DAT_BCG.author)
    for studies in (
        effects,
        escalc("RR", ai="tpos", bi="tneg", ci="cpos", di="cneg", data=DAT_BCG),
    ):
        figure = forest.forest_plot(studies)
        assert artists(figure, "pooled-diamond") == []
        (squares,) = artists(figure, "study-square")
        order = np.argsort(squares.get_sizes(), kind="stable")
        np.testing.assert_array_equal(order, np.argsort(WEIGHTS["EE"].to_numpy(), kind="stable"))
        assert figure.axes[1].get_xlabel() == "Log Risk Ratio"
    assert "Aronson" in texts(forest.forest_plot(effects))
    assert "Study 2" in texts(forest.forest_plot(studies))


def test_effect_size_input_is_checked():
    effects = bcg_effects()
    with pytest.raises(ValueError, match="2 labels for 13 studies"):
        forest.forest_plot(effects, labels=["a", "b"])
    with pytest.raises(ValueError, match="do not give pooled"):
        forest.forest_plot(rma(effects), pooled=POOLED)
    with pytest.raises(ValueError, match="carries its labels"):
        forest.forest_plot(STUDIES, labels=["a", "b", "c"])
    d = pd.read_csv(FIXTURES / "dat_nielweise2007.csv")
    double_zero = escalc("OR", ai=d.ai, n1i=d.n1i, ci=d.ci, n2i=d.n2i, drop00=True)
    with pytest.raises(ValueError, match=r"missing at row\(s\) 14.*na_action='omit'"):
        forest.forest_plot(double_zero)
