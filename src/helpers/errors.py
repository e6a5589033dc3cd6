"""One error type for bad input: it names the file, the field path and what was expected."""

from __future__ import annotations


class EvidenceInputError(ValueError):
    """Raised for any bad input: ``<file>[:<line>]: <field>: expected <expected>, got <got>``."""

    def __init__(
        self, file: str, field: str, expected: str, got: object = None, line: int | None = None
    ) -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.got = got
        self.line = line
        where = f"{self.file}:{line}" if line else self.file
        message = f"{where}: {field}: expected {expected}"
        if got is not None:
            shown = repr(got)
            message += f", got {shown[:200]}{'…' if len(shown) > 200 else ''}"
        super().__init__(message)
