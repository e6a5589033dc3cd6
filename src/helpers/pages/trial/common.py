"""What every section of a trial page shares: the parameters, the study's rows, quote marks.

``tables`` is one mapping of the processed tables (:func:`helpers.data.load_all`) and the result
tables (:func:`helpers.stats.analysis.load_or_compute`); :func:`check_parameters` is the
notebook's first step, so that a bad trial id or setting stops the page before anything
renders. Quote marks ``[q087]`` link to the quote's row in the provenance table
(``#q087``), which carries the matching anchor (:func:`quote_anchor`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from IPython.display import HTML
from markupsafe import Markup

from helpers.pages import format as fmt
from helpers.pages.tables import link
from helpers.stats import analysis, estimates

Tables = Mapping[str, pd.DataFrame]
MISSING = "—"  # a cell with nothing to show (tables render it muted)
SYNTHESIS_PAGE = "../synthesis.html"
DATA_QUALITY_PAGE = "../ingest.html"


def present(value: object) -> bool:
    return fmt.present(value)


def is_(value: object, expected: str) -> bool:
    """NA-safe equality for a text field."""
    return present(value) and str(value) == expected


def text(value: object, missing: str = MISSING) -> str:
    return str(value) if present(value) else missing


# --------------------------------------------------------------------------------------------
# Parameters and the study's rows
# --------------------------------------------------------------------------------------------


def require_trial(trial_id: object, trials: pd.DataFrame) -> str:
    """``trial_id`` if it names a processed study, else ValueError listing the valid ids."""
    valid = sorted(trials["trial_id"].dropna().astype(str))
    if not isinstance(trial_id, str) or trial_id not in valid:
        raise ValueError(f"unknown trial_id {trial_id!r}; valid ids: {', '.join(valid)}")
    return trial_id


def check_parameters(
    trials: pd.DataFrame, trial_id: object, **settings: object
) -> tuple[str, analysis.Settings]:
    """The notebook's parameters, every one checked at once.

    The settings go through :meth:`helpers.stats.analysis.Settings.from_parameters`; an unknown
    trial id lists the valid ones. One ValueError names every problem.
    """
    problems: list[str] = []
    checked = None
    try:
        checked = analysis.Settings.from_parameters(**settings)
    except ValueError as problem:
        problems.append(str(problem))
    try:
        trial_id = require_trial(trial_id, trials)
    except ValueError as problem:
        problems.append(str(problem))
    if problems:
        raise ValueError("; ".join(problems))
    return str(trial_id), checked  # type: ignore[return-value]


class TrialTables(dict):
    """Tables cut to one study's rows by :func:`of_trial`, remembering which frames it cut.

    What the page's sections look up again and again from one cut table (the study's row,
    its facts by field) is worked out once per table (:meth:`derived`).
    """

    def __init__(self, trial_id: str, tables: Mapping[str, pd.DataFrame], cut: set[str]) -> None:
        super().__init__(tables)
        self.trial_id = trial_id
        self._cut = {name: tables[name] for name in cut}
        self._derived: dict[tuple[str, str], object] = {}

    def _own(self, table: str, trial_id: str) -> pd.DataFrame | None:
        frame = self.get(table)
        if trial_id != self.trial_id or frame is None or frame is not self._cut.get(table):
            return None
        return frame

    def own_rows(self, table: str, trial_id: str) -> pd.DataFrame | None:
        """The table as cut for ``trial_id``; None if it was not, or has been replaced since."""
        frame = self._own(table, trial_id)
        return None if frame is None else frame.copy(deep=False)  # a caller's change stays its own

    def derived(self, table: str, trial_id: str, name: str, build):
        """``build(rows)`` of the table as cut for ``trial_id``, built once; None if not cut.

        The result is shared by every caller: ``build`` returns values nobody changes.
        """
        frame = self._own(table, trial_id)
        if frame is None:
            return None
        key = (table, name)
        if key not in self._derived:
            self._derived[key] = build(frame)
        return self._derived[key]


def of_trial(trial_id: str, tables: Tables) -> TrialTables:
    """Every table cut to the study's rows; tables without a ``trial_id`` column stay whole.

    The page's sections look rows up by trial many times; at 1,000 trials each look-up in the
    full tables cost several milliseconds, in the study's own rows a fraction of one, and in
    tables already cut (what :func:`rows` finds here) nothing.
    """
    cut = {name for name, frame in tables.items() if "trial_id" in frame.columns}
    own = {
        name: rows(tables, name, trial_id) if name in cut else frame
        for name, frame in tables.items()
    }
    return TrialTables(trial_id, own, cut)


def rows(tables: Tables, table: str, trial_id: str) -> pd.DataFrame:
    """The study's rows of one processed or result table."""
    if isinstance(tables, TrialTables):
        own = tables.own_rows(table, trial_id)
        if own is not None:
            return own
    return _study_rows(tables[table], trial_id)


def _study_rows(frame: pd.DataFrame, trial_id: str) -> pd.DataFrame:
    """``frame[frame["trial_id"] == trial_id]`` renumbered, cut as a slice when the rows are
    together (tables are written study by study): at 1,000 trials a boolean mask over every
    column of ~30 tables cost ~60 ms a page, the slice ~25 ms."""
    ids = frame["trial_id"].to_numpy(dtype=object, na_value=None)
    found = np.flatnonzero(ids == trial_id)
    if len(found) and found[-1] - found[0] + 1 == len(found):
        own = frame.iloc[found[0] : found[-1] + 1]
    else:
        own = frame.take(found)
    return own.reset_index(drop=True)


def each_row(frame: pd.DataFrame) -> list[pd.Series]:
    """The frame's rows as Series, built once for sections that go over them several times."""
    return [row for _, row in frame.iterrows()]


def trial_row(trial_id: str, tables: Tables) -> pd.Series:
    """The study's row of the trials table (ValueError listing the valid ids if none)."""
    if isinstance(tables, TrialTables):
        # Cut after check_parameters: the study's row is there unless the id is not its own.
        found = tables.derived("trials", trial_id, "row", _first_row)
        if found is not None:
            return found.copy()
    require_trial(trial_id, tables["trials"])
    return rows(tables, "trials", trial_id).iloc[0]


def _first_row(frame: pd.DataFrame) -> pd.Series | None:
    return frame.iloc[0] if len(frame) else None


def study_label(trial: pd.Series) -> str:
    """How pages name the study ('Akhlaghpasand 2025')."""
    return text(trial["label"], str(trial["title"]))


def fact(trial_id: str, tables: Tables, field: str) -> tuple[str, Markup | str]:
    """(why a sheet field is not reported, its quote marks) for one field of the study."""
    by_field = None
    if isinstance(tables, TrialTables):
        by_field = tables.derived("trial_facts", trial_id, "by field", _facts_by_field)
    if by_field is None:
        by_field = _facts_by_field(rows(tables, "trial_facts", trial_id))
    if field not in by_field:
        return "", MISSING
    not_reported, quote_id = by_field[field]
    reason = str(not_reported) if present(not_reported) else ""
    return reason, refs(quote_id, trial_id)


def _facts_by_field(facts: pd.DataFrame) -> dict[str, tuple[object, object]]:
    """Each field's (not_reported, quote_id), from its first row."""
    found: dict[str, tuple[object, object]] = {}
    columns = (facts["field"], facts["not_reported"], facts["quote_id"])
    for field, not_reported, quote_id in zip(*columns, strict=True):
        found.setdefault(field, (not_reported, quote_id))
    return found


def or_reason(value: str, trial_id: str, tables: Tables, field: str) -> str:
    """``value``, or 'not reported (why)' when the study does not give it."""
    if value and value != MISSING:
        return value
    reason, _ = fact(trial_id, tables, field)
    return f"not reported ({reason})" if reason else "not reported"


# --------------------------------------------------------------------------------------------
# Quote marks
# --------------------------------------------------------------------------------------------


def short_ref(quote_id: str, trial_id: str) -> str:
    """'sb_nguyen2023-q087' -> 'q087' (the study is implied on its own page)."""
    prefix = f"{trial_id}-"
    return quote_id[len(prefix) :] if quote_id.startswith(prefix) else quote_id


def quote_ids(value: object) -> list[str]:
    return [q for q in estimates.join_quote_ids(value).split(";") if q]


def refs(value: object, trial_id: str) -> Markup | str:
    """Quote marks '[q087] [q088]', each a link to its row in the provenance table."""
    marks = [
        Markup("[{}]").format(link(f"#{short_ref(q, trial_id)}", short_ref(q, trial_id)))
        for q in quote_ids(value)
    ]
    return Markup(" ").join(marks) if marks else MISSING


def quote_anchor(quote_id: str, trial_id: str) -> Markup:
    """The mark as the target of its links (first cell of a provenance row)."""
    ref = short_ref(quote_id, trial_id)
    return Markup('<span id="{}">{}</span>').format(ref, ref)


def refs_html(value: object, trial_id: str) -> str:
    """Quote marks as HTML for running text (empty when there are none)."""
    marks = refs(value, trial_id)
    return str(marks) if isinstance(marks, Markup) else ""


# --------------------------------------------------------------------------------------------
# Small pieces of page
# --------------------------------------------------------------------------------------------


def sentence(words: str, items: Iterable[str | Markup] = ()) -> HTML:
    """A plain escaped sentence, optionally followed by a bullet list (items may be Markup)."""
    bullets = "".join(
        f"<li>{html.escape(item) if not isinstance(item, Markup) else item}</li>" for item in items
    )
    return HTML(f"<p>{html.escape(words)}</p>" + (f"<ul>{bullets}</ul>" if bullets else ""))


def statistics_text(row: pd.Series) -> str:
    """One cell for any reported summary: mean ± SD, median (range), events/total, percent."""
    reported = fmt.reported
    if present(row.get("mean")):
        shown = reported(row["mean"])
        if present(row.get("sd")):
            return f"{shown} ± {reported(row['sd'])}"
        if present(row.get("se")):
            return f"{shown} ± {reported(row['se'])} (SE)"
        return f"{shown} (no SD reported)"
    if present(row.get("median")):
        low, high = row.get("low"), row.get("high")
        spread = f" (range {reported(low)} to {reported(high)})" if present(low) else ""
        return f"median {reported(row['median'])}{spread}"
    if present(row.get("events")) and present(row.get("total")):
        events, total = int(row["events"]), int(row["total"])
        percent = row.get("percent_reported")
        shown = f"{percent}% reported" if present(percent) else fmt.percent(events / total)
        return f"{events}/{total} ({shown})"
    if present(row.get("percent_reported")):
        return f"{row['percent_reported']}%"
    low, high = row.get("low"), row.get("high")
    if present(low) and present(high):
        if float(low) == float(high):
            return reported(low)
        return f"{reported(low)} to {reported(high)}"
    if present(low):
        return f"at least {reported(low)}"
    if present(high):
        return f"at most {reported(high)}"
    return "described in words only"


def unit_words(row: pd.Series) -> str:
    """The unit of a change, '' for scale points without a unit: 'mL', 'points'."""
    if present(row.get("unit")):
        return f" {row['unit']}"
    return " points" if present(row.get("scale")) else ""


def outcome_name(row: pd.Series) -> str:
    """An outcome's short name with the subgroup measured: 'Bladder capacity [7 of 11 ...]'."""
    name = text(row.get("outcome"), str(row.get("measure")))
    population = row.get("population")
    return f"{name} [{population}]" if present(population) else name
