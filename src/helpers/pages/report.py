"""Tables and text for display: what notebooks show to reviewers, built from processed tables.

Every function returns a DataFrame (rendered by pandas, which escapes cell text) or an
``IPython.display.HTML`` built with :func:`html.escape` on every value that comes from data,
so a title containing ``<script>`` renders as text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
from IPython.display import HTML

SEVERITY_ORDER = {"warning": 0, "info": 1}


def ingestion_overview(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per trial: what was extracted and verified, and how many flags it raised."""
    trials = tables["trials"].set_index("trial_id")

    def per_trial(table: str, **filters: object) -> pd.Series:
        frame = tables[table]
        for column, value in filters.items():
            frame = frame[frame[column] == value]
        return frame.groupby("trial_id").size()

    overview = pd.DataFrame(
        {
            "source kind": trials["source_kind"],
            "condition": trials["condition"],
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
    overview.index.name = "trial"
    return overview


def flags(checks: pd.DataFrame, trial_id: str | None = None) -> pd.DataFrame:
    """Consistency findings, warnings first, for one trial or all."""
    frame = checks if trial_id is None else checks[checks["trial_id"] == trial_id]
    order = frame["severity"].map(SEVERITY_ORDER)
    frame = frame.assign(_order=order).sort_values(["_order", "trial_id", "check"], kind="stable")
    columns = ["severity", "check", "field", "message"]
    if trial_id is None:
        return frame[["trial_id", *columns]].set_index("trial_id")
    return frame[columns].set_index("severity")


def uncaptured(coverage: pd.DataFrame, trial_id: str | None = None) -> pd.DataFrame:
    """Numbers in a source's results that no sheet value captured, with context."""
    frame = coverage if trial_id is None else coverage[coverage["trial_id"] == trial_id]
    return frame.set_index("trial_id")


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
    """Show whole tables (reviewers read every row) with stable number formatting."""
    pd.set_option("display.max_rows", 500)
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.max_colwidth", 400)
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", "{:.4g}".format)


def table_sizes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows and columns of each processed table."""
    return pd.DataFrame(
        {
            "rows": {name: len(frame) for name, frame in tables.items()},
            "columns": {name: frame.shape[1] for name, frame in tables.items()},
        }
    ).rename_axis("table")
