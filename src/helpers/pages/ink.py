"""An SVG backend that also records the box of everything it draws: the figure's tight box
without a second pass over its layout.

``figure.savefig(buffer, format="svg", backend=BACKEND, ink=box)`` writes the SVG as
matplotlib's own backend does and leaves in ``box`` the bounds, in inches from the bottom
left, of what was drawn: paths and markers (with half their line width), collections, and
text lines from their font metrics, each cut to its clip. The box stays empty when the
drawing holds something whose extent this renderer does not work out (images, TeX, Gouraud
shading); the caller then measures the tight box the usual way.

Why: matplotlib's ``get_tightbbox`` lays out every tick and label again after the drawing
that just placed them; for a trial page's figures that second pass was ~15–25% of the time
to draw them (benchmarks/README.md).
"""

from __future__ import annotations

import codecs
import functools
import math

import numpy as np
from matplotlib import cbook
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.path import Path, get_path_collection_extents
from matplotlib.textpath import text_to_path
from matplotlib.transforms import Bbox

BACKEND = f"module://{__name__}"
POINTS_PER_INCH = 72


class InkRenderer(RendererSVG):
    """:class:`RendererSVG` that also keeps ``ink``: ``[x0, y0, x1, y1]`` of what it drew, in
    points from the bottom left (``None`` before anything), and ``complete``: False once it
    drew something it cannot bound."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ink: list[float] | None = None
        self.complete = True
        self._groups: list[str] = []  # the groups being drawn, outermost first

    # ----------------------------------------------------------------------------- the box

    def _covered(self, gc) -> bool:
        """Whether all ``gc`` lets through lies inside the box already (its clip does)."""
        clip = gc.get_clip_rectangle()
        ink = self.ink
        return (
            clip is not None
            and ink is not None
            and ink[0] <= clip.x0
            and ink[1] <= clip.y0
            and clip.x1 <= ink[2]
            and clip.y1 <= ink[3]
        )

    def _add(self, gc, x0: float, y0: float, x1: float, y1: float) -> None:
        clip = gc.get_clip_rectangle()
        if clip is not None:
            x0, y0, x1, y1 = max(x0, clip.x0), max(y0, clip.y0), min(x1, clip.x1), min(y1, clip.y1)
        clip_path, clip_transform = gc.get_clip_path()
        if clip_path is not None:
            bounds = clip_path.get_extents(clip_transform)
            x0, y0 = max(x0, bounds.x0), max(y0, bounds.y0)
            x1, y1 = min(x1, bounds.x1), min(y1, bounds.y1)
        if not (x0 <= x1 and y0 <= y1) or not all(map(math.isfinite, (x0, y0, x1, y1))):
            return
        if self.ink is None:
            self.ink = [x0, y0, x1, y1]
        else:
            ink = self.ink
            ink[0], ink[1] = min(ink[0], x0), min(ink[1], y0)
            ink[2], ink[3] = max(ink[2], x1), max(ink[3], y1)

    def _add_points(self, gc, points: np.ndarray, margin: tuple[float, ...]) -> None:
        """Points (n × 2) widened by ``margin`` (left, bottom, right, top; may be negative)."""
        points = points[np.isfinite(points).all(axis=1)]
        if len(points):
            (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
            self._add(gc, x0 - margin[0], y0 - margin[1], x1 + margin[2], y1 + margin[3])

    # ----------------------------------------------------------------------------- drawing

    def open_group(self, s, gid=None):
        self._groups.append(s)
        super().open_group(s, gid)

    def close_group(self, s):
        self._groups.pop()
        super().close_group(s)

    def draw_path(self, gc, path, transform, rgbFace=None):
        # The figure's own background is not in its tight box (its contents are).
        background = self._groups == ["figure", "patch"]
        if not background and not self._covered(gc):
            vertices, codes = path.vertices, path.codes
            if codes is not None:  # a CLOSEPOLY or STOP vertex is not drawn
                vertices = vertices[(codes != Path.CLOSEPOLY) & (codes != Path.STOP)]
            half = gc.get_linewidth() / 2
            points = np.asarray(transform.transform(vertices), float).reshape(-1, 2)
            self._add_points(gc, points, (half,) * 4)
        super().draw_path(gc, path, transform, rgbFace)

    def draw_markers(self, gc, marker_path, marker_trans, path, trans, rgbFace=None):
        if not self._covered(gc) and len(path.vertices):
            marker = marker_path.get_extents(marker_trans)
            half = gc.get_linewidth() / 2
            self._add_points(
                gc,
                np.asarray(trans.transform(path.vertices), float).reshape(-1, 2),
                (half - marker.x0, half - marker.y0, half + marker.x1, half + marker.y1),
            )
        super().draw_markers(gc, marker_path, marker_trans, path, trans, rgbFace)

    def draw_path_collection(
        self, gc, master_transform, paths, all_transforms, offsets, offset_trans, *rest, **kwargs
    ):
        # rest: facecolors, edgecolors, linewidths, linestyles, antialiaseds, urls, offset_position
        if not self._covered(gc) and len(paths):
            bounds = get_path_collection_extents(
                master_transform, paths, all_transforms, offsets, offset_trans
            )
            linewidths = np.atleast_1d(rest[2])
            half = float(linewidths.max()) / 2 if linewidths.size else 0.0
            self._add(gc, bounds.x0 - half, bounds.y0 - half, bounds.x1 + half, bounds.y1 + half)
        super().draw_path_collection(
            gc, master_transform, paths, all_transforms, offsets, offset_trans, *rest, **kwargs
        )

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        # (x, y): the line's baseline start, y measured down from the top (SVG flips y).
        key = prop.copy()  # a FontProperties hashes by value; the caller may change it later
        width, height, descent = _text_size(s, key, ismath)
        # A line is as tall and as deep as "lp" at least, as matplotlib lays text out.
        _, least_height, least_descent = _text_size("lp", key, False)
        top, bottom = (
            max(height, least_height) - max(descent, least_descent),
            -max(descent, least_descent),
        )
        turn = math.radians(angle)
        cos, sin = math.cos(turn), math.sin(turn)
        corners = [(0.0, bottom), (width, bottom), (width, top), (0.0, top)]
        xs = [x + u * cos - v * sin for u, v in corners]
        ys = [self.height - y + u * sin + v * cos for u, v in corners]
        self._add(gc, min(xs), min(ys), max(xs), max(ys))
        super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)

    def draw_image(self, gc, x, y, im, transform=None):
        self.complete = False
        super().draw_image(gc, x, y, im, transform)

    def draw_gouraud_triangles(self, gc, triangles_array, colors_array, transform):
        self.complete = False
        super().draw_gouraud_triangles(gc, triangles_array, colors_array, transform)

    def draw_tex(self, gc, x, y, s, prop, angle, *, mtext=None):
        self.complete = False
        super().draw_tex(gc, x, y, s, prop, angle, mtext=mtext)


@functools.lru_cache(maxsize=4096)
def _text_size(s: str, prop, ismath) -> tuple[float, float, float]:
    """Width, height and descent (points) of one line of text, as the SVG renderer measures
    it (through the shared text-to-path converter: the same for every SVG drawing)."""
    return text_to_path.get_text_width_height_descent(s, prop, ismath)


class FigureCanvasInk(FigureCanvasSVG):
    """Prints SVG as :class:`FigureCanvasSVG` does, through an :class:`InkRenderer`."""

    def print_svg(
        self,
        filename,
        *,
        bbox_inches_restore=None,
        metadata=None,
        ink=None,
        dpi=None,
        facecolor=None,
        edgecolor=None,
        orientation=None,
    ):
        """``ink``: a list that receives the drawing's :class:`Bbox` in inches, if complete.

        ``dpi``, ``facecolor``, ``edgecolor`` and ``orientation`` are what ``print_figure``
        passes every backend outside matplotlib; it has applied them already, and SVG output
        takes none of them (matplotlib's own SVG backend is not passed them).
        """
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as handle:
            if not cbook.file_requires_unicode(handle):
                handle = codecs.getwriter("utf-8")(handle)
            image_dpi = self.figure.dpi  # print_figure's; the SVG itself is drawn in points
            self.figure.dpi = POINTS_PER_INCH
            width, height = self.figure.get_size_inches()
            drawing = InkRenderer(
                width * POINTS_PER_INCH,
                height * POINTS_PER_INCH,
                handle,
                image_dpi=image_dpi,
                metadata=metadata,
            )
            renderer = MixedModeRenderer(
                self.figure,
                width,
                height,
                image_dpi,
                drawing,
                bbox_inches_restore=bbox_inches_restore,
            )
            self.figure.draw(renderer)
            renderer.finalize()
            drawn = drawing.ink
            # Every axes' box counts, drawn on or not, as in matplotlib's tight box (a forest
            # plot's column of labels is an axes with nothing drawn at its edge).
            for axes in self.figure.axes:
                if axes.get_visible() and axes.get_in_layout():
                    box = axes.get_window_extent().extents
                    drawn = list(box) if drawn is None else _union(drawn, box)
        if ink is not None and drawing.complete and drawn is not None:
            ink.append(Bbox.from_extents(*(v / POINTS_PER_INCH for v in drawn)))


def _union(first, second) -> list[float]:
    return [
        min(first[0], second[0]),
        min(first[1], second[1]),
        max(first[2], second[2]),
        max(first[3], second[3]),
    ]


FigureCanvas = FigureCanvasInk  # what matplotlib looks up in a backend module
