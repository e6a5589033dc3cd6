"""Typed access to every stored table: processed evidence and analysis results.

``data/processed/`` (written by ingestion, :data:`TABLES`) and ``data/results/`` (written by
the analysis, :data:`RESULTS`) are described column by column, with a data dictionary in each
folder. The pipeline (``python -m helpers.run.pipeline``) writes ``data/results/`` after the
ingestion whenever ``data/processed/`` or the code changed, with the protocol's settings, and
publishes a copy of both folders with the site (``reports/data/``); :mod:`helpers.data.changes`
compares two such copies into the change tables behind ``reports/changes.html``. Notebooks and
analysts load the tables by name instead of reading CSV paths by hand:

>>> from helpers import data
>>> outcomes = data.load("outcomes")          # doctest: +SKIP
>>> tables = data.load_all()                  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import paths
from helpers.data import store
from helpers.data.processed import PROCESSED
from helpers.data.results import RESULTS
from helpers.data.store import Column

TABLES = PROCESSED  # the processed tables, by name

__all__ = [
    "RESULTS",
    "TABLES",
    "Column",
    "conform",
    "data_dictionary",
    "empty_frame",
    "export",
    "load",
    "load_all",
    "load_results",
    "results_dictionary",
]


def _spec(table: str) -> tuple[Column, ...]:
    if table in TABLES:
        return TABLES[table]
    if table in RESULTS:
        return RESULTS[table]
    raise KeyError(
        f"unknown table {table!r}; processed tables are {sorted(TABLES)}, "
        f"result tables are {sorted(RESULTS)}"
    )


def empty_frame(table: str) -> pd.DataFrame:
    """A typed, empty table with the documented columns."""
    return store.empty(_spec(table))


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type ``frame``'s columns as documented; unknown or missing columns are errors."""
    return store.conform(table, _spec(table), frame)


def data_dictionary() -> pd.DataFrame:
    """One row per column of every processed table."""
    return store.dictionary(TABLES)


def results_dictionary() -> pd.DataFrame:
    """One row per column of every result table."""
    return store.dictionary(RESULTS)


def load(table: str, directory: Path | None = None) -> pd.DataFrame:
    """Read one processed or result table with its documented dtypes."""
    spec = _spec(table)
    default = paths.processed_dir() if table in TABLES else paths.results_dir()
    return store.read((directory or default) / f"{table}.csv", table, spec)


def load_all(directory: Path | None = None) -> dict[str, pd.DataFrame]:
    """Every processed table, keyed by name."""
    return {table: load(table, directory) for table in TABLES}


def load_results(directory: Path | None = None) -> dict[str, pd.DataFrame]:
    """Every result table, keyed by name."""
    return {table: load(table, directory) for table in RESULTS}


def export(path: str | Path, directory: Path | None = None) -> Path:
    """Every processed and result table, with both dictionaries, in one Excel workbook
    (``path`` ending in ``.xlsx``: one sheet per table) or as CSV files in a folder.

    Sheet names are the table names (Excel allows 31 characters). Result tables are included
    when ``data/results/`` exists. Returns the path written.
    """
    path = Path(path)
    processed = load_all(directory)
    results = load_results() if paths.results_dir().is_dir() else {}
    tables = {
        **processed,
        "data_dictionary": data_dictionary(),
        **results,
        **({"results_dictionary": results_dictionary()} if results else {}),
    }
    if path.suffix.lower() == ".xlsx":
        path.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(path, engine="openpyxl") as workbook:
            for name, frame in tables.items():
                frame.to_excel(workbook, sheet_name=name[:31], index=False)
        return path
    path.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(path / f"{name}.csv", index=False, lineterminator="\n")
    return path
