"""The data-quality report (the ingestion page, for maintainers) and shared display helpers.

Every function returns a captioned DataFrame (rendered by :mod:`helpers.pages.tables`, which
escapes cell text) or an ``IPython.display.HTML`` built with :func:`html.escape` on every value
that comes from data, so a title containing ``<script>`` renders as text. Trials are named by
their extraction sheet (``<trial_id>.yaml``), the file a maintainer opens to fix a finding, and
places in a sheet in words ("outcome 3 › timepoint 1" for ``outcomes.2.timepoints.0``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import pandas as pd
from IPython.display import HTML

from helpers.pages import figures
from helpers.pages import tables as display_tables
from helpers.pages.tables import captioned

SEVERITY_ORDER = {"warning": 0, "info": 1}
SHEET = "sheet"


def sheet_name(trial_id: str) -> str:
    """The extraction sheet of a trial (its file name is the trial id)."""
    return f"{trial_id}.yaml"


def words(identifier: object) -> str:
    """A stored identifier as words: ``"derived_value"`` -> ``"derived value"``."""
    return str(identifier).replace("_", " ")


def field_label(path: object) -> str:
    """A place in an extraction sheet in words, counting list items from 1.

    >>> field_label("outcomes.2.timepoints.0")
    'outcome 3 › timepoint 1'
    >>> field_label("trial.n_safety")
    'trial › n safety'
    """
    parts = str(path).split(".")
    labels: list[str] = []
    for part in parts:
        if part.isdigit() and labels:
            name = labels.pop()
            name = re.sub(r"ies$", "y", name) if name.endswith("ies") else name.removesuffix("s")
            labels.append(f"{name} {int(part) + 1}")
        else:
            labels.append(words(part))
    return " › ".join(labels)


def ingestion_overview(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per sheet: what was extracted and verified, and how many flags it raised."""
    trials = tables["trials"].set_index("trial_id")

    def per_trial(table: str, **filters: object) -> pd.Series:
        frame = tables[table]
        for column, value in filters.items():
            frame = frame[frame[column] == value]
        return frame.groupby("trial_id").size()

    overview = pd.DataFrame(
        {
            "source kind": trials["source_kind"].map(words),
            "condition": trials["condition"].map(words),
            "quotes located": trials["n_quotes"],
            "outcomes": tables["outcomes"].groupby("trial_id")["outcome_id"].nunique(),
            "outcome timepoints": per_trial("outcomes"),
            "narrative outcomes": per_trial("outcome_narratives"),
            "adverse-event rows": per_trial("adverse_events"),
            "characteristics": per_trial("characteristics"),
            "warnings": per_trial("checks", severity="warning"),
            "notes": per_trial("checks", severity="info"),
            "uncaptured numbers": per_trial("coverage"),
        }
    )
    counts = overview.columns.drop(["source kind", "condition"])
    overview[counts] = overview[counts].fillna(0).astype("int64")
    overview.index = overview.index.map(sheet_name).rename(SHEET)
    return captioned(overview, "What was extracted from each source and verified, per sheet")


def flags(checks: pd.DataFrame, trial_id: str | None = None) -> pd.DataFrame:
    """Consistency findings, warnings first, for one trial or all; places in words."""
    frame = checks if trial_id is None else checks[checks["trial_id"] == trial_id]
    order = frame["severity"].map(SEVERITY_ORDER)
    frame = frame.assign(_order=order).sort_values(["_order", "trial_id", "check"], kind="stable")
    frame = frame.assign(
        check=frame["check"].map(words),
        field=frame["field"].map(field_label),
        **{SHEET: frame["trial_id"].map(sheet_name)},
    ).rename(columns={"field": "where in the sheet"})
    columns = ["severity", "check", "where in the sheet", "message"]
    caption = "Consistency findings of the ingestion, warnings first"
    if trial_id is None:
        return captioned(frame[[SHEET, *columns]].set_index(SHEET), caption)
    return captioned(frame[columns].set_index("severity"), caption)


def uncaptured(coverage: pd.DataFrame, trial_id: str | None = None) -> pd.DataFrame:
    """Numbers in a source's results that no sheet value captured, with context."""
    frame = coverage if trial_id is None else coverage[coverage["trial_id"] == trial_id]
    frame = frame.assign(trial_id=frame["trial_id"].map(sheet_name)).rename(
        columns={"trial_id": SHEET, "offset": "position (characters into the source)"}
    )
    return captioned(
        frame.set_index(SHEET), "Numbers in the results that no extracted value captured"
    )


def paragraphs(lines: Iterable[str]) -> HTML:
    """Generated sentences as HTML paragraphs, every one escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return HTML(body or "<p><em>Nothing to report.</em></p>")


def bullet_list(items: Iterable[str]) -> HTML:
    """A plain HTML list, every item escaped."""
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return HTML(f"<ul>{body}</ul>" if body else "<p><em>None.</em></p>")


def verification_statement(tables: dict[str, pd.DataFrame]) -> str:
    """One sentence a reviewer can check: how many quotes and values were verified."""
    provenance = tables["provenance"]
    n_trials = tables["trials"]["trial_id"].nunique()
    n_values = sum(
        int(tables[t]["quote_id"].notna().sum())
        for t in ("outcomes", "adverse_events", "characteristics", "trial_facts")
    )
    return (
        f"{len(provenance)} verbatim quotes from {n_trials} sources were located in the "
        f"normalised raw text, and the numbers of {n_values} extracted rows were found in "
        "their quotes (or carry a stated derivation)."
    )


def setup_display() -> None:
    """Notebook display for the site: captioned tables, figures with alt text and a PNG.

    Tables render through :mod:`helpers.pages.tables` (HTML, with a short plain-text preview
    beside it); figures through :mod:`helpers.pages.figures`.
    """
    pd.set_option("display.float_format", "{:.4g}".format)
    display_tables.install()
    figures.install()


def table_sizes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows and columns of each processed table (its CSV file)."""
    sizes = pd.DataFrame(
        {
            "rows": {f"{name}.csv": len(frame) for name, frame in tables.items()},
            "columns": {f"{name}.csv": frame.shape[1] for name, frame in tables.items()},
        }
    ).rename_axis("table")
    return captioned(sizes, "The processed tables: rows and columns of each file")
