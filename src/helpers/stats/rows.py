"""Rows of a table as plain dicts, for the loops that read a table row by row."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

Row = Mapping[str, object]  # one row of a table: column -> value


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The frame's rows as dicts holding the values ``DataFrame.iterrows`` gives.

    A loop over these costs a fraction of ``iterrows`` (one Series per row) or of
    ``to_dict("records")``; the values are the same objects, so what is computed from them
    does not change.
    """
    columns = list(frame.columns)
    return [dict(zip(columns, values, strict=True)) for values in frame.values]
