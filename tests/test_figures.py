"""Figure output: alt text, compact SVG with text as text, a PNG beside it, readable annotations,
and committed notebooks that show their figures in JupyterLab without being trusted."""

from __future__ import annotations

import base64
import io
import re

import matplotlib as mpl
import nbformat
import numpy as np
import pytest
import seaborn as sns
from IPython.core.formatters import DisplayFormatter
from matplotlib.figure import Figure
from PIL import Image

from helpers import data, paths
from helpers.pages import figures, plots
from helpers.run import notebooks

NOTEBOOK_LIMIT_BYTES = 500 * 1024


@pytest.fixture(autouse=True)
def style():
    plots.setup()


def line_figure(title: str = "A line"):
    figure = plots.new_figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [0.5, 1.5, 1.0], label="mean")
    axes.set_title(title)
    axes.set_xlabel("months since the first administration")
    return figure


def heatmap_figure():
    figure = plots.new_figure(figsize=(4, 2))
    axes = figure.add_subplot()
    values = np.array([[0.0, 1.0, 2.0, 3.0]])
    sns.heatmap(values, annot=np.array([["a", "b", "c", "d"]]), fmt="", cmap="Blues", ax=axes)
    return figure


# ------------------------------------------------------------------ alt text


def test_describe_attaches_alt_text_and_returns_the_figure():
    figure = line_figure()
    assert figures.alt_text(figure) == ""
    assert figures.describe(figure, "  A line\nover 3 months ") is figure
    assert figures.alt_text(figure) == "A line over 3 months"


def test_alt_text_cannot_be_empty():
    with pytest.raises(ValueError, match="alt text"):
        figures.describe(line_figure(), " \n ")


def test_forest_alt_names_title_axis_rows_and_summary():
    alt = figures.forest_alt(
        "Fever", "patients with fever", [f"trial {i}" for i in range(14)], "GLMM"
    )
    assert alt.startswith("Forest plot, Fever: patients with fever with 95% intervals for 14 rows")
    assert "trial 11; and 2 more." in alt and alt.endswith("Summary row: GLMM.")
    assert (
        figures.forest_alt("", "", ["one"])
        == "Forest plot: estimates with 95% intervals for 1 row: one."
    )


# ------------------------------------------------------------------ SVG


def test_svg_keeps_text_as_text_and_is_deterministic():
    first, second = (
        figures.svg(line_figure("Bladder capacity")),
        figures.svg(line_figure("Bladder capacity")),
    )
    assert first == second
    assert "Bladder capacity</text>" in first and "months since the first administration" in first
    assert "<metadata>" not in first and "<dc:date>" not in first
    assert not re.search(r"\d\.\d{3,}", re.sub(r">[^<]*<", "><", first))  # 0.01 pt precision


def test_compact_svg_keeps_referenced_ids_text_and_drops_the_rest():
    raw = (
        '<svg width="10pt" height="5pt">\n  <metadata>rdf</metadata>\n'
        '  <defs><clipPath id="p1"><rect x="0.123456" y="1"/></clipPath></defs>\n'
        '  <g id="text_1" clip-path="url(#p1)">\n    <text x="1.987654">  12.34567 mmHg</text>\n  </g>\n'
        '  <use xlink:href="#m2"/><path id="m2" d="M 0 0 \n L 1.555555 2 "/>\n'
        '  <g id="pooled-interval"><path d="M 0 0"/></g>\n</svg>'
    )
    compact = figures.compact_svg(raw)
    assert 'id="p1"' in compact and 'id="m2"' in compact and 'id="text_1"' not in compact
    assert 'id="pooled-interval"' in compact  # set with set_gid: a hook for tests and styles
    assert 'x="0.12"' in compact and 'x="1.98"' in compact and 'd="M 0 0 L 1.55 2"' in compact
    assert ">  12.34567 mmHg</text>" in compact  # what a reader sees is never rounded
    assert "<metadata>" not in compact and ">\n" not in compact.rstrip("\n")


def test_svg_of_a_trial_figure_is_much_smaller_than_text_as_paths():
    outcomes = data.load("outcomes")
    counted = outcomes.dropna(subset=["mean"])  # a trial with means: panels with text
    rows = outcomes[outcomes["trial_id"] == counted["trial_id"].iloc[0]]
    figure = plots.outcome_small_multiples(rows)
    assert figure is not None
    buffer = io.BytesIO()
    with plots.mpl.rc_context({"svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    assert len(figures.svg(figure).encode()) < 0.6 * len(buffer.getvalue())


# ------------------------------------------------------------------ PNG


def test_png_is_a_small_palette_image_of_the_whole_figure():
    figure = line_figure()
    data = figures.png(figure)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "P"
    width, height = _svg_box(figures.svg(figure))[:2]  # points: 1/72 inch
    assert image.size == pytest.approx((width / 72 * figure.dpi, height / 72 * figure.dpi), abs=3)
    assert figures.png(line_figure()) == data  # deterministic


def test_png_includes_labels_that_reach_beyond_the_canvas():
    figure = plots.new_figure(figsize=(2, 1))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_yticks([0.5], ["a label far to the left of the axes"])
    assert _svg_box(figures.svg(figure))[2] < 0  # the label lies off the canvas
    assert Image.open(io.BytesIO(figures.png(figure))).size[0] > 2 * figure.dpi


# ------------------------------------------------------------------ contrast


def test_heatmap_annotations_are_recoloured_to_meet_wcag_aa():
    figure = heatmap_figure()
    assert figures.low_contrast_annotations(figure)  # seaborn's white on mid-blue
    figures.readable_annotations(figure)
    assert figures.low_contrast_annotations(figure) == []
    assert len(figures.annotations_on_cells(figure)) == 4


def test_every_figure_shown_gets_readable_annotations():
    figure = heatmap_figure()
    figures.svg(figure)
    assert figures.low_contrast_annotations(figure) == []


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [((1, 1, 1), (0, 0, 0), 21.0), ((1, 1, 1), (1, 1, 1), 1.0), ((0.5, 0.5, 0.5), (1, 1, 1), 3.98)],
)
def test_contrast_ratio(first, second, ratio):
    assert figures.contrast(first, second) == pytest.approx(ratio, abs=0.01)


# ------------------------------------------------------------------ notebook display


class FakeShell:
    def __init__(self) -> None:
        self.display_formatter = DisplayFormatter()


def test_notebooks_show_svg_and_png_with_the_alt_text():
    shell = FakeShell()
    figures.install(shell)
    figure = figures.describe(line_figure(), "A line over three months")
    data, metadata = shell.display_formatter.format(figure)
    assert data["image/svg+xml"] == figures.svg(figure)
    assert data["image/png"] == figures.png(figure)  # the kernel base64-encodes it
    assert metadata["image/svg+xml"] == {"alt": "A line over three months"}
    assert metadata["image/png"] == {"alt": "A line over three months"}


def test_page_kernels_show_the_same_svg_without_a_png(monkeypatch):
    # The pipeline's kernels set the variable: their notebooks only become pages.
    drawn = figures.svg(figures.describe(line_figure(), "A line over three months"))
    monkeypatch.setenv(paths.PAGES_ONLY_ENV_VAR, "1")
    shell = FakeShell()
    figures.install(shell)
    figure = figures.describe(line_figure(), "A line over three months")
    data, metadata = shell.display_formatter.format(figure)
    assert "image/png" not in data
    assert data["image/svg+xml"] == drawn
    assert metadata["image/svg+xml"] == {"alt": "A line over three months"}


def _svg_box(text: str) -> tuple[float, ...]:
    opening = re.search(r"<svg[^>]*>", text).group()
    width, height = (
        float(re.search(rf'\s{name}="([\d.]+)pt"', opening).group(1))
        for name in ("width", "height")
    )
    return (width, height, *map(float, re.search(r'viewBox="([^"]+)"', opening).group(1).split()))


def _reaching_past_the_canvas() -> Figure:
    figure = line_figure("A title that reaches past the axes on both of their sides")
    figure.axes[0].annotate("beyond", (1.2, 0.5), xycoords="axes fraction")
    return figure


def test_svg_is_cropped_to_the_box_bbox_inches_tight_gives():
    figure = _reaching_past_the_canvas()
    buffer = io.BytesIO()
    with mpl.rc_context(figures.rc_params()):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    theirs = _svg_box(figures.compact_svg(buffer.getvalue().decode()))
    ours = _svg_box(figures.svg(figure))
    # The same size within half a point: text counts from its glyphs' metrics here, from the
    # font's line metrics in matplotlib (helpers.pages.ink).
    assert ours[:2] == pytest.approx(theirs[:2], abs=0.5)
    assert ours[4:] == pytest.approx(ours[:2], abs=0.02)  # shown at 1:1 through the viewBox
    assert ours[2] < 0  # the title reaches left of the canvas, and the view with it


def _backdrop(text: str) -> re.Match | None:
    """The rectangle drawn first, before matplotlib's figure, if any."""
    opening = re.search(r"<svg[^>]*>", text)
    return re.match(r"(<defs><style[^<]*</style></defs>)?<rect ([^>]*)/>", text[opening.end() :])


def test_svg_fills_what_lies_beyond_the_canvas_with_the_figure_colour():
    beyond = figures.svg(_reaching_past_the_canvas())
    width, height, x, y, *_ = _svg_box(beyond)
    backdrop = _backdrop(beyond)
    assert backdrop is not None
    assert f'x="{x:.2f}"' in backdrop.group(2) and f'width="{width:.2f}"' in backdrop.group(2)
    inside = plots.new_figure(figsize=(4, 3))
    inside.add_axes((0.3, 0.3, 0.4, 0.4)).plot([0, 1])
    within = figures.svg(inside)
    assert _svg_box(within)[2] > 0
    assert _backdrop(within) is None  # all on the canvas: matplotlib's own background is enough


def test_figure_html_is_an_img_with_alt_text_and_size():
    svg = figures.svg(line_figure())
    html = figures.figure_html(svg, 'Counts "before" & after')
    assert html.startswith('<div class="chart"><img src="data:image/svg+xml;base64,')
    assert 'alt="Counts &#34;before&#34; &amp; after"' in html
    width = int(re.search(r'width="(\d+)"', html).group(1))
    assert 300 < width < figures.WIDE_FIGURE_PX
    encoded = re.search(r"base64,([^\"]+)", html).group(1)
    assert base64.b64decode(encoded).decode() == svg


def test_wide_figures_are_marked_to_keep_their_size_on_phones():
    wide = plots.new_figure(figsize=(12, 2))
    wide.add_subplot().plot([0, 1])
    assert '<div class="chart wide">' in figures.figure_html(figures.svg(wide), "wide")


# ------------------------------------------------------------------ committed notebooks


def figure_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "image/svg+xml" in output.get("data", {}):
                yield output


@pytest.mark.parametrize("path", notebooks.committed_notebooks(), ids=lambda p: p.name)
def test_committed_notebooks_are_small_enough_to_review(path):
    assert path.stat().st_size <= NOTEBOOK_LIMIT_BYTES, f"{path.name}: {path.stat().st_size} bytes"


@pytest.mark.parametrize("path", notebooks.committed_notebooks(), ids=lambda p: p.name)
def test_committed_figures_show_without_trust_and_say_what_they_show(path):
    # JupyterLab renders no SVG in an untrusted notebook; it does render PNG.
    outputs = list(figure_outputs(path))
    for output in outputs:
        assert "image/png" in output["data"], f"{path.name}: an SVG figure without its PNG"
        assert output["metadata"]["image/svg+xml"]["alt"].strip()
    alts = [output["metadata"]["image/svg+xml"]["alt"] for output in outputs]
    assert len(alts) == len(set(alts)), f"{path.name}: figures share an alt text"
