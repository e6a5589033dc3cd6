"""Ingestion: validated sheets + located quotes + consistency checks -> ``data/processed/``.

Stages, each failing with an :class:`~helpers.errors.EvidenceInputError` that names the file
and field: raw hashes verified -> sheets validated (schema) -> every quote located in the
normalised raw text and every number found in its quote -> tables built -> consistency
checks (warnings with evidence, never silent) -> tables written atomically (all or nothing).

Run it as ``python -m helpers.evidence.ingest`` or from ``notebooks/01_ingest.ipynb``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from helpers import paths
from helpers.data import TABLES, conform, data_dictionary, empty_frame
from helpers.errors import EvidenceInputError
from helpers.evidence import audit
from helpers.evidence.located import TrialEvidence, load_evidence
from helpers.evidence.schema import (
    JBI_CASE_SERIES_ITEMS,
    Characteristic,
    Dose,
    Evidence,
    Quoted,
    Statistic,
    Timepoint,
    Unreported,
)

# Trial-level fields a source may not report (None in trials.csv when it does not).
OPTIONAL_TRIAL_FIELDS = (
    "phase",
    "blinding",
    "control",
    "setting",
    "country",
    "start",
    "end",
    "age",
    "sex",
)


def _fact(value: Quoted | Unreported) -> object:
    """The value of a trial-level field, or None when the source does not report it."""
    return value.value if isinstance(value, Quoted) else None


def trial_row(trial: TrialEvidence) -> dict:
    sheet, record = trial.sheet, trial.record
    t, iv = sheet.trial, sheet.intervention
    dose = iv.dose if isinstance(iv.dose, Dose) else None
    return {
        "trial_id": sheet.trial_id,
        "title": t.title.value,
        "citation": record.citation,
        "doi": record.doi,
        "registry_id": record.registry_id,
        "source_file": record.file,
        "source_kind": record.kind,
        "condition": t.condition.value,
        "design": t.design.value,
        **{name: _fact(getattr(t, name)) for name in OPTIONAL_TRIAL_FIELDS},
        "cell_type": iv.cell_type.value,
        "cell_source": iv.cell_source.value,
        "tissue": iv.tissue.value,
        "route": iv.route.value,
        "dose": dose.value if dose else None,
        "dose_sd": dose.sd if dose else None,
        "dose_unit": dose.unit if dose else None,
        "dose_basis": dose.basis if dose else None,
        "n_administrations": iv.n_administrations.value,
        "interval_months": _fact(iv.interval_months),
        "n_enrolled": _fact(t.n_enrolled),
        "n_safety": _fact(t.n_safety),
        "n_efficacy": _fact(t.n_efficacy),
        "follow_up_months": _fact(t.follow_up_months),
        "follow_up_schedule": _fact(t.follow_up_schedule),
        "n_quotes": len(trial.quote_ids),
    }


def fact_rows(trial: TrialEvidence) -> list[dict]:
    rows = []
    for section in ("trial", "intervention"):
        block = getattr(trial.sheet, section)
        for name in type(block).model_fields:
            value = getattr(block, name)
            entries = value if isinstance(value, list) else [value]
            for index, entry in enumerate(entries):
                path = f"{section}.{name}" + (f".{index}" if isinstance(value, list) else "")
                rows.append(_fact_row(trial, path, entry))
    return rows


def _fact_row(trial: TrialEvidence, path: str, entry: object) -> dict:
    if isinstance(entry, Unreported):
        return {
            "trial_id": trial.trial_id,
            "field": path,
            "value": None,
            "not_reported": entry.not_reported,
            "quote_id": None,
            "derived": None,
        }
    assert isinstance(entry, Evidence)
    if isinstance(entry, Dose):
        sd = f" ± {entry.sd:g}" if entry.sd is not None else ""
        shown = f"{entry.value:g}{sd} {entry.unit} ({entry.basis})" if entry.value else entry.unit
    else:
        shown = str(getattr(entry, "value", ""))
    return {
        "trial_id": trial.trial_id,
        "field": path,
        "value": shown,
        "not_reported": None,
        "quote_id": _ids(trial, entry),
        "derived": entry.derived,
    }


def _ids(trial: TrialEvidence, evidence: Evidence) -> str:
    return ";".join(trial.quote_ids[quote] for quote in evidence.quotes)


def _stat(stat: Statistic) -> dict:
    return {
        "n": stat.n,
        "mean": stat.mean,
        "sd": stat.sd,
        "se": stat.se,
        "median": stat.median,
        "low": stat.low,
        "high": stat.high,
        "events": stat.events,
        "total": stat.total,
        "percent_reported": stat.percent,
    }


def characteristic_rows(trial: TrialEvidence) -> list[dict]:
    rows = []
    for group in ("baseline", "product"):
        item: Characteristic
        for item in getattr(trial.sheet, group):
            rows.append(
                {
                    "trial_id": trial.trial_id,
                    "group": group,
                    "label": item.label,
                    "unit": item.unit,
                    **_stat(item),
                    "quote_id": _ids(trial, item),
                    "derived": item.derived,
                }
            )
    return rows


def outcome_rows(trial: TrialEvidence) -> tuple[list[dict], list[dict]]:
    numeric, narrative = [], []
    for outcome in trial.sheet.outcomes:
        common = {
            "trial_id": trial.trial_id,
            "outcome_id": outcome.id,
            "domain": outcome.domain,
            "measure": outcome.measure,
        }
        tp: Timepoint
        for tp in outcome.timepoints:
            numeric.append(
                {
                    **common,
                    "scale": outcome.scale.name if outcome.scale else None,
                    "scale_min": outcome.scale.min if outcome.scale else None,
                    "scale_max": outcome.scale.max if outcome.scale else None,
                    "unit": outcome.unit,
                    "direction_of_benefit": outcome.direction_of_benefit,
                    "kind": outcome.kind,
                    "population": outcome.population,
                    "timepoint": tp.timepoint,
                    "timepoint_months": tp.months,
                    **_stat(tp),
                    "p_reported": tp.p,
                    "quote_id": _ids(trial, tp),
                    "derived": tp.derived,
                }
            )
        if outcome.narrative is not None:
            narrative.append(
                {
                    **common,
                    "direction": outcome.narrative.direction,
                    "significant": outcome.narrative.significant,
                    "quote_id": _ids(trial, outcome.narrative),
                    "derived": outcome.narrative.derived,
                }
            )
    return numeric, narrative


def adverse_event_rows(trial: TrialEvidence) -> list[dict]:
    return [
        {
            "trial_id": trial.trial_id,
            "term": event.term,
            "serious": event.serious,
            "count": event.count,
            "count_unit": event.count_unit,
            "denominator": event.denominator,
            "denominator_unit": event.denominator_unit,
            "percent_reported": event.percent,
            "relatedness": event.relatedness,
            "note": event.note,
            "quote_id": _ids(trial, event),
            "derived": event.derived,
        }
        for event in trial.sheet.adverse_events
    ]


def appraisal_rows(trial: TrialEvidence) -> list[dict]:
    return [
        {
            "trial_id": trial.trial_id,
            "item": item,
            "question": question,
            "answer": trial.sheet.appraisal[item].answer,
            "reason": trial.sheet.appraisal[item].reason,
        }
        for item, question in JBI_CASE_SERIES_ITEMS.items()
    ]


def limitation_rows(trial: TrialEvidence) -> list[dict]:
    rows = []
    for entry in trial.sheet.limitations:
        if isinstance(entry, Unreported):
            rows.append(
                {"trial_id": trial.trial_id, "limitation": entry.not_reported, "quote_id": None}
            )
        else:
            rows.append(
                {
                    "trial_id": trial.trial_id,
                    "limitation": entry.value,
                    "quote_id": _ids(trial, entry),
                }
            )
    return rows


def build_tables(trials: list[TrialEvidence]) -> dict[str, pd.DataFrame]:
    """All processed tables from located, verified evidence (pure: writes nothing)."""
    rows: dict[str, list[dict]] = {table: [] for table in TABLES}
    for trial in trials:
        rows["trials"].append(trial_row(trial))
        rows["trial_facts"].extend(fact_rows(trial))
        rows["characteristics"].extend(characteristic_rows(trial))
        numeric, narrative = outcome_rows(trial)
        rows["outcomes"].extend(numeric)
        rows["outcome_narratives"].extend(narrative)
        rows["adverse_events"].extend(adverse_event_rows(trial))
        rows["appraisal"].extend(appraisal_rows(trial))
        rows["limitations"].extend(limitation_rows(trial))
        rows["provenance"].extend(trial.provenance)
        rows["checks"].extend(audit.check_rows(trial))
        rows["coverage"].extend(audit.coverage_rows(trial))
    return {
        table: conform(table, pd.DataFrame(table_rows)) if table_rows else empty_frame(table)
        for table, table_rows in rows.items()
    }


def write_tables(tables: dict[str, pd.DataFrame], output_dir: Path) -> None:
    """Write every table and the data dictionary, replacing ``output_dir`` only on success."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        for name, frame in {**tables, "data_dictionary": data_dictionary()}.items():
            frame.to_csv(staging / f"{name}.csv", index=False, lineterminator="\n")
        _swap_in(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames; the old copy is removed last."""
    os.chmod(staging, 0o755)
    retired = target.with_name(f".{target.name}-retired")
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def run(
    extraction_dir: str | Path | None = None,
    raw_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
) -> dict[str, pd.DataFrame]:
    """The whole ingestion; returns the tables it wrote. ``None`` means the project default."""
    trials = load_evidence(
        Path(extraction_dir) if extraction_dir else None, Path(raw_dir) if raw_dir else None
    )
    tables = build_tables(trials)
    write_tables(tables, Path(output_dir) if output_dir else paths.processed_dir())
    return tables


def main(argv: list[str] | None = None) -> int:
    del argv
    try:
        tables = run()
    except EvidenceInputError as exc:
        print(f"ingestion failed: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{len(frame)} {name}" for name, frame in tables.items())
    print(f"ingestion wrote {paths.processed_dir()}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
