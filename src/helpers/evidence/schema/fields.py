"""Field specifications of an extraction sheet: vocabularies, value types and the sheet's models.

Each model states the fields it takes, their types and the rules a value must meet (the
validation of a whole sheet file, with YAML lines, is :mod:`helpers.evidence.schema.validation`).
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

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

CONDITIONS = ("spina_bifida", "cerebral_palsy", "spinal_cord_injury")
CELL_TYPES = ("BMMNC", "MSC", "UCB_MNC", "NSC", "OEC", "Schwann", "other")
TISSUES = (
    "bone_marrow",
    "umbilical_cord",
    "umbilical_cord_blood",
    "adipose",
    "olfactory_mucosa",
    "neural_tissue",
    "other",
)
CELL_SOURCES = ("autologous", "allogeneic")
ROUTES = ("intrathecal", "intravenous", "intraspinal", "intra_arterial", "intramuscular", "other")
BLINDING = ("open_label", "single_blind", "double_blind")
CONTROLS = ("none", "placebo", "sham", "usual_care", "waitlist", "active")
DOSE_BASES = ("per_kg", "per_administration_total", "per_patient_total")
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
OUTCOME_KINDS = ("continuous", "ordinal", "count", "narrative")
BENEFIT_DIRECTIONS = ("higher", "lower", "none")
# Where the better direction of an outcome comes from: the report itself, the instrument's
# published definition (named in ``direction_reference``), or the extractor's assumption
# (shown, but never used to claim improvement).
DIRECTION_BASES = ("source", "reference", "assumed")
NARRATIVE_DIRECTIONS = ("improved", "worsened", "no_change", "mixed")
COUNT_UNITS = ("patients", "events", "cases", "unknown")
DENOMINATOR_UNITS = ("patients", "administrations", "unknown")
ANSWERS = ("yes", "no", "unclear", "not_applicable")

# A p-value as written: a number in [0, 1], optionally after a comparison ("<0.001", "= 0.04").
P_VALUE = re.compile(r"^(?:p\s*)?(<=|>=|<|>|=|≤|≥)?\s*(\d*\.?\d+(?:[eE]-?\d+)?)$", re.IGNORECASE)
PERCENT = re.compile(r"^(<=|>=|<|>|=|≤|≥|~)?\s*(\d*\.?\d+)$")


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


def _p_value(value: str) -> str:
    match = P_VALUE.fullmatch(value.strip())
    if match is None or not 0 <= float(match.group(2)) <= 1:
        raise ValueError(
            f"a p-value: a number between 0 and 1, or a bound such as '<0.001' (got {value!r})"
        )
    return value


def _percent(value: str) -> str:
    match = PERCENT.fullmatch(value.strip().removesuffix("%").strip())
    if match is None or not 0 <= float(match.group(2)) <= 100:
        raise ValueError(f"a percentage between 0 and 100, as written (got {value!r})")
    return value


PValueText = Annotated[str, BeforeValidator(_as_text), Field(min_length=1)]
PercentText = Annotated[str, BeforeValidator(_as_text), Field(min_length=1)]
QuoteText = Annotated[str, Field(min_length=3)]
Count = Annotated[int, Field(ge=0)]
Months = Annotated[float, Field(ge=0, le=1200)]


class Strict(BaseModel):
    # Unknown keys are typos; infinities and NaN are never data.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


class Evidence(Strict):
    """Something supported by one or more verbatim quotes of one of the study's reports."""

    quote: QuoteText | list[QuoteText] = Field(
        description="verbatim text of the report (a list when the numbers are spread out)"
    )
    report: str | None = Field(
        default=None,
        description="id of the report the quote comes from (default: found by searching every "
        "report of the sheet; the most complete report containing it)",
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
    """A field no report of the study gives: the reason replaces the quote."""

    not_reported: str = Field(min_length=3)


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "versions"
    if isinstance(value, dict) and "not_reported" in value:
        return "unreported"
    if isinstance(value, BaseModel):
        return "unreported" if isinstance(value, Unreported) else "reported"
    return "reported"


def _optional(model: Any) -> Any:
    """A field a report may give once, give in several versions (a list), or not give at all."""
    return Annotated[
        Annotated[model, Tag("reported")]
        | Annotated[list[model], Tag("versions"), Field(min_length=1)]
        | Annotated[Unreported, Tag("unreported")],
        Discriminator(_shape),
    ]


def _required(model: Any) -> Any:
    """A field every sheet must give, once or in several versions from different reports."""
    return Annotated[
        Annotated[model, Tag("reported")]
        | Annotated[list[model], Tag("versions"), Field(min_length=1)],
        Discriminator(_shape),
    ]


_TAGS = ("reported", "versions", "unreported")


def versions(field: object) -> list:
    """The versions of a field as a list: [] when not reported."""
    if isinstance(field, Unreported) or field is None:
        return []
    return list(field) if isinstance(field, list) else [field]


class Statistic(Evidence):
    """Summary statistics of one measurement: mean/SD, median/range, or events/total."""

    n: Count | None = None
    mean: float | None = None
    sd: float | None = None
    se: float | None = None
    median: float | None = None
    low: float | None = None
    high: float | None = None
    events: Count | None = None
    total: Count | None = None
    percent: PercentText | None = None

    @field_validator("percent")
    @classmethod
    def _valid_percent(cls, value: str | None) -> str | None:
        return None if value is None else _percent(value)

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
        return self


class Characteristic(Statistic):
    """A baseline or product characteristic (age, sex, cell counts, viability...)."""

    label: str = Field(min_length=2)
    unit: str | None = None


class Timepoint(Statistic):
    """One assessment of an outcome."""

    timepoint: str = Field(min_length=2, description="as the source names it, e.g. 'baseline'")
    months: Months = Field(description="months since the first administration")
    p: PValueText | None = Field(
        default=None, description="p-value versus baseline exactly as written ('<0.001')"
    )

    @field_validator("p")
    @classmethod
    def _valid_p(cls, value: str | None) -> str | None:
        return None if value is None else _p_value(value)


class Narrative(Evidence):
    """What the source says about an outcome in words, without numbers (for vote counting)."""

    direction: Literal[NARRATIVE_DIRECTIONS]  # type: ignore[valid-type]
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
    label: str = Field(
        min_length=2, max_length=48, description="short name pages use, e.g. 'GMFM total'"
    )
    domain: Literal[DOMAINS]  # type: ignore[valid-type]
    measure: str = Field(min_length=3)
    scale: Scale | None = None
    unit: str | None = None
    direction_of_benefit: Literal[BENEFIT_DIRECTIONS]  # type: ignore[valid-type]
    direction_basis: Literal[DIRECTION_BASES] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="source | reference | assumed: where the better direction comes from "
        "(required unless direction_of_benefit is none)",
    )
    direction_reference: str | None = Field(
        default=None, description="the reference defining the better direction (basis reference)"
    )
    kind: Literal[OUTCOME_KINDS]  # type: ignore[valid-type]
    population: str | None = Field(
        default=None, description="subgroup actually measured, e.g. 'children aged 3 and over'"
    )
    not_independent: str | None = Field(
        default=None,
        description="why this outcome repeats another one's patients and information (a "
        "component or subgroup of another outcome): it is shown but never counted as a vote",
    )
    timepoints: list[Timepoint] = Field(default_factory=list)
    narrative: Narrative | list[Narrative] | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Outcome:
        if not self.timepoints and self.narrative is None:
            raise _LocatedError("timepoints", "timepoints, a narrative, or both", None)
        if self.kind == "narrative" and self.timepoints:
            raise _LocatedError("timepoints", "none for kind 'narrative'", len(self.timepoints))
        if self.kind != "narrative" and not self.timepoints:
            raise _LocatedError("timepoints", f"at least one for kind '{self.kind}'", None)
        if self.direction_of_benefit != "none" and self.direction_basis is None:
            raise _LocatedError(
                "direction_basis",
                "where the better direction comes from: source, reference or assumed",
                None,
            )
        if self.direction_basis == "reference" and not self.direction_reference:
            raise _LocatedError(
                "direction_reference", "the reference that defines the better direction", None
            )
        _distinct_versions(
            [(tp.timepoint, tp.report) for tp in self.timepoints], "timepoints", "timepoint"
        )
        if self.scale and self.scale.min is not None and self.scale.max is not None:
            for index, tp in enumerate(self.timepoints):
                for name in ("mean", "median", "low", "high"):
                    number = getattr(tp, name)
                    if number is not None and not self.scale.min <= number <= self.scale.max:
                        raise _LocatedError(
                            f"timepoints.{index}.{name}",
                            f"within the scale range [{self.scale.min:g}, {self.scale.max:g}]",
                            number,
                        )
        return self

    @property
    def narratives(self) -> list[Narrative]:
        return versions(self.narrative)


class AdverseEvent(Evidence):
    """An adverse event as the source names it, with whatever counts it gives.

    ``serious`` is true only where the source calls the event serious or severe. A term named
    without any count (for example "fever and headache occurred") has no ``count`` and no
    ``percent``: it is recorded and shown as named, never turned into a rate.
    """

    term: str = Field(min_length=2)
    serious: bool
    count: Count | None = None
    count_unit: Literal[COUNT_UNITS] | None = None  # type: ignore[valid-type]
    denominator: int | None = Field(default=None, ge=1)
    denominator_unit: Literal[DENOMINATOR_UNITS] | None = None  # type: ignore[valid-type]
    percent: PercentText | None = None
    relatedness: str | None = None

    @field_validator("percent")
    @classmethod
    def _valid_percent(cls, value: str | None) -> str | None:
        return None if value is None else _percent(value)

    @model_validator(mode="after")
    def _possible(self) -> AdverseEvent:
        if self.count is not None and self.count_unit is None:
            raise _LocatedError(
                "count_unit", "what the count counts: patients, events, cases or unknown", None
            )
        if self.denominator is not None and self.denominator_unit is None:
            raise _LocatedError(
                "denominator_unit",
                "what the denominator counts: patients, administrations or unknown",
                None,
            )
        if self.count is not None and self.denominator is not None:
            if self.count_unit == "patients" and self.count > self.denominator:
                raise _LocatedError(
                    "count", f"at most the denominator ({self.denominator} patients)", self.count
                )
        return self

    @property
    def named_only(self) -> bool:
        """Named by the source without any count or percentage."""
        return self.count is None and self.percent is None


def _yes_no(value: Any) -> Any:
    # YAML 1.1 reads a bare yes/no as a boolean.
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class AppraisalItem(Strict):
    answer: Annotated[Literal[ANSWERS], BeforeValidator(_yes_no)]  # type: ignore[valid-type]
    reason: str = Field(min_length=5)


class Contradiction(Evidence):
    """Two statements of the sources a careful reader would find inconsistent."""

    description: str = Field(min_length=10)


class Dose(Evidence):
    """The cell dose of every administration, or of one (``administration: "2nd"``)."""

    administration: str | None = Field(
        default=None, description="which administration ('1st', '2nd'); empty: every one"
    )
    value: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, ge=0)
    se: float | None = Field(default=None, ge=0)
    unit: str = Field(min_length=1)
    basis: Literal[DOSE_BASES]  # type: ignore[valid-type]


class Intervention(Strict):
    cell_type: _optional(Quoted[Literal[CELL_TYPES]])  # type: ignore[valid-type]
    tissue: _optional(Quoted[Literal[TISSUES]])  # type: ignore[valid-type]
    cell_source: _optional(Quoted[Literal[CELL_SOURCES]])  # type: ignore[valid-type]
    route: _optional(Quoted[Literal[ROUTES]]) = Field(  # type: ignore[valid-type]
        description="subarachnoid counts as intrathecal; the quote shows the source's word"
    )
    dose: _optional(Dose)  # type: ignore[valid-type]
    n_administrations: _optional(Quoted[Annotated[int, Field(ge=1)]])  # type: ignore[valid-type]
    interval_months: _optional(Quoted[Months])  # type: ignore[valid-type]
    co_interventions: list[Quoted[str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct_doses(self) -> Intervention:
        _distinct_versions(
            [(dose.administration, dose.report) for dose in versions(self.dose)],
            "dose",
            "administration",
        )
        return self


class Trial(Strict):
    title: _optional(Quoted[str])  # type: ignore[valid-type]
    condition: _required(Quoted[Literal[CONDITIONS]])  # type: ignore[valid-type]
    design: _optional(Quoted[str])  # type: ignore[valid-type]
    phase: _optional(Quoted[str])  # type: ignore[valid-type]
    blinding: _optional(Quoted[Literal[BLINDING]])  # type: ignore[valid-type]
    control: _optional(Quoted[Literal[CONTROLS]]) = Field(  # type: ignore[valid-type]
        description="none (the source says there was no control group) | placebo | sham | "
        "usual_care | waitlist | active; not_reported when the source does not say"
    )
    setting: _optional(Quoted[str])  # type: ignore[valid-type]
    country: _optional(Quoted[str])  # type: ignore[valid-type]
    start: _optional(Quoted[str])  # type: ignore[valid-type]
    end: _optional(Quoted[str])  # type: ignore[valid-type]
    age: _optional(Quoted[str])  # type: ignore[valid-type]
    sex: _optional(Quoted[str])  # type: ignore[valid-type]
    funding: _optional(Quoted[str]) = Field(  # type: ignore[valid-type]
        description="who funded the study, as the report states"
    )
    conflicts_of_interest: _optional(Quoted[str]) = Field(  # type: ignore[valid-type]
        description="the authors' declared conflicts of interest"
    )
    n_enrolled: _optional(Quoted[Count])  # type: ignore[valid-type]
    n_safety: _optional(Quoted[Count])  # type: ignore[valid-type]
    n_efficacy: _optional(Quoted[Count])  # type: ignore[valid-type]
    follow_up_months: _optional(Quoted[Months])  # type: ignore[valid-type]
    follow_up_schedule: _optional(Quoted[str]) = Field(  # type: ignore[valid-type]
        description="when outcomes were assessed, as the source words it"
    )


class ReportRef(Strict):
    """One report of the study: a file registered in ``data/raw/sources.yaml``."""

    id: str = Field(pattern=SLUG.pattern, description="short name values use in `report:`")
    file: str = Field(min_length=1, description="a file listed in data/raw/sources.yaml")


class Sheet(Strict):
    trial_id: str
    label: str = Field(
        min_length=3, max_length=60, description="how pages name the study: 'Smith 2026'"
    )
    reports: list[ReportRef] = Field(min_length=1)
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
        ids = [report.id for report in self.reports]
        files = [report.file for report in self.reports]
        for name, values in (("id", ids), ("file", files)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise _LocatedError(
                    f"reports.{values.index(repeated[0])}.{name}",
                    f"each report listed once (repeated {name})",
                    repeated[0],
                )
        for path, evidence in iter_evidence(self):
            if evidence.report is not None and evidence.report not in ids:
                raise _LocatedError(
                    f"{path}.report", f"one of the sheet's report ids {ids}", evidence.report
                )
        for name in ("id", "label"):
            values = [getattr(outcome, name) for outcome in self.outcomes]
            duplicated = sorted({v for v in values if values.count(v) > 1})
            if duplicated:
                raise _LocatedError(
                    f"outcomes.{values.index(duplicated[0])}.{name}",
                    f"a unique outcome {name} (several reports of one outcome go under its "
                    "timepoints)",
                    duplicated[0],
                )
        _distinct_versions(
            [(event.term, event.report) for event in self.adverse_events], "adverse_events", "term"
        )
        for group in ("baseline", "product"):
            _distinct_versions(
                [(item.label, item.report) for item in getattr(self, group)], group, "label"
            )
        self._within_enrolment()
        return self

    def _within_enrolment(self) -> None:
        ceiling = self.enrolment_ceiling
        if ceiling is None:
            return
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

    @property
    def enrolment_ceiling(self) -> int | None:
        """The largest n any analysis may have: the largest enrolment or safety population."""
        numbers = [
            entry.value
            for field in (self.trial.n_enrolled, self.trial.n_safety)
            for entry in versions(field)
        ]
        return max(numbers) if numbers else None

    def report_ids(self) -> dict[str, str]:
        """Report id -> file name."""
        return {report.id: report.file for report in self.reports}


def _distinct_versions(keys: list[tuple[object, str | None]], field: str, key_name: str) -> None:
    """Entries sharing a key must come from different, named reports."""
    seen: dict[object, list[str | None]] = {}
    for index, (key, report) in enumerate(keys):
        reports = seen.setdefault(key, [])
        if reports and (report is None or None in reports or report in reports):
            shown = "every one" if key is None else repr(key)
            raise _LocatedError(
                f"{field}.{index}",
                f"one entry per {key_name} and report ({shown} is repeated: several versions "
                "of one item need different `report:` ids)",
                key,
            )
        reports.append(report)


def iter_evidence(model: BaseModel, prefix: str = "") -> list[tuple[str, Evidence]]:
    """Every quoted entry of a sheet with its field path, in sheet order."""
    found: list[tuple[str, Evidence]] = []
    _collect_evidence(model, prefix, found)
    return found


def _collect_evidence(model: BaseModel, prefix: str, found: list[tuple[str, Evidence]]) -> None:
    if isinstance(model, Evidence):
        found.append((prefix, model))
    for name in field_names(type(model)):
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        items = (
            enumerate(value)
            if isinstance(value, list)
            else value.items()
            if isinstance(value, dict)
            else None
        )
        if items is not None:
            for key, item in items:
                if isinstance(item, BaseModel):
                    _collect_evidence(item, f"{path}.{key}", found)
        elif isinstance(value, BaseModel):
            _collect_evidence(value, path, found)


@functools.cache
def field_names(kind: type[BaseModel]) -> tuple[str, ...]:
    """A model's field names in order, read once per model (``model_fields`` is slow to ask)."""
    return tuple(kind.model_fields)
