"""Schema of the extraction sheets (``data/extraction/<trial_id>.yaml``): one sheet per study.

A sheet is written by a person about one **study** (Cochrane Handbook chapter 5: the study is
the unit of analysis) and draws on one or more **reports** of it — a full-text article, an
abstract, a registry record, a press report, an erratum — listed under ``reports:``. Every
value carries the verbatim quote(s) that support it; ingestion locates each quote in the
sheet's reports (the value's ``report:`` names one, else every report of the sheet is searched)
and checks that every number appears in its quote.

A field may hold one value, several **versions** of it from different reports (a list), or
``{not_reported: "<why>"}``. Ingestion uses the version of the most complete report
(:data:`helpers.evidence.sources.COMPLETENESS`) and keeps the others, flagging disagreements.
Lists of items (outcome timepoints, adverse events, characteristics, doses) are keyed the same
way: entries sharing a key (a timepoint's label, an event's term...) are versions from
different reports.

The schema rejects typos (unknown keys), missing fields, wrong types, numbers that are not
finite, and impossible values (SD < 0, events > total, percent > 100, p outside [0, 1], n above
enrolment). :func:`sheet_problems` lists every problem of a sheet with its YAML line;
:func:`load_sheet` raises the first as an :class:`~helpers.errors.EvidenceInputError` naming the
sheet, the field path and the rule that was broken.

A value not stated in words or digits of the source (for example "monthly" read as an interval
of 1 month) is marked ``derived: "<how>"``; its numbers are exempt from the number-in-quote
check and the reason is published with the provenance.

The field specifications are in :mod:`~helpers.evidence.schema.fields`, the validation of a sheet
file in :mod:`~helpers.evidence.schema.validation`; import the names from
``helpers.evidence.schema``.
"""

from __future__ import annotations

from helpers.evidence.safe_yaml import read_yaml
from helpers.evidence.schema.fields import (
    ANSWERS,
    BENEFIT_DIRECTIONS,
    BLINDING,
    CELL_SOURCES,
    CELL_TYPES,
    CONDITIONS,
    CONTROLS,
    COUNT_UNITS,
    DENOMINATOR_UNITS,
    DIRECTION_BASES,
    DOMAINS,
    DOSE_BASES,
    JBI_CASE_SERIES_ITEMS,
    NARRATIVE_DIRECTIONS,
    OUTCOME_KINDS,
    P_VALUE,
    PERCENT,
    ROUTES,
    SLUG,
    TISSUES,
    AdverseEvent,
    AppraisalItem,
    Characteristic,
    Contradiction,
    Count,
    Dose,
    Evidence,
    Intervention,
    Months,
    Narrative,
    Outcome,
    PercentText,
    PValueText,
    Quoted,
    QuoteText,
    ReportRef,
    Scale,
    Sheet,
    Statistic,
    Strict,
    Timepoint,
    Trial,
    Unreported,
    field_names,
    iter_evidence,
    versions,
)
from helpers.evidence.schema.validation import (
    Problem,
    line_of,
    load_sheet,
    load_sheets,
    sheet_paths,
    sheet_problems,
    yaml_lines,
)

__all__ = [
    "ANSWERS",
    "BENEFIT_DIRECTIONS",
    "BLINDING",
    "CELL_SOURCES",
    "CELL_TYPES",
    "CONDITIONS",
    "CONTROLS",
    "COUNT_UNITS",
    "DENOMINATOR_UNITS",
    "DIRECTION_BASES",
    "DOMAINS",
    "DOSE_BASES",
    "JBI_CASE_SERIES_ITEMS",
    "NARRATIVE_DIRECTIONS",
    "OUTCOME_KINDS",
    "PERCENT",
    "P_VALUE",
    "ROUTES",
    "SLUG",
    "TISSUES",
    "AdverseEvent",
    "AppraisalItem",
    "Characteristic",
    "Contradiction",
    "Count",
    "Dose",
    "Evidence",
    "Intervention",
    "Months",
    "Narrative",
    "Outcome",
    "PValueText",
    "PercentText",
    "Problem",
    "QuoteText",
    "Quoted",
    "ReportRef",
    "Scale",
    "Sheet",
    "Statistic",
    "Strict",
    "Timepoint",
    "Trial",
    "Unreported",
    "field_names",
    "iter_evidence",
    "line_of",
    "load_sheet",
    "load_sheets",
    "read_yaml",
    "sheet_paths",
    "sheet_problems",
    "versions",
    "yaml_lines",
]
