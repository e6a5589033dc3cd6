"""Synthetic but valid trials, for benchmarks and tests: raw text, manifest entry and sheet.

:func:`generate` writes, for each of ``n`` trials, a raw source document into
``<root>/data/raw/``, its entry (with the file's real SHA-256) into
``<root>/data/raw/sources.yaml`` and an extraction sheet
``<root>/data/extraction/syn_trial_XXX.yaml``. Every quote of the sheet is a sentence of the
document and every number of a value is written in its quote, so ingestion accepts them.
Trials vary in condition, cells, route, schedule, outcomes (2-6 continuous or count outcomes
with 2-3 timepoints), adverse events (counts of patients over the safety population) and
JBI appraisal. Output depends only on the seed and the trial number, never on ``n``.

Never point it at the real project: the benchmark and the tests use a scratch copy
(``CELL_EVIDENCE_ROOT``).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

SEED = 20261121

CONDITIONS = {
    "spina_bifida": "children with spina bifida",
    "cerebral_palsy": "children with cerebral palsy",
    "spinal_cord_injury": "adults with chronic spinal cord injury",
}
# (cell type, tissue, source, how the document names the cells)
PRODUCTS = [
    ("BMMNC", "bone_marrow", "autologous", "autologous bone marrow mononuclear cells"),
    ("MSC", "bone_marrow", "autologous", "autologous bone marrow mesenchymal stem cells"),
    ("MSC", "umbilical_cord", "allogeneic", "allogeneic umbilical cord mesenchymal stem cells"),
    ("MSC", "adipose", "autologous", "autologous adipose-derived mesenchymal stem cells"),
]
ROUTES = ("intraspinal", "intrathecal", "intravenous")
# Continuous outcomes: id, domain, measure, scale (name, min, max), direction of benefit.
CONTINUOUS = {
    "cerebral_palsy": [
        ("gmfm88", "motor", "GMFM-88 total score", ("GMFM-88", 0, 100), "higher"),
        ("mas", "spasticity", "Modified Ashworth Scale score", ("MAS", 0, 4), "lower"),
        ("berg", "balance", "Berg Balance Scale score", ("BBS", 0, 56), "higher"),
        ("pedi", "function", "PEDI functional skills score", ("PEDI", 0, 100), "higher"),
    ],
    "spina_bifida": [
        ("bladder_capacity", "bladder", "maximum bladder capacity", None, "higher"),
        ("wexner", "bowel", "Wexner constipation score", ("Wexner", 0, 30), "lower"),
        ("mmt_lower", "motor", "lower-limb manual muscle testing score", ("MMT", 0, 50), "higher"),
    ],
    "spinal_cord_injury": [
        ("asia_motor", "neurological", "ASIA motor score", ("ASIA motor", 0, 100), "higher"),
        ("asia_sensory", "sensory", "ASIA sensory score", ("ASIA sensory", 0, 224), "higher"),
        ("scim", "function", "SCIM III score", ("SCIM III", 0, 100), "higher"),
    ],
}
# Count outcomes: id, domain, what the patients counted can do, direction of benefit.
COUNTS = [
    ("walks_independently", "motor", "could walk independently", "higher"),
    ("bowel_continence", "bowel", "were continent of stool", "higher"),
    ("urinary_leakage", "bladder", "had urinary leakage", "lower"),
    ("sits_unsupported", "motor", "could sit without support", "higher"),
]
ADVERSE_EVENTS = ["fever", "headache", "vomiting", "back pain", "injection-site pain", "dizziness"]
SERIOUS_TERMS = ["seizure", "meningitis", "hospital admission for pneumonia"]
MONTHS = (
    "January February March April May June July August September October November December".split()
)
APPRAISAL_REASONS = {
    "yes": "stated explicitly in the methods",
    "no": "not done according to the report",
    "unclear": "the report does not say",
}


@dataclass(frozen=True)
class SyntheticTrial:
    """What one generated trial should become in the processed tables."""

    trial_id: str
    source_file: str
    outcome_rows: int  # timepoints over all outcomes
    adverse_events: int
    characteristics: int
    limitations: int


def _one_decimal(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _percent(count: int, total: int) -> str:
    exact = Decimal(100 * count) / Decimal(total)
    return str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class _Document:
    """Sentences of the raw document; :meth:`say` returns the sentence to quote."""

    def __init__(self) -> None:
        self.paragraphs: list[list[str]] = [[]]

    def say(self, sentence: str) -> str:
        self.paragraphs[-1].append(sentence)
        return sentence

    def section(self, heading: str) -> None:
        self.paragraphs.append([heading])
        self.paragraphs.append([])

    def text(self) -> str:
        return "\n\n".join(" ".join(p) for p in self.paragraphs if p) + "\n"


def _quoted(value: object, quote: str) -> dict:
    return {"value": value, "quote": quote}


def _trial(i: int, seed: int) -> tuple[str, dict, dict, SyntheticTrial]:
    """Document text, manifest entry, sheet and expected counts of trial ``i``."""
    rng = random.Random(f"{seed}-{i}")
    trial_id, source_file = f"syn_trial_{i:03d}", f"syn_trial_{i:03d}.txt"
    condition = rng.choice(sorted(CONDITIONS))
    cell_type, tissue, cell_source, cells = rng.choice(PRODUCTS)
    route = rng.choice(ROUTES)
    phase = rng.choice(["I", "I/II", "II"])
    n = rng.randint(10, 60)
    n_efficacy = n - rng.randint(0, min(3, n - 8))
    n_admin = rng.randint(1, 4)
    interval = rng.choice([1, 3, 6]) if n_admin > 1 else None
    timepoints = [(0, "baseline")] + [
        (m, f"{m} months") for m in sorted(rng.sample([3, 6, 12, 24], rng.randint(1, 2)))
    ]
    follow_up = timepoints[-1][0]
    start_year, start_month = rng.randint(2012, 2020), rng.randint(1, 12)
    end_year, end_month = start_year + rng.randint(1, 4), rng.randint(1, 12)
    doc = _Document()

    title = f"{cells.capitalize()} for {CONDITIONS[condition]}: a phase {phase} trial ({trial_id})"
    doc.say(title + ".")
    doc.section("Methods")
    design = doc.say(f"This was an open-label, single-arm phase {phase} trial.")
    setting = doc.say(f"The trial was conducted at Synthetic General Hospital {i}.")
    period = doc.say(
        f"Patients were enrolled between {MONTHS[start_month - 1]} {start_year} and "
        f"{MONTHS[end_month - 1]} {end_year}."
    )
    enrolled = doc.say(f"A total of {n} {CONDITIONS[condition]} were enrolled.")
    low_age, high_age = (1, 15) if condition != "spinal_cord_injury" else (18, 60)
    ages = doc.say(f"Participants were aged {low_age} to {high_age} years.")
    male = rng.randint(n // 4, 3 * n // 4)
    sex = doc.say(f"Of the {n} patients, {male} were male and {n - male} were female.")
    cells_quote = doc.say(f"Patients received {cells}.")
    route_quote = doc.say(f"The cells were given by the {route} route.")
    dose_value = _one_decimal(rng.uniform(0.5, 10))
    dose_quote = doc.say(f"Each administration contained {dose_value:.1f} × 10^6 cells/kg.")
    admin_quote = doc.say(f"Each patient received {n_admin} administration(s).")
    if interval is not None:
        interval_quote = doc.say(f"Administrations were repeated every {interval} months.")
    follow_quote = doc.say(f"Patients were followed for {follow_up} months after the first dose.")

    doc.section("Results")
    safety_quote = doc.say(f"All {n} patients were included in the safety analysis.")
    efficacy_quote = doc.say(f"The efficacy analysis included {n_efficacy} patients.")
    age_mean = _one_decimal(rng.uniform(low_age + 1, high_age - 1))
    age_sd = _one_decimal(rng.uniform(1, (high_age - low_age) / 4))
    age_quote = doc.say(
        f"The mean age of the {n} patients was {age_mean:.1f} years (SD {age_sd:.1f})."
    )
    baseline = [
        {
            "label": "age",
            "unit": "years",
            "n": n,
            "mean": age_mean,
            "sd": age_sd,
            "quote": age_quote,
        },
        {"label": "sex: male", "events": male, "total": n, "quote": sex},
    ]

    outcomes = []
    catalog = [("continuous", o) for o in CONTINUOUS[condition]] + [("count", o) for o in COUNTS]
    for kind, spec in rng.sample(catalog, rng.randint(2, min(6, len(catalog)))):
        if kind == "continuous":
            outcomes.append(_continuous(rng, doc, spec, timepoints, n_efficacy))
        else:
            outcomes.append(_count(rng, doc, spec, timepoints, n_efficacy))

    adverse_events = []
    for term in rng.sample(ADVERSE_EVENTS, rng.randint(1, 4)):
        count = rng.randint(1, max(1, n // 3))
        quote = doc.say(
            f"{term.capitalize()} occurred in {count} of {n} patients ({_percent(count, n)}%)."
        )
        adverse_events.append(
            {
                "term": term,
                "serious": False,
                "count": count,
                "count_unit": "patients",
                "denominator": n,
                "denominator_unit": "patients",
                "percent": _percent(count, n),
                "relatedness": "possibly related",
                "quote": quote,
            }
        )
    serious = rng.random() < 0.3
    term = rng.choice(SERIOUS_TERMS) if serious else "serious adverse events"
    quote = (
        doc.say(f"A serious adverse event ({term}) occurred in 1 of {n} patients.")
        if serious
        else doc.say(f"No serious adverse events occurred among the {n} patients.")
    )
    adverse_events.append(
        {
            "term": term,
            "serious": True,
            "count": 1 if serious else 0,
            "count_unit": "patients",
            "denominator": n,
            "denominator_unit": "patients",
            "quote": quote,
        }
    )
    answers = [rng.choice(sorted(APPRAISAL_REASONS)) for _ in range(10)]
    appraisal = [{"answer": a, "reason": APPRAISAL_REASONS[a]} for a in answers]
    doc.section("Discussion")
    limitation = doc.say("The small sample and the lack of a control group limit these findings.")

    funding = doc.say(f"The trial was funded by the Synthetic Research Fund (grant {i}).")
    sheet = {
        "trial_id": trial_id,
        "label": f"Synthetic {i:03d}",
        "reports": [{"id": "article", "file": source_file}],
        "extracted_by": f"synthetic generator (seed {seed})",
        "trial": {
            "title": _quoted(title, title),
            "condition": _quoted(condition, enrolled),
            "design": _quoted(f"open-label, single-arm phase {phase} trial", design),
            "phase": _quoted(phase, design),
            "blinding": _quoted("open_label", design),
            "control": _quoted("none", design),
            "setting": _quoted(f"Synthetic General Hospital {i}", setting),
            "country": {"not_reported": "the document names no country"},
            "start": _quoted(f"{start_year}-{start_month:02d}", period),
            "end": _quoted(f"{end_year}-{end_month:02d}", period),
            "age": _quoted(f"{low_age}-{high_age} years", ages),
            "sex": _quoted(f"{male} male, {n - male} female", sex),
            "funding": _quoted(f"Synthetic Research Fund (grant {i})", funding),
            "conflicts_of_interest": {"not_reported": "the document has no declaration"},
            "n_enrolled": _quoted(n, enrolled),
            "n_safety": _quoted(n, safety_quote),
            "n_efficacy": _quoted(n_efficacy, efficacy_quote),
            "follow_up_months": _quoted(follow_up, follow_quote),
            "follow_up_schedule": _quoted(
                f"until {follow_up} months after the first dose", follow_quote
            ),
        },
        "intervention": {
            "cell_type": _quoted(cell_type, cells_quote),
            "tissue": _quoted(tissue, cells_quote),
            "cell_source": _quoted(cell_source, cells_quote),
            "route": _quoted(route, route_quote),
            "dose": {
                "value": dose_value,
                "unit": "10^6 cells/kg",
                "basis": "per_kg",
                "quote": dose_quote,
            },
            "n_administrations": _quoted(n_admin, admin_quote),
            "interval_months": (
                _quoted(interval, interval_quote)
                if interval is not None
                else {"not_reported": "single administration"}
            ),
            "co_interventions": [],
        },
        "baseline": baseline,
        "product": [],
        "outcomes": outcomes,
        "adverse_events": adverse_events,
        "appraisal": {f"q{k}": answer for k, answer in enumerate(appraisal, start=1)},
        "limitations": [_quoted("small sample without a control group", limitation)],
        "contradictions": [],
    }
    manifest_entry = {
        "file": source_file,
        "sha256": "",  # filled in from the written bytes
        "kind": "full_text" if rng.random() < 0.8 else "abstract",
        "citation": f"Synthetic A, et al. {title}. Journal of Benchmarks. {end_year + 1}.",
        "doi": f"10.5555/synthetic.{seed}.{i:03d}",
        "registry_id": f"NCT9{i:07d}",
    }
    expected = SyntheticTrial(
        trial_id=trial_id,
        source_file=source_file,
        outcome_rows=sum(len(o["timepoints"]) for o in outcomes),
        adverse_events=len(adverse_events),
        characteristics=len(baseline),
        limitations=1,
    )
    return doc.text(), manifest_entry, sheet, expected


def _continuous(rng, doc, spec, timepoints, n_efficacy) -> dict:
    outcome_id, domain, measure, scale, direction = spec
    low, high = (scale[1], scale[2]) if scale else (0, 500)
    span = high - low
    mean = rng.uniform(low + 0.2 * span, low + 0.5 * span)
    step = (1 if direction == "higher" else -1) * rng.uniform(0.01, 0.08) * span
    entries = []
    for index, (months, label) in enumerate(timepoints):
        n = n_efficacy - (index if index < n_efficacy - 5 else 0)
        value = _one_decimal(min(max(mean + index * step, low), high))
        sd = _one_decimal(rng.uniform(0.05, 0.2) * span)
        p = None if index == 0 else rng.choice(["<0.001", "0.003", "0.02", "0.21"])
        said = f"At {label}, the mean {measure} was {value:.1f} (SD {sd:.1f}, n = {n})"
        said += "." if p is None else f" (p {'<' if p[0] == '<' else '='} {p.lstrip('<')})."
        entry = {"timepoint": label, "months": months, "n": n, "mean": value, "sd": sd}
        if p is not None:
            entry["p"] = p
        entries.append({**entry, "quote": doc.say(said)})
    outcome = {
        "id": outcome_id,
        "label": measure[0].upper() + measure[1:],
        "domain": domain,
        "measure": measure,
        "unit": None if scale else "mL",
        "direction_of_benefit": direction,
        "direction_basis": "reference",
        "direction_reference": f"definition of the {measure}",
        "kind": "continuous",
        "timepoints": entries,
    }
    if scale:
        outcome["scale"] = {"name": scale[0], "min": scale[1], "max": scale[2]}
    return outcome


def _count(rng, doc, spec, timepoints, n_efficacy) -> dict:
    outcome_id, domain, measure, direction = spec
    events = rng.randint(1, n_efficacy - 1)
    entries = []
    for months, label in timepoints:
        percent = _percent(events, n_efficacy)
        said = f"At {label}, {events} of {n_efficacy} patients ({percent}%) {measure}."
        entries.append(
            {
                "timepoint": label,
                "months": months,
                "events": events,
                "total": n_efficacy,
                "percent": percent,
                "quote": doc.say(said),
            }
        )
        change = rng.randint(0, max(1, n_efficacy // 5))
        events = min(max(events + (change if direction == "higher" else -change), 0), n_efficacy)
    return {
        "id": outcome_id,
        "label": f"Patients who {measure}",
        "domain": domain,
        "measure": f"patients who {measure}",
        "direction_of_benefit": direction,
        "direction_basis": "source",
        "kind": "count",
        "timepoints": entries,
    }


def generate(root: Path, n: int, seed: int = SEED) -> list[SyntheticTrial]:
    """Write trials 0..n-1 into the project at ``root``; returns what each should ingest to.

    Manifest entries already present (same file) are replaced, so generating twice is safe.
    """
    raw_dir, sheet_dir = root / "data" / "raw", root / "data" / "extraction"
    manifest_path = raw_dir / "sources.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    trials, entries = [], []
    for i in range(n):
        text, entry, sheet, expected = _trial(i, seed)
        data = text.encode("utf-8")
        (raw_dir / entry["file"]).write_bytes(data)
        entries.append({**entry, "sha256": hashlib.sha256(data).hexdigest()})
        (sheet_dir / f"{expected.trial_id}.yaml").write_text(
            yaml.safe_dump(sheet, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        trials.append(expected)
    written = {entry["file"] for entry in entries}
    kept = [entry for entry in manifest["sources"] if entry["file"] not in written]
    manifest_path.write_text(
        yaml.safe_dump({"sources": kept + entries}, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    return trials
