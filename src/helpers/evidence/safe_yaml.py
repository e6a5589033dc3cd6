"""Reading YAML written by people: safe loading with size and alias-expansion limits.

``yaml.safe_load`` only (no object construction); a file over :data:`MAX_SHEET_BYTES` or a
"billion laughs" document whose aliases would expand past :data:`MAX_EXPANDED_NODES` is
refused before it is expanded, with an :class:`~helpers.errors.EvidenceInputError` naming the
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from helpers.errors import EvidenceInputError

MAX_SHEET_BYTES = 1_000_000
MAX_EXPANDED_NODES = 200_000  # a real sheet has a few thousand


def read_yaml(path: Path) -> Any:
    """Safe YAML with size and alias limits (a billion-laughs sheet is refused, not expanded)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvidenceInputError(path, "<file>", "a readable file", str(exc)) from exc
    if len(raw) > MAX_SHEET_BYTES:
        raise EvidenceInputError(path, "<file>", f"at most {MAX_SHEET_BYTES} bytes", len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceInputError(
            path, "<file>", f"UTF-8 text (invalid byte at offset {exc.start})"
        ) from exc
    if not text.strip():
        raise EvidenceInputError(path, "<file>", "a non-empty YAML mapping")
    try:
        expanded = _expanded_size(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        expanded = 0  # safe_load below reports the syntax error with its position
    if expanded > MAX_EXPANDED_NODES:
        raise EvidenceInputError(
            path,
            "<file>",
            f"at most {MAX_EXPANDED_NODES} YAML nodes once aliases are expanded",
            expanded,
        )
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise EvidenceInputError(path, where, "well-formed YAML", problem) from exc


def _expanded_size(root: yaml.Node | None) -> int:
    """Node count after alias expansion, computed on the composed graph without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # guards recursive aliases
            if isinstance(node, yaml.SequenceNode):
                sizes[id(node)] = 1 + sum(size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[id(node)] = 1 + sum(size(k) + size(v) for k, v in node.value)
        return sizes[id(node)]

    return 0 if root is None else size(root)
