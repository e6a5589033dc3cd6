"""GRADE-style certainty of evidence per outcome, with a reason for every judgment.

Follows the GRADE handbook (Schünemann H, Brożek J, Guyatt G, Oxman A, eds. GRADE Handbook for
grading quality of evidence and strength of recommendations, updated October 2013, section 5)
and the GRADE guideline series in J Clin Epidemiol: risk of bias (Guyatt et al. 2011, 64:407),
inconsistency (64:1294), indirectness (64:1303), imprecision (64:1283) and publication bias
(64:1277).

Rules used here, stated so a reviewer can disagree with them:

* **Start**: randomised evidence starts *high*; everything here is non-randomised and
  uncontrolled (single-arm before-after series), so it starts *low* (handbook 5.1).
* **Risk of bias** (from the JBI case-series checklist in ``appraisal``): the share of
  applicable items answered "yes", weighted by each trial's patients. >= 70 % not serious;
  40-70 % serious (-1); < 40 % very serious (-2).
* **Inconsistency**: one trial -> *not assessable* (no rating down, said plainly); pooled
  estimate with I^2 >= 50 % or a prediction interval crossing the null -> serious; several
  trials without a pooled estimate -> serious when their directions disagree.
* **Indirectness**: evidence mixing conditions (populations) -> serious; a surrogate or
  physiological outcome (imaging, manometry, urodynamics) -> serious; both -> very serious.
* **Imprecision**: no numerical estimate at all (a narrative claim) -> very serious; otherwise
  one level for total n below the optimal information size (OIS; GRADE's rule of thumb is
  ~400 patients for continuous outcomes, guideline 6) and one for a confidence interval that
  includes the null; zero events count against the OIS only.
* **Publication bias**: with fewer than 10 studies funnel plots and tests are not informative
  (Sterne et al. 2011, BMJ 343:d4002): *not assessable*, no rating down, but said.

Certainty = start - sum of downgrades, floored at *very low*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers.labels import plural

__all__ = [
    "CERTAINTY_LEVELS",
    "DOMAINS",
    "DEFAULT_OIS",
    "GradeAssessment",
    "Judgment",
    "OutcomeEvidence",
    "assess",
    "imprecision",
    "inconsistency",
    "indirectness",
    "publication_bias",
    "risk_of_bias",
]

CERTAINTY_LEVELS = ("very low", "low", "moderate", "high")
DOMAINS = ("risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias")
DEFAULT_OIS = 400  # GRADE guideline 6 rule of thumb (continuous outcomes)
MIN_STUDIES_FOR_PUBLICATION_BIAS = 10  # Sterne et al. 2011


@dataclass(frozen=True)
class OutcomeEvidence:
    """What is known about one outcome across trials, as GRADE needs it.

    ``estimate``/``ci_*``/``pi_*``/``i2`` describe the pooled (or single-trial) numeric
    estimate on a scale whose no-effect value is ``null_value`` (None when there is no null,
    e.g. an incidence); ``includes_null`` overrides the CI check when the evidence about "no
    effect" is not a CI (``null_reason`` then says why). ``directions`` holds one direction per
    trial ("improved", "worsened", "no_change", "mixed") for outcomes judged without a pooled
    estimate. ``zero_events`` marks a safety outcome where every trial reported 0 events.
    """

    outcome: str
    trial_ids: tuple[str, ...]
    n_patients: int
    conditions: tuple[str, ...]
    numeric: bool = True
    pooled: bool = False
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    pi_low: float | None = None
    pi_high: float | None = None
    i2: float | None = None
    null_value: float | None = 0.0
    surrogate: bool = False
    directions: tuple[str, ...] = ()
    zero_events: bool = False
    randomised: bool = False
    includes_null: bool | None = None  # overrides the CI check (e.g. a bounded McNemar p)
    null_reason: str = ""

    @property
    def k(self) -> int:
        return len(set(self.trial_ids))


@dataclass(frozen=True)
class Judgment:
    """One GRADE domain: rating, levels rated down (0-2) and why."""

    domain: str
    rating: str  # "not serious" | "serious" | "very serious" | "not assessable"
    downgrade: int
    reason: str


@dataclass(frozen=True)
class GradeAssessment:
    outcome: OutcomeEvidence
    start: str
    judgments: tuple[Judgment, ...]
    certainty: str
    notes: tuple[str, ...] = field(default=())

    @property
    def downgrade(self) -> int:
        return sum(j.downgrade for j in self.judgments)


def _rating(levels: int) -> str:
    return ("not serious", "serious", "very serious")[min(levels, 2)]


def risk_of_bias(
    appraisal: pd.DataFrame, trial_ids: tuple[str, ...], patients: dict[str, int] | None = None
) -> Judgment:
    """JBI checklist -> share of applicable items answered "yes", patient-weighted over trials."""
    rows = appraisal[appraisal["trial_id"].isin(trial_ids)]
    rows = rows[rows["answer"] != "not_applicable"]
    appraised = sorted(set(rows["trial_id"]))
    if not appraised:
        return Judgment("risk of bias", "very serious", 2, "no critical appraisal is available")
    share = rows.assign(yes=rows["answer"].eq("yes")).groupby("trial_id")["yes"].mean()
    weights = pd.Series({t: float((patients or {}).get(t, 1) or 1) for t in appraised})
    weighted = float((share[appraised] * weights).sum() / weights.sum())
    counts = rows["answer"].value_counts()
    tally = ", ".join(f"{counts[a]} {a}" for a in ("yes", "unclear", "no") if a in counts)
    levels = 0 if weighted >= 0.7 else 1 if weighted >= 0.4 else 2
    reason = (
        f"JBI case-series checklist: {weighted:.0%} of applicable items answered 'yes' "
        f"(patient-weighted over {plural(len(appraised), 'trial')}; {tally})"
    )
    if levels:
        reason += "; uncontrolled before-after data cannot separate treatment from natural course"
    return Judgment("risk of bias", _rating(levels), levels, reason)


def _crosses(low: float | None, high: float | None, null: float | None) -> bool:
    return null is not None and low is not None and high is not None and low <= null <= high


def inconsistency(evidence: OutcomeEvidence) -> Judgment:
    """I^2 and prediction interval when pooled; agreement of directions otherwise."""
    if evidence.k <= 1:
        return Judgment(
            "inconsistency",
            "not assessable",
            0,
            "one trial: consistency across studies cannot be judged (not rated down, but "
            "unreplicated)",
        )
    if evidence.pooled and evidence.i2 is not None:
        reasons = []
        if evidence.i2 >= 50:
            reasons.append(f"I² = {evidence.i2:.0f}%")
        if _crosses(evidence.pi_low, evidence.pi_high, evidence.null_value):
            reasons.append("the prediction interval includes no effect")
        if reasons:
            return Judgment("inconsistency", "serious", 1, "; ".join(reasons))
        excludes = (
            " and the prediction interval excludes no effect"
            if evidence.null_value is not None
            else ""
        )
        return Judgment("inconsistency", "not serious", 0, f"I² = {evidence.i2:.0f}%{excludes}")
    directions = {d for d in evidence.directions if d}
    if not directions:
        return Judgment("inconsistency", "not assessable", 0, "no per-trial results to compare")
    if len(directions) > 1:
        return Judgment(
            "inconsistency",
            "serious",
            1,
            f"the {evidence.k} trials disagree "
            f"({', '.join(sorted(d.replace('_', ' ') for d in directions))})",
        )
    agree = "both trials agree" if evidence.k == 2 else f"all {evidence.k} trials agree"
    return Judgment(
        "inconsistency",
        "not serious",
        0,
        f"{agree} ({directions.pop().replace('_', ' ')}); no pooled estimate, so I² is not "
        "estimable",
    )


def indirectness(evidence: OutcomeEvidence) -> Judgment:
    """Mixed conditions and surrogate outcomes each rate down one level."""
    reasons = []
    if len(set(evidence.conditions)) > 1:
        conditions = ", ".join(sorted(c.replace("_", " ") for c in set(evidence.conditions)))
        reasons.append(f"mixes populations with different conditions ({conditions})")
    if evidence.surrogate:
        reasons.append("surrogate or physiological outcome, not a patient-important one")
    if not reasons:
        return Judgment("indirectness", "not serious", 0, "one condition, a clinical outcome")
    return Judgment("indirectness", _rating(len(reasons)), len(reasons), "; ".join(reasons))


def imprecision(evidence: OutcomeEvidence, optimal_information_size: int = DEFAULT_OIS) -> Judgment:
    """Total n against the OIS, and a confidence interval that includes the null."""
    if not evidence.numeric:
        return Judgment(
            "imprecision",
            "very serious",
            2,
            "no numerical estimate: the sources state a direction in words only",
        )
    reasons = []
    if evidence.n_patients < optimal_information_size:
        reasons.append(
            f"{evidence.n_patients} patients, below the optimal information size of "
            f"about {optimal_information_size}"
        )
    if evidence.zero_events:
        pass  # no effect to be imprecise about: only the sample size counts
    elif evidence.includes_null is not None:
        if evidence.includes_null:
            reasons.append(evidence.null_reason or "the data cannot exclude no effect")
    elif _crosses(evidence.ci_low, evidence.ci_high, evidence.null_value):
        reasons.append("the 95% CI includes no effect")
    if evidence.zero_events and not reasons:
        return Judgment(
            "imprecision", "not serious", 0, "zero events in a sample above the optimal size"
        )
    if not reasons:
        return Judgment(
            "imprecision",
            "not serious",
            0,
            "sample above the optimal size and CI excludes no effect",
        )
    return Judgment("imprecision", _rating(len(reasons)), len(reasons), "; ".join(reasons))


def publication_bias(evidence: OutcomeEvidence) -> Judgment:
    """Not assessable below 10 studies (no rating down, but said)."""
    if evidence.k < MIN_STUDIES_FOR_PUBLICATION_BIAS:
        return Judgment(
            "publication bias",
            "not assessable",
            0,
            f"{plural(evidence.k, 'trial')}, fewer than {MIN_STUDIES_FOR_PUBLICATION_BIAS}: "
            "funnel-plot methods are uninformative; selective publication cannot be excluded",
        )
    return Judgment(
        "publication bias",
        "not serious",
        0,
        "assess with a funnel plot and Egger's test before relying on this rating",
    )


def assess(
    evidence: OutcomeEvidence,
    appraisal: pd.DataFrame,
    *,
    patients: dict[str, int] | None = None,
    optimal_information_size: int = DEFAULT_OIS,
) -> GradeAssessment:
    """Certainty of one outcome: start level minus the downgrades of the five domains."""
    start = 3 if evidence.randomised else 1  # index into CERTAINTY_LEVELS: high / low
    judgments = (
        risk_of_bias(appraisal, evidence.trial_ids, patients),
        inconsistency(evidence),
        indirectness(evidence),
        imprecision(evidence, optimal_information_size),
        publication_bias(evidence),
    )
    level = max(0, start - sum(j.downgrade for j in judgments))
    notes = ()
    if start - sum(j.downgrade for j in judgments) < 0:
        notes = ("rated down further than the lowest level allows; floored at very low",)
    return GradeAssessment(
        outcome=evidence,
        start=CERTAINTY_LEVELS[start],
        judgments=judgments,
        certainty=CERTAINTY_LEVELS[level],
        notes=notes,
    )
