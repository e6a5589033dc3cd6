"""The review's protocol (``data/context/protocol.yaml``): question, eligibility, exclusions.

Human-curated facts about the review, not computed from the evidence: the question in PICO
form, the conditions and kinds of report accepted, how reports were identified, and the
reports assessed and excluded with their reasons. :func:`load_protocol` reads the file with
:func:`helpers.evidence.safe_yaml.read_yaml` and refuses anything else with an
:class:`~helpers.errors.EvidenceInputError` naming the file and the key
(``excluded_reports[0].reason``). The keys are described in ``data/context/README.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from helpers import labels, paths
from helpers.errors import EvidenceInputError
from helpers.evidence.safe_yaml import read_yaml
from helpers.evidence.sources import KINDS

PROTOCOL_FILE = "protocol.yaml"
TEXT_KEYS = (
    "question",
    "population",
    "intervention",
    "comparators",
    "outcomes",
    "designs",
    "identification",
)
KEYS = (
    *TEXT_KEYS,
    "conditions",
    "report_kinds",
    "exclusion_reasons",
    "excluded_reports",
)
EXCLUDED_KEYS = ("citation", "reason", "condition")
REASON_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ExcludedReport:
    citation: str
    reason: str  # a key of Protocol.exclusion_reasons
    condition: str | None  # a condition code, when the report names one of the review's


@dataclass(frozen=True)
class Protocol:
    question: str
    population: str
    intervention: str
    comparators: str
    outcomes: str
    designs: str
    identification: str
    conditions: tuple[str, ...]
    report_kinds: tuple[str, ...]
    exclusion_reasons: dict[str, str]
    excluded_reports: tuple[ExcludedReport, ...]

    def reason(self, key: str) -> str:
        """What the page says for an exclusion reason."""
        return self.exclusion_reasons[key]


def protocol_path() -> Path:
    return paths.context_dir() / PROTOCOL_FILE


def load_protocol(path: Path | None = None) -> Protocol:
    """The validated protocol; every problem names the file and the key."""
    path = Path(path) if path is not None else protocol_path()
    if not path.is_file():
        raise EvidenceInputError(path, "(file)", "the review's protocol (a YAML file)", "missing")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise EvidenceInputError(path, "(top level)", f"a mapping with keys {list(KEYS)}", data)
    unknown = sorted(str(key) for key in data if key not in KEYS)
    if unknown:
        raise EvidenceInputError(path, unknown[0], f"only the keys {list(KEYS)}", unknown[0])
    for key in KEYS:
        if key not in data:
            raise EvidenceInputError(path, key, "a value (required key)")
    texts = {key: _text(path, key, data[key]) for key in TEXT_KEYS}
    conditions = _codes(path, "conditions", data["conditions"], tuple(labels.CONDITIONS))
    report_kinds = _codes(path, "report_kinds", data["report_kinds"], KINDS)
    reasons = _reasons(path, data["exclusion_reasons"])
    excluded = _excluded(path, data["excluded_reports"], reasons, conditions)
    return Protocol(
        **texts,
        conditions=conditions,
        report_kinds=report_kinds,
        exclusion_reasons=reasons,
        excluded_reports=excluded,
    )


def _text(path: Path, field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EvidenceInputError(path, field, "a non-empty text", value)
    return " ".join(value.split())


def _codes(path: Path, field: str, value: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise EvidenceInputError(path, field, f"a non-empty list of {list(allowed)}", value)
    for index, code in enumerate(value):
        if code not in allowed:
            raise EvidenceInputError(path, f"{field}[{index}]", f"one of {list(allowed)}", code)
    if len(set(value)) != len(value):
        raise EvidenceInputError(path, field, "each value once", value)
    return tuple(value)


def _reasons(path: Path, value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise EvidenceInputError(path, "exclusion_reasons", "a mapping of key: words", value)
    reasons = {}
    for key, words in value.items():
        if not isinstance(key, str) or not REASON_KEY.fullmatch(key):
            raise EvidenceInputError(
                path, f"exclusion_reasons.{key}", "a short key in lower case (a-z, 0-9, _)", key
            )
        reasons[key] = _text(path, f"exclusion_reasons.{key}", words)
    return reasons


def _excluded(
    path: Path, value: object, reasons: dict[str, str], conditions: tuple[str, ...]
) -> tuple[ExcludedReport, ...]:
    if value is None:
        value = []
    if not isinstance(value, list):
        raise EvidenceInputError(path, "excluded_reports", "a list (empty: [])", value)
    excluded = []
    for index, entry in enumerate(value):
        where = f"excluded_reports[{index}]"
        if not isinstance(entry, dict):
            raise EvidenceInputError(path, where, "a mapping with citation and reason", entry)
        unknown = sorted(str(key) for key in entry if key not in EXCLUDED_KEYS)
        if unknown:
            raise EvidenceInputError(
                path, f"{where}.{unknown[0]}", f"only the keys {list(EXCLUDED_KEYS)}", unknown[0]
            )
        citation = _text(path, f"{where}.citation", entry.get("citation"))
        reason = entry.get("reason")
        if reason not in reasons:
            raise EvidenceInputError(
                path, f"{where}.reason", f"a key of exclusion_reasons {list(reasons)}", reason
            )
        condition = entry.get("condition")
        if condition is not None and condition not in conditions:
            raise EvidenceInputError(
                path, f"{where}.condition", f"one of {list(conditions)} or no value", condition
            )
        excluded.append(ExcludedReport(citation, str(reason), condition))
    return tuple(excluded)
