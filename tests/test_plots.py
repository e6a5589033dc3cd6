"""Trial figures: the right panels and points, n on every point, no pyplot state, same SVG twice."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from helpers import data
from helpers.pages import figures, plots
from helpers.stats import estimates


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    plots.setup()
    return data.load_all()


def _trial(tables, trial_id: str) -> pd.Series:
    return tables["trials"].set_index("trial_id").loc[trial_id]


def _outcomes(tables, trial_id: str) -> pd.DataFrame:
    outcomes = tables["outcomes"]
    return outcomes[outcomes["trial_id"] == trial_id]


def _line(ax, label: str):
    return next(line for line in ax.lines if line.get_label() == label)


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


# ------------------------------------------------------------------ timeline


def test_timeline_marks_each_administration_and_assessment(tables):
    figure = plots.intervention_timeline(
        _trial(tables, "sb_nguyen2023"), _outcomes(tables, "sb_nguyen2023")
    )
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    ax = figure.axes[0]
    assert list(_line(ax, "administrations").get_xdata()) == [0.0, 6.0]
    assert list(_line(ax, "assessments").get_xdata()) == [0.0, 6.0, 12.0]
    assert list(_line(ax, "end of follow-up").get_xdata()) == [12.0, 12.0]


def test_follow_up_counts_from_the_last_administration_when_assessments_need_it(tables):
    trial = _trial(tables, "cp_akhlaghpasand2025")  # 4 monthly injections, "12 months post"
    figure = plots.intervention_timeline(trial, _outcomes(tables, "cp_akhlaghpasand2025"))
    ax = figure.axes[0]
    assert list(_line(ax, "administrations").get_xdata()) == [0.0, 1.0, 2.0, 3.0]
    assert list(_line(ax, "assessments").get_xdata()) == [0.0, 15.0]
    assert _line(ax, "end of follow-up").get_xdata()[0] == 15.0
    texts = [t.get_text() for t in ax.texts]
    assert any("after the last administration" in t for t in texts)


def test_timeline_without_numeric_assessments_or_interval_says_so(tables):
    trial = _trial(tables, "cp_nguyen2017").copy()
    trial["interval_months"] = pd.NA
    figure = plots.intervention_timeline(trial, _outcomes(tables, "cp_nguyen2017"))
    ax = figure.axes[0]
    assert list(_line(ax, "administrations").get_xdata()) == [0.0]
    assert "interval not reported" in ax.get_title(loc="left")
    assert any("no assessment" in t.get_text() for t in ax.texts)
    assert not any(line.get_label() == "end of follow-up" for line in ax.lines)


def test_timeline_accepts_plain_months():
    trial = pd.Series({"n_administrations": 1, "interval_months": None, "follow_up_months": 6.0})
    ax = plots.intervention_timeline(trial, [0, 6]).axes[0]
    assert list(_line(ax, "assessments").get_xdata()) == [0.0, 6.0]


# ------------------------------------------------------------------ small multiples


def test_one_panel_per_numeric_outcome(tables):
    sb = plots.outcome_small_multiples(_outcomes(tables, "sb_nguyen2023"))
    assert len(sb.axes) == 27  # every sb outcome has numbers; spare grid cells removed
    cp = plots.outcome_small_multiples(_outcomes(tables, "cp_akhlaghpasand2025"))
    assert len(cp.axes) == 6  # GMFM domains (p-values only) are not plotted
    assert plots.outcome_small_multiples(_outcomes(tables, "cp_nguyen2017")) is None


def _panel(figure: Figure, words: str):
    return next(ax for ax in figure.axes if words in ax.get_title(loc="left").replace("\n", " "))


def test_mean_panel_has_each_timepoint_with_sd_bars_and_n(tables):
    figure = plots.outcome_small_multiples(_outcomes(tables, "sb_nguyen2023"))
    ax = _panel(figure, "Cystometric bladder capacity")
    points = ax.containers[0].lines[0]
    assert list(points.get_xdata()) == [0.0, 6.0, 12.0]
    assert list(points.get_ydata()) == [127.7, 136.3, 158.3]
    assert [t.get_text() for t in ax.texts] == ["n = 7"] * 3
    assert "mean ± SD" in ax.get_ylabel()


def test_count_panel_shows_percent_with_exact_interval_and_n(tables):
    figure = plots.outcome_small_multiples(_outcomes(tables, "sb_nguyen2023"))
    ax = _panel(figure, "feel the urge to defecate")
    points = ax.containers[0].lines[0]
    assert np.allclose(points.get_ydata(), [0.0, 500 / 7, 600 / 7])
    # The bars are the exact intervals of the result table trial_proportions.
    outcomes = _outcomes(tables, "sb_nguyen2023")
    table = estimates.proportions(outcomes)
    table = table[table["measure"].str.contains("feel the urge to defecate")]
    bars = ax.containers[0].lines[2][0].get_segments()
    assert np.allclose([bar[0][1] for bar in bars], 100 * table["ci_low"].to_numpy(float))
    assert np.allclose([bar[1][1] for bar in bars], 100 * table["ci_high"].to_numpy(float))
    assert [t.get_text() for t in ax.texts] == ["0/7\nn = 7", "5/7\nn = 7", "6/7\nn = 7"]
    assert "exact 95% CI" in ax.get_ylabel()


def test_median_panel_uses_the_range(tables):
    figure = plots.outcome_small_multiples(_outcomes(tables, "sb_nguyen2023"))
    ax = _panel(figure, "percentage of expected capacity")
    assert list(ax.containers[0].lines[0].get_ydata()) == [78.4, 64.1, 59.8]
    assert "median (range)" in ax.get_ylabel()


def test_single_count_without_baseline_is_still_plotted(tables):
    figure = plots.outcome_small_multiples(_outcomes(tables, "sci_honmou2021"))
    assert len(figure.axes) == 1
    assert [t.get_text() for t in figure.axes[0].texts] == ["12/13\nn = 13"]


def _left_title(ax) -> Text:
    return next(
        child
        for child in ax.get_children()
        if isinstance(child, Text) and child.get_text() == ax.get_title(loc="left")
    )


def test_large_values_are_written_in_full_below_a_title_on_its_panel(tables):
    rows = _outcomes(tables, "sb_nguyen2023")
    means = rows[rows["mean"].notna()]
    one = means[means["outcome_id"] == means["outcome_id"].iloc[0]]
    # Values where matplotlib would write "+1e6" in the corner the title occupies.
    one = one.assign(mean=1_000_000 + one["mean"] / 1000, sd=0.01)
    figure = plots.outcome_small_multiples(one)
    figures.svg(figure)  # laid out and drawn as the site draws it
    ax = figure.axes[0]
    assert ax.yaxis.get_offset_text().get_text() == ""
    shown = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert shown and all(999_999 < float(text.replace("−", "-")) < 1_000_001 for text in shown)
    renderer = figure.canvas.get_renderer()
    title = _left_title(ax).get_window_extent(renderer)
    assert title.y0 >= ax.get_window_extent(renderer).y1  # above the panel, not over it
    low, high = ax.get_ylim()
    drawn = [
        label
        for tick, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
        if low <= tick <= high
    ]
    assert drawn and all(label.get_window_extent(renderer).y1 <= title.y0 for label in drawn)


def test_the_timeline_title_sits_above_its_axes(tables):
    figure = plots.intervention_timeline(
        _trial(tables, "sb_nguyen2023"), _outcomes(tables, "sb_nguyen2023")
    )
    figures.svg(figure)
    ax = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    assert _left_title(ax).get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1


# ------------------------------------------------------------------ display and determinism


def test_figures_are_not_registered_with_pyplot(tables):
    before = plt.get_fignums()
    plots.outcome_small_multiples(_outcomes(tables, "cp_akhlaghpasand2025"))
    plots.intervention_timeline(_trial(tables, "sb_nguyen2023"), [0, 6, 12])
    assert plt.get_fignums() == before  # nothing for the inline backend to show a second time


@pytest.mark.parametrize("trial_id", ["cp_akhlaghpasand2025", "sci_honmou2021"])
def test_svg_output_is_byte_identical_between_builds(tables, trial_id):
    def both() -> bytes:
        timeline = plots.intervention_timeline(
            _trial(tables, trial_id), _outcomes(tables, trial_id)
        )
        panels = plots.outcome_small_multiples(_outcomes(tables, trial_id))
        return _svg(timeline) + _svg(panels)

    first, second = both(), both()
    assert first == second
    assert b"<dc:date>" not in first  # no timestamp in the metadata
