"""The synthesis page, one module per section; every section renders the result tables.

The notebook ``03_synthesis.ipynb`` checks its parameters into
:class:`helpers.stats.analysis.Settings`, loads the results with :func:`load` (stored results
when they were computed with the same settings, else computed now) and shows each section:

* :mod:`.key_messages` - per condition, safety, efficacy and certainty in plain language (the
  index page shows them too);
* :mod:`.findings` - a summary of findings per condition and every GRADE judgment (appendix);
* :mod:`.methods` - the review question, the register of reports and their flow, the analysis
  methods in words, each study's funding and conflicts of interest;
* :mod:`.evidence` - the evidence map and the trials' characteristics;
* :mod:`.safety`, :mod:`.efficacy`, :mod:`.votes` - the analyses;
* :mod:`.heterogeneity`, :mod:`.sensitivity`, :mod:`.context` - heterogeneity and subgroups,
  sensitivity analyses, published meta-analyses;
* :mod:`.settings` - the settings in words, and which had no effect.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from IPython.display import HTML, display
from markupsafe import escape
from matplotlib.figure import Figure

from helpers.pages import plots, report, tables
from helpers.pages.synthesis import (
    context,
    efficacy,
    evidence,
    findings,
    heterogeneity,
    key_messages,
    methods,
    safety,
    sensitivity,
    settings,
    votes,
)
from helpers.pages.synthesis.inputs import Inputs, load
from helpers.pages.synthesis.key_messages import KeyMessage, key_messages_html

__all__ = [
    "Inputs",
    "KeyMessage",
    "context",
    "efficacy",
    "evidence",
    "findings",
    "flags_table",
    "heterogeneity",
    "key_messages",
    "key_messages_html",
    "load",
    "messages",
    "methods",
    "safety",
    "sensitivity",
    "settings",
    "setup",
    "show",
    "votes",
]


def setup() -> None:
    """Notebook display: captioned tables, figures with alt text."""
    report.setup_display()
    plots.setup()


def show(items: Iterable[Figure | object]) -> None:
    """Display each item once (a notebook cell shows only its last value)."""
    for item in items:
        display(item)


def messages(inputs: Inputs) -> HTML:
    """What the evidence is, then the key messages (their links stay on this page)."""
    statement = escape(evidence.statement(inputs))
    return HTML(f"<p>{statement}</p>{key_messages_html(inputs.results)}")


def flags_table(inputs: Inputs) -> tables.Table:
    """What the analysis flagged: where a number means less than it seems."""
    flags = inputs["synthesis_flags"].sort_values(["severity", "trial_id"], kind="stable")
    rows = [
        {
            "trial": inputs.study_link(row.trial_id) if isinstance(row.trial_id, str) else "—",
            "about": row.subject,
            "severity": row.severity,
            "what was found, and what the analysis did": row.message,
        }
        for row in flags.itertuples(index=False)
    ]
    frame = pd.DataFrame(
        rows, columns=["trial", "about", "severity", "what was found, and what the analysis did"]
    )
    return tables.Table(
        frame,
        caption="What the analysis flagged, and what it did about it",
        notes=["The data-quality report lists the consistency checks of every sheet."],
    )
