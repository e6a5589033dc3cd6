"""What every section of the synthesis page reads: the result tables, the trials, the settings.

Sections format result tables; they never compute a statistic. Long tables show their first
:data:`ROWS_SHOWN` rows (ranked so the most informative come first) and say where every row
is, so the page stays readable at any number of trials.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from IPython.display import HTML
from markupsafe import Markup, escape

from helpers import data
from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.stats import analysis
from helpers.stats.synthesis import ALL, select_sources

ROWS_SHOWN = 60  # rows of a long table shown on the page; all are in data/results
FIGURE_ROWS = 30  # rows of a forest plot or evidence map drawn per trial
FIGURES_SHOWN = 6  # forest plots per section (one per pooled analysis, the largest first)
NAMES_SHOWN = 6  # trials named in one cell before "and N more"


@dataclass(frozen=True, eq=False)
class Inputs:
    """The synthesis results and the processed tables of the trials they cover."""

    settings: analysis.Settings
    results: Mapping[str, pd.DataFrame]
    tables: Mapping[str, pd.DataFrame]  # processed tables of the selected trials
    processed: Mapping[str, pd.DataFrame]  # every processed table (the methods' register)

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.results[table]

    @functools.cached_property
    def trials(self) -> pd.DataFrame:
        return self.tables["trials"].sort_values(["condition", "trial_id"], kind="stable")

    @functools.cached_property
    def _labels(self) -> dict[str, str]:
        every = self.processed["trials"]  # the methods name trials the settings left out
        return dict(zip(every["trial_id"], every["label"], strict=True))

    def study(self, trial_id: object) -> str:
        """The study's label ('Akhlaghpasand 2025')."""
        return self._labels.get(str(trial_id), str(trial_id))

    def study_link(self, trial_id: object) -> Markup:
        """The study's label linking to its trial page."""
        return tables.link(f"trials/{trial_id}.html", self.study(trial_id))

    def studies(self, ids: object, limit: int = NAMES_SHOWN) -> str:
        """';'-separated trial ids as their labels: 'Nguyen 2017, Yang 2021', the first
        ``limit`` of them and how many more."""
        if not fmt.present(ids) or not str(ids):
            return ""
        names = [self.study(i) for i in str(ids).split(";")]
        if len(names) <= limit:
            return ", ".join(names)
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"

    @functools.cached_property
    def conditions(self) -> list[str]:
        """Condition codes of the selected trials, in order."""
        return sorted(set(self.trials["condition"]))


def load(settings: analysis.Settings) -> Inputs:
    """The page's inputs: results computed with ``settings`` (stored ones when they match)."""
    processed = data.load_all()
    results = analysis.load_or_compute(settings, processed)
    return Inputs(settings, results, select_sources(processed, settings.source_kinds), processed)


def scope_words(scope: object) -> str:
    """'all conditions' or the condition's name."""
    return ALL if scope == ALL else fmt.condition(scope)


def outcome_words(subject: object, surrogate: bool = False) -> str:
    """An outcome domain's name, capitalised, marking physiological measures."""
    text = fmt.domain(subject)
    text = text[:1].upper() + text[1:]
    return f"{text} (physiological measures)" if surrogate else text


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def anchored(anchor: str, *blocks: object) -> HTML:
    """Blocks (tables, HTML, text) in one element that links can point at (``#anchor``)."""
    parts = []
    for block in blocks:
        if isinstance(block, tables.Table):
            parts.append(block.to_html())
        elif isinstance(block, pd.DataFrame):
            parts.append(tables.Table.from_frame(block).to_html())
        elif isinstance(block, HTML):
            parts.append(block.data)
        else:
            parts.append(f"<p>{escape(str(block))}</p>")
    return HTML(f'<div id="{escape(anchor)}">{"".join(parts)}</div>')


def paragraphs(lines: list[str]) -> HTML:
    """Sentences as escaped paragraphs."""
    return HTML("".join(f"<p>{escape(line)}</p>" for line in lines if line))


def shown_rows(
    frame: pd.DataFrame, *, what: str, ranked: str, table: str
) -> tuple[pd.DataFrame, list[str]]:
    """The first :data:`ROWS_SHOWN` rows of ``frame`` (already ranked) and a note saying where
    the others are: result table ``table`` (or the processed table, when it is one)."""
    frame = frame.reset_index(drop=True)
    if len(frame) <= ROWS_SHOWN:
        return frame, []
    folder = "processed evidence" if table in data.TABLES else "analysis results"
    note = (
        f"The first {ROWS_SHOWN} of {len(frame)} {what} ({ranked}) are shown; every row is in "
        f"the {folder} (file {table}.csv)."
    )
    return frame.head(ROWS_SHOWN), [note]
