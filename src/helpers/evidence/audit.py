"""Runs the consistency checks over one located sheet and reports them as table rows.

The checks themselves are pure functions in :mod:`helpers.evidence.checks`; this module decides
where each applies (GRIM only on integer-scored scales, percentage checks where a count or
denominator is known, denominator search where none fits) and turns every finding into a
``checks.csv`` row that shows the evidence, with a ``subject`` in words for readers and the
sheet ``field`` path for maintainers. Every version of a value from every report is checked.
Nothing here stops ingestion: these are the things a careful reader should know, surfaced
rather than hidden.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from helpers import labels
from helpers.evidence import checks, sources
from helpers.evidence.located import NUMBER_FIELDS
from helpers.evidence.schema import Statistic, field_names, versions

if TYPE_CHECKING:
    from pydantic import BaseModel

    from helpers.evidence.located import TrialEvidence


def _row(
    trial: TrialEvidence, check: str, severity: str, subject: str, field: str, message: str
) -> dict:
    return {
        "trial_id": trial.trial_id,
        "check": check,
        "severity": severity,
        "subject": subject,
        "field": field,
        "message": message,
    }


def as_written(value: float, quotes: Iterable[str]) -> str:
    """The number as the quote writes it (to know its decimals), else its shortest text."""
    for quote in quotes:
        for token in sources.numbers_in(quote):
            try:
                if Decimal(token) == Decimal(repr(value)):
                    return token
            except ArithmeticError:
                continue
    return repr(value)


def check_rows(trial: TrialEvidence, superseded: list[dict] = ()) -> list[dict]:
    """Every consistency finding for one study, in sheet order."""
    rows: list[dict] = []
    rows += _derived_values(trial)
    rows += _outcome_checks(trial)
    rows += _paired_p_checks(trial)
    rows += _adverse_event_checks(trial)
    rows += _characteristic_checks(trial)
    rows += _denominator_search(trial)
    rows += _disagreements(trial, superseded)
    rows += [
        _row(
            trial, "contradiction", "warning", "contradiction", f"contradictions.{i}", c.description
        )
        for i, c in enumerate(trial.sheet.contradictions)
    ]
    primary = trial.primary
    if primary.kind != "full_text":
        kind = labels.label("kind", primary.kind)
        rows.append(
            _row(
                trial,
                "source_kind",
                "warning",
                "kind of report",
                "reports",
                f"the most complete report of this study is a{'n' if kind[0] in 'aeiou' else ''} "
                f"{kind}, not the full article: methods and results could not be checked in full",
            )
        )
    return rows


def _unit(count: int, unit: str) -> str:
    """'1 event', '3 events', '1 case'."""
    return unit.removesuffix("s") if count == 1 else unit


def _derived_values(trial: TrialEvidence) -> list[dict]:
    return [
        _row(
            trial,
            "derived_value",
            "info",
            _subject(trial, path),
            path,
            f"not written in the quote: {ev.derived}",
        )
        for path, ev in trial.entries
        if ev.derived
    ]


def _subject(trial: TrialEvidence, path: str) -> str:
    """A sheet field path in words: 'GMFM total at 12 months', 'patients enrolled'."""
    parts = path.split(".")
    sheet = trial.sheet
    if parts[0] == "outcomes" and len(parts) > 1:
        outcome = sheet.outcomes[int(parts[1])]
        if len(parts) > 3 and parts[2] == "timepoints":
            return f"{outcome.label}, {outcome.timepoints[int(parts[3])].timepoint}"
        return outcome.label
    if parts[0] == "adverse_events" and len(parts) > 1:
        return f"adverse event: {sheet.adverse_events[int(parts[1])].term}"
    if parts[0] in ("baseline", "product") and len(parts) > 1:
        return f"{parts[0]}: {getattr(sheet, parts[0])[int(parts[1])].label}"
    if parts[0] in ("trial", "intervention") and len(parts) > 1:
        return labels.label("field", parts[1])
    return {"limitations": "limitation", "contradictions": "contradiction"}.get(
        parts[0], parts[0].replace("_", " ")
    )


def _percent_rows(
    trial: TrialEvidence,
    field: str,
    percent: str,
    count: int | None,
    denominator: int | None,
) -> list[dict]:
    if denominator is None:
        return []
    # No count given: test the whole count nearest to the percentage.
    tested = count if count is not None else round(float(percent) * denominator / 100)
    result = checks.percent_matches_count(tested, denominator, percent)
    if result.ok:
        return []
    return [_row(trial, "percent_count", "warning", _subject(trial, field), field, result.message)]


def _outcome_checks(trial: TrialEvidence) -> list[dict]:
    rows: list[dict] = []
    ceiling = trial.sheet.enrolment_ceiling
    for i, outcome in enumerate(trial.sheet.outcomes):
        scale = outcome.scale
        for j, tp in enumerate(outcome.timepoints):
            field = f"outcomes.{i}.timepoints.{j}"
            subject = _subject(trial, field)
            if tp.percent is not None:
                rows += _percent_rows(trial, field, tp.percent, tp.events, tp.total or tp.n)
            if scale is not None and scale.integer and tp.mean is not None and tp.n:
                result = checks.grim(as_written(tp.mean, tp.quotes), tp.n)
                if not result.ok:
                    rows.append(_row(trial, "grim", "warning", subject, field, result.message))
            if (
                scale is not None
                and scale.min is not None
                and scale.max is not None
                and tp.sd is not None
                and tp.n
            ):
                result = checks.sd_within_range(tp.sd, scale.min, scale.max, tp.n)
                if not result.ok:
                    rows.append(_row(trial, "sd_range", "warning", subject, field, result.message))
            if tp.sd == 0 and tp.n and tp.n > 1:
                rows.append(
                    _row(
                        trial,
                        "sd_zero",
                        "warning",
                        subject,
                        field,
                        f"SD of 0 across {tp.n} patients means every patient had exactly "
                        f"{tp.mean:g}; implausible for a measured quantity",
                    )
                )
            measured = tp.n if tp.n is not None else tp.total
            if ceiling is not None and measured is not None and measured < ceiling:
                rows.append(
                    _row(
                        trial,
                        "subgroup",
                        "info",
                        subject,
                        field,
                        f"measured in {measured} of {ceiling} patients"
                        + (f" ({outcome.population})" if outcome.population else ""),
                    )
                )
    return rows


def _paired_p_checks(trial: TrialEvidence) -> list[dict]:
    """A reported before-after p of a count outcome that no exact McNemar test of its counts
    (over every pairing the margins allow) can give."""
    rows: list[dict] = []
    for i, outcome in enumerate(trial.sheet.outcomes):
        if outcome.kind != "count":
            continue
        baselines = [tp for tp in outcome.timepoints if tp.months == 0 and tp.events is not None]
        if not baselines or baselines[0].total is None:
            continue
        baseline = baselines[0]
        for j, tp in enumerate(outcome.timepoints):
            if tp.months == 0 or tp.p is None or tp.events is None or tp.total != baseline.total:
                continue
            result = checks.paired_p_attainable(baseline.events, tp.events, tp.total, tp.p)
            if not result.ok:
                field = f"outcomes.{i}.timepoints.{j}"
                rows.append(
                    _row(
                        trial, "paired_p", "warning", _subject(trial, field), field, result.message
                    )
                )
    return rows


def _administrations(trial: TrialEvidence) -> int | None:
    """Administrations per patient, when every report that gives them agrees."""
    values = {entry.value for entry in versions(trial.sheet.intervention.n_administrations)}
    return values.pop() if len(values) == 1 else None


def _adverse_event_checks(trial: TrialEvidence) -> list[dict]:
    rows: list[dict] = []
    administrations = _administrations(trial)
    for i, event in enumerate(trial.sheet.adverse_events):
        field = f"adverse_events.{i}"
        subject = _subject(trial, field)
        if event.percent is not None and event.count_unit == "patients":
            rows += _percent_rows(trial, field, event.percent, event.count, event.denominator)
        if (
            event.percent is not None
            and event.count is None
            and event.denominator is not None
            and event.denominator_unit == "patients"
            and administrations is not None
        ):
            result = checks.percent_unit(event.percent, event.denominator, administrations)
            if not result.ok:
                rows.append(_row(trial, "percent_unit", "warning", subject, field, result.message))
        if event.count_unit in ("events", "cases") and event.count:
            rows.append(
                _row(
                    trial,
                    "count_unit",
                    "info",
                    subject,
                    field,
                    f"{event.count} {_unit(event.count, event.count_unit)}, not patients; one "
                    "patient may count more than once, so no per-patient incidence is computed",
                )
            )
        if event.named_only:
            rows.append(
                _row(
                    trial,
                    "named_only",
                    "info",
                    subject,
                    field,
                    "named without a count or a percentage: shown as reported, never as a rate",
                )
            )
    return rows


def _characteristic_checks(trial: TrialEvidence) -> list[dict]:
    rows: list[dict] = []
    for group in ("baseline", "product"):
        for i, item in enumerate(getattr(trial.sheet, group)):
            if item.percent is not None:
                rows += _percent_rows(
                    trial, f"{group}.{i}", item.percent, item.events, item.total or item.n
                )
    return rows


def _denominator_search(trial: TrialEvidence) -> list[dict]:
    """Where percentages have no usable denominator, which whole denominators could fit."""
    unknown = [
        e for e in trial.sheet.adverse_events if e.percent is not None and e.denominator is None
    ]
    if not unknown:
        return []
    percents = [e.percent for e in unknown]
    n_max = 1000
    feasible = checks.feasible_denominators(percents, n_max=n_max)
    stated = {}
    for name in ("n_safety", "n_enrolled"):
        for entry in versions(getattr(trial.sheet.trial, name)):
            stated.setdefault(labels.label("field", name), entry.value)
    administrations = [e.value for e in versions(trial.sheet.intervention.n_administrations)]
    verdicts = []
    for name, n in stated.items():
        verdicts.append(f"{name} = {n}: {'possible' if n in feasible else 'impossible'}")
        for count in administrations[:1]:
            per_admin = n * count
            verdicts.append(
                f"{n} × {count} administrations = {per_admin}: "
                f"{'possible' if per_admin in feasible else 'impossible'}"
            )
    shown = ", ".join(str(n) for n in feasible[:8]) or "none"
    message = (
        f"percentages {', '.join(p + '%' for p in percents)} have no stated denominator; "
        f"whole denominators up to {n_max} that fit them all: {shown}"
        f"{' …' if len(feasible) > 8 else ''}"
        + ("; " + "; ".join(dict.fromkeys(verdicts)) if verdicts else "")
    )
    severity = "warning" if stated and not any(n in feasible for n in stated.values()) else "info"
    return [
        _row(
            trial, "denominators", severity, "adverse-event percentages", "adverse_events", message
        )
    ]


def _disagreements(trial: TrialEvidence, superseded: Iterable[dict]) -> list[dict]:
    """A flag for every value that two reports give differently (the more complete one is used)."""
    kinds = {report.file: report.kind for report in trial.reports.values()}

    def described(files: str) -> str:
        return " and ".join(
            f"the {labels.label('kind', kinds[file])} ({file})" for file in files.split(";")
        )

    return [
        _row(
            trial,
            "reports_disagree",
            "warning",
            row["item"],
            row["field"],
            f"{row['used_value']} in {described(row['used_report'])}, used because it is the "
            f"more complete report; {row['value']} in {described(row['report'])}",
        )
        for row in superseded
        if not row["agrees"]
    ]


def captured_numbers(trial: TrialEvidence) -> list[str]:
    """Every number the sheet records, as text."""
    numbers = []
    for _, evidence in trial.entries:
        for name in _attributes(type(evidence), NUMBER_FIELDS):
            value = getattr(evidence, name)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                numbers.append(repr(value))
            elif isinstance(value, str):
                numbers.extend(sources.numbers_in(value))
        # Text values (design, age range, dates) capture the numbers they spell out.
        for name in _attributes(type(evidence), _TEXT_FIELDS):
            value = getattr(evidence, name)
            if isinstance(value, str):
                numbers.extend(sources.numbers_in(value))
        if isinstance(evidence, Statistic) and _attributes(type(evidence), ("months",)):
            numbers.append(repr(evidence.months))
    return numbers


_TEXT_FIELDS = ("value", "timepoint", "label", "unit", "administration")


@functools.cache
def _attributes(kind: type[BaseModel], names: tuple[str, ...]) -> tuple[str, ...]:
    """The ``names`` that entries of a kind have: fields or properties (extra fields are refused).

    Asking an entry for an attribute it lacks goes through pydantic's slow ``__getattr__``.
    """
    return tuple(name for name in names if name in field_names(kind) or hasattr(kind, name))


# Powers of ten are part of a unit ("×10^6 cells"), not a value to extract.
COVERAGE_IGNORE = ("10^6", "10^9")


def results_spans(record: sources.SourceRecord, document: sources.SourceDocument) -> list:
    """Character spans of a report that give the study's own methods and results."""
    sections = record.results_sections
    if not sections:
        return [(0, len(document.text))]
    spans = []
    for index, (start_marker, end_marker) in enumerate(sections):
        field = f"sources.yaml results_sections[{index}]"
        start = sources.locate_quote(start_marker, document, field=field, sheet=record.file)
        end = sources.locate_quote(end_marker, document, field=field, sheet=record.file)
        spans.append((start.start, end.start))
    return spans


def coverage_rows(trial: TrialEvidence) -> list[dict]:
    """Numbers in each report's results that no value of the sheet captured, with context."""
    captured = captured_numbers(trial)
    rows = []
    for report in trial.reports.values():
        text = report.document.text
        for begin, end in results_spans(report.record, report.document):
            for number, offset in checks.coverage(
                text[begin:end], captured, ignore=COVERAGE_IGNORE
            ):
                at = begin + offset
                context = " ".join(text[max(0, at - 60) : at + 60].split())
                rows.append(
                    {
                        "trial_id": trial.trial_id,
                        "report": report.file,
                        "number": number,
                        "offset": at,
                        "context": context,
                    }
                )
    return rows
