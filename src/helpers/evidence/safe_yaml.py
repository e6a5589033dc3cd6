"""Reading YAML written by people: safely, within limits of size, nesting and alias expansion.

Each refusal is an :class:`~helpers.errors.EvidenceInputError` naming the file:

* the file must be a regular file of at most :data:`MAX_SHEET_BYTES`, checked before reading
  (:mod:`helpers.evidence.input_files`: no FIFO, no link to ``/dev/zero``);
* YAML is loaded with ``yaml.CSafeLoader`` only (libyaml's parser, safe tags only, no object
  construction) and refused before it is composed when it nests deeper than
  :data:`MAX_NESTING` levels (libyaml's composer recurses: deep nesting would crash the
  interpreter) or when its aliases would expand past :data:`MAX_EXPANDED_NODES` nodes (a
  "billion laughs").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import EvidenceInputError
from helpers.evidence.input_files import MAX_SHEET_BYTES, read_regular_file

MAX_NESTING = 64  # a real sheet nests about 6 levels deep
MAX_EXPANDED_NODES = 200_000  # a real sheet has a few thousand

_COLLECTION_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def read_yaml(path: Path) -> Any:
    """Safe YAML with size, nesting and alias limits (see the module docstring)."""
    try:
        raw = read_regular_file(path, MAX_SHEET_BYTES)
    except OSError as exc:
        raise EvidenceInputError(path, "<file>", "a readable file", str(exc)) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceInputError(
            path, "<file>", f"UTF-8 text (invalid byte at offset {exc.start})"
        ) from exc
    if not text.strip():
        raise EvidenceInputError(path, "<file>", "a non-empty YAML mapping")
    try:
        shape = _shape(text)
        loader = yaml.CSafeLoader(text)
        try:
            root = loader.get_single_node()
            expanded = _expanded_size(root) if shape.has_aliases else shape.nodes
            if expanded > MAX_EXPANDED_NODES:
                raise EvidenceInputError(
                    path,
                    "<file>",
                    f"at most {MAX_EXPANDED_NODES} YAML nodes once aliases are expanded",
                    expanded,
                )
            return None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except _TooDeep as deep:
        raise EvidenceInputError(
            path, _where(deep.mark), f"at most {MAX_NESTING} levels of nesting"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise EvidenceInputError(path, _where(mark), "well-formed YAML", problem) from None


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(mark)
        self.mark = mark


@dataclass(frozen=True)
class _Shape:
    nodes: int  # as written: the expanded size when there are no aliases
    has_aliases: bool


def _shape(text: str) -> _Shape:
    """Nodes and aliases of a document from libyaml's events, refusing it past the nesting limit.

    A collection (mapping or sequence) is a level; the top-level mapping is the first. The
    parser keeps its own stack, so this pass is safe at any depth, and stops at the first
    collection too deep, before the rest is even scanned.
    """
    parser = yaml.CBaseLoader(text)  # events only: nothing is composed or resolved
    try:
        depth = nodes = 0
        has_aliases = False
        while (event := parser.get_event()) is not None:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                nodes += 1
            elif kind in _COLLECTION_STARTS:
                depth += 1
                nodes += 1
                if depth > MAX_NESTING:
                    raise _TooDeep(event.start_mark)
            elif kind in _COLLECTION_ENDS:
                depth -= 1
            elif kind is yaml.AliasEvent:
                has_aliases = True
        return _Shape(nodes, has_aliases)
    finally:
        parser.dispose()


def _expanded_size(root: yaml.Node | None) -> int:
    """Node count after alias expansion, computed on the composed graph without expanding it.

    Iterative (post-order with an explicit stack): aliases can chain nested collections far
    deeper than any one of them.
    """
    if root is None:
        return 0
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes and not children_done:
            continue  # already counted (an alias), or in progress (a recursive alias)
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            continue
        sizes[id(node)] = 1  # in progress: a recursive alias counts once
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
