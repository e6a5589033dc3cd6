"""Hypothesis strategies for "any valid evidence base": studies, their reports and sheets.

A drawn :class:`Study` knows its reports' text and its sheet. Every value of the sheet is
quoted from one of its reports (each quote a sentence written into that report), every number
is written in its quote, and every rule of the schema holds (events <= total, n within
enrolment, means within the scale, p in [0, 1]...). What varies is everything a real report
may or may not say: any field missing, one or several reports of a study (with values that
agree or disagree), doses per administration, outcome kinds and units, adverse events with
counts, percentages only or named only, and one to several studies per evidence base.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hypothesis import strategies as st

from helpers.evidence.schema import CONDITIONS, DOMAINS

KINDS = ("full_text", "abstract", "registry_record", "press_report", "erratum")
UNITS = ("%", "mL", "points", "cm H2O", None)
WORDS = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")


@dataclass
class Report:
    id: str
    kind: str
    sentences: list[str] = field(default_factory=list)

    def say(self, sentence: str) -> str:
        sentence = f"{sentence} (statement {len(self.sentences) + 1} of report {self.id})."
        self.sentences.append(sentence)
        return sentence

    def text(self) -> str:
        return f"Report {self.id}.\n\n" + "\n\n".join(self.sentences) + "\n"


@dataclass
class Study:
    index: int
    reports: list[Report]
    sheet: dict


def _g(value: float) -> str:
    return f"{value:g}"


class _Writer:
    """Builds one sheet while writing its quotes into the study's reports."""

    def __init__(self, draw, index: int) -> None:
        self.draw = draw
        self.index = index
        count = draw(st.integers(1, 2))
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=count, max_size=count))
        self.reports = [Report(f"r{i}", kind) for i, kind in enumerate(kinds)]

    def report(self) -> Report:
        return self.draw(st.sampled_from(self.reports))

    def quoted(self, value: object, words: str, *, named: bool = False) -> dict:
        report = self.report()
        entry = {"value": value, "quote": report.say(words)}
        if named or len(self.reports) > 1 and self.draw(st.booleans()):
            entry["report"] = report.id
        return entry

    def maybe(self, value: object, words: str) -> dict:
        if self.draw(st.integers(0, 3)) == 0:
            return {"not_reported": "no report of the study says"}
        return self.quoted(value, words)

    def versions(self, values: list[object], words: str) -> tuple[object, list[object]]:
        """One value, or one version per report (possibly disagreeing); and the values given."""
        if len(self.reports) == 1 or self.draw(st.booleans()):
            entry = self.maybe(values[0], words.format(values[0]))
            return entry, [entry["value"]] if "value" in entry else []
        pairs = list(zip(values, self.reports, strict=False))
        return [
            {"value": value, "quote": report.say(words.format(value)), "report": report.id}
            for value, report in pairs
        ], [value for value, _ in pairs]


@st.composite
def studies(draw, index: int) -> Study:
    w = _Writer(draw, index)
    condition = draw(st.sampled_from(CONDITIONS))
    enrolled = draw(st.integers(1, 80))
    other = draw(st.integers(1, 80))
    n_enrolled, given = w.versions([enrolled, other], "{} patients were enrolled")
    n_safety = w.maybe(enrolled, f"safety was assessed in {enrolled} patients")
    given += [n_safety["value"]] if "value" in n_safety else []
    ceiling = max(given, default=80)  # the schema's enrolment ceiling
    trial = {
        "title": w.maybe(f"Study {index}", f"Study {index} of cell therapy"),
        "condition": w.quoted(condition, f"patients with {condition.replace('_', ' ')}"),
        "design": w.maybe("single-arm", "a single-arm design"),
        "phase": w.maybe("I", "a phase I trial"),
        "blinding": w.maybe("open_label", "an open-label design"),
        "control": draw(
            st.sampled_from(
                [
                    {"not_reported": "no report says whether there was a control group"},
                    w.quoted("none", "there was no control group"),
                    w.quoted("placebo", "a placebo group was included"),
                ]
            )
        ),
        "setting": w.maybe("Hospital", "at a hospital"),
        "country": w.maybe("Country", "in a country"),
        "start": w.maybe("2019-01", "from January 2019"),
        "end": w.maybe("2020-12", "to December 2020"),
        "age": w.maybe("adults", "adults took part"),
        "sex": w.maybe("mixed", "both sexes took part"),
        "funding": w.maybe("public grant", "a public grant funded it"),
        "conflicts_of_interest": w.maybe("none declared", "no conflicts were declared"),
        "n_enrolled": n_enrolled,
        "n_safety": n_safety,
        "n_efficacy": w.maybe(enrolled, f"efficacy was assessed in {enrolled} patients"),
        "follow_up_months": w.maybe(12, "follow-up lasted 12 months"),
        "follow_up_schedule": w.maybe("baseline and 12 months", "assessed at 12 months"),
    }
    intervention = {
        "cell_type": w.maybe("MSC", "mesenchymal cells were given"),
        "tissue": w.maybe("umbilical_cord", "cells came from umbilical cord"),
        "cell_source": w.maybe("allogeneic", "donor cells were used"),
        "route": w.maybe(draw(st.sampled_from(["intrathecal", "intravenous"])), "by injection"),
        "dose": _dose(draw, w),
        "n_administrations": w.maybe(2, "2 administrations were given"),
        "interval_months": w.maybe(3, "3 months apart"),
        "co_interventions": [],
    }
    sheet = {
        "trial_id": f"prop_study_{index:02d}",
        "label": f"Property {index}",
        "reports": [{"id": report.id, "file": ""} for report in w.reports],
        "extracted_by": "property-based test",
        "trial": trial,
        "intervention": intervention,
        "baseline": [],
        "product": [],
        "outcomes": [_outcome(draw, w, i, ceiling) for i in range(draw(st.integers(0, 4)))],
        "adverse_events": [_event(draw, w, i, ceiling) for i in range(draw(st.integers(0, 3)))],
        "appraisal": {
            f"q{k}": {
                "answer": draw(st.sampled_from(["yes", "no", "unclear"])),
                "reason": "drawn by the test",
            }
            for k in range(1, 11)
        },
        "limitations": [],
        "contradictions": [],
    }
    return Study(index, w.reports, sheet)


def _dose(draw, w: _Writer) -> object:
    shape = draw(st.sampled_from(["missing", "single", "per_administration"]))
    if shape == "missing":
        return {"not_reported": "no dose given"}

    def dose(value: float, administration: str | None) -> dict:
        report = w.report()
        entry = {
            "value": value,
            "unit": "10^6 cells/kg",
            "basis": "per_kg",
            "quote": report.say(f"the dose was {_g(value)} million cells per kg"),
            "report": report.id,
        }
        if administration:
            entry["administration"] = administration
        return entry

    if shape == "single":
        return dose(draw(st.sampled_from([0.5, 1.0, 2.5])), None)
    return [dose(1.0, "1st"), dose(1.5, "2nd")]


def _outcome(draw, w: _Writer, i: int, ceiling: int) -> dict:
    kind = draw(st.sampled_from(["continuous", "ordinal", "count", "narrative"]))
    direction = draw(st.sampled_from(["higher", "lower", "none"]))
    outcome = {
        "id": f"outcome_{i}",
        "label": f"Outcome {WORDS[i]}",
        "domain": draw(st.sampled_from(DOMAINS)),
        "measure": f"measure {WORDS[i]}",
        "unit": draw(st.sampled_from(UNITS)),
        "direction_of_benefit": direction,
        "kind": kind,
    }
    if direction != "none":
        outcome["direction_basis"] = draw(st.sampled_from(["source", "assumed"]))
    if draw(st.integers(0, 4)) == 0:
        outcome["not_independent"] = "a part of another outcome"
    if kind == "narrative":
        report = w.report()
        outcome["narrative"] = {
            "direction": draw(st.sampled_from(["improved", "worsened", "no_change", "mixed"])),
            "significant": draw(st.sampled_from([True, False, None])),
            "quote": report.say(f"{WORDS[i]} changed"),
        }
        return outcome
    months = sorted(draw(st.sets(st.sampled_from([0, 3, 6, 12]), min_size=1, max_size=3)))
    timepoints = []
    for month in months:
        n = draw(st.integers(1, ceiling))
        report = w.report()
        label = "baseline" if month == 0 else f"{month} months"
        if kind == "count":
            events = draw(st.integers(0, n))
            numbers = {"events": events, "total": n}
            words = f"{WORDS[i]} at {label}: {events} of {n}"
        else:
            mean = draw(st.integers(0, 100)) / 2
            sd = draw(st.integers(0, 40)) / 2
            numbers = {"n": n, "mean": mean, "sd": sd}
            words = f"{WORDS[i]} at {label}: {_g(mean)} ± {_g(sd)} in {n}"
            if month and draw(st.booleans()):
                p = draw(st.sampled_from(["<0.001", "0.04", "0.5"]))
                numbers["p"] = p
                words += f", p {p}"
        timepoints.append(
            {"timepoint": label, "months": month, **numbers, "quote": report.say(words)}
        )
    outcome["timepoints"] = timepoints
    return outcome


def _event(draw, w: _Writer, i: int, ceiling: int) -> dict:
    report = w.report()
    term = f"event {WORDS[i]}"
    shape = draw(st.sampled_from(["count", "percent", "named"]))
    event: dict = {"term": term, "serious": draw(st.booleans())}
    if shape == "count":
        denominator = draw(st.integers(1, ceiling))
        count = draw(st.integers(0, denominator))
        unit = draw(st.sampled_from(["patients", "events", "cases"]))
        event.update(
            count=count,
            count_unit=unit,
            denominator=denominator,
            denominator_unit="patients",
            quote=report.say(f"{term} in {count} {unit} of {denominator} patients"),
        )
    elif shape == "percent":
        percent = _g(draw(st.integers(0, 1000)) / 10)
        event.update(percent=percent, quote=report.say(f"{term} in {percent}%"))
    else:
        event.update(quote=report.say(f"{term} was observed"))
    return event


@st.composite
def evidence_bases(draw, max_studies: int = 3) -> list[Study]:
    count = draw(st.integers(1, max_studies))
    return [draw(studies(index)) for index in range(count)]


def write_evidence(root: Path, base: list[Study]) -> None:
    """Write the studies' reports, their manifest entries and sheets into a project root."""
    raw, extraction = root / "data" / "raw", root / "data" / "extraction"
    raw.mkdir(parents=True, exist_ok=True)
    extraction.mkdir(parents=True, exist_ok=True)
    entries = []
    for study in base:
        for report, ref in zip(study.reports, study.sheet["reports"], strict=True):
            data = report.text().encode("utf-8")
            name = f"{study.index:03d}{report.id}_{hashlib.sha256(data).hexdigest()[:16]}.txt"
            (raw / name).write_bytes(data)
            ref["file"] = name
            entries.append(
                {
                    "file": name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "kind": report.kind,
                    "citation": f"Property-based test report {name}",
                    "doi": None,
                    "registry_id": None,
                }
            )
        path = extraction / f"{study.sheet['trial_id']}.yaml"
        path.write_text(yaml.safe_dump(study.sheet, sort_keys=False), encoding="utf-8")
    (raw / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
