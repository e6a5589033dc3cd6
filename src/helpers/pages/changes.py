"""The "What changed" page: the change tables of :mod:`helpers.data.changes` for reviewers.

One captioned table per kind of change (trials and reports, estimates, votes, certainty, flags), in
words: studies by their labels, outcomes by theirs, estimates in the site's one convention
(positive = benefit, :mod:`helpers.pages.format`). Nothing on the page depends on the clock:
it says which regeneration it describes by what it compares, not by a date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
from markupsafe import escape

from helpers.pages import format as fmt
from helpers.pages import site, tables

TITLE = "What changed"
FIRST_BUILD = "First build: nothing to compare with."
CHANGE_WORDS = {
    "added": "added",
    "removed": "removed",
    "moved": "moved",
    "raised": "raised",
    "resolved": "resolved",
}
ESTIMATE_WORDS = {
    "change score": "standardised mean change",
    "risk difference": "change in the proportion of patients",
    "pooled efficacy": "pooled standardised mean change",
    "serious events": "patients with a serious adverse event",
    "adverse events": "adverse event",
}
FOUND_BY = {"checks": "data-quality checks", "analysis": "the analysis"}


def _text(value: object) -> str:
    return str(value) if fmt.present(value) else ""


def _study(row: Mapping) -> str:
    return _text(row.get("label")) or _text(row.get("trial_id")) or "several trials"


def _scope(code: object) -> str:
    text = _text(code)
    return text if text in ("", "all conditions") else fmt.condition(text)


def _value(estimate: str, value: float, low: float, high: float) -> str:
    if not fmt.present(value):
        return "none"
    if estimate in ("serious events", "adverse events"):
        interval = fmt.percent_interval(low, high)
        return (
            f"{fmt.percent(value)} (95% CI {interval})" if fmt.present(low) else fmt.percent(value)
        )
    if estimate == "risk difference":
        return f"{fmt.signed(100 * value, 1)} percentage points"
    return fmt.estimate(value, low, high) if fmt.present(low) else fmt.number(value)


def _what(row: Mapping) -> str:
    estimate = str(row["estimate"])
    words = ESTIMATE_WORDS.get(estimate, estimate)
    subject = _text(row["subject"])
    if estimate in ("change score", "risk difference"):
        when = f", {row['timepoint']}" if _text(row["timepoint"]) else ""
        return f"{_text(row['outcome']) or 'an outcome'} ({words}{when})"
    if estimate == "pooled efficacy":
        condition, _, domain = subject.partition(":")
        return f"{fmt.domain(domain)} in {fmt.condition(condition)}: {words}"
    if estimate == "adverse events":
        scope, _, term = subject.partition(":")
        return f"patients with {term} ({words}), {_scope(scope)}"
    return f"{words}, {_scope(subject)}"


def _certainty_outcome(row: Mapping) -> str:
    subject = _text(row["subject"])
    if row["kind"] == "safety":
        what = "serious adverse events" if subject == "serious" else f"adverse event: {subject}"
    else:
        what = fmt.domain(subject)
    return f"{what} ({_scope(row['condition'])})"


def trials_table(changes: Mapping[str, pd.DataFrame]) -> tables.Table:
    rows = [
        {"study": _study(r), "condition": _scope(r["condition"]), "change": r["change"]}
        for r in changes["changes_trials"].to_dict("records")
    ]
    rows += [
        {
            "study": _study(r),
            "condition": "",
            "change": f"report {r['change']}: {_text(r['citation']) or 'no citation'}",
        }
        for r in changes["changes_reports"].to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=["study", "condition", "change"])
    return tables.Table(
        frame,
        caption="Studies and reports added or removed",
        notes=["An added or removed study's results, flags and reports are not listed again."],
        lift_repeated=False,
    )


def estimates_table(changes: Mapping[str, pd.DataFrame]) -> tables.Table:
    rows = [
        {
            "study": _study(r) if fmt.present(r["trial_id"]) else "across trials",
            "estimate": _what(r),
            "before": _value(r["estimate"], r["old"], r["old_ci_low"], r["old_ci_high"]),
            "now": _value(r["estimate"], r["new"], r["new_ci_low"], r["new_ci_high"]),
            "change": CHANGE_WORDS.get(r["change"], r["change"]),
        }
        for r in changes["changes_estimates"].to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=["study", "estimate", "before", "now", "change"])
    return tables.Table(
        frame,
        caption="Estimates that moved, appeared or disappeared (before → now)",
        notes=[
            f"Standardised mean changes and changes in proportions: {fmt.BENEFIT_NOTE}.",
            "None: no estimate (the outcome was not there, or could not be estimated).",
        ],
        lift_repeated=False,
    )


def votes_table(changes: Mapping[str, pd.DataFrame]) -> tables.Table:
    rows = [
        {
            "study": _study(r),
            "vote of": fmt.domain(r["domain"]) if fmt.present(r["domain"]) else "the whole trial",
            "before": _text(r["old"]) or "no vote",
            "now": _text(r["new"]) or "no vote",
        }
        for r in changes["changes_votes"].to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=["study", "vote of", "before", "now"])
    return tables.Table(
        frame,
        caption="Votes on the direction of effect that changed (before → now)",
        notes=[
            "Vote counting by direction of effect: an outcome domain votes by the majority of "
            "its outcomes, a trial by the balance of its domains.",
            "No vote: the domain or trial was not in the vote counting.",
        ],
        lift_repeated=False,
    )


def certainty_table(changes: Mapping[str, pd.DataFrame]) -> tables.Table:
    rows = [
        {
            "outcome": _certainty_outcome(r),
            "before": _text(r["old"]) or "not rated",
            "now": _text(r["new"]) or "not rated",
        }
        for r in changes["changes_certainty"].to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=["outcome", "before", "now"])
    return tables.Table(
        frame, caption="Certainty of the evidence (GRADE) that changed", lift_repeated=False
    )


def flags_table(changes: Mapping[str, pd.DataFrame]) -> tables.Table:
    rows = [
        {
            "study": _study(r),
            "found by": FOUND_BY.get(r["found_by"], r["found_by"]),
            "severity": r["severity"],
            "about": r["subject"],
            "finding": r["message"],
            "change": CHANGE_WORDS.get(r["change"], r["change"]),
        }
        for r in changes["changes_flags"].to_dict("records")
    ]
    frame = pd.DataFrame(
        rows, columns=["study", "found by", "severity", "about", "finding", "change"]
    )
    return tables.Table(
        frame,
        caption="Flags raised or resolved",
        notes=["Warning: changes what a number means; info: worth knowing."],
        lift_repeated=False,
    )


SECTIONS = (
    ("changes_trials", "studies", "Studies and reports", trials_table),
    ("changes_estimates", "estimates", "Estimates", estimates_table),
    ("changes_votes", "votes", "Direction of effect (vote counting)", votes_table),
    ("changes_certainty", "certainty", "Certainty of the evidence", certainty_table),
    ("changes_flags", "flags", "Flags", flags_table),
)


def summary(changes: Mapping[str, pd.DataFrame]) -> str:
    """One sentence counting the changes."""
    counts = [
        fmt.plural(
            len(changes["changes_trials"]) + len(changes["changes_reports"]),
            "study or report",
            "studies or reports",
        )
        + " added or removed",
        fmt.plural(len(changes["changes_estimates"]), "estimate") + " changed",
        fmt.plural(len(changes["changes_votes"]), "vote") + " changed",
        fmt.plural(len(changes["changes_certainty"]), "certainty rating") + " changed",
        fmt.plural(len(changes["changes_flags"]), "flag") + " raised or resolved",
    ]
    return "; ".join(counts) + "."


def changes_body(changes: Mapping[str, pd.DataFrame] | None) -> str:
    """The page's content: the first-build message, or a summary and a table per kind."""
    intro = (
        "<p>What the last regeneration that changed a result changed, compared with the site "
        "it replaced. The same changes are in the machine-readable log "
        '<a href="changes.json">changes.json</a>; the tables this site was built from are in '
        '<a href="data/results/results_dictionary.csv">the result tables</a> and '
        '<a href="data/processed/data_dictionary.csv">the processed tables</a> (CSV files, '
        "each folder with its data dictionary).</p>"
    )
    parts = [f"<h1>{escape(TITLE)}</h1>", intro]
    if changes is None:
        parts.append(f"<p><strong>{escape(FIRST_BUILD)}</strong></p>")
        return "\n".join(parts)
    parts.append(f"<p>{escape(summary(changes))}</p>")
    for name, anchor, heading, table in SECTIONS:
        parts.append(f'<h2 id="{anchor}">{escape(heading)}</h2>')
        if name == "changes_trials":
            empty = changes[name].empty and changes["changes_reports"].empty
        else:
            empty = changes[name].empty
        parts.append("<p>No change.</p>" if empty else table(changes).to_html())
    return "\n".join(parts)


def changes_page(
    changes: Mapping[str, pd.DataFrame] | None, *, pages: Iterable[str] | None = None
) -> str:
    """The complete ``changes.html`` (``pages``: the pages the shared header links)."""
    return site.page_html(TITLE, changes_body(changes), page="changes.html", pages=pages)
