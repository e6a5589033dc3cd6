"""Forest plots and the evidence-map heatmap, drawn the way reviewers read them.

A forest plot here has, per study row, the study label and its n as text on the left, a square
sized by the study's weight with its confidence interval in the middle, and the estimate with
its interval as text on the right; below the studies an optional pooled row: a diamond spanning
the pooled confidence interval (metafor ``forest.rma`` / RevMan convention), and, when given, the
prediction interval as a thin line through it (Higgins, Thompson & Spiegelhalter 2009, J R Stat
Soc A 172:137; IntHout et al. 2016, BMJ Open 6:e010247, recommend showing it). A vertical line
marks the null value. When the summary is not a random-effects estimate (e.g. an exact interval
on summed zero counts, where the binomial-normal model is undefined) it is drawn as a plain
interval bar, never as a diamond, so a reader does not mistake it for a model estimate.

:func:`forest_plot` draws a table of study rows, effect sizes (metafor's ``forest(escalc)``: studies
only, squares sized by inverse-variance weight) or a fitted model (``forest(res)``: squares sized
by the model's weights, the pooled diamond and the prediction interval), labelled "Study 1" ...
unless labels are given.

Figures are plain :class:`matplotlib.figure.Figure` objects (not pyplot-managed), so a notebook
cell that returns one displays it exactly once, as SVG under :func:`helpers.pages.plots.setup`. Every
artist a test or a reader might look for carries a ``gid`` (kept as an ``id`` in the SVG):
``study-square``, ``study-ci``, ``pooled-diamond``, ``pooled-interval``,
``prediction-interval``, ``null-line``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from scipy import stats

from helpers.pages.plots import new_figure
from helpers.stats.effects import EffectSizes
from helpers.stats.meta import RmaResult

__all__ = ["STUDY_COLUMNS", "evidence_heatmap", "forest_plot", "format_interval"]

STUDY_COLUMNS = ("label", "n", "estimate", "ci_low", "ci_high")
_ROW_HEIGHT_IN = 0.34
_MIN_MARKER_AREA, _MAX_MARKER_AREA = 18.0, 160.0
_MAX_LABEL = 46  # characters that fit the label column at font size 9
_INK = "#1b1b1b"
_POOLED = "#0b4f8a"
# axis titles of metafor's forest plots (metafor .setlab), by escalc measure
MEASURE_LABELS = {
    "RR": "Log Risk Ratio",
    "OR": "Log Odds Ratio",
    "RD": "Risk Difference",
    "MD": "Mean Difference",
    "SMD": "Standardized Mean Difference",
    "ROM": "Log Ratio of Means",
    "MC": "Mean Change",
    "SMCC": "Standardized Mean Change",
    "SMCR": "Standardized Mean Change",
    "PLO": "Log Odds",
}


def format_interval(
    estimate: float, low: float, high: float, *, percent: bool = False, digits: int = 2
) -> str:
    """``"0.34 [0.12, 0.56]"`` or, for proportions, ``"30.0% [16.6, 46.5]"``."""
    if percent:
        return f"{100 * estimate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _check_studies(studies: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in STUDY_COLUMNS if c not in studies.columns]
    if missing:
        raise ValueError(f"forest_plot: studies lack columns {missing}; need {list(STUDY_COLUMNS)}")
    if studies.empty:
        raise ValueError("forest_plot: no study rows to draw")
    frame = studies.reset_index(drop=True).copy()
    for column in ("estimate", "ci_low", "ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    if ((frame["ci_low"] > frame["estimate"]) | (frame["estimate"] > frame["ci_high"])).any():
        raise ValueError("forest_plot: every row needs ci_low <= estimate <= ci_high")
    return frame


def _marker_areas(frame: pd.DataFrame) -> np.ndarray:
    """Square areas proportional to weight (as RevMan); equal squares when no weight is given."""
    if "weight" not in frame.columns or frame["weight"].isna().all():
        return np.full(len(frame), 0.5 * (_MIN_MARKER_AREA + _MAX_MARKER_AREA))
    weight = frame["weight"].astype(float).fillna(0.0).to_numpy()
    top = weight.max()
    if top <= 0:
        return np.full(len(frame), _MIN_MARKER_AREA)
    return _MIN_MARKER_AREA + (_MAX_MARKER_AREA - _MIN_MARKER_AREA) * weight / top


def forest_plot(
    studies: pd.DataFrame | EffectSizes | RmaResult,
    *,
    labels: Sequence[object] | None = None,
    pooled: Mapping[str, object] | None = None,
    null_value: float | None = 0.0,
    xlabel: str | None = None,
    title: str | None = None,
    percent: bool = False,
    digits: int = 2,
    label_header: str = "study",
) -> Figure:
    """Forest plot of studies and, for a fitted model, its pooled row.

    ``studies`` is one of

    - a fitted model (:func:`helpers.stats.meta.rma`): each study's ``yi`` with its Wald interval
      at the model's level, squares sized by the model's weights (metafor ``weights(res)``), and
      the pooled diamond with the prediction interval (none for an equal-effects model);
    - effect sizes (:func:`helpers.stats.effects.escalc` output: ``EffectSizes`` or a DataFrame
      with ``yi`` and ``vi``): the studies only, squares sized by inverse-variance weight;
    - a table of rows with ``STUDY_COLUMNS`` plus an optional ``weight``, and then an optional
      ``pooled`` mapping: ``label``, ``estimate``, ``ci_low``, ``ci_high``, optional ``pi_low`` /
      ``pi_high`` (prediction interval), ``n`` and ``style`` - ``"diamond"`` (a model estimate,
      default) or ``"interval"`` (a summary that is not a model estimate, drawn as a bar).

    ``labels`` name the studies of a model or effect sizes (default: their ``slab``, else
    "Study 1", "Study 2", ...); the n column shows escalc's total sample sizes when known.
    ``xlabel`` defaults to metafor's name of the measure (e.g. "Log Risk Ratio"), else
    "estimate". ``percent=True`` shows proportions as percentages in the text column (axis
    stays 0-1 scaled to percent). Rows are drawn in the order given, top to bottom.
    """
    if isinstance(studies, RmaResult | EffectSizes) or (
        isinstance(studies, pd.DataFrame) and {"yi", "vi"} <= set(studies.columns)
    ):
        if pooled is not None:
            raise ValueError("forest_plot: the pooled row comes from the model; do not give pooled")
        studies, pooled, measure = _rows_from_effects(studies, labels)
        xlabel = xlabel if xlabel is not None else MEASURE_LABELS.get(measure or "", "estimate")
    elif labels is not None:
        raise ValueError("forest_plot: a table of study rows carries its labels in 'label'")
    xlabel = "estimate" if xlabel is None else xlabel
    frame = _check_studies(studies)
    n_rows = len(frame) + (2 if pooled is not None else 0)
    height = 0.9 + _ROW_HEIGHT_IN * (n_rows + 1)
    figure = new_figure(figsize=(10.0, height))
    grid = figure.add_gridspec(1, 3, width_ratios=(4.4, 4.0, 2.2), wspace=0.02)
    left, middle, right = (figure.add_subplot(grid[0, i]) for i in range(3))
    scale = 100.0 if percent else 1.0

    y_positions = np.arange(len(frame))[::-1] + (2 if pooled is not None else 0)
    top = y_positions.max() + 1 if len(frame) else 1
    for axis in (left, middle, right):
        axis.set_ylim(-0.8, top + 0.2)
    for axis in (left, right):
        axis.set_xlim(0, 1)
        axis.axis("off")

    # Text columns: label and n on the left, estimate [CI] on the right.
    left.text(0.0, top, label_header, fontweight="bold", va="center", ha="left", fontsize=9)
    left.text(0.97, top, "n", fontweight="bold", va="center", ha="right", fontsize=9)
    right.text(0.04, top, "estimate [95% CI]", fontweight="bold", va="center", fontsize=9)
    for y, row in zip(y_positions, frame.itertuples(index=False), strict=True):
        left.text(0.0, y, _shorten(str(row.label)), va="center", ha="left", fontsize=9)
        left.text(0.97, y, _format_n(row.n), va="center", ha="right", fontsize=9)
        right.text(
            0.04,
            y,
            format_interval(row.estimate, row.ci_low, row.ci_high, percent=percent, digits=digits),
            va="center",
            fontsize=9,
        )

    # Study intervals and weight-sized squares.
    middle.hlines(
        y_positions,
        frame["ci_low"] * scale,
        frame["ci_high"] * scale,
        color=_INK,
        linewidth=1.1,
        gid="study-ci",
    )
    middle.scatter(
        frame["estimate"] * scale,
        y_positions,
        s=_marker_areas(frame),
        marker="s",
        color=_INK,
        zorder=3,
        gid="study-square",
    )

    x_values = [frame["ci_low"].min(), frame["ci_high"].max()]
    if pooled is not None:
        x_values += _draw_pooled(middle, left, right, pooled, scale, percent, digits)
    if null_value is not None:
        middle.axvline(
            null_value * scale, color="#7a7a7a", linestyle="--", linewidth=0.9, gid="null-line"
        )
        x_values.append(null_value)

    low, high = min(x_values) * scale, max(x_values) * scale
    pad = 0.06 * (high - low) if high > low else 1.0
    middle.set_xlim(low - pad, high + pad)
    middle.set_yticks([])
    middle.grid(axis="y", visible=False)
    middle.spines[["left", "right", "top"]].set_visible(False)
    middle.set_xlabel(_plain(xlabel) + (" (%)" if percent else ""))
    if title:
        figure.suptitle(_plain(title), x=0.02, ha="left", fontsize=10, fontweight="bold")
    return figure


def _rows_from_effects(
    effects: pd.DataFrame | EffectSizes | RmaResult, labels: Sequence[object] | None
) -> tuple[pd.DataFrame, dict[str, object] | None, str | None]:
    """Study rows (label, n, estimate, Wald CI, weight), the pooled row and the measure."""
    if isinstance(effects, pd.DataFrame):
        effects = EffectSizes(
            yi=effects["yi"].to_numpy(dtype=float, na_value=np.nan),
            vi=effects["vi"].to_numpy(dtype=float, na_value=np.nan),
            measure=effects.attrs.get("measure"),
        )
    if effects.yi is None or effects.vi is None:
        raise ValueError("forest_plot: this result does not hold its studies")
    yi, vi = np.asarray(effects.yi, dtype=float), np.asarray(effects.vi, dtype=float)
    missing = np.flatnonzero(~(np.isfinite(yi) & np.isfinite(vi)))
    if missing.size:
        raise ValueError(
            f"forest_plot: yi or vi missing at row(s) {', '.join(map(str, missing))}; drop them "
            "first (escalc or rma with na_action='omit')"
        )
    names = [str(label) for label in (labels if labels is not None else effects.labels)]
    if len(names) != yi.size:
        raise ValueError(f"forest_plot: {len(names)} labels for {yi.size} studies")
    level = effects.level if isinstance(effects, RmaResult) else 95
    coverage = level / 100 if level > 1 else level  # metafor's level: 95 or 0.95
    half = stats.norm.isf((1 - coverage) / 2) * np.sqrt(vi)
    weight = effects.weights if isinstance(effects, RmaResult) else 100 * (1 / vi) / np.sum(1 / vi)
    rows = pd.DataFrame(
        {
            "label": names,
            "n": effects.ni if effects.ni is not None else np.nan,
            "estimate": yi,
            "ci_low": yi - half,
            "ci_high": yi + half,
            "weight": weight,
        }
    )
    pooled = None
    if isinstance(effects, RmaResult):
        pooled = {
            "label": (
                "Equal-effects model"
                if effects.method == "EE"
                else f"Random-effects model ({effects.method})"
            ),
            "n": None if effects.ni is None else float(np.sum(effects.ni)),
            "estimate": effects.estimate,
            "ci_low": effects.ci_low,
            "ci_high": effects.ci_high,
            "pi_low": effects.pi_low,
            "pi_high": effects.pi_high,
        }
    return rows, pooled, effects.measure


def _plain(text: object) -> str:
    """Text from data drawn literally: a '$' would otherwise start matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def _shorten(label: str, limit: int = _MAX_LABEL) -> str:
    """Keep the label clear of the n column: long labels end in an ellipsis."""
    label = label if len(label) <= limit else label[: limit - 1].rstrip() + "…"
    return _plain(label)


def _format_n(n: object) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)) or pd.isna(n):
        return "—"
    return f"{int(n)}"


def _draw_pooled(middle, left, right, pooled, scale, percent, digits) -> list[float]:
    """Diamond (model estimate) or bar (other summary) on row y = 0, with its text."""
    estimate, low, high = (float(pooled[key]) for key in ("estimate", "ci_low", "ci_high"))
    style = pooled.get("style", "diamond")
    y = 0.0
    left.text(
        0.0,
        y,
        _shorten(str(pooled.get("label", "pooled"))),
        va="center",
        fontweight="bold",
        fontsize=9,
    )
    left.text(0.97, y, _format_n(pooled.get("n")), va="center", ha="right", fontsize=9)
    right.text(
        0.04,
        y,
        format_interval(estimate, low, high, percent=percent, digits=digits),
        va="center",
        fontweight="bold",
        fontsize=9,
    )
    middle.axhline(0.9, color="#c8c8c8", linewidth=0.6)
    if style == "diamond":
        middle.add_patch(
            Polygon(
                [
                    (low * scale, y),
                    (estimate * scale, y + 0.3),
                    (high * scale, y),
                    (estimate * scale, y - 0.3),
                ],
                closed=True,
                facecolor=_POOLED,
                edgecolor=_POOLED,
                zorder=3,
                gid="pooled-diamond",
            )
        )
    elif style == "interval":
        middle.add_patch(
            Rectangle(
                (low * scale, y - 0.12),
                (high - low) * scale,
                0.24,
                facecolor="#9db7d1",
                edgecolor=_POOLED,
                zorder=3,
                gid="pooled-interval",
            )
        )
    else:
        raise ValueError(f"pooled style must be 'diamond' or 'interval', got {style!r}")
    values = [low, high]
    if pooled.get("pi_low") is not None and pooled.get("pi_high") is not None:
        pi_low, pi_high = float(pooled["pi_low"]), float(pooled["pi_high"])
        middle.hlines(
            y - 0.5,
            pi_low * scale,
            pi_high * scale,
            color=_POOLED,
            linewidth=1.4,
            gid="prediction-interval",
        )
        left.text(0.0, y - 0.5, "prediction interval", va="center", fontsize=8, color=_POOLED)
        values += [pi_low, pi_high]
    return values


def evidence_heatmap(
    matrix: pd.DataFrame,
    *,
    marks: pd.DataFrame | None = None,
    mark_legend: str = "",
    title: str | None = None,
) -> Figure:
    """Trials (rows) x outcome domains (columns), cells annotated with n; empty = not reported.

    ``matrix`` holds the number of patients measured (NaN where the trial reports nothing in
    that domain). Colour encodes n on a log scale so a 102-patient trial does not wash out the
    11-patient one. ``marks`` (same shape, strings) is appended to the annotations, e.g. "†"
    for results stated only in words, explained by ``mark_legend`` under the axis.
    """
    if matrix.empty:
        raise ValueError("evidence_heatmap: empty matrix")
    values = matrix.astype(float)
    annotations = values.map(lambda v: "" if math.isnan(v) else f"{int(v)}")
    if marks is not None:
        aligned = marks.reindex(index=values.index, columns=values.columns).fillna("")
        annotations = annotations + aligned.where(annotations != "", "")
    # Row and column names come from data: draw them literally.
    values = values.set_axis([_plain(i) for i in values.index], axis=0)
    values = values.set_axis([_plain(c) for c in values.columns], axis=1)
    figure = new_figure(figsize=(1.2 + 0.72 * values.shape[1], 0.9 + 0.46 * values.shape[0]))
    axis = figure.add_subplot()
    sns.heatmap(
        np.log10(values),
        annot=annotations.to_numpy(),
        fmt="",
        cmap="Blues",
        vmin=0.0,
        vmax=max(2.2, float(np.nanmax(np.log10(values.to_numpy())))),
        cbar=False,
        linewidths=0.6,
        linecolor="white",
        ax=axis,
        annot_kws={"fontsize": 8},
    )
    axis.set_facecolor("#f4f4f4")  # empty cells: light grey, "not reported"
    axis.grid(False)
    axis.set_xlabel(
        "outcome domain (cell: patients measured"
        + (f"; {mark_legend}" if mark_legend else "")
        + ")"
    )
    axis.set_ylabel("")
    axis.tick_params(axis="x", rotation=35)
    for label in axis.get_xticklabels():
        label.set_horizontalalignment("right")
    if title:
        axis.set_title(title, loc="left")
    return figure
