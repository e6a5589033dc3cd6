"""Figure output for notebooks and the reviewer site: alt text, compact SVG, a PNG beside it.

The code that draws a figure says what it shows::

    figure = plots.new_figure()
    ...
    return figures.describe(figure, "Timeline of 2 administrations (months 0 and 6) ...")

:func:`install` (called by ``plots.setup``) makes a notebook show every matplotlib figure as

* an SVG with its text kept as text (``svg.fonttype: none``), drawn once and cropped through
  its ``viewBox`` to the box of what that drawing drew (:mod:`helpers.pages.ink`), compacted
  (coordinates to 0.01 pt, no unreferenced ids, no indentation) and byte-identical between
  runs: the site's figure;
* a PNG beside it (an adaptive 64-colour palette keeps it small), so that JupyterLab shows the
  figure in a committed notebook without the notebook being trusted; the pipeline's kernels,
  whose notebooks only become pages, skip it (``CELL_EVIDENCE_PAGES_ONLY=1``): the PNG needs a
  layout and a raster drawing of its own;

both carrying the alt text in their output metadata. The site's template turns the SVG into an
``<img>`` with that alt text (:func:`figure_html`). A figure nobody described gets an empty alt
text, which the browser tests refuse.
"""

from __future__ import annotations

import base64
import io
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence

import matplotlib as mpl
import matplotlib.colors as mcolors
import numpy as np
from markupsafe import escape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from helpers.pages import ink
from helpers.paths import pages_only

SVG_HASHSALT = "cell-evidence"  # fixed ids for clip paths: identical SVG between runs
PNG_COLOURS = 64
WIDE_FIGURE_PX = 700  # wider figures keep a readable size on phones and scroll in their box
_POINTS_TO_PX = 96 / 72

_ALT_TEXTS: weakref.WeakKeyDictionary[Figure, str] = weakref.WeakKeyDictionary()


def describe(figure: Figure, alt: str) -> Figure:
    """Attach ``alt`` (what the figure shows, in words) to ``figure``; returns ``figure``."""
    text = " ".join(str(alt).split())
    if not text:
        raise ValueError("alt text must say what the figure shows; got an empty string")
    _ALT_TEXTS[figure] = text
    return figure


def alt_text(figure: Figure) -> str:
    """The alt text given to :func:`describe`, or ``""`` when nobody described the figure."""
    return _ALT_TEXTS.get(figure, "")


def forest_alt(
    title: str, axis: str, labels: Iterable[object], summary: str | None = None, shown: int = 12
) -> str:
    """Alt text of a forest plot: what is plotted, for which rows, and its summary row.

    >>> forest_alt("Serious adverse events", "patients with an event", ["A", "B"], "pooled")
    'Forest plot, Serious adverse events: patients with an event with 95% intervals for 2 rows: A; B. Summary row: pooled.'
    """
    rows = [str(label) for label in labels]
    listed = "; ".join(rows[:shown]) + (
        f"; and {len(rows) - shown} more" if len(rows) > shown else ""
    )
    heading = f"Forest plot, {title}" if title else "Forest plot"
    what = axis or "estimates"
    text = (
        f"{heading}: {what} with 95% intervals for {len(rows)} row{'s' if len(rows) != 1 else ''}"
    )
    text += f": {listed}." if rows else "."
    return text + (f" Summary row: {summary}." if summary else "")


# --------------------------------------------------------------------------- contrast

_BLACK, _WHITE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def _luminance(rgb: Sequence[float]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour with 0–1 channels."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: Sequence[float], second: Sequence[float]) -> float:
    """WCAG contrast ratio of two opaque colours with 0–1 channels (1 to 21)."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _over(colour: Sequence[float], background: Sequence[float]) -> tuple[float, ...]:
    alpha = colour[3] if len(colour) > 3 else 1.0
    return tuple(
        c * alpha + b * (1 - alpha) for c, b in zip(colour[:3], background[:3], strict=True)
    )


def annotations_on_cells(figure: Figure) -> list[tuple[Text, tuple[float, ...]]]:
    """Texts drawn on a coloured cell of a heatmap (a ``QuadMesh``), with the cell's colour."""
    found = []
    for axes in figure.axes:
        background = mcolors.to_rgb(axes.get_facecolor())
        for mesh in (c for c in axes.collections if isinstance(c, QuadMesh)):
            mesh.update_scalarmappable()
            corners = mesh.get_coordinates()
            xs, ys = corners[0, :, 0], corners[:, 0, 1]
            colours = mesh.get_facecolors()
            columns = len(xs) - 1
            for text in axes.texts:
                if not text.get_text().strip() or text.get_transform() != axes.transData:
                    continue
                x, y = text.get_position()
                column = int(np.searchsorted(np.sort(xs), x)) - 1
                row = int(np.searchsorted(np.sort(ys), y)) - 1
                if not (0 <= column < columns and 0 <= row < len(ys) - 1):
                    continue
                if xs[0] > xs[-1]:
                    column = columns - 1 - column
                if ys[0] > ys[-1]:
                    row = len(ys) - 2 - row
                if len(colours) == 1:
                    cell = colours[0]
                elif len(colours) > row * columns + column:
                    cell = colours[row * columns + column]
                else:
                    continue
                found.append((text, _over(cell, background)))
    return found


def low_contrast_annotations(figure: Figure, needed: float = 4.5) -> list[str]:
    """Heatmap annotations whose colour contrasts less than ``needed`` with their cell."""
    problems = []
    for text, cell in annotations_on_cells(figure):
        ratio = contrast(mcolors.to_rgb(text.get_color()), cell)
        if ratio < needed:
            problems.append(f"{text.get_text()!r}: {ratio:.2f}:1 on {mcolors.to_hex(cell)}")
    return problems


def readable_annotations(figure: Figure) -> Figure:
    """Recolour each heatmap annotation black or white, whichever contrasts more with its cell.

    One of the two always reaches WCAG AA (4.5:1); seaborn's own choice of white on mid-blue
    reached 2.3:1. Called on every figure the site shows; returns ``figure``.
    """
    for text, cell in annotations_on_cells(figure):
        text.set_color(_BLACK if contrast(_BLACK, cell) >= contrast(_WHITE, cell) else _WHITE)
    return figure


# --------------------------------------------------------------------------- output


def rc_params() -> dict[str, object]:
    """The matplotlib settings every page figure is drawn with (deterministic, text as text)."""
    return {
        "svg.hashsalt": SVG_HASHSALT,
        "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
        # The font figures are laid out with first; a browser without it uses its sans-serif.
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "sans-serif"],
        "savefig.bbox": "tight",
    }


def png(figure: Figure) -> bytes:
    """The figure as a small palette PNG at its own dpi, tight (no software or date metadata).

    ``bbox_inches="tight"`` costs an extra drawing. Here one drawing gives the tight box and,
    when everything drawn lies on the canvas, the PNG cropped to it by hand; labels reaching
    beyond the canvas need a second, shifted drawing.
    """
    from PIL import Image

    readable_annotations(figure)
    with mpl.rc_context(rc_params()):
        canvas = figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(figure)
        rgba, (width, height) = canvas.print_to_buffer()
        tight = figure.get_tightbbox(canvas.get_renderer())
        bounds = tight.padded(mpl.rcParams["savefig.pad_inches"])
        dpi = figure.dpi
        on_canvas = (
            tight.x0 >= 0 and tight.y0 >= 0 and tight.x1 * dpi <= width and tight.y1 * dpi <= height
        )
        if on_canvas:
            left, top = round(bounds.x0 * dpi), round(height - bounds.y1 * dpi)
            right, bottom = round(bounds.x1 * dpi), round(height - bounds.y0 * dpi)
            drawn = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
            image = Image.new("RGB", (right - left, bottom - top), "white")
            image.paste(drawn, (-left, -top), mask=drawn)
        else:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches=bounds, metadata={"Software": None})
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    small = io.BytesIO()
    # An adaptive palette: figures use few colours, and the PNG shrinks to a third.
    image.quantize(PNG_COLOURS, method=Image.Quantize.FASTOCTREE).save(
        small, format="png", optimize=True
    )
    return small.getvalue()


def svg(figure: Figure) -> str:
    """The figure as compact, deterministic SVG text, cropped to its padded tight box.

    The figure is laid out and drawn once, by :mod:`helpers.pages.ink`'s renderer, which
    records the box of what it draws; the SVG is cropped to that box through its ``viewBox``.
    A drawing whose box it cannot work out (an image, TeX) is measured with matplotlib's
    ``get_tightbbox`` at the end of the same drawing. (``bbox_inches="tight"`` lays out and
    draws twice: benchmarks/README.md has the cost.)
    """
    buffer = io.BytesIO()
    readable_annotations(figure)
    inked: list[Bbox] = []
    measured: list[Bbox] = []

    def measure(event) -> None:  # the draw has ended; this renderer measured its text
        if not event.renderer.complete:  # the ink renderer, through matplotlib's mixed one
            measured.append(figure.get_tightbbox(event.renderer))

    with mpl.rc_context({**rc_params(), "savefig.bbox": "standard"}):
        canvas = figure.canvas
        connection = canvas.mpl_connect("draw_event", measure)
        try:
            figure.savefig(
                buffer, format="svg", backend=ink.BACKEND, metadata={"Date": None}, ink=inked
            )
        finally:
            canvas.mpl_disconnect(connection)
        padding = mpl.rcParams["savefig.pad_inches"]
    text = buffer.getvalue().decode("utf-8")
    bounds = (inked or measured or [None])[-1]
    if bounds is not None:  # an invisible figure draws nothing and is left as it is
        text = _cropped(text, figure, bounds.padded(padding))
    return compact_svg(text)


_SVG_OPENING = re.compile(r"<svg\b[^>]*>")


def _cropped(text: str, figure: Figure, bounds: Bbox) -> str:
    """Matplotlib's full-canvas SVG shown through ``bounds`` (inches from the bottom left).

    The ``viewBox`` moves and the size changes; no drawn coordinate does. Where the box
    reaches past the canvas (a label drawn beyond it), a rectangle of the figure's colour fills
    what the canvas did not cover, as ``bbox_inches`` would.
    """
    opening = _SVG_OPENING.search(text)
    if opening is None:
        raise ValueError("matplotlib wrote an SVG without an <svg> element")
    canvas_width, canvas_height = figure.get_size_inches()
    x, y = bounds.x0 * 72, (canvas_height - bounds.y1) * 72
    width, height = bounds.width * 72, bounds.height * 72
    tag = re.sub(r'\swidth="[^"]*"', f' width="{width:.5f}pt"', opening.group(), count=1)
    tag = re.sub(r'\sheight="[^"]*"', f' height="{height:.5f}pt"', tag, count=1)
    tag = re.sub(
        r'\sviewBox="[^"]*"', f' viewBox="{x:.5f} {y:.5f} {width:.5f} {height:.5f}"', tag, count=1
    )
    beyond = bounds.x0 < 0 or bounds.y0 < 0 or bounds.x1 > canvas_width or bounds.y1 > canvas_height
    colour = figure.get_facecolor()
    if beyond and colour[3] > 0:
        tag += (
            f'<rect x="{x:.5f}" y="{y:.5f}" width="{width:.5f}" height="{height:.5f}" '
            f'style="fill: {mcolors.to_hex(colour)}"/>'
        )
    return text[: opening.start()] + tag + text[opening.end() :]


_DECIMALS = re.compile(r"(\d+\.\d\d)\d+")
_TAG = re.compile(r"<[^>]+>")
_ID = re.compile(r'\s+id="([^"]+)"')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


_STYLE = re.compile(r' style="([^"]*)"')
_GENERATED_ID = re.compile(r"[A-Za-z][\w.]*_\d+")  # matplotlib's own: text_3, axes_1, line2d_12


def _unused_generated(identifier: str, referenced: set[str]) -> bool:
    """An id matplotlib made up that nothing points to (ids set with ``set_gid`` stay)."""
    return identifier not in referenced and _GENERATED_ID.fullmatch(identifier) is not None


_IDENTITY_ROTATION = re.compile(r' transform="rotate\(-?0 [\d.\-]+ [\d.\-]+\)"')


def compact_svg(text: str) -> str:
    """Matplotlib's SVG without what a browser does not need, drawing exactly the same.

    Inside tags only (never in text a reader sees): numbers rounded to two decimals (0.01 pt),
    ids matplotlib generated that nothing refers to removed (``set_gid`` ids stay), rotations
    by 0° removed, runs of whitespace collapsed; a ``style`` used by several elements becomes
    a class in one stylesheet. Whitespace between tags and the RDF metadata block go.
    """
    text = _METADATA.sub("", text)
    referenced = set(re.findall(r"#([\w.-]+)\)?", text))

    def tidy(match: re.Match) -> str:
        tag = match.group()
        if tag.startswith(("<!", "<?")):  # the XML declaration and DOCTYPE stay as written
            return tag
        tag = _DECIMALS.sub(r"\1", tag)
        tag = _ID.sub(lambda m: "" if _unused_generated(m.group(1), referenced) else m.group(), tag)
        tag = _IDENTITY_ROTATION.sub("", re.sub(r"\s+", " ", tag).replace(" />", "/>"))
        return re.sub(r'="\s*([^"]*?)\s*"', r'="\1"', tag)  # no spaces at a value's ends

    text = re.sub(r">\s+<", "><", _TAG.sub(tidy, text)).strip()
    return _styles_as_classes(text) + "\n"


def _styles_as_classes(text: str) -> str:
    """Repeated ``style`` attributes as classes of one ``<style>`` element (same cascade rank:
    both beat matplotlib's ``*`` rule and presentation attributes)."""
    counts = Counter(
        style
        for tag in _TAG.findall(text)
        if ' class="' not in tag
        for style in _STYLE.findall(tag)
    )
    shared = {style: f"s{i}" for i, style in enumerate(s for s, n in counts.items() if n > 1)}
    if not shared:
        return text

    def classed(match: re.Match) -> str:
        tag = match.group()
        if ' class="' in tag:
            return tag
        return _STYLE.sub(
            lambda m: f' class="{shared[m.group(1)]}"' if m.group(1) in shared else m.group(), tag
        )

    text = _TAG.sub(classed, text)
    rules = "".join(f".{name}{{{style}}}" for style, name in shared.items())
    opening = re.search(r"<svg[^>]*>", text)
    if opening is None:
        return text
    end = opening.end()
    return f'{text[:end]}<defs><style type="text/css">{rules}</style></defs>{text[end:]}'


def _metadata(figure: Figure) -> dict[str, str]:
    alt = alt_text(figure)
    return {"alt": alt} if alt else {}


def _svg_output(figure: Figure) -> tuple[str, dict]:
    return svg(figure), _metadata(figure)


def _png_output(figure: Figure) -> tuple[bytes, dict]:
    return png(figure), _metadata(figure)


def install(shell=None) -> None:
    """Show every matplotlib figure in a notebook as SVG and PNG (SVG only when
    :func:`helpers.paths.pages_only`), with its alt text."""
    mpl.rcParams.update(rc_params())
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # no IPython, no notebook display to configure
            return
        shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    for mime in ("image/jpeg", "application/pdf"):
        formatters[mime].pop(Figure, None)
    formatters["image/svg+xml"].for_type(Figure, _svg_output)
    if pages_only():
        formatters["image/png"].pop(Figure, None)
    else:
        formatters["image/png"].for_type(Figure, _png_output)


# --------------------------------------------------------------------------- site


_SVG_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)pt"[^>]*?\sheight="([\d.]+)pt"')


def figure_html(svg_text: str, alt: str) -> str:
    """An SVG as the site shows it: an ``<img>`` with alt text and its size, in a figure box."""
    size = _SVG_SIZE.search(svg_text)
    dimensions, wide = "", False
    if size:
        width, height = (round(float(v) * _POINTS_TO_PX) for v in size.groups())
        dimensions = f' width="{width}" height="{height}"'
        wide = width > WIDE_FIGURE_PX
    data = base64.b64encode(svg_text.encode("utf-8")).decode("ascii")
    return (
        f'<div class="chart{" wide" if wide else ""}">'
        f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}"{dimensions}>'
        "</div>"
    )
