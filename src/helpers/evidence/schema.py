"""Schema of the extraction sheets (``data/extraction/<trial_id>.yaml``) and their loading.

A sheet is written by a person. Every value carries the verbatim quote(s) of the raw
document that support it; ingestion later locates each quote and checks that every number
appears in it. The schema rejects typos (unknown keys), missing fields, wrong types and
impossible values (SD < 0, events > total, percent > 100, n above enrolment) with an
:class:`~helpers.errors.EvidenceInputError` naming the sheet, the field path and what was
expected. YAML is read with ``yaml.safe_load`` only: no object construction.

A value that is not stated in words or digits of the source (for example "monthly" read as
an interval of 1 month) is marked ``derived: "<how>"``; its numbers are exempt from the
number-in-quote check and the reason is published with the provenance.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from helpers.errors import EvidenceInputError
from helpers.evidence.safe_yaml import read_yaml

SLUG = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

JBI_CASE_SERIES_ITEMS: dict[str, str] = {
    # Joanna Briggs Institute critical appraisal checklist for case series (Munn et al. 2020,
    # JBI Evid Synth 18(10):2127-2133), items 1-10.
    "q1": "Were there clear criteria for inclusion in the case series?",
    "q2": "Was the condition measured in a standard, reliable way for all participants?",
    "q3": "Were valid methods used for identification of the condition for all participants?",
    "q4": "Did the case series have consecutive inclusion of participants?",
    "q5": "Did the case series have complete inclusion of participants?",
    "q6": "Was there clear reporting of the demographics of the participants in the study?",
    "q7": "Was there clear reporting of clinical information of the participants?",
    "q8": "Were the outcomes or follow up results of cases clearly reported?",
    "q9": "Was there clear reporting of the presenting site(s)/clinic(s) demographic information?",
    "q10": "Was statistical analysis appropriate?",
}

DOMAINS = (
    "motor",
    "spasticity",
    "balance",
    "function",
    "cognition",
    "bladder",
    "bowel",
    "sensory",
    "neurological",
    "imaging",
    "quality_of_life",
    "other",
)


class _LocatedError(ValueError):
    """A validation failure at ``field`` (relative to the model that raised it)."""

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field, self.expected, self.got = field, expected, got
        super().__init__(f"{field}: expected {expected}, got {got!r}")


def _as_text(value: Any) -> Any:
    """p-values and percentages stay as written; YAML numbers become their shortest text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return value


WrittenText = Annotated[str, BeforeValidator(_as_text)]
QuoteText = Annotated[str, Field(min_length=3)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Evidence(Strict):
    """Something supported by one or more verbatim quotes of the trial's raw document."""

    quote: QuoteText | list[QuoteText] = Field(
        description="verbatim text of the raw document (a list when the numbers are spread out)"
    )
    derived: str | None = Field(
        default=None,
        description="how a value not written in the quote was obtained; exempts it from the "
        "number-in-quote check",
    )
    note: str | None = None

    @property
    def quotes(self) -> list[str]:
        return [self.quote] if isinstance(self.quote, str) else list(self.quote)


T = TypeVar("T")


class Quoted(Evidence, Generic[T]):
    """A single value with its quote."""

    value: T


class Unreported(Strict):
    """A field the source does not report: the reason replaces the quote."""

    not_reported: str = Field(min_length=3)


def _check_percent(value: str | None, field: str) -> None:
    if value is None:
        return
    number = float(value.lstrip("<>=~ "))
    if not 0 <= number <= 100:
        raise _LocatedError(field, "a percentage between 0 and 100", value)


class Statistic(Evidence):
    """Summary statistics of one measurement: mean/SD, median/range, or events/total."""

    n: int | None = Field(default=None, ge=0)
    mean: float | None = None
    sd: float | None = None
    se: float | None = None
    median: float | None = None
    low: float | None = None
    high: float | None = None
    events: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)
    percent: WrittenText | None = None

    @model_validator(mode="after")
    def _possible(self) -> Statistic:
        if self.sd is not None and self.sd < 0:
            raise _LocatedError("sd", "a standard deviation >= 0", self.sd)
        if self.se is not None and self.se < 0:
            raise _LocatedError("se", "a standard error >= 0", self.se)
        if self.events is not None and self.total is not None and self.events > self.total:
            raise _LocatedError("events", f"at most total ({self.total})", self.events)
        if self.low is not None and self.high is not None and self.low > self.high:
            raise _LocatedError("low", f"at most high ({self.high})", self.low)
        if self.median is not None and self.low is not None and self.high is not None:
            if not self.low <= self.median <= self.high:
                raise _LocatedError("median", f"within [{self.low}, {self.high}]", self.median)
        _check_percent(self.percent, "percent")
        for name in ("mean", "sd", "se", "median", "low", "high"):
            number = getattr(self, name)
            if number is not None and not math.isfinite(number):
                raise _LocatedError(name, "a finite number", number)
        return self


class Characteristic(Statistic):
    """A baseline or product characteristic (age, sex, cell counts, viability...)."""

    label: str = Field(min_length=2)
    unit: str | None = None


class Timepoint(Statistic):
    """One assessment of an outcome."""

    timepoint: str = Field(min_length=2, description="as the source names it, e.g. 'baseline'")
    months: float = Field(ge=0, description="months since the first administration")
    p: WrittenText | None = Field(
        default=None, description="p-value versus baseline exactly as written ('<0.001')"
    )


class Narrative(Evidence):
    """What the source says about an outcome in words, without numbers (for vote counting)."""

    direction: Literal["improved", "worsened", "no_change", "mixed"]
    significant: bool | None = Field(default=None, description="as the source claims it")


class Scale(Strict):
    name: str
    min: float | None = None
    max: float | None = None
    integer: bool = Field(
        default=False, description="each patient's score is a whole number (enables GRIM)"
    )


class Outcome(Strict):
    id: str = Field(pattern=SLUG.pattern)
    domain: Literal[DOMAINS]  # type: ignore[valid-type]
    measure: str = Field(min_length=3)
    scale: Scale | None = None
    unit: str | None = None
    direction_of_benefit: Literal["higher", "lower", "none"]
    kind: Literal["continuous", "ordinal", "count", "narrative"]
    population: str | None = Field(
        default=None, description="subgroup actually measured, e.g. 'children aged 3 and over'"
    )
    timepoints: list[Timepoint] = Field(default_factory=list)
    narrative: Narrative | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Outcome:
        if not self.timepoints and self.narrative is None:
            raise _LocatedError("timepoints", "timepoints, a narrative, or both", None)
        if self.kind == "narrative" and self.timepoints:
            raise _LocatedError("timepoints", "none for kind 'narrative'", len(self.timepoints))
        if self.kind != "narrative" and not self.timepoints:
            raise _LocatedError("timepoints", f"at least one for kind '{self.kind}'", None)
        labels = [tp.timepoint for tp in self.timepoints]
        if len(set(labels)) != len(labels):
            raise _LocatedError("timepoints", "unique timepoint labels", labels)
        if self.scale and self.scale.min is not None and self.scale.max is not None:
            for tp in self.timepoints:
                for name in ("mean", "median", "low", "high"):
                    number = getattr(tp, name)
                    if number is not None and not self.scale.min <= number <= self.scale.max:
                        raise _LocatedError(
                            f"timepoints.{self.timepoints.index(tp)}.{name}",
                            f"within the scale range [{self.scale.min}, {self.scale.max}]",
                            number,
                        )
        return self


class AdverseEvent(Evidence):
    term: str = Field(min_length=2)
    serious: bool
    count: int | None = Field(default=None, ge=0)
    count_unit: Literal["patients", "events", "cases", "unknown"]
    denominator: int | None = Field(default=None, ge=1)
    denominator_unit: Literal["patients", "administrations", "unknown"]
    percent: WrittenText | None = None
    relatedness: str | None = None

    @model_validator(mode="after")
    def _possible(self) -> AdverseEvent:
        if self.count is None and self.percent is None:
            raise _LocatedError("count", "a count, a percent, or both", None)
        if self.count is not None and self.denominator is not None:
            if self.count_unit == "patients" and self.count > self.denominator:
                raise _LocatedError(
                    "count", f"at most the denominator ({self.denominator} patients)", self.count
                )
        _check_percent(self.percent, "percent")
        return self


def _yes_no(value: Any) -> Any:
    # YAML 1.1 reads a bare yes/no as a boolean.
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class AppraisalItem(Strict):
    answer: Annotated[Literal["yes", "no", "unclear", "not_applicable"], BeforeValidator(_yes_no)]
    reason: str = Field(min_length=5)


class Contradiction(Evidence):
    """Two statements of the source a careful reader would find inconsistent."""

    description: str = Field(min_length=10)


class Dose(Evidence):
    value: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, ge=0)
    unit: str = Field(min_length=1)
    basis: Literal["per_kg", "per_administration_total", "per_patient_total"]


class Intervention(Strict):
    cell_type: Quoted[Literal["BMMNC", "MSC"]]
    tissue: Quoted[Literal["bone_marrow", "umbilical_cord", "adipose", "other"]]
    cell_source: Quoted[Literal["autologous", "allogeneic"]]
    route: Quoted[Literal["intrathecal", "intravenous", "intraspinal", "other"]] = Field(
        description="subarachnoid counts as intrathecal; the quote shows the source's word"
    )
    dose: Dose | Unreported
    n_administrations: Quoted[int]
    interval_months: Quoted[float] | Unreported
    co_interventions: list[Quoted[str]] = Field(default_factory=list)


class Trial(Strict):
    title: Quoted[str]
    condition: Quoted[Literal["spina_bifida", "cerebral_palsy", "spinal_cord_injury"]]
    design: Quoted[str]
    phase: Quoted[str] | Unreported
    blinding: Quoted[Literal["open_label", "single_blind", "double_blind"]] | Unreported
    control: Quoted[Literal["none", "placebo", "usual_care", "waitlist"]] | Unreported
    setting: Quoted[str] | Unreported
    country: Quoted[str] | Unreported
    start: Quoted[str] | Unreported
    end: Quoted[str] | Unreported
    age: Quoted[str] | Unreported
    sex: Quoted[str] | Unreported
    n_enrolled: Quoted[int] | Unreported
    n_safety: Quoted[int] | Unreported
    n_efficacy: Quoted[int] | Unreported
    follow_up_months: Quoted[float] | Unreported
    follow_up_schedule: Quoted[str] | Unreported = Field(
        description="when outcomes were assessed, as the source words it"
    )

    @property
    def enrolment_ceiling(self) -> int | None:
        """The largest n any analysis may have: enrolment, else the safety population."""
        for field in (self.n_enrolled, self.n_safety):
            if isinstance(field, Quoted):
                return field.value
        return None


class Sheet(Strict):
    trial_id: str
    source_file: str
    extracted_by: str = Field(min_length=2)
    trial: Trial
    intervention: Intervention
    baseline: list[Characteristic] = Field(default_factory=list)
    product: list[Characteristic] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    adverse_events: list[AdverseEvent] = Field(default_factory=list)
    appraisal: dict[str, AppraisalItem]
    limitations: list[Quoted[str] | Unreported] = Field(default_factory=list)
    contradictions: list[Contradiction] = Field(default_factory=list)

    @field_validator("trial_id")
    @classmethod
    def _safe_slug(cls, value: str) -> str:
        if not SLUG.fullmatch(value):
            raise _LocatedError(
                "",
                "a safe slug: lowercase letters, digits and '_', starting with a letter, "
                "2-64 characters",
                value,
            )
        return value

    @field_validator("appraisal")
    @classmethod
    def _all_jbi_items(cls, value: dict[str, AppraisalItem]) -> dict[str, AppraisalItem]:
        missing = [item for item in JBI_CASE_SERIES_ITEMS if item not in value]
        unknown = [item for item in value if item not in JBI_CASE_SERIES_ITEMS]
        if missing or unknown:
            raise _LocatedError(
                "", f"exactly the JBI items q1-q10 (missing {missing})", sorted(unknown) or None
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Sheet:
        ids = [outcome.id for outcome in self.outcomes]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise _LocatedError("outcomes", "unique outcome ids", duplicated)
        ceiling = self.trial.enrolment_ceiling
        if ceiling is not None:
            for index, outcome in enumerate(self.outcomes):
                for tp_index, tp in enumerate(outcome.timepoints):
                    for name in ("n", "total"):
                        number = getattr(tp, name)
                        if number is not None and number > ceiling:
                            raise _LocatedError(
                                f"outcomes.{index}.timepoints.{tp_index}.{name}",
                                f"at most the {ceiling} enrolled",
                                number,
                            )
            for index, event in enumerate(self.adverse_events):
                if event.denominator_unit == "patients" and event.denominator is not None:
                    if event.denominator > ceiling:
                        raise _LocatedError(
                            f"adverse_events.{index}.denominator",
                            f"at most the {ceiling} enrolled patients",
                            event.denominator,
                        )
        return self


def _first_error(error: ValidationError, sheet: Path) -> EvidenceInputError:
    """The first pydantic error as one message naming the file and the field path."""
    first = error.errors(include_url=False)[0]
    context = first.get("ctx", {}).get("error")
    location = ".".join(str(part) for part in first["loc"] if not _is_union_tag(part))
    if isinstance(context, _LocatedError):
        field = ".".join(part for part in (location, context.field) if part)
        return EvidenceInputError(sheet, field or "<sheet>", context.expected, context.got)
    kind = first["type"]
    if kind == "extra_forbidden":
        return EvidenceInputError(sheet, location, "no such field (a typo?)", first["input"])
    if kind == "missing":
        return EvidenceInputError(sheet, location, "this required field")
    message = first["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    got = first.get("input")
    return EvidenceInputError(
        sheet, location or "<sheet>", message, got if not isinstance(got, dict | list) else None
    )


def _is_union_tag(part: object) -> bool:
    # pydantic names union members in error locations ("Quoted[int]", "Unreported"): not fields.
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-"))


def load_sheet(path: Path) -> Sheet:
    """Read and validate one extraction sheet; the file name must equal ``<trial_id>.yaml``."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise EvidenceInputError(path, "<sheet>", "a YAML mapping", type(data).__name__)
    try:
        sheet = Sheet.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, path) from None
    if path.stem != sheet.trial_id:
        raise EvidenceInputError(
            path, "trial_id", f"the file name stem {path.stem!r}", sheet.trial_id
        )
    return sheet


def load_sheets(directory: Path) -> list[Sheet]:
    """Every ``*.yaml`` sheet in ``directory`` (templates start with '_' and are skipped)."""
    sheets: list[Sheet] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        sheet = load_sheet(path)
        if sheet.trial_id in seen:
            raise EvidenceInputError(
                path, "trial_id", f"a trial id not already used by {seen[sheet.trial_id].name}"
            )
        seen[sheet.trial_id] = path
        sheets.append(sheet)
    if not sheets:
        raise EvidenceInputError(directory, "<directory>", "at least one <trial_id>.yaml sheet")
    return sheets
