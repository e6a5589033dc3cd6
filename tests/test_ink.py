"""The SVG renderer that records the box of what it draws (helpers.pages.ink)."""

from __future__ import annotations

import io
import re

import matplotlib as mpl
import numpy as np
import pytest
import seaborn as sns

from helpers.pages import figures, ink, plots

EDGE_POINTS = 1.0  # how far an edge of the drawn box may lie from matplotlib's tight box
AS_DRAWN = {**figures.rc_params(), "savefig.bbox": "standard"}  # one drawing, not cropped


def _lines_and_labels():
    figure = plots.new_figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.errorbar([0, 1, 2], [1.0, 2.0, np.nan], yerr=[0.5, 0.2, 0.1], fmt="o-", capsize=3)
    axes.set_title("A title that reaches past the axes on both of their sides")
    axes.set_xlabel("months since the first administration")
    axes.set_ylabel("mean ± SD,\\nin points")
    axes.annotate("beyond", (1.2, 0.5), xycoords="axes fraction")
    return figure


def _rotated_and_multiline_text():
    figure = plots.new_figure(figsize=(3, 3))
    axes = figure.add_subplot()
    axes.scatter([0, 1], [0, 1], s=200)
    axes.text(1.05, 0.9, "rotated\\nlabel, two lines", rotation=35, transform=axes.transAxes)
    axes.text(-0.3, -0.25, "below and left", ha="right", va="top", transform=axes.transAxes)
    axes.fill_between([0, 1], [0, 0.5], [0.5, 1.2], alpha=0.3)
    return figure


def _grid_of_panels():
    figure = plots.new_figure(figsize=(6, 4))
    for index in range(4):
        axes = figure.add_subplot(2, 2, index + 1)
        axes.plot([0, 6, 12], [index, index * 100, 5], marker="s")
        axes.set_xticks([0, 6, 12], ["0", "6", "12"])
    figure.subplots_adjust(wspace=0.4, hspace=0.5)
    return figure


def _heatmap():
    figure = plots.new_figure(figsize=(4, 2))
    sns.heatmap(np.arange(6.0).reshape(2, 3), annot=True, cbar=False, ax=figure.add_subplot())
    return figure


def _unused_axes():
    # An axes with nothing drawn near its edge still counts, as in matplotlib's tight box.
    figure = plots.new_figure(figsize=(6, 2))
    figure.add_axes((0.1, 0.2, 0.4, 0.6)).plot([0, 1])
    figure.add_axes((0.6, 0.2, 0.35, 0.6)).set_axis_off()
    return figure


FIGURES = [_lines_and_labels, _rotated_and_multiline_text, _grid_of_panels, _heatmap, _unused_axes]


def _both_boxes(figure):
    """The box the ink renderer recorded and matplotlib's tight box, same drawing, points."""
    inked, measured = [], []
    connection = figure.canvas.mpl_connect(
        "draw_event", lambda event: measured.append(figure.get_tightbbox(event.renderer))
    )
    with mpl.rc_context(AS_DRAWN):
        figure.savefig(io.BytesIO(), format="svg", backend=ink.BACKEND, ink=inked)
    figure.canvas.mpl_disconnect(connection)
    return [box.extents * 72 for box in inked], measured[0].extents * 72


@pytest.mark.parametrize("build", FIGURES, ids=lambda build: build.__name__.strip("_"))
def test_the_drawn_box_is_the_tight_box_within_a_point(build):
    plots.setup()
    inked, tight = _both_boxes(build())
    assert len(inked) == 1
    assert inked[0] == pytest.approx(tight, abs=EDGE_POINTS), (inked[0], tight)


def test_the_figures_own_background_is_not_in_the_box():
    plots.setup()
    figure = plots.new_figure(figsize=(4, 3))
    figure.add_axes((0.3, 0.3, 0.4, 0.4)).plot([0, 1])
    (inked,), tight = _both_boxes(figure)
    assert inked[0] > 0.2 * 4 * 72 and inked[2] < 0.8 * 4 * 72
    assert inked == pytest.approx(tight, abs=EDGE_POINTS)


def test_a_drawing_with_an_image_leaves_the_box_to_matplotlib():
    plots.setup()
    figure = plots.new_figure(figsize=(3, 3))
    axes = figure.add_subplot()
    axes.imshow(np.arange(9.0).reshape(3, 3))
    axes.set_title("an image: its extent is not worked out")
    inked, _ = _both_boxes(figure)
    assert inked == []
    buffer = io.BytesIO()
    with mpl.rc_context(figures.rc_params()):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    theirs = figures.compact_svg(buffer.getvalue().decode())
    size = r'width="([\d.]+)pt" height="([\d.]+)pt"'
    assert re.search(size, figures.svg(figure)).groups() == pytest.approx(
        re.search(size, theirs).groups()
    )


def test_the_svg_written_is_matplotlibs_own():
    plots.setup()
    figure = _lines_and_labels()
    ours, theirs = io.BytesIO(), io.BytesIO()
    with mpl.rc_context(AS_DRAWN):
        figure.savefig(ours, format="svg", backend=ink.BACKEND, metadata={"Date": None})
        figure.savefig(theirs, format="svg", metadata={"Date": None})
    assert ours.getvalue() == theirs.getvalue()
