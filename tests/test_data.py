"""The typed loader and the data dictionary agree with what ingestion writes."""

from __future__ import annotations

import os
import shutil

import openpyxl
import pandas as pd
import pytest
from support import fixture_processed

from helpers import data, paths
from helpers.data import store


def test_every_table_loads_with_documented_dtypes(fixture_tables):
    tables = fixture_tables
    for name, frame in tables.items():
        expected = {c.name: c.dtype for c in data.TABLES[name]}
        assert list(frame.columns) == list(expected), name
        for column, dtype in expected.items():
            assert str(frame[column].dtype) == dtype, f"{name}.{column}"


def test_dictionary_file_documents_every_column():
    written = pd.read_csv(fixture_processed() / "data_dictionary.csv", dtype="string")
    pd.testing.assert_frame_equal(written, data.data_dictionary())
    assert written["description"].str.len().min() > 3


def test_unknown_table_lists_the_valid_ones():
    with pytest.raises(KeyError, match="outcomes"):
        data.load("outcome")


def test_missing_table_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make report"):
        data.load("trials", tmp_path)


def test_a_table_read_again_is_the_file_as_it_is_now(tmp_path):
    # Parsed frames are reused while a file's bytes stay the same: an edit, even one keeping
    # the size and the modification time, is read, and callers cannot change each other's copy.
    shutil.copy(fixture_processed() / "trials.csv", tmp_path / "trials.csv")
    first = data.load("trials", tmp_path)
    first.loc[0, "trial_id"] = "changed by a caller"
    other = data.load("trials", tmp_path)
    other["title"] = "retitled by another caller"
    other.iloc[-1, 0] = "changed in place"
    again = data.load("trials", tmp_path)
    assert again.loc[0, "trial_id"] != "changed by a caller"
    pd.testing.assert_frame_equal(again, data.load("trials", fixture_processed()))
    path = tmp_path / "trials.csv"
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    original = again.loc[0, "trial_id"]
    edited = "x" * len(original)
    path.write_text(text.replace(original, edited, 1), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.load("trials", tmp_path).loc[0, "trial_id"] == edited


class _CountedReads:
    """Counts the bytes reads of one file through ``Path.read_bytes``."""

    def __init__(self, monkeypatch, path):
        self.count = 0
        original = type(path).read_bytes

        def counted(self_path):
            if self_path == path:
                self.count += 1
            return original(self_path)

        monkeypatch.setattr(type(path), "read_bytes", counted)


def _same_status_always(monkeypatch):
    """Every file reports one unchanging status: only the bytes can tell an edit."""
    monkeypatch.setattr(store, "_status", lambda path: (1, 2, 3, 4, 5))


def test_a_file_changed_long_before_it_was_read_is_not_read_again(tmp_path, monkeypatch):
    shutil.copy(fixture_processed() / "trials.csv", tmp_path / "trials.csv")
    path = tmp_path / "trials.csv"
    _same_status_always(monkeypatch)
    later = store.time.time_ns() + 10 * store.CHANGE_TIME_MARGIN_NS
    monkeypatch.setattr(store.time, "time_ns", lambda: later)
    reads = _CountedReads(monkeypatch, path)
    first = data.load("trials", tmp_path)
    again = data.load("trials", tmp_path)
    assert reads.count == 1
    pd.testing.assert_frame_equal(first, again)


def test_a_file_changed_just_before_it_was_read_is_compared_by_its_bytes(tmp_path, monkeypatch):
    # Two edits within one tick of the file system's clock can leave the status as it was.
    shutil.copy(fixture_processed() / "trials.csv", tmp_path / "trials.csv")
    path = tmp_path / "trials.csv"
    _same_status_always(monkeypatch)  # "changed" at 5 ns, read at 1 s: within the margin
    monkeypatch.setattr(store.time, "time_ns", lambda: 10**9)
    reads = _CountedReads(monkeypatch, path)
    original = data.load("trials", tmp_path).loc[0, "trial_id"]
    edited = "y" * len(original)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(original, edited, 1), encoding="utf-8")
    assert data.load("trials", tmp_path).loc[0, "trial_id"] == edited
    assert reads.count == 2


def test_conform_refuses_unexpected_columns():
    frame = data.empty_frame("limitations").assign(extra=1)
    with pytest.raises(ValueError, match="unexpected \\['extra'\\]"):
        data.conform("limitations", frame)


def test_export_writes_every_table_to_one_workbook(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(tmp_path / "no-results"))
    path = data.export(tmp_path / "evidence.xlsx", fixture_processed())
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert set(workbook.sheetnames) == {*data.TABLES, "data_dictionary"}
    trials = pd.read_excel(path, sheet_name="trials")
    assert len(trials) == len(data.load("trials", fixture_processed()))


def test_export_to_a_folder_writes_csv(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(tmp_path / "no-results"))
    folder = data.export(tmp_path / "tables", fixture_processed())
    assert (folder / "outcomes.csv").is_file() and (folder / "data_dictionary.csv").is_file()
