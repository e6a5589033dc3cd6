"""The missing-value policy (metafor's ``na.action``): strict by default, or omit with a warning.

Every function that takes study rows passes them through :func:`_complete_rows`: a missing value
(NaN / None) raises a ``ValueError`` naming the column and the rows (``na_action="fail"``), or
``na_action="omit"`` drops the incomplete rows with a :class:`MissingValuesOmitted` warning that
lists them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NA_ACTIONS = ("fail", "omit")


class MissingValuesOmitted(UserWarning):
    """Rows with missing values were dropped because ``na_action="omit"`` was asked for."""


def _float_column(name: str, values: object) -> np.ndarray:
    """1-D float array in which missing values (None, NaN, pandas NA) are NaN."""
    try:
        if isinstance(values, pd.Series | pd.Index):
            array = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            array = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {values!r}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be a scalar or 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _check_na_action(na_action: str) -> None:
    if na_action not in NA_ACTIONS:
        raise ValueError(f"na_action must be one of {NA_ACTIONS}, got {na_action!r}")


def _complete_rows(
    caller: str,
    columns: Mapping[str, np.ndarray],
    row_names: Sequence[object],
    na_action: str,
) -> np.ndarray:
    """Rows without missing values; raise (``"fail"``) or warn (``"omit"``) about the others.

    ``columns`` maps a description of each input ("'sd1i'", "column 'sd_pre' (sd1i)") to its
    values; ``row_names`` names the rows in messages (data frame index labels or positions).
    """
    _check_na_action(na_action)
    missing = {name: np.isnan(values) for name, values in columns.items()}
    incomplete = np.zeros(len(row_names), dtype=bool)
    for flags in missing.values():
        incomplete |= flags
    if not incomplete.any():
        return ~incomplete
    if na_action == "fail":
        where = "; ".join(
            f"{name} at row(s) {', '.join(str(row_names[i]) for i in np.flatnonzero(flags))}"
            for name, flags in missing.items()
            if flags.any()
        )
        raise ValueError(
            f"{caller}: missing values in {where}. Fill them in, or pass na_action='omit' to "
            "drop incomplete rows (metafor's na.action = 'na.omit')."
        )
    if incomplete.all():
        raise ValueError(f"{caller}: every row has a missing value; nothing is left to analyse")
    dropped = ", ".join(
        f"{row_names[i]} ({', '.join(name for name, flags in missing.items() if flags[i])})"
        for i in np.flatnonzero(incomplete)
    )
    warnings.warn(
        f"{caller}: omitted {int(incomplete.sum())} of {incomplete.size} rows with missing "
        f"values: {dropped}",
        MissingValuesOmitted,
        stacklevel=3,
    )
    return ~incomplete
