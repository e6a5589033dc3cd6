"""Ingestion: validated sheets + located quotes + consistency checks -> ``data/processed/``.

Stages, each failing with an :class:`~helpers.errors.EvidenceInputError` that names the file
and field: raw hashes verified -> sheets validated (schema) -> each study in one sheet -> every
quote located in its report and every number found in its quote -> the version of each value
chosen (the most complete report that gives it; the others kept in ``superseded.csv``) ->
tables built -> consistency checks (warnings with evidence, never silent) -> tables written
atomically (all or nothing).

Run it as ``python -m helpers.evidence.ingest`` or from ``notebooks/01_ingest.ipynb``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

import pandas as pd

from helpers import labels, paths
from helpers.data import TABLES, conform, data_dictionary, empty_frame, store
from helpers.errors import EvidenceInputError
from helpers.evidence import audit
from helpers.evidence.located import TrialEvidence, load_evidence
from helpers.evidence.schema import (
    JBI_CASE_SERIES_ITEMS,
    AdverseEvent,
    Characteristic,
    Dose,
    Evidence,
    Narrative,
    Quoted,
    Statistic,
    Timepoint,
    Unreported,
    versions,
)

TRIAL_FIELDS = (
    "title",
    "condition",
    "design",
    "phase",
    "blinding",
    "control",
    "setting",
    "country",
    "start",
    "end",
    "age",
    "sex",
    "funding",
    "conflicts_of_interest",
    "n_enrolled",
    "n_safety",
    "n_efficacy",
    "follow_up_months",
    "follow_up_schedule",
)
INTERVENTION_FIELDS = (
    "cell_type",
    "tissue",
    "cell_source",
    "route",
    "n_administrations",
    "interval_months",
)


# --------------------------------------------------------------------------- versions


def choose(trial: TrialEvidence, entries: Iterable[Evidence]) -> tuple[Evidence | None, list]:
    """The version from the most complete report (ties: the report listed first), and the rest."""
    ordered = sorted(entries, key=trial.rank)
    return (ordered[0], ordered[1:]) if ordered else (None, [])


def grouped(entries: Iterable[Evidence], key: Callable[[Evidence], Hashable]) -> dict:
    """Entries by key, in first-appearance order: each group is one item's versions."""
    groups: dict[Hashable, list[Evidence]] = {}
    for entry in entries:
        groups.setdefault(key(entry), []).append(entry)
    return groups


def _stat_text(stat: Statistic) -> str:
    parts = []
    if stat.mean is not None:
        spread = f" ± {stat.sd:g}" if stat.sd is not None else ""
        spread += f" (SE {stat.se:g})" if stat.se is not None else ""
        parts.append(f"mean {stat.mean:g}{spread}")
    if stat.median is not None:
        parts.append(f"median {stat.median:g}")
    if stat.low is not None or stat.high is not None:
        parts.append(f"range {_g(stat.low)} to {_g(stat.high)}")
    if stat.events is not None:
        parts.append(f"{stat.events}/{_g(stat.total)}")
    if stat.percent is not None:
        parts.append(f"{stat.percent}%")
    if stat.n is not None:
        parts.append(f"n = {stat.n}")
    if isinstance(stat, Timepoint) and stat.p is not None:
        parts.append(f"p {stat.p}")
    return ", ".join(parts) or "no numbers"


def _g(value: object) -> str:
    return "?" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def shown(entry: Evidence) -> str:
    """A version's content in a few words, to compare and show versions side by side."""
    if isinstance(entry, Dose):
        spread = f" ± {entry.sd:g}" if entry.sd is not None else ""
        spread += f" (SE {entry.se:g})" if entry.se is not None else ""
        amount = f"{entry.value:g}{spread} " if entry.value is not None else ""
        return f"{amount}{entry.unit} {labels.label('dose_basis', entry.basis)}"
    if isinstance(entry, AdverseEvent):
        if entry.named_only:
            return "named, no count"
        count = f"{entry.count} {entry.count_unit}" if entry.count is not None else ""
        of = f" of {entry.denominator} {entry.denominator_unit}" if entry.denominator else ""
        percent = f" ({entry.percent}%)" if entry.percent is not None else ""
        return f"{count}{of}{percent}".strip() + (" (serious)" if entry.serious else "")
    if isinstance(entry, Narrative):
        claim = {True: ", significant", False: ", not significant"}.get(entry.significant, "")
        return f"{entry.direction.replace('_', ' ')}{claim}"
    if isinstance(entry, Statistic):
        return _stat_text(entry)
    if isinstance(entry, Quoted):
        return str(entry.value)
    raise TypeError(f"no text for {type(entry).__name__}")


def superseded_rows(
    trial: TrialEvidence, item: str, field: str, used: Evidence, others: list[Evidence]
) -> list[dict]:
    """The versions not used, with the one used: kept in superseded.csv and on the trial page."""
    used_text = shown(used)
    return [
        {
            "trial_id": trial.trial_id,
            "item": item,
            "field": field,
            "value": shown(other),
            "report": trial.report_files(other),
            "used_value": used_text,
            "used_report": trial.report_files(used),
            "agrees": shown(other) == used_text,
            "quote_id": trial.ids(other),
        }
        for other in others
    ]


# --------------------------------------------------------------------------- trial level


def _field_path(section: str, name: str, field: object, entry: Evidence) -> str:
    if isinstance(field, list):
        return f"{section}.{name}.{field.index(entry)}"
    return f"{section}.{name}"


def trial_fields(trial: TrialEvidence) -> tuple[dict, list[dict], list[dict]]:
    """The used value of every trial and intervention field, its fact rows and superseded rows."""
    values: dict[str, object] = {}
    facts, superseded = [], []
    for section, names in (("trial", TRIAL_FIELDS), ("intervention", INTERVENTION_FIELDS)):
        block = getattr(trial.sheet, section)
        for name in names:
            field = getattr(block, name)
            used, others = choose(trial, versions(field))
            values[name] = used.value if isinstance(used, Quoted) else None
            if used is None:
                reason = field.not_reported if isinstance(field, Unreported) else None
                facts.append(_fact(trial, f"{section}.{name}", None, reason))
                continue
            path = _field_path(section, name, field, used)
            facts.append(_fact(trial, path, used))
            label = labels.label("field", name)
            superseded += superseded_rows(trial, label, path, used, others)
    for index, item in enumerate(trial.sheet.intervention.co_interventions):
        facts.append(_fact(trial, f"intervention.co_interventions.{index}", item))
    return values, facts, superseded


def _fact(
    trial: TrialEvidence, path: str, entry: Evidence | None, not_reported: str | None = None
) -> dict:
    return {
        "trial_id": trial.trial_id,
        "field": path,
        "value": shown(entry) if entry is not None else None,
        "not_reported": not_reported,
        "report": trial.report_files(entry) if entry is not None else None,
        "quote_id": trial.ids(entry) if entry is not None else None,
        "derived": entry.derived if entry is not None else None,
    }


def dose_rows(trial: TrialEvidence) -> tuple[list[dict], list[dict]]:
    """One row per administration's dose (or one for every administration), and superseded."""
    field = trial.sheet.intervention.dose
    entries = versions(field)
    rows, superseded = [], []
    for administration, group in grouped(entries, lambda d: d.administration).items():
        used, others = choose(trial, group)
        assert isinstance(used, Dose)
        rows.append(
            {
                "trial_id": trial.trial_id,
                "administration": administration,
                "value": used.value,
                "sd": used.sd,
                "se": used.se,
                "unit": used.unit,
                "basis": used.basis,
                "report": trial.report_files(used),
                "quote_id": trial.ids(used),
                "derived": used.derived,
            }
        )
        item = "dose" + (f" ({administration} administration)" if administration else "")
        path = _field_path("intervention", "dose", field, used)
        superseded += superseded_rows(trial, item, path, used, others)
    return rows, superseded


def trial_row(trial: TrialEvidence, values: dict, doses: list[dict]) -> dict:
    sheet, primary = trial.sheet, trial.primary
    by_rank = sorted(trial.reports.values(), key=lambda report: report.rank)
    single = doses[0] if len(doses) == 1 and doses[0]["administration"] is None else None
    return {
        "trial_id": sheet.trial_id,
        "label": sheet.label,
        "title": values["title"],
        "citation": primary.record.citation,
        "doi": next((r.record.doi for r in by_rank if r.record.doi), None),
        "registry_id": next((r.record.registry_id for r in by_rank if r.record.registry_id), None),
        "source_kind": primary.kind,
        "primary_report": primary.file,
        "n_reports": len(trial.reports),
        **{name: values[name] for name in TRIAL_FIELDS if name != "title"},
        **{name: values[name] for name in INTERVENTION_FIELDS},
        "dose": single["value"] if single else None,
        "dose_sd": single["sd"] if single else None,
        "dose_unit": single["unit"] if single else None,
        "dose_basis": single["basis"] if single else None,
        "n_doses": len(doses),
        "n_quotes": len(trial.quote_ids),
    }


def report_rows(trial: TrialEvidence) -> list[dict]:
    primary = trial.primary
    return [
        {
            "trial_id": trial.trial_id,
            "report_id": report.id,
            "report": report.file,
            "kind": report.kind,
            "completeness_rank": report.rank[0],
            "primary": report is primary,
            "citation": report.record.citation,
            "doi": report.record.doi,
            "registry_id": report.record.registry_id,
            "n_quotes": sum(1 for r in trial.quote_reports.values() if r is report),
        }
        for report in trial.reports.values()
    ]


# --------------------------------------------------------------------------- lists


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


def _trace(trial: TrialEvidence, entry: Evidence) -> dict:
    return {
        "report": trial.report_files(entry),
        "quote_id": trial.ids(entry),
        "derived": entry.derived,
    }


def characteristic_rows(trial: TrialEvidence) -> tuple[list[dict], list[dict]]:
    rows, superseded = [], []
    for group in ("baseline", "product"):
        items: list[Characteristic] = getattr(trial.sheet, group)
        for label, entries in grouped(items, lambda item: item.label).items():
            used, others = choose(trial, entries)
            assert isinstance(used, Characteristic)
            rows.append(
                {
                    "trial_id": trial.trial_id,
                    "group": group,
                    "label": label,
                    "unit": used.unit,
                    **_stat(used),
                    **_trace(trial, used),
                }
            )
            path = f"{group}.{items.index(used)}"
            superseded += superseded_rows(trial, f"{group}: {label}", path, used, others)
    return rows, superseded


def outcome_rows(trial: TrialEvidence) -> tuple[list[dict], list[dict], list[dict]]:
    numeric, narrative, superseded = [], [], []
    for index, outcome in enumerate(trial.sheet.outcomes):
        common = {
            "trial_id": trial.trial_id,
            "outcome_id": outcome.id,
            "outcome": outcome.label,
            "domain": outcome.domain,
            "measure": outcome.measure,
        }
        definition = {
            "scale": outcome.scale.name if outcome.scale else None,
            "scale_min": outcome.scale.min if outcome.scale else None,
            "scale_max": outcome.scale.max if outcome.scale else None,
            "scale_integer": outcome.scale.integer if outcome.scale else None,
            "unit": outcome.unit,
            "direction_of_benefit": outcome.direction_of_benefit,
            "direction_basis": outcome.direction_basis,
            "direction_reference": outcome.direction_reference,
            "kind": outcome.kind,
            "population": outcome.population,
            "not_independent": outcome.not_independent,
        }
        for label, entries in grouped(outcome.timepoints, lambda tp: tp.timepoint).items():
            used, others = choose(trial, entries)
            assert isinstance(used, Timepoint)
            numeric.append(
                {
                    **common,
                    **definition,
                    "timepoint": label,
                    "timepoint_months": used.months,
                    **_stat(used),
                    "p_reported": used.p,
                    **_trace(trial, used),
                }
            )
            path = f"outcomes.{index}.timepoints.{outcome.timepoints.index(used)}"
            item = f"{outcome.label}, {label}"
            superseded += superseded_rows(trial, item, path, used, others)
        used, others = choose(trial, outcome.narratives)
        if used is not None:
            assert isinstance(used, Narrative)
            narrative.append(
                {
                    **common,
                    "direction_of_benefit": outcome.direction_of_benefit,
                    "direction_basis": outcome.direction_basis,
                    "not_independent": outcome.not_independent,
                    "direction": used.direction,
                    "significant": used.significant,
                    **_trace(trial, used),
                }
            )
            path = f"outcomes.{index}.narrative"
            superseded += superseded_rows(trial, f"{outcome.label} (in words)", path, used, others)
    return numeric, narrative, superseded


def adverse_event_rows(trial: TrialEvidence) -> tuple[list[dict], list[dict]]:
    rows, superseded = [], []
    events = trial.sheet.adverse_events
    for term, entries in grouped(events, lambda event: event.term).items():
        used, others = choose(trial, entries)
        assert isinstance(used, AdverseEvent)
        rows.append(
            {
                "trial_id": trial.trial_id,
                "term": term,
                "serious": used.serious,
                "count": used.count,
                "count_unit": used.count_unit,
                "denominator": used.denominator,
                "denominator_unit": used.denominator_unit,
                "percent_reported": used.percent,
                "named_only": used.named_only,
                "relatedness": used.relatedness,
                "note": used.note,
                **_trace(trial, used),
            }
        )
        path = f"adverse_events.{events.index(used)}"
        superseded += superseded_rows(trial, f"adverse event: {term}", path, used, others)
    return rows, superseded


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
                {
                    "trial_id": trial.trial_id,
                    "limitation": entry.not_reported,
                    "report": None,
                    "quote_id": None,
                }
            )
        else:
            rows.append(
                {
                    "trial_id": trial.trial_id,
                    "limitation": entry.value,
                    "report": trial.report_files(entry),
                    "quote_id": trial.ids(entry),
                }
            )
    return rows


# --------------------------------------------------------------------------- tables


def build_tables(trials: list[TrialEvidence]) -> dict[str, pd.DataFrame]:
    """All processed tables from located, verified evidence (pure: writes nothing)."""
    rows: dict[str, list[dict]] = {table: [] for table in TABLES}
    for trial in trials:
        values, facts, superseded = trial_fields(trial)
        doses, dose_superseded = dose_rows(trial)
        characteristics, characteristic_superseded = characteristic_rows(trial)
        numeric, narrative, outcome_superseded = outcome_rows(trial)
        events, event_superseded = adverse_event_rows(trial)
        superseded += dose_superseded + characteristic_superseded
        superseded += outcome_superseded + event_superseded
        rows["trials"].append(trial_row(trial, values, doses))
        rows["reports"].extend(report_rows(trial))
        rows["trial_facts"].extend(facts)
        rows["doses"].extend(doses)
        rows["characteristics"].extend(characteristics)
        rows["outcomes"].extend(numeric)
        rows["outcome_narratives"].extend(narrative)
        rows["adverse_events"].extend(events)
        rows["appraisal"].extend(appraisal_rows(trial))
        rows["limitations"].extend(limitation_rows(trial))
        rows["superseded"].extend(superseded)
        rows["provenance"].extend(trial.provenance)
        rows["checks"].extend(audit.check_rows(trial, superseded))
        rows["coverage"].extend(audit.coverage_rows(trial))
    return {
        table: conform(table, pd.DataFrame(table_rows)) if table_rows else empty_frame(table)
        for table, table_rows in rows.items()
    }


def write_tables(tables: dict[str, pd.DataFrame], output_dir: Path) -> None:
    """Write every table and the data dictionary, replacing ``output_dir`` only on success."""
    store.write_atomically({**tables, "data_dictionary": data_dictionary()}, output_dir)


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
