"""Figures for the reviewer pages: one deterministic, crisp (SVG) style for every plot.

:func:`setup` is called once at the top of every notebook. It makes figures vector (SVG)
in notebooks and in the rendered HTML, and removes what would make two renders differ:
the SVG ``Date`` metadata and the random salt of SVG element ids.
"""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"
FIGURE_DPI = 100


def setup() -> None:
    """Deterministic SVG output with the project's seaborn style."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=0.9)
    mpl.rcParams.update(
        {
            "svg.hashsalt": "cell-evidence",  # fixed ids for clip paths and glyphs
            "svg.fonttype": "path",  # text as outlines: identical rendering in every browser
            "figure.dpi": FIGURE_DPI,
            "savefig.bbox": "tight",
            "axes.titlesize": "medium",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside IPython there is no inline backend to configure
        return
    set_matplotlib_formats("svg", metadata={"Date": None})
