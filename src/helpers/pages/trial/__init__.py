"""One study's page, section by section, rendered from the processed and result tables.

The trial notebook (``notebooks/02_trial_summary.ipynb``) calls these in order::

    trial_id, settings = trial.check_parameters(tables["trials"], trial_id, assumed_r=..., r_grid=...)
    tables |= analysis.load_or_compute(settings, tables)
    tables = trial.of_trial(trial_id, tables)  # the study's rows of every table
    trial.header(trial_id, tables)
    ...

Every builder takes ``(trial_id, tables)`` and returns what a notebook cell shows: a captioned
:class:`pandas.DataFrame` (rendered and escaped by :mod:`helpers.pages.tables`), an
:class:`IPython.display.HTML` whose data went through :func:`html.escape`, or a figure. A
section without data returns a sentence saying so. Sections, one module each: :mod:`.header`
(identifiers, settings, at a glance), :mod:`.pico`, :mod:`.outcomes` (outcomes and effects),
:mod:`.safety`, :mod:`.appraisal` (appraisal and limitations), :mod:`.provenance` (flags and
provenance); :mod:`.common` holds what they share.
"""

from __future__ import annotations

from helpers.pages.trial.appraisal import appraisal, jbi_item, limitation_rows, limitations
from helpers.pages.trial.common import (
    check_parameters,
    of_trial,
    quote_anchor,
    refs,
    require_trial,
    short_ref,
    statistics_text,
)
from helpers.pages.trial.header import at_a_glance, caution, header, settings_used
from helpers.pages.trial.outcomes import (
    count_changes,
    narratives,
    outcome_table,
    outcomes_figure,
    r_sensitivity_table,
    score_changes,
)
from helpers.pages.trial.pico import baseline, dose_text, pico, timeline_figure
from helpers.pages.trial.provenance import (
    cited_for,
    flags,
    provenance,
    report_versions,
    uncaptured,
)
from helpers.pages.trial.safety import safety, serious_adverse_events

__all__ = [
    "appraisal",
    "at_a_glance",
    "baseline",
    "caution",
    "check_parameters",
    "cited_for",
    "count_changes",
    "dose_text",
    "flags",
    "header",
    "jbi_item",
    "limitation_rows",
    "limitations",
    "narratives",
    "of_trial",
    "outcome_table",
    "outcomes_figure",
    "pico",
    "provenance",
    "quote_anchor",
    "r_sensitivity_table",
    "refs",
    "report_versions",
    "require_trial",
    "safety",
    "score_changes",
    "serious_adverse_events",
    "settings_used",
    "short_ref",
    "statistics_text",
    "timeline_figure",
    "uncaptured",
]
