"""Stored tables in general: typed columns, conforming a frame, reading and atomic writing.

A table is a tuple of :class:`Column`. :func:`conform` orders and types a frame as its
columns say (an unknown or missing column is an error); :func:`read` reads a CSV back with
those dtypes (parsing each file's content once per process); :func:`write_atomically` writes
a set of tables and their dictionary into a folder that is replaced only when every file is
written.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
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


# Tables parsed in this process, by path. A kernel renders page after page, each reading every
# table: at 1,000 trials parsing them took ~0.6 s a page, and reading and hashing the same 27 MB
# again ~0.05 s. A file whose status (inode, size, change times) is as it was when its bytes were
# parsed is taken as unchanged, unless it changed within CHANGE_TIME_MARGIN_NS of that read: a
# second edit within the file system's clock tick can keep every field of the status, so such
# a "racily clean" file is read and hashed again (git's index does the same).
_PARSED: OrderedDict[Path, _Parsed] = OrderedDict()
_PARSED_LIMIT = 256  # files (one project has ~60 tables): bounded in a long test session
CHANGE_TIME_MARGIN_NS = 2_000_000_000  # coarser than any file system's timestamps (FAT: 2 s)


@dataclass(frozen=True)
class _Parsed:
    status: tuple[int, ...]  # device, inode, size, modification and change times (ns)
    read_at_ns: int  # the clock just before the bytes were read
    digest: bytes
    spec: tuple[Column, ...]
    frame: pd.DataFrame

    def unchanged(self, status: tuple[int, ...]) -> bool:
        """The file's status vouches for the bytes parsed: same status, changed well before."""
        changed_ns = status[-1]
        return status == self.status and changed_ns + CHANGE_TIME_MARGIN_NS < self.read_at_ns


def _status(path: Path) -> tuple[int, ...]:
    status = path.stat()
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def read(path: Path, name: str, spec: tuple[Column, ...]) -> pd.DataFrame:
    """A CSV table read back with its documented dtypes.

    A file is parsed again only when its bytes changed since this process last parsed it:
    its status (inode, size, modification and change times) tells when it changed long ago
    enough, its bytes' digest otherwise. Each call returns its own frame, so callers may modify
    it: a shallow copy of the parsed one, which pandas' copy-on-write (always on since pandas 3)
    copies only the parts a caller changes.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make report` first")
    parsed = _PARSED.get(path)
    status = _status(path)
    if parsed is None or parsed.spec != spec or not parsed.unchanged(status):
        read_at_ns = time.time_ns()
        raw = path.read_bytes()
        status = _status(path)  # as of the bytes read (a writer may have replaced the file)
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        if parsed is None or (parsed.digest, parsed.spec) != (digest, spec):
            dtypes = {c.name: c.dtype for c in spec}
            frame = pd.read_csv(
                io.BytesIO(raw), dtype=dtypes, keep_default_na=False, na_values=[""]
            )
            frame = conform(name, spec, frame)
        else:
            frame = parsed.frame
        parsed = _Parsed(status, read_at_ns, digest, spec, frame)
    _PARSED[path] = parsed
    _PARSED.move_to_end(path)
    while len(_PARSED) > _PARSED_LIMIT:
        _PARSED.popitem(last=False)
    return parsed.frame.copy(deep=False)


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
