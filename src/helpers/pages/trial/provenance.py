"""Data quality and provenance of one study: the ingestion's warnings, numbers the extraction
did not capture, values its reports give differently, and every quote the page cites."""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages.tables import captioned, with_caption
from helpers.pages.trial import common
from helpers.pages.trial.common import MISSING, Tables, present, rows, text, trial_row

# Where each info-level finding already shows on the page.
INFO_SHOWN_AT = {
    "derived_value": "the 'how obtained' columns",
    "subgroup": "the subgroup in square brackets after the outcome",
    "count_unit": "the safety table's 'reported as' column",
}


def flags(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """The ingestion's warnings for this study (notes are counted, with where they show)."""
    trial_row(trial_id, tables)
    found = rows(tables, "checks", trial_id)
    warnings = found[found["severity"] == "warning"]
    notes = found[found["severity"] != "warning"]["check"].value_counts()
    said = []
    for check, count in notes.items():
        where = INFO_SHOWN_AT.get(str(check), "the data-quality report")
        said.append(f"{fmt.plural(int(count), 'note')} on {labels.label('check', check)} ({where})")
    summary = (
        "The checks also made " + "; ".join(said) + "." if said else "The checks made no notes."
    )
    if warnings.empty:
        return HTML(
            f"<p>The checks raised no warning for this study. {html.escape(summary)} "
            f'Every finding is listed in the <a href="{common.DATA_QUALITY_PAGE}">data-quality '
            "report</a>.</p>"
        )
    frame = pd.DataFrame(
        {
            "#": range(1, len(warnings) + 1),
            "check": [labels.label("check", c) for c in warnings["check"]],
            "about": warnings["subject"].map(text),
            "finding": warnings["message"],
        }
    ).set_index("#")
    return captioned(
        frame,
        "Data-quality warnings raised when the extraction was checked",
        notes=[summary + " Every finding is listed in the data-quality report (see the index)."],
    )


@with_caption("Numbers in the reports' results that the extraction did not capture")
def uncaptured(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Numbers in the reports' results that no extracted value captured, with context."""
    trial_row(trial_id, tables)
    found = rows(tables, "coverage", trial_id)
    if found.empty:
        return common.sentence(
            "Every number in the reports' results was captured by the extraction."
        )
    return pd.DataFrame(
        {"number": found["number"], "where it stands in the report": found["context"]}
    ).set_index("number")


@with_caption("Values the reports of the study give differently, and the version used")
def report_versions(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Values that more than one report gives: the version used (most complete report) and
    the others, saying whether they agree."""
    trial_row(trial_id, tables)
    found = rows(tables, "superseded", trial_id)
    if found.empty:
        return common.sentence("No value is given by more than one report of this study.")
    kinds = rows(tables, "reports", trial_id).set_index("report")["kind"]

    def from_reports(files: object) -> str:
        return "; ".join(
            labels.label("kind", kinds.get(file, "")) for file in str(files).split(";")
        )

    return pd.DataFrame(
        {
            "item": found["item"],
            "value used": found["used_value"] + " (" + found["used_report"].map(from_reports) + ")",
            "other report's value": found["value"] + " (" + found["report"].map(from_reports) + ")",
            "the reports": found["agrees"].map({True: "agree", False: "disagree"}),
            "sources": [common.refs(ids, trial_id) for ids in found["quote_id"]],
        }
    ).set_index("item")


def _field_words(field: object) -> str:
    """'trial.n_safety' -> 'patients in the safety analysis'."""
    parts = [p for p in str(field).split(".") if not p.isdigit()]
    return labels.label("field", parts[-1]) if parts else str(field)


def cited_for(trial_id: str, tables: Tables) -> dict[str, str]:
    """Every quote id the page cites, in order of first appearance, with what it is cited for."""
    found: dict[str, str] = {}

    def cite(table: str, describe) -> None:
        # Plain records: a Series per row costs ten times as much, and describe only reads.
        for row in rows(tables, table, trial_id).to_dict("records"):
            for quote_id in common.quote_ids(row["quote_id"]):
                found.setdefault(quote_id, describe(row))

    cite("trial_facts", lambda row: _field_words(row["field"]))
    cite("characteristics", lambda row: str(row["label"]))
    cite("doses", lambda row: "dose")
    cite("outcomes", lambda row: f"{common.outcome_name(row)}, {row['timepoint']}")
    cite("outcome_narratives", lambda row: f"{text(row['outcome'], row['measure'])}, in words")
    cite("adverse_events", lambda row: f"adverse event: {row['term']}")
    cite("limitations", lambda row: "a limitation the report states")
    cite("superseded", lambda row: f"{row['item']} (the other report's version)")
    return found


@with_caption("Every quote mark on this page with its verbatim quote and where it was found")
def provenance(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Every quote the page cites: the mark (the target of its links), the verbatim quote,
    what it is cited for and where in which report it was found."""
    trial_row(trial_id, tables)
    used = cited_for(trial_id, tables)
    if not used:
        return common.sentence("This page cites no quotes.")
    located = tables["provenance"].drop_duplicates("quote_id").set_index("quote_id")
    shown = []
    for quote_id, what in used.items():
        entry = located.loc[quote_id] if quote_id in located.index else None
        where = MISSING
        if entry is not None:
            kind = (
                labels.label("kind", entry["report_kind"]) if present(entry["report_kind"]) else ""
            )
            span = (
                f"characters {fmt.count(entry['start'])} to {fmt.count(entry['end'])}"
                if present(entry["start"])
                else "position not recorded"
            )
            where = f"{kind} {entry['report']}, {span}".strip()
        shown.append(
            {
                "mark": common.quote_anchor(quote_id, trial_id),
                "verbatim quote": entry["quote"]
                if entry is not None
                else "not found in the reports",
                "cited for": what,
                "where": where,
            }
        )
    return pd.DataFrame(shown).set_index("mark")
