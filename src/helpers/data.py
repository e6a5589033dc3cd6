"""The processed tables: their columns, types and meaning, and a typed loader.

``TABLES`` is the single definition of ``data/processed/``: ingestion writes the columns in
this order and the data dictionary from these descriptions; :func:`load` reads them back
with these dtypes. Notebooks and analysts call :func:`load` (or :func:`load_all`) instead
of reading CSV paths by hand.

>>> from helpers import data
>>> outcomes = data.load("outcomes")          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers import paths


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # pandas dtype: "string", "Int64", "Float64", "boolean"
    description: str


def _columns(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


STAT_COLUMNS = (
    ("n", "Int64", "number of patients measured"),
    ("mean", "Float64", "mean as reported"),
    ("sd", "Float64", "standard deviation as reported"),
    ("se", "Float64", "standard error as reported"),
    ("median", "Float64", "median as reported"),
    ("low", "Float64", "lower end of the reported range (or lower bound)"),
    ("high", "Float64", "upper end of the reported range (or upper bound)"),
    ("events", "Int64", "patients with the characteristic or event"),
    ("total", "Int64", "denominator of events"),
    ("percent_reported", "string", "percentage exactly as written in the source"),
)
TRACE_COLUMNS = (
    ("quote_id", "string", "provenance key(s) into provenance.csv, ';'-separated when several"),
    ("derived", "string", "how a value not written in the quote was obtained (empty if none)"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "trials": _columns(
        ("trial_id", "string", "trial identifier (file stem of its extraction sheet)"),
        ("title", "string", "title, or the aim sentence when the document has none"),
        ("citation", "string", "bibliographic reference (data/raw/sources.yaml)"),
        ("doi", "string", "DOI of the trial publication"),
        ("registry_id", "string", "trial registry identifier, e.g. NCT number"),
        ("source_file", "string", "raw document the numbers come from"),
        ("source_kind", "string", "full_text | abstract | bibliographic_record | press_report"),
        ("condition", "string", "spina_bifida | cerebral_palsy | spinal_cord_injury"),
        ("design", "string", "design as described by the source"),
        ("phase", "string", "trial phase as reported"),
        ("blinding", "string", "open_label | single_blind | double_blind"),
        ("control", "string", "none | placebo | usual_care | waitlist"),
        ("setting", "string", "centre(s)"),
        ("country", "string", "country"),
        ("start", "string", "start of recruitment or treatment (YYYY-MM)"),
        ("end", "string", "end of the study period (YYYY-MM)"),
        ("age", "string", "age of participants as reported"),
        ("sex", "string", "sex distribution as reported"),
        ("cell_type", "string", "BMMNC (bone-marrow mononuclear cells) | MSC (mesenchymal)"),
        ("cell_source", "string", "autologous | allogeneic"),
        ("tissue", "string", "bone_marrow | umbilical_cord | adipose | other"),
        ("route", "string", "intrathecal (incl. subarachnoid) | intravenous | intraspinal"),
        ("dose", "Float64", "cell dose value"),
        ("dose_sd", "Float64", "SD of the dose where reported as mean ± SD"),
        ("dose_unit", "string", "unit of the dose"),
        ("dose_basis", "string", "per_kg | per_administration_total | per_patient_total"),
        ("n_administrations", "Int64", "number of cell administrations per patient"),
        ("interval_months", "Float64", "months between administrations"),
        ("n_enrolled", "Int64", "patients enrolled"),
        ("n_safety", "Int64", "patients in the safety analysis"),
        ("n_efficacy", "Int64", "patients in the efficacy analysis"),
        ("follow_up_months", "Float64", "follow-up as reported, in months"),
        ("follow_up_schedule", "string", "when outcomes were assessed, as the source words it"),
        ("n_quotes", "Int64", "verbatim quotes located for this trial"),
    ),
    "trial_facts": _columns(
        ("trial_id", "string", "trial identifier"),
        ("field", "string", "sheet field path, e.g. intervention.route"),
        ("value", "string", "value as extracted (text)"),
        ("not_reported", "string", "why the source gives no value (empty when reported)"),
        *TRACE_COLUMNS,
    ),
    "characteristics": _columns(
        ("trial_id", "string", "trial identifier"),
        ("group", "string", "baseline (participants) | product (cell preparation)"),
        ("label", "string", "characteristic"),
        ("unit", "string", "unit"),
        *STAT_COLUMNS,
        *TRACE_COLUMNS,
    ),
    "outcomes": _columns(
        ("trial_id", "string", "trial identifier"),
        ("outcome_id", "string", "outcome identifier, unique within the trial"),
        ("domain", "string", "motor, spasticity, balance, function, cognition, bladder, ..."),
        ("measure", "string", "what was measured"),
        ("scale", "string", "instrument name"),
        ("scale_min", "Float64", "lowest possible score"),
        ("scale_max", "Float64", "highest possible score"),
        ("unit", "string", "unit of measurement"),
        ("direction_of_benefit", "string", "higher | lower | none (no agreed better direction)"),
        ("kind", "string", "continuous | ordinal | count"),
        ("population", "string", "subgroup measured when not the whole trial"),
        ("timepoint", "string", "assessment as the source names it"),
        ("timepoint_months", "Float64", "months since the first administration"),
        *STAT_COLUMNS,
        ("p_reported", "string", "p-value versus baseline exactly as written"),
        *TRACE_COLUMNS,
    ),
    "outcome_narratives": _columns(
        ("trial_id", "string", "trial identifier"),
        ("outcome_id", "string", "outcome identifier"),
        ("domain", "string", "outcome domain"),
        ("measure", "string", "what was assessed"),
        ("direction", "string", "improved | worsened | no_change | mixed, as the source states"),
        ("significant", "boolean", "whether the source claims statistical significance"),
        *TRACE_COLUMNS,
    ),
    "adverse_events": _columns(
        ("trial_id", "string", "trial identifier"),
        ("term", "string", "adverse event"),
        ("serious", "boolean", "serious (severe) adverse event"),
        ("count", "Int64", "number reported"),
        ("count_unit", "string", "patients | events | cases | unknown"),
        ("denominator", "Int64", "denominator of the count"),
        ("denominator_unit", "string", "patients | administrations | unknown"),
        ("percent_reported", "string", "percentage exactly as written"),
        ("relatedness", "string", "relation to treatment as reported"),
        ("note", "string", "extractor's note"),
        *TRACE_COLUMNS,
    ),
    "appraisal": _columns(
        ("trial_id", "string", "trial identifier"),
        ("item", "string", "JBI case-series checklist item (q1-q10)"),
        ("question", "string", "checklist question"),
        ("answer", "string", "yes | no | unclear | not_applicable"),
        ("reason", "string", "one-line justification"),
    ),
    "limitations": _columns(
        ("trial_id", "string", "trial identifier"),
        ("limitation", "string", "limitation stated by the source"),
        ("quote_id", "string", "provenance key"),
    ),
    "provenance": _columns(
        ("quote_id", "string", "provenance key"),
        ("trial_id", "string", "trial identifier"),
        ("source_file", "string", "raw document"),
        ("field", "string", "first sheet field that cites the quote"),
        ("quote", "string", "verbatim quote as written in the sheet"),
        ("start", "Int64", "character offset of the match in the normalised document text"),
        ("end", "Int64", "end offset (exclusive) of the match"),
    ),
    "checks": _columns(
        ("trial_id", "string", "trial identifier"),
        ("check", "string", "grim | percent_count | denominators | sd_range | contradiction | ..."),
        ("severity", "string", "warning (a reader should know) | info"),
        ("field", "string", "sheet field path the check looked at"),
        ("message", "string", "what was found, with the evidence"),
    ),
    "coverage": _columns(
        ("trial_id", "string", "trial identifier"),
        ("number", "string", "number in the source's results that no sheet value captured"),
        ("offset", "Int64", "character offset in the normalised document text"),
        ("context", "string", "surrounding text"),
    ),
}


def empty_frame(table: str) -> pd.DataFrame:
    """A typed, empty table with the documented columns."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in TABLES[table]})


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type ``frame``'s columns as documented; unknown or missing columns are errors."""
    expected = [c.name for c in TABLES[table]]
    if sorted(frame.columns) != sorted(expected):
        missing = sorted(set(expected) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(expected))
        raise ValueError(f"table {table}: missing columns {missing}, unexpected {extra}")
    if frame.empty:
        return empty_frame(table)
    return frame[expected].astype({c.name: c.dtype for c in TABLES[table]})


def data_dictionary() -> pd.DataFrame:
    """One row per column of every processed table."""
    rows = [
        {"table": table, "column": c.name, "dtype": c.dtype, "description": c.description}
        for table, columns in TABLES.items()
        for c in columns
    ]
    return pd.DataFrame(rows, dtype="string")


def load(table: str, directory: Path | None = None) -> pd.DataFrame:
    """Read one processed table with its documented dtypes."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; tables are {sorted(TABLES)}")
    path = (directory or paths.processed_dir()) / f"{table}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the ingestion (make report) first")
    dtypes = {c.name: c.dtype for c in TABLES[table]}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    return conform(table, frame)


def load_all(directory: Path | None = None) -> dict[str, pd.DataFrame]:
    """Every processed table, keyed by name."""
    return {table: load(table, directory) for table in TABLES}
