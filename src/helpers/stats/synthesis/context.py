"""Published meta-analyses on the same question (``data/context/prior_meta_analyses.csv``).

An input beside the results, not a result: each row is a cited, published estimate; the page
places it next to what this synthesis found for the same condition and outcome domain
(``compare_with``). Columns are described in ``data/context/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import labels, paths
from helpers.errors import EvidenceInputError
from helpers.stats.synthesis.common import present as _present

CONDITION_LABELS = labels.CONDITIONS

PRIOR_COLUMNS = {
    "study": "string",
    "journal": "string",
    "year": "Int64",
    "doi": "string",
    "condition": "string",
    "design_of_included": "string",
    "k": "Int64",
    "n_patients": "Int64",
    "outcome": "string",
    "measure": "string",
    "estimate": "Float64",
    "ci_low": "Float64",
    "ci_high": "Float64",
    "i2": "Float64",
    "compare_with": "string",
    "note": "string",
}
_REQUIRED_PRIOR = ("study", "journal", "year", "condition", "outcome", "measure", "estimate")


def load_prior_meta_analyses(path: Path | None = None) -> pd.DataFrame:
    """The cited table of prior meta-analyses (``data/context/prior_meta_analyses.csv``).

    Columns are described in ``data/context/README.md``. Raises
    :class:`helpers.errors.EvidenceInputError` naming the file, the row and the column when a
    column is missing or unknown, a required value is empty, a number does not parse, the CI
    does not contain the estimate, or ``compare_with`` is not ``<condition>:<domain>``.
    """
    path = path or paths.context_dir() / "prior_meta_analyses.csv"
    if not path.is_file():
        raise EvidenceInputError(path, "(file)", "a CSV of prior meta-analyses", "missing file")
    raw = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    missing = [c for c in PRIOR_COLUMNS if c not in raw.columns]
    extra = [c for c in raw.columns if c not in PRIOR_COLUMNS]
    if missing or extra:
        raise EvidenceInputError(
            path,
            "(header)",
            f"columns {list(PRIOR_COLUMNS)}",
            f"missing {missing}, unknown {extra}",
        )
    for i, row in raw.iterrows():
        where = f"row {i + 2}"  # the header is line 1
        for column in _REQUIRED_PRIOR:
            if not _present(row[column]):
                raise EvidenceInputError(path, f"{where}.{column}", "a value", "empty")
        for column, dtype in PRIOR_COLUMNS.items():
            if dtype in ("Int64", "Float64") and _present(row[column]):
                try:
                    number = float(row[column])
                except ValueError:
                    raise EvidenceInputError(
                        path, f"{where}.{column}", "a number", row[column]
                    ) from None
                if dtype == "Int64" and number != int(number):
                    raise EvidenceInputError(
                        path, f"{where}.{column}", "a whole number", row[column]
                    )
        if row["condition"] not in CONDITION_LABELS:
            raise EvidenceInputError(
                path, f"{where}.condition", f"one of {list(CONDITION_LABELS)}", row["condition"]
            )
        if _present(row["ci_low"]) and _present(row["ci_high"]):
            low, estimate, high = (float(row[c]) for c in ("ci_low", "estimate", "ci_high"))
            if not low <= estimate <= high:
                raise EvidenceInputError(
                    path,
                    f"{where}.ci_low/ci_high",
                    "ci_low <= estimate <= ci_high",
                    (low, estimate, high),
                )
        if _present(row["compare_with"]):
            condition, _, domain = str(row["compare_with"]).partition(":")
            if condition not in CONDITION_LABELS or not domain:
                raise EvidenceInputError(
                    path, f"{where}.compare_with", "'<condition>:<domain>'", row["compare_with"]
                )
    return raw.astype(PRIOR_COLUMNS)
