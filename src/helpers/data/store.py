"""Stored tables in general: typed columns, conforming a frame, reading and atomic writing.

A table is a tuple of :class:`Column`. :func:`conform` orders and types a frame as its
columns say (an unknown or missing column is an error); :func:`read` reads a CSV back with
those dtypes (parsing each file's content once per process); :func:`write_atomically` writes a set of tables and their dictionary into a
folder that is replaced only when every file is written.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # pandas dtype: "string", "Int64", "Float64", "boolean"
    description: str


def columns(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


def empty(spec: tuple[Column, ...]) -> pd.DataFrame:
    """A typed, empty table with the documented columns."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in spec})


def conform(name: str, spec: tuple[Column, ...], frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type ``frame``'s columns as documented; unknown or missing columns are errors."""
    expected = [c.name for c in spec]
    if sorted(frame.columns) != sorted(expected):
        missing = sorted(set(expected) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(expected))
        raise ValueError(f"table {name}: missing columns {missing}, unexpected {extra}")
    if frame.empty:
        return empty(spec)
    return frame[expected].astype({c.name: c.dtype for c in spec})


def dictionary(specs: Mapping[str, tuple[Column, ...]]) -> pd.DataFrame:
    """One row per column of every table."""
    rows = [
        {"table": table, "column": c.name, "dtype": c.dtype, "description": c.description}
        for table, spec in specs.items()
        for c in spec
    ]
    return pd.DataFrame(rows, dtype="string")


# Tables parsed in this process, by path: the digest of the bytes parsed, the columns, the frame.
# A kernel renders page after page, each reading every table: at 1,000 trials parsing them took
# ~0.6 s a page, while reading and hashing the same bytes again takes a few milliseconds.
_PARSED: OrderedDict[Path, tuple[bytes, tuple[Column, ...], pd.DataFrame]] = OrderedDict()
_PARSED_LIMIT = 256  # files (one project has ~60 tables): bounded in a long test session


def read(path: Path, name: str, spec: tuple[Column, ...]) -> pd.DataFrame:
    """A CSV table read back with its documented dtypes.

    The file is read each time; it is parsed again only when its bytes changed since this
    process last parsed it. Each call returns its own frame, so callers may modify it: a
    shallow copy of the parsed one, which pandas' copy-on-write (always on since pandas 3)
    copies only the parts a caller changes.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make report` first")
    raw = path.read_bytes()
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    parsed = _PARSED.get(path)
    if parsed is None or parsed[:2] != (digest, spec):
        dtypes = {c.name: c.dtype for c in spec}
        frame = pd.read_csv(io.BytesIO(raw), dtype=dtypes, keep_default_na=False, na_values=[""])
        parsed = (digest, spec, conform(name, spec, frame))
    _PARSED[path] = parsed
    _PARSED.move_to_end(path)
    while len(_PARSED) > _PARSED_LIMIT:
        _PARSED.popitem(last=False)
    return parsed[2].copy(deep=False)


def write_atomically(tables: Mapping[str, pd.DataFrame], target: Path) -> None:
    """Write every table as ``<name>.csv`` into ``target``, replacing it only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, frame in tables.items():
            frame.to_csv(staging / f"{name}.csv", index=False, lineterminator="\n")
        os.chmod(staging, 0o755)
        retired = target.with_name(f".{target.name}-retired")
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
