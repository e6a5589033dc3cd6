"""Rows as plain dicts: the same values as DataFrame.iterrows, whatever the column types."""

from __future__ import annotations

import pandas as pd

from helpers.stats.rows import records


def test_records_hold_the_values_iterrows_gives():
    frame = pd.DataFrame(
        {
            "id": pd.array(["a", None, "c"], dtype="string"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "share": pd.array([0.5, None, -0.0], dtype="Float64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "plain": [1.5, float("nan"), 2.0],
        },
        index=[10, 20, 30],
    )
    expected = [{column: row[column] for column in row.index} for _, row in frame.iterrows()]
    found = records(frame)
    assert len(found) == len(expected)
    for row, reference in zip(found, expected, strict=True):
        assert list(row) == list(reference)
        for column, value in reference.items():
            assert type(row[column]) is type(value)
            assert (
                row[column] is value
                or row[column] == value
                or (pd.isna(value) and pd.isna(row[column]))
            )


def test_an_empty_frame_has_no_records():
    assert records(pd.DataFrame({"a": pd.array([], dtype="Int64")})) == []
