"""Validation of a sheet file: every problem with its field path and YAML line, and loading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from helpers.errors import EvidenceInputError
from helpers.evidence.safe_yaml import read_yaml
from helpers.evidence.schema.fields import _TAGS, Sheet, _LocatedError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sheet: where (field path and YAML line) and the rule broken."""

    field: str
    expected: str
    got: object = None
    line: int | None = None

    def message(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        text = f"{where}{self.field or '<sheet>'}: expected {self.expected}"
        if self.got is not None:
            shown = repr(self.got)
            text += f", got {shown[:200]}{'…' if len(shown) > 200 else ''}"
        return text

    def error(self, sheet: Path) -> EvidenceInputError:
        return EvidenceInputError(
            sheet, self.field or "<sheet>", self.expected, self.got, self.line
        )


def _problem(error: dict) -> Problem:
    context = error.get("ctx", {}).get("error")
    location = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
    if isinstance(context, _LocatedError):
        field = ".".join(part for part in (location, context.field) if part)
        return Problem(field, context.expected, context.got)
    kind = error["type"]
    if kind == "extra_forbidden":
        return Problem(
            location, "no such field (a typo? see data/extraction/_template.yaml)", error["input"]
        )
    if kind == "missing":
        return Problem(location, 'this required field (or {not_reported: "<why>"})')
    if kind == "finite_number":
        return Problem(location, "a finite number", error.get("input"))
    message = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    got = error.get("input")
    return Problem(location, message, got if not isinstance(got, dict | list) else None)


def _is_union_tag(part: object) -> bool:
    # pydantic names union members in error locations ("Quoted[int]", "function-after[...]",
    # the tags of tagged unions): they are not fields.
    return isinstance(part, str) and (
        part[:1].isupper() or part.startswith("function-") or part in _TAGS
    )


def _problems(error: ValidationError) -> list[Problem]:
    problems, seen = [], set()
    for item in error.errors(include_url=False):
        problem = _problem(item)
        if (problem.field, problem.expected) not in seen:
            seen.add((problem.field, problem.expected))
            problems.append(problem)
    return problems


def yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line of every node of a YAML document, keyed by its path of keys/indices."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, ...], int] = {}
    stack: list[tuple[tuple[str, ...], yaml.Node]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*path, key.value)] = key.start_mark.line + 1
                    stack.append(((*path, key.value), value))
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                stack.append(((*path, str(index)), child))
    return lines


def line_of(field: str, lines: dict[tuple[str, ...], int]) -> int | None:
    """The YAML line of a field path, or of its nearest enclosing field."""
    parts = tuple(part for part in field.split(".") if part)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None


def _validate(data: Any) -> tuple[Sheet | None, list[Problem]]:
    if not isinstance(data, dict):
        return None, [Problem("<sheet>", "a YAML mapping", type(data).__name__)]
    try:
        return Sheet.model_validate(data), []
    except ValidationError as exc:
        return None, _problems(exc)


def sheet_problems(path: Path) -> tuple[Sheet | None, list[Problem]]:
    """Every schema problem of one sheet, each with its YAML line (the sheet if none)."""
    data = read_yaml(path)
    sheet, problems = _validate(data)
    if sheet is not None and path.stem != sheet.trial_id:
        problems.append(Problem("trial_id", f"the file name stem {path.stem!r}", sheet.trial_id))
        sheet = None
    if problems:
        lines = yaml_lines(path.read_text(encoding="utf-8"))
        problems = [Problem(p.field, p.expected, p.got, line_of(p.field, lines)) for p in problems]
    return sheet, problems


def load_sheet(path: Path) -> Sheet:
    """Read and validate one extraction sheet; the file name must equal ``<trial_id>.yaml``."""
    sheet, problems = sheet_problems(path)
    if problems:
        raise _first(problems, path)
    assert sheet is not None
    return sheet


def _first(problems: list[Problem], path: Path) -> EvidenceInputError:
    error = problems[0].error(path)
    if len(problems) > 1:
        error = EvidenceInputError(
            error.file,
            error.field,
            f"{error.expected} (and {len(problems) - 1} more problem"
            f"{'s' if len(problems) > 2 else ''}: `make check SHEET={path.name}` lists them all)",
            error.got,
            error.line,
        )
    return error


def sheet_paths(directory: Path) -> list[Path]:
    """The sheets of a folder: ``*.yaml`` files not starting with '_' (templates)."""
    return [p for p in sorted(directory.glob("*.yaml")) if not p.name.startswith("_")]


def load_sheets(directory: Path) -> list[Sheet]:
    """Every sheet in ``directory``; at least one, each study once."""
    sheets: list[Sheet] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in sheet_paths(directory):
        sheet = load_sheet(path)
        for field in ("trial_id", "label"):
            key = (field, getattr(sheet, field))
            if key in seen:
                raise EvidenceInputError(
                    path, field, f"a {field} not already used by {seen[key]}", key[1]
                )
            seen[key] = path
        sheets.append(sheet)
    if not sheets:
        raise EvidenceInputError(directory, "<directory>", "at least one <trial_id>.yaml sheet")
    return sheets
