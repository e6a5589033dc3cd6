"""Sheets with every quote located in its source and every number found in its quote.

:func:`load_evidence` is the first half of ingestion: raw hashes verified, every sheet
validated, every quote located in the normalised raw text, every number found in its quote.
Both the table builder (:mod:`helpers.evidence.ingest`) and the consistency checks
(:mod:`helpers.evidence.audit`) work on its :class:`TrialEvidence` objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence import sources
from helpers.evidence.schema import Evidence, Sheet, load_sheets

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


@dataclass
class TrialEvidence:
    """One sheet with its document and the quotes it cites, keyed by quote text."""

    sheet: Sheet
    record: sources.SourceRecord
    document: sources.SourceDocument
    path: Path
    quote_ids: dict[str, str] = field(default_factory=dict)
    provenance: list[dict] = field(default_factory=list)

    @property
    def trial_id(self) -> str:
        return self.sheet.trial_id

    def cite(self, evidence: Evidence, field_path: str) -> str:
        """Locate every quote of ``evidence`` and return its ';'-joined quote ids."""
        ids = []
        for index, quote in enumerate(evidence.quotes):
            if quote not in self.quote_ids:
                suffix = f".quote.{index}" if isinstance(evidence.quote, list) else ".quote"
                location = sources.locate_quote(
                    quote, self.document, field=field_path + suffix, sheet=str(self.path)
                )
                quote_id = f"{self.trial_id}-q{len(self.quote_ids) + 1:03d}"
                self.quote_ids[quote] = quote_id
                self.provenance.append(
                    {
                        "quote_id": quote_id,
                        "trial_id": self.trial_id,
                        "source_file": self.record.file,
                        "field": field_path,
                        "quote": quote,
                        "start": location.start,
                        "end": location.end,
                    }
                )
            ids.append(self.quote_ids[quote])
        return ";".join(ids)


def iter_evidence(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Evidence]]:
    """Every quoted entry of a sheet with its field path, in sheet order."""
    if isinstance(model, Evidence):
        yield prefix, model
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        items = (
            enumerate(value)
            if isinstance(value, list)
            else value.items()
            if isinstance(value, dict)
            else None
        )
        if items is not None:
            for key, item in items:
                if isinstance(item, BaseModel):
                    yield from iter_evidence(item, f"{path}.{key}")
        elif isinstance(value, BaseModel):
            yield from iter_evidence(value, path)


def reported_numbers(evidence: Evidence) -> dict[str, object]:
    """The numeric fields of an entry that the quote must contain."""
    numbers = {}
    for name in NUMBER_FIELDS:
        if name not in type(evidence).model_fields:
            continue
        value = getattr(evidence, name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            value = value.lstrip("<>=≤≥~ ")
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


def load_evidence(
    extraction_dir: Path | None = None, raw_dir: Path | None = None
) -> list[TrialEvidence]:
    """Verify raw hashes, validate every sheet, locate every quote, verify every number."""
    raw_dir = raw_dir or paths.raw_dir()
    manifest = sources.load_manifest(raw_dir / "sources.yaml")
    sources.verify_hashes(manifest, raw_dir)
    directory = extraction_dir or paths.extraction_dir()
    trials = []
    for sheet in load_sheets(directory):
        path = directory / f"{sheet.trial_id}.yaml"
        if sheet.source_file not in manifest:
            raise EvidenceInputError(
                path,
                "source_file",
                f"one of the files in sources.yaml {sorted(manifest)}",
                sheet.source_file,
            )
        record = manifest[sheet.source_file]
        trial = TrialEvidence(sheet, record, sources.read_source(record, raw_dir), path)
        for field_path, evidence in iter_evidence(sheet):
            trial.cite(evidence, field_path)
            verify_numbers(trial, evidence, field_path)
        trials.append(trial)
    return trials
