"""Sheets with every quote located in one of the study's reports and every number in its quote.

:func:`load_evidence` is the first half of ingestion: raw hashes verified, every sheet
validated, each study in one sheet only, every quote located in the normalised text of the
report it names (or, when it names none, of every report of the sheet: the most complete
report containing it is credited, the others are kept as "also in"), and every number found
in its quote. :func:`locate_sheet` does the same for one sheet and can collect every problem
instead of stopping at the first (``python -m helpers.evidence.tools check``). Both the table
builder (:mod:`helpers.evidence.ingest`) and the consistency checks
(:mod:`helpers.evidence.audit`) work on its :class:`TrialEvidence` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence import sources
from helpers.evidence.schema import (
    Evidence,
    Problem,
    Sheet,
    field_names,
    iter_evidence,
    line_of,
    load_sheets,
    yaml_lines,
)

# Fields whose numbers must appear in the entry's quote(s). Timepoint months are the
# extractor's reading of the schedule and are published as such, never claimed as quoted.
NUMBER_FIELDS = (
    "value",
    "n",
    "mean",
    "sd",
    "se",
    "median",
    "low",
    "high",
    "events",
    "total",
    "percent",
    "count",
    "denominator",
    "p",
)


@dataclass(frozen=True, eq=False)
class Report:
    """One report of a study: its id in the sheet, its manifest record and its text."""

    id: str
    record: sources.SourceRecord
    document: sources.SourceDocument
    order: int  # position in the sheet's list: breaks ties between equally complete reports

    @property
    def file(self) -> str:
        return self.record.file

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: the most complete report first (erratum, full text, abstract, ...)."""
        return (sources.COMPLETENESS[self.record.kind], self.order)


@dataclass
class TrialEvidence:
    """One sheet with its reports and the quotes it cites, keyed by quote text."""

    sheet: Sheet
    path: Path
    reports: dict[str, Report]  # by report id, in sheet order
    # Keyed by (quote text, the report the entry names or None): one id per located quote.
    quote_ids: dict[tuple[str, str | None], str] = field(default_factory=dict)
    quote_reports: dict[tuple[str, str | None], Report] = field(default_factory=dict)
    provenance: list[dict] = field(default_factory=list)

    @property
    def trial_id(self) -> str:
        return self.sheet.trial_id

    @cached_property
    def entries(self) -> list[tuple[str, Evidence]]:
        """Every quoted entry of the sheet with its field path, in sheet order (walked once)."""
        return iter_evidence(self.sheet)

    @property
    def primary(self) -> Report:
        """The study's most complete report."""
        return min(self.reports.values(), key=lambda report: report.rank)

    def reports_of(self, evidence: Evidence) -> list[Report]:
        """The reports an entry's quotes were found in (one per quote, deduplicated)."""
        found = [self.quote_reports[(quote, evidence.report)] for quote in evidence.quotes]
        return list(dict.fromkeys(found))

    def rank(self, evidence: Evidence) -> tuple[int, int]:
        """How complete the best report behind an entry is (lower = more complete)."""
        return min(report.rank for report in self.reports_of(evidence))

    def report_files(self, evidence: Evidence) -> str:
        return ";".join(report.file for report in self.reports_of(evidence))

    def ids(self, evidence: Evidence) -> str:
        return ";".join(self.quote_ids[(quote, evidence.report)] for quote in evidence.quotes)

    def cite(self, evidence: Evidence, field_path: str) -> None:
        """Locate every quote of ``evidence`` in its report(s) and give it a quote id."""
        for index, quote in enumerate(evidence.quotes):
            suffix = f".quote.{index}" if isinstance(evidence.quote, list) else ".quote"
            key = (quote, evidence.report)
            if key in self.quote_ids:
                continue
            report, location, also_in = self._locate(quote, evidence.report, field_path + suffix)
            quote_id = f"{self.trial_id}-q{len(self.quote_ids) + 1:03d}"
            self.quote_ids[key] = quote_id
            self.quote_reports[key] = report
            self.provenance.append(
                {
                    "quote_id": quote_id,
                    "trial_id": self.trial_id,
                    "report": report.file,
                    "report_kind": report.kind,
                    "also_in": ";".join(other.file for other in also_in) or None,
                    "field": field_path,
                    "quote": quote,
                    "start": location.start,
                    "end": location.end,
                }
            )

    def _locate(
        self, quote: str, report_id: str | None, field_path: str
    ) -> tuple[Report, sources.QuoteLocation, list[Report]]:
        candidates = (
            [self.reports[report_id]]
            if report_id is not None
            else sorted(self.reports.values(), key=lambda report: report.rank)
        )
        found: list[tuple[Report, sources.QuoteLocation]] = []
        first_error: EvidenceInputError | None = None
        for report in candidates:
            try:
                location = sources.locate_quote(
                    quote, report.document, field=field_path, sheet=str(self.path)
                )
            except EvidenceInputError as exc:
                first_error = first_error or exc
                continue
            found.append((report, location))
        if not found:
            if len(candidates) == 1 and first_error is not None:
                raise first_error
            files = ", ".join(report.file for report in candidates)
            raise EvidenceInputError(
                self.path, field_path, f"a verbatim quote found in one of {files}", quote
            )
        (report, location), others = found[0], found[1:]
        return report, location, [other for other, _ in others]


def reported_numbers(evidence: Evidence) -> dict[str, object]:
    """The numeric fields of an entry that the quote must contain."""
    numbers = {}
    for name in NUMBER_FIELDS:
        if name not in field_names(type(evidence)):
            continue
        value = getattr(evidence, name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            value = value.strip().lstrip("<>=≤≥~ ").removesuffix("%").strip()
            try:
                float(value)
            except ValueError:
                continue  # a text value (title, design...) carries no number to verify
        elif not isinstance(value, int | float):
            continue
        numbers[name] = value
    return numbers


def verify_numbers(trial: TrialEvidence, evidence: Evidence, field_path: str) -> None:
    if evidence.derived:
        return
    text = " ".join(evidence.quotes)
    for name, value in reported_numbers(evidence).items():
        if not sources.quote_contains_number(text, value):
            raise EvidenceInputError(
                trial.path,
                f"{field_path}.{name}",
                f"the number to appear in its quote {text!r} (or a `derived:` reason)",
                value,
            )


def _reports(
    sheet: Sheet, path: Path, manifest: dict[str, sources.SourceRecord], raw_dir: Path
) -> dict[str, Report]:
    reports = {}
    for order, ref in enumerate(sheet.reports):
        if ref.file not in manifest:
            raise EvidenceInputError(
                path,
                f"reports.{order}.file",
                f"a file registered in data/raw/sources.yaml ({', '.join(sorted(manifest))})",
                ref.file,
            )
        record = manifest[ref.file]
        reports[ref.id] = Report(ref.id, record, sources.read_source(record, raw_dir), order)
    return reports


def locate_sheet(
    sheet: Sheet,
    path: Path,
    manifest: dict[str, sources.SourceRecord],
    raw_dir: Path,
    problems: list[Problem] | None = None,
) -> TrialEvidence:
    """Locate every quote and verify every number of one sheet.

    With ``problems`` given, each failure is appended to it (with its YAML line) and the
    search goes on; otherwise the first failure is raised.
    """
    trial = TrialEvidence(sheet, path, _reports(sheet, path, manifest, raw_dir))
    lines = yaml_lines(path.read_text(encoding="utf-8")) if problems is not None else {}
    for field_path, evidence in trial.entries:
        try:
            trial.cite(evidence, field_path)
            verify_numbers(trial, evidence, field_path)
        except EvidenceInputError as exc:
            if problems is None:
                raise
            problems.append(Problem(exc.field, exc.expected, exc.got, line_of(exc.field, lines)))
    return trial


def one_sheet_per_study(trials: list[TrialEvidence]) -> None:
    """Two sheets sharing a report, a DOI or a registry id describe one study: refuse them."""
    owners: dict[tuple[str, str], TrialEvidence] = {}
    for trial in trials:
        for report in trial.reports.values():
            keys = [("report file", report.file)]
            keys += [("DOI", report.record.doi)] if report.record.doi else []
            if report.record.registry_id:
                keys.append(("registry id", report.record.registry_id))
            for key in keys:
                owner = owners.setdefault(key, trial)
                if owner is not trial:
                    raise EvidenceInputError(
                        trial.path,
                        "reports",
                        f"one sheet per study: {owner.path.name} already has a report with "
                        f"{key[0]} {key[1]} (add this report to that sheet instead)",
                        key[1],
                    )


def load_evidence(
    extraction_dir: Path | None = None, raw_dir: Path | None = None
) -> list[TrialEvidence]:
    """Verify raw hashes, validate every sheet, locate every quote, verify every number."""
    raw_dir = raw_dir or paths.raw_dir()
    manifest = sources.load_manifest(raw_dir / "sources.yaml")
    sources.verify_hashes(manifest, raw_dir)
    directory = extraction_dir or paths.extraction_dir()
    trials = [
        locate_sheet(sheet, directory / f"{sheet.trial_id}.yaml", manifest, raw_dir)
        for sheet in load_sheets(directory)
    ]
    one_sheet_per_study(trials)
    return trials
