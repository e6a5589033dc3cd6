"""Opening files people put in ``data/``: regular files only, sizes checked before reading.

Anything in ``data/`` may be hostile or broken. Only regular files are opened, without
blocking: a FIFO (which would block its reader forever) or a symbolic link to a device such as
``/dev/zero`` (which never ends) is refused. The size limit is checked on the open file before
a byte is read, and again while reading (a file that grows meanwhile). Each refusal is an
:class:`~helpers.errors.EvidenceInputError` naming the file. Standard library only: the
pipeline hashes its inputs with it before importing anything heavy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from helpers.errors import EvidenceInputError

MAX_SHEET_BYTES = 1_000_000  # an extraction sheet or a manifest; a real one has tens of kB
MAX_DOCUMENT_BYTES = 100_000_000  # a raw source document or a table

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def _not_regular(path: Path, mode: int) -> EvidenceInputError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    if path.is_symlink():
        kind = f"a symbolic link to {os.path.realpath(path)}, {kind}"
    return EvidenceInputError(path, "<file>", "a regular file", kind)


def open_regular(path: Path, max_bytes: int) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file of at most ``max_bytes``.

    Opening never blocks (``O_NONBLOCK``: a FIFO without a writer would otherwise wait
    forever). Raises ``EvidenceInputError`` for anything else, ``OSError`` (such as
    ``FileNotFoundError``) when the file cannot be opened at all.
    """
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        # A socket cannot be opened at all (ENXIO), a dangling link points nowhere: say what
        # it is rather than the errno.
        if path.is_symlink() and not path.exists():
            target = f"a symbolic link to {os.readlink(path)}, which does not exist"
            raise EvidenceInputError(path, "<file>", "a regular file", target) from None
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode) from None
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise _not_regular(path, info.st_mode)
    if info.st_size > max_bytes:
        os.close(descriptor)
        raise EvidenceInputError(path, "<file>", f"at most {max_bytes} bytes", info.st_size)
    return os.fdopen(descriptor, "rb")


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the size check
        raise EvidenceInputError(path, "<file>", f"at most {max_bytes} bytes", f"{len(data)}+")
    return data
