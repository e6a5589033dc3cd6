"""Figures for the reviewer pages: one deterministic style for every plot.

:func:`setup` is called once at the top of every notebook: the seaborn theme, and the output
of :mod:`helpers.pages.figures` (SVG with text as text for the site, a PNG beside it for
JupyterLab, alt text from :func:`figures.describe`, nothing that differs between runs).

Plot functions build a bare :class:`matplotlib.figure.Figure` (never through ``pyplot``), so
no figure is registered with pyplot and none is shown behind the caller's back: a notebook
shows a figure exactly once, as the value of the cell's last expression.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from helpers.pages import figures

PALETTE = "colorblind"
FIGURE_DPI = 100


def new_figure(**kwargs) -> Figure:
    """A pyplot-free figure (shown once, as a cell's value) with an Agg canvas attached.

    Without a canvas, seaborn's heatmap on a large bare Figure made the kernel grow by about
    2 GB at 100 trials (measured in benchmarks/README.md); with one it stays flat.
    """
    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def setup() -> None:
    """The project's seaborn style; notebooks show figures as SVG + PNG with alt text."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": FIGURE_DPI, "axes.titlesize": "medium"})
    figures.install()  # after the theme: its font and SVG settings win


# --------------------------------------------------------------------------------------------
# One trial: what was given when, and each outcome over time
# --------------------------------------------------------------------------------------------

MONTHS_LABEL = "months since the first administration"
PANEL_INCHES = (3.9, 3.1)  # width, height of one small-multiple panel with its labels
TIMELINE_INCHES = (8.0, 2.6)


def _margins(
    width: float, height: float, *, left: float, right: float, top: float, bottom: float
) -> dict[str, float]:
    """Margins given in inches as matplotlib's figure fractions (``subplots_adjust``)."""
    return {
        "left": left / width,
        "right": 1 - right / width,
        "top": 1 - top / height,
        "bottom": bottom / height,
    }


def _value(row: Mapping | pd.Series, key: str) -> float | None:
    value = row.get(key) if hasattr(row, "get") else None
    return None if value is None or pd.isna(value) else float(value)


def administration_months(trial_row: Mapping | pd.Series) -> tuple[list[float], str]:
    """Months of the administrations (first = 0) and a note when they cannot all be placed."""
    count = _value(trial_row, "n_administrations")
    interval = _value(trial_row, "interval_months")
    if count is None:
        return [0.0], "number of administrations not reported: only the first is shown"
    if count > 1 and interval is None:
        return [0.0], f"{count:g} administrations, interval not reported: only the first is shown"
    return [i * (interval or 0.0) for i in range(int(count))], ""


def _assessments(outcome_timepoints: pd.DataFrame | Iterable[float]) -> dict[float, str]:
    """Assessment month -> label ('baseline', 'after 2nd infusion', ...), in time order."""
    if isinstance(outcome_timepoints, pd.DataFrame):
        frame = outcome_timepoints.dropna(subset=["timepoint_months"])
        labels = frame.drop_duplicates("timepoint_months")
        names = labels["timepoint"] if "timepoint" in labels else labels["timepoint_months"]
        found = {
            float(month): str(name)
            for month, name in zip(labels["timepoint_months"], names, strict=True)
        }
    else:
        found = {float(month): "" for month in outcome_timepoints if not pd.isna(month)}
    return dict(sorted(found.items()))


def follow_up_end(
    trial_row: Mapping | pd.Series, administrations: list[float], assessments: Iterable[float]
) -> tuple[float | None, str]:
    """Month at which follow-up ends, with a label saying how it was placed.

    The reported follow-up is counted from the first administration unless an assessment lies
    beyond it, in which case it is counted from the last administration (as sources that
    report "12 months post-treatment" after repeated injections do).
    """
    reported = _value(trial_row, "follow_up_months")
    if reported is None:
        return None, "follow-up not reported"
    latest = max(assessments, default=0.0)
    from_last = administrations[-1] + reported
    if latest > reported and from_last >= latest:
        return from_last, f"end of follow-up: {reported:g} months after the last administration"
    return reported, f"end of follow-up: {reported:g} months"


def intervention_timeline(
    trial_row: Mapping | pd.Series, outcome_timepoints: pd.DataFrame | Iterable[float]
) -> Figure:
    """Months axis with the administrations, the assessment times and the end of follow-up.

    ``trial_row`` is one row of the trials table (``n_administrations``, ``interval_months``,
    ``follow_up_months``, ``route``, ``cell_type``); ``outcome_timepoints`` is the trial's
    outcome rows (``timepoint_months`` and ``timepoint``) or plain months. The administrations
    line is labelled ``"administrations"`` and the assessments line ``"assessments"``.
    """
    colours = sns.color_palette(PALETTE)
    administrations, admin_note = administration_months(trial_row)
    assessments = _assessments(outcome_timepoints)
    end, end_label = follow_up_end(trial_row, administrations, assessments)

    width, height = TIMELINE_INCHES
    # Fixed margins (those constrained layout chose) instead of a layout engine, which makes
    # saving draw the figure twice; labels that reach past them are still kept by the crop.
    figure = new_figure(figsize=(width, height))
    figure.subplots_adjust(**_margins(width, height, left=1.27, right=0.15, top=0.24, bottom=0.52))
    ax = figure.add_subplot()
    route = trial_row.get("route") if hasattr(trial_row, "get") else None
    cells = trial_row.get("cell_type") if hasattr(trial_row, "get") else None
    what = " ".join(str(v) for v in (route, cells) if v is not None and not pd.isna(v))
    ax.plot(
        administrations,
        [1.0] * len(administrations),
        linestyle="none",
        marker="v",
        markersize=11,
        color=colours[3],
        label="administrations",
    )
    for number, month in enumerate(administrations, start=1):
        ax.annotate(
            f"#{number}",
            (month, 1.0),
            xytext=(0, 9),
            textcoords="offset points",
            ha="center",
            fontsize=7.5,
        )
    months = list(assessments)
    ax.plot(
        months,
        [0.0] * len(months),
        linestyle="none",
        marker="o",
        markersize=8,
        color=colours[0],
        label="assessments",
    )
    for month, label in assessments.items():
        text = "\n".join(textwrap.wrap(label, 16)[:2]) if label else f"month {month:g}"
        ax.annotate(
            text,
            (month, 0.0),
            xytext=(0, -11),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=7.5,
        )
    if not months:
        ax.annotate(
            "no assessment reported with numbers",
            (0.0, 0.0),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="0.35",
        )
    if end is not None:
        ax.axvline(end, color="0.35", linestyle="--", linewidth=1, label="end of follow-up")
        ax.annotate(
            end_label,
            (end, 0.5),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=7.5,
            color="0.25",
        )
    right = max([*administrations, *months, end or 0.0]) + 1.0
    ax.set_xlim(-1.0, max(right, 3.0))
    ax.set_ylim(-0.9, 1.7)
    ax.set_yticks([0.0, 1.0], ["assessments", "cell\nadministrations"])
    ax.set_xlabel(MONTHS_LABEL)
    title = f"{len(administrations) if not admin_note else '?'} × {what}".strip(" ×")
    # y=1: the title sits just above the axes, where matplotlib's automatic placement puts it
    # here (nothing is drawn above these axes), without measuring every tick label to decide.
    ax.set_title(title + (f" ({admin_note})" if admin_note else ""), loc="left", y=1.0)
    ax.grid(axis="y", visible=False)
    return figures.describe(figure, _timeline_alt(administrations, admin_note, months, end_label))


def _months_text(months: Iterable[float]) -> str:
    values = [f"{m:g}" for m in months]
    if len(values) <= 1:
        return f"month {values[0]}" if values else "no month"
    return "months " + ", ".join(values[:-1]) + " and " + values[-1]


def _timeline_alt(
    administrations: list[float], admin_note: str, assessments: list[float], end_label: str
) -> str:
    count = len(administrations)
    given = (
        f"{count} cell administration{'s' if count != 1 else ''} at {_months_text(administrations)}"
    )
    seen = (
        f"assessments with numbers at {_months_text(assessments)}"
        if assessments
        else "no assessment reported with numbers"
    )
    note = f" ({admin_note})" if admin_note else ""
    return f"Timeline in months since the first administration: {given}{note}; {seen}; {end_label}."


def _panel_title(row: pd.Series) -> str:
    measure = textwrap.wrap(str(row["measure"]), 40)
    shown = measure[:2]
    if len(measure) > 2:
        shown[-1] = shown[-1].rstrip(" ,;:") + " …"
    domain = str(row["domain"]) if not pd.isna(row["domain"]) else ""
    return (domain.capitalize() + ": " if domain else "") + "\n".join(shown)


def _plottable(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rows with a number to plot: mean, median, or events/total."""
    has_mean = outcomes["mean"].notna()
    has_median = outcomes["median"].notna()
    has_count = outcomes["events"].notna() & outcomes["total"].notna()
    return outcomes[(has_mean | has_median | has_count) & outcomes["timepoint_months"].notna()]


def _draw_count_panel(ax, rows: pd.DataFrame, colour) -> None:
    # The same interval as the result table trial_proportions, without building a table.
    from helpers.stats import effects, estimates  # neither imports plots; no cycle

    counted = rows.dropna(subset=["events", "total"])
    x = counted["timepoint_months"].to_numpy(float)
    events = counted["events"].astype(int).tolist()
    totals = counted["total"].astype(int).tolist()
    intervals = [
        effects.clopper_pearson_interval(e, t, estimates.LEVEL)
        for e, t in zip(events, totals, strict=True)
    ]
    y = 100 * np.array(events, dtype=float) / np.array(totals, dtype=float)
    low = 100 * np.array([bounds[0] for bounds in intervals], dtype=float)
    high = 100 * np.array([bounds[1] for bounds in intervals], dtype=float)
    ax.errorbar(
        x,
        y,
        yerr=[y - low, high - y],
        fmt="o-",
        color=colour,
        capsize=3,
        markersize=5,
        label="proportion (exact 95% CI)",
    )
    for month, top, event_count, total in zip(x, high, events, totals, strict=True):
        ax.annotate(
            f"{event_count}/{total}\nn = {total}",
            (month, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
        )
    ax.set_ylim(0, 125)  # headroom for the n labels above 100%
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_ylabel("% of patients (exact 95% CI)")


def _draw_mean_panel(ax, rows: pd.DataFrame, colour) -> None:
    uses_median = rows["mean"].isna().all()
    x = rows["timepoint_months"].to_numpy(float)
    if uses_median:
        y = rows["median"].to_numpy(float)
        below = np.nan_to_num(y - rows["low"].to_numpy(float))
        above = np.nan_to_num(rows["high"].to_numpy(float) - y)
        label = "median (range)"
    else:
        y = rows["mean"].to_numpy(float)
        below = above = np.nan_to_num(rows["sd"].to_numpy(float))
        label = "mean ± SD"
    ax.errorbar(
        x,
        y,
        yerr=[below, above],
        fmt="s-" if uses_median else "o-",
        color=colour,
        capsize=3,
        markersize=5,
        label=label,
    )
    for month, top, n in zip(x, y + above, rows["n"], strict=True):
        text = f"n = {n}" if not pd.isna(n) else "n not reported"
        ax.annotate(
            text,
            (month, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
        )
    ax.margins(y=0.25)
    unit = rows["unit"].dropna()
    ax.set_ylabel(f"{label}" + (f", {unit.iloc[0]}" if len(unit) else ""))


def outcome_small_multiples(outcomes_for_trial: pd.DataFrame, columns: int = 3) -> Figure | None:
    """One panel per numeric outcome over time; None when no outcome has a number to plot.

    Counts are plotted as the percentage of patients with its exact (Clopper-Pearson) 95% CI,
    means with ± SD bars, medians with their range; every point is annotated with its n. One
    errorbar line per panel holds the points. Panels follow the table's order of outcomes.
    """
    rows = _plottable(outcomes_for_trial)
    if rows.empty:
        return None
    groups = [group for _, group in rows.groupby("outcome_id", sort=False)]
    colours = sns.color_palette(PALETTE)
    domains = list(dict.fromkeys(rows["domain"].fillna("")))
    columns = max(1, min(columns, len(groups)))
    n_rows = math.ceil(len(groups) / columns)
    width, height = PANEL_INCHES[0] * columns, PANEL_INCHES[1] * n_rows
    # Fixed margins in inches instead of constrained layout: as readable for equal panels and
    # about twice as fast to render for a trial with many outcomes.
    figure = new_figure(figsize=(width, height))
    grid = figure.add_gridspec(
        n_rows,
        columns,
        wspace=0.3,
        hspace=0.45,
        **_margins(width, height, left=0.7, right=0.15, top=0.5, bottom=0.45),
    )
    axes = [figure.add_subplot(grid[i // columns, i % columns]) for i in range(len(groups))]
    for ax, group in zip(axes, groups, strict=True):
        group = group.sort_values("timepoint_months", kind="stable")
        colour = colours[domains.index(group["domain"].fillna("").iloc[0]) % len(colours)]
        if group["kind"].eq("count").all() and group["events"].notna().all():
            _draw_count_panel(ax, group, colour)
        else:
            _draw_mean_panel(ax, group.dropna(subset=["mean", "median"], how="all"), colour)
        # No offset or "1e6" above the y axis, where it would meet the title (placed at y=1
        # without measuring the tick labels, as in the timeline): values are written in full.
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_title(_panel_title(group.iloc[0]), loc="left", fontsize=8, y=1.0)
        months = sorted(set(group["timepoint_months"].astype(float)))
        ax.set_xticks(months, [f"{m:g}" for m in months])
        ax.set_xlim(min(months) - 1.5, max(months) + 1.5)
        ax.set_xlabel(MONTHS_LABEL, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.yaxis.label.set_size(7)
    names = "; ".join(" ".join(_panel_title(group.iloc[0]).split()) for group in groups)
    return figures.describe(
        figure,
        f"Each outcome over months since the first administration, one panel per outcome "
        f"({len(groups)} panel{'s' if len(groups) != 1 else ''}): {names}. Means with ± SD, "
        "medians with their range, percentages with exact 95% intervals; n at every point.",
    )
