"""Cross-trial synthesis: every analysis of the synthesis page, built from the processed tables.

The evidence is five small uncontrolled trials in three conditions, so most of this module is
about deciding *whether* to pool and saying why not. Rules (each applied by a function here):

* **Safety.** Rates are pooled only over trials whose count *and* denominator are patients
  (:func:`helpers.stats.estimates.adverse_event_rates`, ``rate_basis == "per patient"``); rates per
  administration, event or case counts and rates with an unknown denominator are listed apart
  and never mixed in. Terms are harmonised across trials (:func:`harmonise_term`). Primary model:
  binomial-normal GLMM (:func:`helpers.stats.meta.rma_glmm_proportions`; Stijnen, Hamza & Ozdemir
  2010); sensitivity: logit with inverse-variance REML (0.5 added to 0/n studies only). When
  every trial reports zero events the GLMM has no maximum; the page then gives the exact
  (Clopper-Pearson) interval and one-sided upper bound on the summed counts, which assumes one
  common rate (Hanley & Lippman-Hand 1983 for the zero-event bound).
* **Efficacy.** Standardised mean change with raw-score standardisation (SMCR,
  :func:`helpers.stats.estimates.change_from_baseline`), oriented so that positive = benefit, at each
  outcome's latest timepoint. Estimates are *compatible* only when they share the condition
  **and** the outcome domain and come from different trials (one estimate per trial: the one
  with the most patients); they are pooled with :func:`helpers.stats.meta.rma` only when at least
  ``min_k`` trials qualify (:func:`should_pool`), otherwise shown side by side with the reason.
  Outcomes without an agreed direction of benefit are reported, never synthesised.
* **Direction of effect.** SWiM vote counting (Campbell et al. 2020, BMJ 368:l6890; McKenzie &
  Brennan, Cochrane Handbook version 6, chapter 12) over every outcome, numeric and narrative,
  with an exact two-sided sign test (:func:`scipy.stats.binomtest`), at outcome and trial level.

Nothing here reads a file except :func:`load_prior_meta_analyses` (``data/context/``); every
sentence the page prints is produced by a function from these results, never typed in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, display
from matplotlib.figure import Figure
from scipy import stats

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence import sources
from helpers.pages import forest
from helpers.pages.figures import describe, forest_alt
from helpers.pages.tables import captioned, with_caption
from helpers.stats import effects, estimates, grade, meta

__all__ = [
    "AE_TERM_PATTERNS",
    "CONDITION_LABELS",
    "MODERATORS",
    "PRIOR_COLUMNS",
    "SOURCE_KINDS",
    "DirectionOfEffect",
    "EfficacySynthesis",
    "PooledTerm",
    "SafetyByTerm",
    "SeriousSafety",
    "Subgroups",
    "Synthesis",
    "certainty",
    "change_estimates",
    "characteristics_table",
    "context_table",
    "direction_of_effect",
    "efficacy_by_domain",
    "efficacy_forest",
    "estimator_comparison",
    "evidence_basis",
    "evidence_heatmap",
    "evidence_map",
    "grade_evidence",
    "harmonise_term",
    "heterogeneity",
    "key_findings",
    "leave_one_out",
    "load_prior_meta_analyses",
    "parameter_statement",
    "r_sensitivity",
    "responder_proportions",
    "run",
    "safety_by_term",
    "safety_forests",
    "safety_serious",
    "select_sources",
    "sensitivity_statements",
    "serious_forest",
    "should_pool",
    "show",
    "source_sensitivity",
    "subgroup_contrasts",
    "treated_patients",
]

SOURCE_KINDS = sources.KINDS  # kinds of a study's most complete report
CONDITION_LABELS = {
    "spina_bifida": "spina bifida",
    "cerebral_palsy": "cerebral palsy",
    "spinal_cord_injury": "spinal cord injury",
}
# Trial characteristics a subgroup contrast can use, with the label the page shows.
MODERATORS = {
    "condition": "condition",
    "cell_type": "cell type (BMMNC vs MSC)",
    "cell_source": "autologous vs allogeneic",
    "route": "route (intrathecal vs intravenous)",
}
# Harmonised adverse-event terms: the first pattern that matches the reported term wins.
AE_TERM_PATTERNS: tuple[tuple[str, str], ...] = (
    ("any adverse event", r"\bany adverse event"),
    ("fever", r"\bfever|pyrexia|febrile"),
    ("vomiting", r"vomit"),
    ("nausea", r"nausea"),
    ("headache", r"headache"),
    ("fatigue", r"fatigue|tiredness"),
    ("dizziness", r"dizz|vertigo"),
    ("increased muscle tension", r"muscle tension"),
    ("urethral pain", r"urethralgia|urethral pain"),
    ("bone-marrow harvest-site swelling", r"swelling.*(extraction|harvest|aspiration)"),
)
# Physiological / imaging measures: surrogate outcomes for GRADE indirectness.
SURROGATE_PATTERN = re.compile(
    r"manometry|cystomanometry|cystometric|detrusor pressure|cystourethrogram|magnetic resonance"
    r"|\bMRI\b|residual urine",
    re.IGNORECASE,
)
SOURCE_SCENARIOS: dict[str, tuple[str, ...]] = {
    "all sources": SOURCE_KINDS,
    "without press reports": tuple(kind for kind in SOURCE_KINDS if kind != "press_report"),
    "full text only (no press reports, no abstract-only sources)": ("erratum", "full_text"),
}
LEVEL = 95


# --------------------------------------------------------------------------------------------
# Formatting: every number the page prints goes through these
# --------------------------------------------------------------------------------------------


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%"


def _pct_ci(low: float, high: float, digits: int = 1) -> str:
    return f"{100 * low:.{digits}f}–{100 * high:.{digits}f}%"


def _p(p: float) -> str:
    """``p < 0.001`` or ``p = 0.0625`` (three significant digits)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace("-", "−")


def _prediction_interval(result: meta.RmaResult) -> str:
    """'−0.12 to 0.85', or why there is none (an equal-effects model has no between-trial
    variance to predict with, as in metafor)."""
    if result.pi_low is None or result.pi_high is None:
        return "none (equal-effects model)"
    return f"{_num(result.pi_low)} to {_num(result.pi_high)}"


def _interval(estimate: float, low: float, high: float, digits: int = 2) -> str:
    return f"{_num(estimate, digits)} [{_num(low, digits)}, {_num(high, digits)}]"


def _condition(value: object) -> str:
    return CONDITION_LABELS.get(str(value), str(value).replace("_", " "))


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _present(value: object) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value))


def show(figures: Iterable[Figure]) -> None:
    """Display each figure once (a notebook cell cannot return a list of figures)."""
    for figure in figures:
        display(figure)


# --------------------------------------------------------------------------------------------
# Source selection and trial facts
# --------------------------------------------------------------------------------------------


def select_sources(
    tables: Mapping[str, pd.DataFrame], source_kinds: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Keep only trials whose source document is one of ``source_kinds`` (every table)."""
    unknown = sorted(set(source_kinds) - set(SOURCE_KINDS))
    if unknown:
        raise ValueError(f"unknown source kinds {unknown}; known: {list(SOURCE_KINDS)}")
    trials = tables["trials"]
    keep = set(trials.loc[trials["source_kind"].isin(list(source_kinds)), "trial_id"])
    if not keep:
        raise ValueError(f"no trial has a source of kind {list(source_kinds)}")
    return {
        name: frame[frame["trial_id"].isin(keep)].reset_index(drop=True)
        if "trial_id" in frame.columns
        else frame
        for name, frame in tables.items()
    }


def treated_patients(trials: pd.DataFrame) -> pd.Series:
    """Patients treated per trial: the safety population, else those enrolled."""
    treated = trials["n_safety"].fillna(trials["n_enrolled"])
    return pd.Series(treated.to_numpy(), index=trials["trial_id"].to_numpy(), name="patients")


def _trial_attributes(trials: pd.DataFrame) -> pd.DataFrame:
    return trials.set_index("trial_id")[
        ["condition", "source_kind", "cell_type", "cell_source", "tissue", "route"]
    ]


# --------------------------------------------------------------------------------------------
# Pooling decision
# --------------------------------------------------------------------------------------------


def should_pool(
    k: int,
    min_k: int,
    *,
    n_trials: int | None = None,
    all_zero: bool = False,
    all_full: bool = False,
) -> tuple[bool, str]:
    """Whether ``k`` estimates may be pooled, with the reason either way.

    Refuses: no estimate; several estimates from fewer trials (the same patients are not
    independent); k = 1 (nothing to pool; tau^2 not estimable) whatever ``min_k`` says; k below
    ``min_k`` (too few for a between-trial variance: with 2 trials tau^2 is ~unidentifiable and
    Hartung-Knapp intervals explode); every trial with zero events (or every trial with all
    patients affected): the binomial-normal likelihood then has no maximum.
    """
    if k < 1:
        return False, "no estimate"
    if n_trials is not None and n_trials < k:
        return False, (
            f"{k} estimates come from {_plural(n_trials, 'trial')}: estimates from the same "
            "patients are not independent"
        )
    if k == 1:
        return False, "one trial: nothing to pool, and between-trial variation is not estimable"
    if k < min_k:
        return False, f"{k} trials, fewer than the minimum of {min_k} set for pooling"
    if all_zero:
        return False, (
            f"all {k} trials report zero events: the binomial-normal (GLMM) likelihood has no "
            "maximum, so no model estimate exists"
        )
    if all_full:
        return False, f"all {k} trials report every patient affected: the GLMM is undefined"
    return True, f"{k} trials, at least the minimum of {min_k}"


# --------------------------------------------------------------------------------------------
# Evidence map and characteristics
# --------------------------------------------------------------------------------------------


def evidence_map(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Trials x domains: patients with data (largest n of any outcome in the domain).

    Numeric outcomes count their measured n (or the count denominator); narrative-only outcomes
    count the trial's efficacy population (else those treated); the ``safety`` column is the
    per-patient denominator of serious-event data. Empty = nothing reported.
    """
    trials = tables["trials"]
    treated = treated_patients(trials)
    efficacy_n = pd.Series(
        trials["n_efficacy"].fillna(trials["n_enrolled"]).fillna(trials["n_safety"]).to_numpy(),
        index=trials["trial_id"].to_numpy(),
    )
    outcomes = tables["outcomes"]
    measured = outcomes.assign(patients=outcomes["n"].fillna(outcomes["total"]))
    cells = [measured[["trial_id", "domain", "patients"]].dropna()]
    narratives = tables["outcome_narratives"]
    narratives = narratives[narratives["not_independent"].isna()]
    cells.append(
        narratives.assign(patients=narratives["trial_id"].map(efficacy_n))[
            ["trial_id", "domain", "patients"]
        ].dropna()
    )
    serious = _serious_per_trial(tables)
    if not serious.empty:
        cells.insert(
            0,
            pd.DataFrame(
                {"trial_id": serious.index, "domain": "safety", "patients": serious["patients"]}
            ),
        )
    long = pd.concat(cells, ignore_index=True)
    long["patients"] = long["patients"].astype(float)
    matrix = long.pivot_table(index="trial_id", columns="domain", values="patients", aggfunc="max")
    domains = ["safety", *sorted(c for c in matrix.columns if c != "safety")]
    order = trials.sort_values(["condition", "trial_id"])["trial_id"]
    matrix = matrix.reindex(index=[t for t in order if t in treated.index], columns=domains)
    labels = trials.set_index("trial_id")["condition"].map(_condition)
    matrix.index = [f"{t} ({labels[t]})" for t in matrix.index]
    matrix.index.name = "trial"
    matrix.columns.name = "domain"
    return matrix


WORDS_ONLY_MARK = "†"


def evidence_basis(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Same shape as :func:`evidence_map`: ``WORDS_ONLY_MARK`` where a trial reports a domain
    only in words (narrative outcomes, no numbers), else empty."""
    matrix = evidence_map(tables)
    outcomes = tables["outcomes"]
    numeric = outcomes[outcomes[["mean", "median", "events"]].notna().any(axis=1)][
        ["trial_id", "domain"]
    ].drop_duplicates()
    numeric_keys = set(zip(numeric["trial_id"], numeric["domain"], strict=True))
    labels = tables["trials"].set_index("trial_id")["condition"].map(_condition)
    row_for = {f"{t} ({labels[t]})": t for t in labels.index}
    marks = pd.DataFrame("", index=matrix.index, columns=matrix.columns)
    for row in matrix.index:
        for domain in matrix.columns:
            if domain == "safety" or pd.isna(matrix.loc[row, domain]):
                continue
            if (row_for[row], domain) not in numeric_keys:
                marks.loc[row, domain] = WORDS_ONLY_MARK
    return marks


def evidence_heatmap(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """The evidence map as a heatmap (cells annotated with n; † = stated in words only)."""
    matrix = evidence_map(tables)
    figure = forest.evidence_heatmap(
        matrix,
        marks=evidence_basis(tables),
        mark_legend=f"{WORDS_ONLY_MARK} results stated in words only",
    )
    return describe(
        figure,
        f"Evidence map: patients with data in each outcome domain ({', '.join(matrix.columns)}) "
        f"for each of {len(matrix)} trials ({'; '.join(map(str, matrix.index))}); "
        f"{WORDS_ONLY_MARK} marks results stated in words only.",
    )


def _described_forest(studies: pd.DataFrame, **options) -> Figure:
    """A forest plot with alt text naming its title, axis, rows and summary."""
    pooled = options.get("pooled") or {}
    alt = forest_alt(
        options.get("title", ""), options.get("xlabel", ""), studies["label"], pooled.get("label")
    )
    return describe(forest.forest_plot(studies, **options), alt)


@with_caption(
    "Trial characteristics: condition, cells, route, dose, schedule, patients, follow-up, source"
)
def characteristics_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per trial: condition, cells, route, dose, administrations, n, follow-up, source."""
    trials = tables["trials"].sort_values(["condition", "trial_id"])
    rows = []
    doses = tables["doses"]
    for trial in trials.itertuples(index=False):
        basis = {"per_kg": "", "per_administration_total": " per administration"}
        dose = (
            "; ".join(
                (f"{d.value:g} × {d.unit}" if _present(d.value) else str(d.unit))
                + basis.get(str(d.basis), " per patient")
                + (f" ({d.administration})" if _present(d.administration) else "")
                for d in doses[doses["trial_id"] == trial.trial_id].itertuples(index=False)
            )
            or "not reported"
        )
        schedule = (
            f"{trial.n_administrations}"
            + (
                f", every {trial.interval_months:g} month(s)"
                if _present(trial.interval_months)
                else ""
            )
            if _present(trial.n_administrations)
            else "not reported"
        )
        patients = ", ".join(
            f"{label} {int(value)}"
            for label, value in (
                ("enrolled", trial.n_enrolled),
                ("safety", trial.n_safety),
                ("efficacy", trial.n_efficacy),
            )
            if _present(value)
        )
        rows.append(
            {
                "trial": trial.trial_id,
                "condition": _condition(trial.condition),
                "age": trial.age if _present(trial.age) else "not reported",
                "cell type": trial.cell_type,
                "tissue": str(trial.tissue).replace("_", " "),
                "autologous / allogeneic": trial.cell_source,
                "route": trial.route,
                "dose": dose,
                "administrations": schedule,
                "patients": patients,
                "follow-up (months)": (
                    f"{trial.follow_up_months:g}"
                    if _present(trial.follow_up_months)
                    else "not reported"
                ),
                "design": trial.design,
                "source kind": str(trial.source_kind).replace("_", " "),
            }
        )
    return pd.DataFrame(rows).set_index("trial")


# --------------------------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------------------------


def harmonise_term(term: str) -> str:
    """Common name of a reported adverse-event term ("mild fever" -> "fever")."""
    text = str(term).lower()
    for name, pattern in AE_TERM_PATTERNS:
        if re.search(pattern, text):
            return name
    return text.strip()


def _adverse_event_rates(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rates = estimates.adverse_event_rates(tables["adverse_events"])
    return rates.assign(harmonised=rates["term"].map(harmonise_term))


def _serious_per_trial(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per trial, serious-event rows with a per-patient basis, collapsed to one count.

    A trial may list several serious terms (e.g. two named kinds over the same 13 patients):
    the patients are the largest denominator, and the patients with an event at least the
    largest count (summing could count one patient twice), so this is a lower bound when more
    than one term has events.
    """
    rates = _adverse_event_rates(tables)
    serious = rates[rates["serious"].fillna(False) & (rates["rate_basis"] == "per patient")]
    if serious.empty:
        return pd.DataFrame(columns=["events", "patients", "terms", "relatedness", "rows"])
    grouped = serious.groupby("trial_id", sort=True)
    frame = pd.DataFrame(
        {
            "events": grouped["count"].max().astype(int),
            "patients": grouped["denominator"].max().astype(int),
            "terms": grouped["term"].agg(lambda terms: "; ".join(terms)),
            "relatedness": grouped["relatedness"].agg(
                lambda values: "; ".join(sorted({str(v) for v in values if _present(v)}))
            ),
            "rows": grouped.size(),
            "events_in_several_terms": grouped["count"].agg(lambda c: int((c > 0).sum()) > 1),
        }
    )
    return frame


@dataclass(frozen=True, eq=False)
class SeriousSafety:
    """Serious adverse events across trials: per-trial table and what can be said overall."""

    per_trial: pd.DataFrame
    trials: int
    events: int
    patients: int
    proportion: float
    ci_low: float  # exact two-sided (Clopper-Pearson) on the summed counts
    ci_high: float
    upper_bound: float  # exact one-sided upper bound on the summed counts
    pooled: bool
    reason: str
    glmm: meta.PooledProportionResult | None
    logit: meta.PooledProportionResult | None
    level: float = LEVEL

    @with_caption("Serious adverse events in each trial, with exact 95% intervals")
    def display_table(self) -> pd.DataFrame:
        """Per-trial rows formatted for reading: counts, exact CI and one-sided bound."""
        if self.per_trial.empty:
            return self.per_trial
        table = self.per_trial
        return pd.DataFrame(
            {
                "trial": table["trial"],
                "condition": table["condition"],
                "source kind": table["source kind"],
                "serious events as reported": table["serious events as reported"],
                "relatedness": table["relatedness"],
                "patients with event / patients": [
                    f"{x}/{n}"
                    for x, n in zip(table["patients with event"], table["patients"], strict=True)
                ],
                "exact 95% CI": [
                    _pct_ci(low, high)
                    for low, high in zip(table["ci_low"], table["ci_high"], strict=True)
                ],
                "exact one-sided 95% upper bound": table["upper_bound_one_sided"].map(_pct),
                "note": table["note"],
            }
        ).set_index("trial")

    def statements(self) -> list[str]:
        if self.trials == 0:
            return ["No trial reported serious adverse events per patient."]
        lines = []
        if self.events == 0:
            lines.append(
                f"No serious adverse event was reported in any of the {self.trials} trials: "
                f"0 of {self.patients} patients (exact one-sided {self.level:g}% upper bound "
                f"{_pct(self.upper_bound)}; two-sided exact 95% CI "
                f"{_pct_ci(self.ci_low, self.ci_high)})."
            )
        else:
            lines.append(
                f"{self.events} of {self.patients} patients in {self.trials} trials had a serious "
                f"adverse event ({_pct(self.proportion)}, exact 95% CI "
                f"{_pct_ci(self.ci_low, self.ci_high)})."
            )
        if self.pooled and self.glmm is not None:
            lines.append(
                f"Binomial-normal GLMM: {_pct(self.glmm.proportion)} (95% CI "
                f"{_pct_ci(self.glmm.ci_low, self.glmm.ci_high)}; prediction interval "
                f"{_pct_ci(self.glmm.pi_low, self.glmm.pi_high)})."
            )
        else:
            lines.append(
                f"Not pooled with a model: {self.reason}. The figures above add the trials' "
                "counts, which assumes one common rate across trials."
            )
        descriptions = self.per_trial["serious events as reported"].str.lower().nunique()
        lines.append(
            f"The {self.trials} trials describe serious events in {descriptions} different "
            "ways (see the table): some count only treatment-related events, name only certain "
            "kinds or say 'severe' rather than 'serious', and some are known only from press "
            "reports or abstracts."
        )
        return lines


def safety_serious(
    tables: Mapping[str, pd.DataFrame], *, min_k: int = 3, level: float = LEVEL
) -> SeriousSafety:
    """Serious adverse events: per-trial exact intervals and the cross-trial summary."""
    per_trial = _serious_per_trial(tables)
    attributes = _trial_attributes(tables["trials"])
    rows = []
    for trial_id, row in per_trial.iterrows():
        low, high = effects.clopper_pearson_ci(row["events"], row["patients"], level)
        bound = effects.exact_upper_bound(row["events"], row["patients"], level)[0]
        rows.append(
            {
                "trial": trial_id,
                "condition": _condition(attributes.loc[trial_id, "condition"]),
                "source kind": str(attributes.loc[trial_id, "source_kind"]).replace("_", " "),
                "serious events as reported": row["terms"],
                "relatedness": row["relatedness"] or "not stated",
                "patients with event": int(row["events"]),
                "patients": int(row["patients"]),
                "proportion": row["events"] / row["patients"],
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "upper_bound_one_sided": float(bound),
                "note": (
                    "several serious terms with events: patients with any serious event are at "
                    "least the largest count"
                    if row["events_in_several_terms"]
                    else ""
                ),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return SeriousSafety(
            table,
            0,
            0,
            0,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            False,
            "no per-patient serious-event data",
            None,
            None,
            level,
        )
    events, patients = int(table["patients with event"].sum()), int(table["patients"].sum())
    low, high = effects.clopper_pearson_ci(events, patients, level)
    bound = float(effects.exact_upper_bound(events, patients, level)[0])
    x, n = table["patients with event"].to_numpy(), table["patients"].to_numpy()
    ok, reason = should_pool(
        len(table), min_k, all_zero=bool((x == 0).all()), all_full=bool((x == n).all())
    )
    glmm, ok, reason = _glmm_or_reason(x, n, ok, reason, level)
    logit = meta.rma_logit_proportions(x, n, level=level) if len(table) >= 2 else None
    return SeriousSafety(
        per_trial=table,
        trials=len(table),
        events=events,
        patients=patients,
        proportion=events / patients,
        ci_low=float(low[0]),
        ci_high=float(high[0]),
        upper_bound=bound,
        pooled=ok,
        reason=reason,
        glmm=glmm,
        logit=logit,
        level=level,
    )


def _glmm_or_reason(
    x: np.ndarray, n: np.ndarray, ok: bool, reason: str, level: float
) -> tuple[meta.PooledProportionResult | None, bool, str]:
    """The GLMM when pooling is allowed and the model converges; else None and why."""
    if not ok:
        return None, False, reason
    try:
        return meta.rma_glmm_proportions(x, n, level=level), True, reason
    except ValueError as error:  # e.g. data too sparse for the model to converge
        return None, False, f"the binomial-normal model could not be fitted: {error}"


def serious_forest(serious: SeriousSafety) -> Figure | HTML:
    """Per-trial serious-event proportions; the summary is a diamond only when a GLMM exists."""
    if not serious.trials:
        return HTML("<p>No trial reports serious adverse events per patient: nothing to plot.</p>")
    studies = pd.DataFrame(
        {
            "label": serious.per_trial["trial"],
            "n": serious.per_trial["patients"],
            "estimate": serious.per_trial["proportion"],
            "ci_low": serious.per_trial["ci_low"],
            "ci_high": serious.per_trial["ci_high"],
            "weight": serious.per_trial["patients"],
        }
    )
    if serious.pooled and serious.glmm is not None:
        pooled = {
            "label": "GLMM (random effects)",
            "n": serious.patients,
            "estimate": serious.glmm.proportion,
            "ci_low": serious.glmm.ci_low,
            "ci_high": serious.glmm.ci_high,
            "pi_low": serious.glmm.pi_low,
            "pi_high": serious.glmm.pi_high,
        }
    else:
        pooled = {
            "label": "summed counts (exact)",
            "n": serious.patients,
            "estimate": serious.proportion,
            "ci_low": serious.ci_low,
            "ci_high": serious.ci_high,
            "style": "interval",
        }
    return _described_forest(
        studies,
        pooled=pooled,
        null_value=None,
        xlabel="patients with a serious adverse event",
        percent=True,
        label_header="trial",
        title="Serious adverse events (exact 95% CIs)",
    )


@dataclass(frozen=True, eq=False)
class PooledTerm:
    """One harmonised adverse-event term over trials with per-patient rates."""

    term: str
    trials: tuple[str, ...]
    events: int
    patients: int
    pooled: bool
    reason: str
    glmm: meta.PooledProportionResult | None = None
    logit: meta.PooledProportionResult | None = None
    exact_low: float = math.nan
    exact_high: float = math.nan
    exact_upper_bound: float = math.nan


@dataclass(frozen=True, eq=False)
class SafetyByTerm:
    """Non-serious adverse events by harmonised term, per-patient rates kept apart from others."""

    per_patient: pd.DataFrame
    other_bases: pd.DataFrame
    terms: tuple[PooledTerm, ...]
    min_k: int

    @with_caption("Common adverse events per patient in each trial, with exact 95% intervals")
    def display_per_patient(self) -> pd.DataFrame:
        """Per-patient rates formatted for reading (exact 95% CIs)."""
        table = self.per_patient
        return pd.DataFrame(
            {
                "term": table["term"],
                "as reported": table["as reported"],
                "trial": table["trial"],
                "patients with event / patients": [
                    f"{x}/{n}"
                    for x, n in zip(table["patients with event"], table["patients"], strict=True)
                ],
                "incidence [exact 95% CI]": [
                    f"{_pct(p)} [{_pct_ci(low, high)}]"
                    for p, low, high in zip(
                        table["incidence"], table["ci_low"], table["ci_high"], strict=True
                    )
                ],
                "count": np.where(
                    table["count derived from percent"],
                    "derived from the reported percentage",
                    "as reported",
                ),
            }
        )

    @with_caption("Common adverse events: which terms were pooled, and why not")
    def pooling_table(self) -> pd.DataFrame:
        rows = []
        for term in self.terms:
            row = {
                "term": term.term,
                "trials (per patient)": len(term.trials),
                "patients": term.patients,
                "events": term.events,
                "pooled": "yes" if term.pooled else "no",
                "reason": term.reason,
            }
            if term.pooled and term.glmm is not None:
                row["GLMM (primary)"] = (
                    f"{_pct(term.glmm.proportion)} [{_pct_ci(term.glmm.ci_low, term.glmm.ci_high)}]"
                )
                row["prediction interval"] = _pct_ci(term.glmm.pi_low, term.glmm.pi_high)
                if term.logit is not None:
                    row[f"logit {term.logit.method} (sensitivity)"] = (
                        f"{_pct(term.logit.proportion)} "
                        f"[{_pct_ci(term.logit.ci_low, term.logit.ci_high)}]"
                    )
            elif len(term.trials) >= 1:
                row["exact, summed counts"] = (
                    f"{term.events}/{term.patients} = {_pct(term.events / term.patients)} "
                    f"[{_pct_ci(term.exact_low, term.exact_high)}]"
                )
            rows.append(row)
        return pd.DataFrame(rows)

    def statements(self) -> list[str]:
        pooled = [t for t in self.terms if t.pooled]
        single = [t for t in self.terms if len(t.trials) == 1]
        lines = []
        if pooled:
            lines.append(
                "Pooled per-patient incidence (binomial-normal GLMM): "
                + "; ".join(
                    f"{t.term} {_pct(t.glmm.proportion)} "
                    f"(95% CI {_pct_ci(t.glmm.ci_low, t.glmm.ci_high)}, {len(t.trials)} trials)"
                    for t in pooled
                    if t.glmm is not None
                )
                + "."
            )
        else:
            most = max((len(t.trials) for t in self.terms), default=0)
            lines.append(
                f"No common adverse event was reported per patient by at least {self.min_k} "
                f"trials (at most {_plural(most, 'trial')} per term), so none was pooled."
            )
        if single:
            lines.append(
                "Per-patient incidences from single trials: "
                + "; ".join(
                    f"{t.term} {t.events}/{t.patients} ({_pct(t.events / t.patients)}, exact 95% "
                    f"CI {_pct_ci(t.exact_low, t.exact_high)}) in {t.trials[0]}"
                    for t in single
                )
                + "."
            )
        if not self.other_bases.empty:
            kinds = self.other_bases["rate basis"].value_counts()
            lines.append(
                "Listed apart and not combined with per-patient rates: "
                + ", ".join(f"{count} rows {basis}" for basis, count in kinds.items())
                + f" from {self.other_bases['trial'].nunique()} trials."
            )
        return lines


def safety_by_term(
    tables: Mapping[str, pd.DataFrame],
    *,
    min_k: int = 3,
    method: str = "REML",
    level: float = LEVEL,
) -> SafetyByTerm:
    """Non-serious adverse events harmonised by term; pooled per patient only when allowed."""
    rates = _adverse_event_rates(tables)
    rates = rates[~rates["serious"].fillna(False)]
    per_patient_rows = rates[(rates["rate_basis"] == "per patient") & rates["count"].notna()]
    per_patient = pd.DataFrame(
        {
            "term": per_patient_rows["harmonised"],
            "as reported": per_patient_rows["term"],
            "trial": per_patient_rows["trial_id"],
            "patients with event": per_patient_rows["count"].astype(int),
            "patients": per_patient_rows["denominator"].astype(int),
            "incidence": per_patient_rows["incidence"],
            "ci_low": per_patient_rows["ci_low"],
            "ci_high": per_patient_rows["ci_high"],
            "count derived from percent": per_patient_rows["count_derived"].astype(bool),
        }
    ).sort_values(["term", "trial"], kind="stable")
    other_rows = rates[rates["rate_basis"] != "per patient"]
    other_bases = pd.DataFrame(
        {
            "term": other_rows["harmonised"],
            "as reported": other_rows["term"],
            "trial": other_rows["trial_id"],
            "rate basis": other_rows["rate_basis"],
            "what was reported": other_rows["rate_text"],
        }
    ).sort_values(["term", "trial"], kind="stable")

    terms = []
    for term, group in per_patient.groupby("term", sort=True):
        x = group["patients with event"].to_numpy()
        n = group["patients"].to_numpy()
        ok, reason = should_pool(
            len(group),
            min_k,
            n_trials=group["trial"].nunique(),
            all_zero=bool((x == 0).all()),
            all_full=bool((x == n).all()),
        )
        low, high = effects.clopper_pearson_ci(int(x.sum()), int(n.sum()), level)
        bound = effects.exact_upper_bound(int(x.sum()), int(n.sum()), level)[0]
        glmm, ok, reason = _glmm_or_reason(x, n, ok, reason, level)
        terms.append(
            PooledTerm(
                term=str(term),
                trials=tuple(group["trial"]),
                events=int(x.sum()),
                patients=int(n.sum()),
                pooled=ok,
                reason=reason,
                glmm=glmm,
                logit=meta.rma_logit_proportions(x, n, method=method, level=level) if ok else None,
                exact_low=float(low[0]),
                exact_high=float(high[0]),
                exact_upper_bound=float(bound),
            )
        )
    return SafetyByTerm(
        per_patient=per_patient.reset_index(drop=True),
        other_bases=captioned(
            other_bases.reset_index(drop=True), "Adverse events reported on another basis"
        ),
        terms=tuple(terms),
        min_k=min_k,
    )


def safety_forests(by_term: SafetyByTerm) -> list[Figure]:
    """One forest per pooled term; one figure of the remaining per-patient rates, unpooled."""
    figures = []
    rows = by_term.per_patient
    for term in by_term.terms:
        if not (term.pooled and term.glmm is not None):
            continue
        group = rows[rows["term"] == term.term]
        figures.append(
            _described_forest(
                _proportion_studies(group, label=group["trial"]),
                pooled={
                    "label": "GLMM (random effects)",
                    "n": term.patients,
                    "estimate": term.glmm.proportion,
                    "ci_low": term.glmm.ci_low,
                    "ci_high": term.glmm.ci_high,
                    "pi_low": term.glmm.pi_low,
                    "pi_high": term.glmm.pi_high,
                },
                null_value=None,
                xlabel=f"patients with {term.term}",
                percent=True,
                label_header="trial",
                title=f"{term.term.capitalize()}: per-patient incidence",
            )
        )
    unpooled = rows[~rows["term"].isin([t.term for t in by_term.terms if t.pooled])]
    if not unpooled.empty:
        figures.append(
            _described_forest(
                _proportion_studies(unpooled, label=unpooled["term"] + " · " + unpooled["trial"]),
                pooled=None,
                null_value=None,
                xlabel="patients with the event",
                percent=True,
                label_header="term · trial",
                title="Per-patient incidences not pooled (exact 95% CIs)",
            )
        )
    return figures


def _proportion_studies(group: pd.DataFrame, *, label: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": label.to_numpy(),
            "n": group["patients"].to_numpy(),
            "estimate": group["incidence"].to_numpy(),
            "ci_low": group["ci_low"].to_numpy(),
            "ci_high": group["ci_high"].to_numpy(),
            "weight": group["patients"].to_numpy(),
        }
    )


# --------------------------------------------------------------------------------------------
# Efficacy
# --------------------------------------------------------------------------------------------


def change_estimates(tables: Mapping[str, pd.DataFrame], r: float = 0.5) -> pd.DataFrame:
    """SMCR at each outcome's latest timepoint, with condition and source kind attached.

    From :func:`helpers.stats.estimates.change_from_baseline` (assumed ``r``); ``usable`` says
    whether the estimate can enter a domain synthesis and ``reason`` why not.
    """
    changes = estimates.change_from_baseline(tables["outcomes"], r=r)
    if changes.empty:
        return changes.assign(condition=pd.Series(dtype="string"), usable=False, reason="")
    latest = (
        changes.sort_values("timepoint_months", kind="stable")
        .groupby(["trial_id", "outcome_id"], sort=False)
        .tail(1)
    )
    order = changes.drop_duplicates(["trial_id", "outcome_id"])[["trial_id", "outcome_id"]]
    latest = order.merge(latest, on=["trial_id", "outcome_id"], how="left")
    attributes = _trial_attributes(tables["trials"])
    latest["condition"] = latest["trial_id"].map(attributes["condition"])
    latest["source_kind"] = latest["trial_id"].map(attributes["source_kind"])
    no_direction = latest["benefit_sign"].isna()
    not_computed = latest["yi"].isna()
    latest["usable"] = ~(no_direction | not_computed)
    latest["reason"] = np.where(
        not_computed,
        latest["note"].fillna("SMCR not computed"),
        np.where(no_direction, "no agreed direction of benefit: reported, not synthesised", ""),
    )
    return latest.reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class EfficacySynthesis:
    """SMCR estimates per condition x domain, pooled or side by side with the reason."""

    estimates: pd.DataFrame  # one row per trial x outcome (latest timepoint)
    groups: pd.DataFrame  # one row per condition x domain
    pooled: dict[tuple[str, str], meta.RmaResult]
    min_k: int
    method: str
    test: str

    @with_caption(
        "Change from baseline (SMCR, positive = benefit) per outcome, and whether it was pooled"
    )
    def display_table(self) -> pd.DataFrame:
        """Side-by-side estimates: SMCR oriented so positive = benefit, with CI and reason."""
        rows = []
        for row in self.estimates.itertuples(index=False):
            usable = bool(row.usable)
            rows.append(
                {
                    "condition": _condition(row.condition),
                    "domain": row.domain,
                    "trial": row.trial_id,
                    "measure": row.measure,
                    "months": f"{row.timepoint_months:g}",
                    "n": int(row.n) if _present(row.n) else None,
                    "mean before → after": f"{row.pre_mean:g} → {row.post_mean:g}",
                    "SMCR, positive = benefit [95% CI]": (
                        _interval(
                            row.yi_benefit,
                            min(row.ci_low * row.benefit_sign, row.ci_high * row.benefit_sign),
                            max(row.ci_low * row.benefit_sign, row.ci_high * row.benefit_sign),
                        )
                        if usable
                        else "—"
                    ),
                    "r assumed": f"{row.r_used:g}",
                    "note": _change_note(row),
                }
            )
        return pd.DataFrame(rows)

    def statements(self) -> list[str]:
        usable = self.estimates[self.estimates["usable"]]
        if usable.empty:
            return ["No outcome was reported with means and SDs before and after treatment."]
        lines = [
            f"Change from baseline (SMCR) could be computed for {len(usable)} outcomes with an "
            f"agreed direction of benefit in {usable['trial_id'].nunique()} trials "
            f"({len(self.estimates) - len(usable)} more have no agreed direction or no SMCR)."
        ]
        pooled = self.groups[self.groups["pooled"] == "yes"]
        if pooled.empty:
            most = int(self.groups["trials"].max()) if not self.groups.empty else 0
            lines.append(
                f"No condition × domain has estimates from at least {self.min_k} trials (at most "
                f"{_plural(most, 'trial')}), so nothing was pooled; estimates are shown side by "
                "side."
            )
        else:
            for (condition, domain), result in self.pooled.items():
                lines.append(
                    f"Pooled SMCR for {domain} in {_condition(condition)}: "
                    f"{_interval(result.estimate, result.ci_low, result.ci_high)} "
                    f"({result.k} trials, {self.method}, {self.test}; I² {result.i2:.0f}%, "
                    f"prediction interval {_prediction_interval(result)})."
                )
        top = usable.loc[usable["yi_benefit"].idxmax()]
        lines.append(
            f"The largest change was {_num(top['yi_benefit'])} SD units in {top['measure']} "
            f"({top['trial_id']}, n = {int(top['n'])}); single-arm changes include natural "
            "course, growth and rehabilitation, so they are not treatment effects."
        )
        return lines


def _reported_p(text: object) -> str:
    """'<0.001' -> 'p < 0.001'; '0.004' -> 'p = 0.004'."""
    value = str(text).strip()
    if value[:1] in "<>=≤≥":
        return f"p {value[0]} {value[1:].strip()}"
    return f"p = {value}"


def _change_note(row) -> str:
    """What a reader needs beside an SMCR: why it is not synthesised, odd SDs, the r implied."""
    notes = [] if row.usable else [row.reason]
    if _present(row.post_sd) and row.post_sd == 0:
        notes.append("follow-up SD reported as 0, implausible for a measured quantity")
    if _present(row.r_recovered):
        bound = " (p reported as a bound)" if _present(row.p_is_bound) and row.p_is_bound else ""
        notes.append(
            f"reported {_reported_p(row.p_reported)} implies r = {row.r_recovered:.2f}{bound}; "
            "see the sensitivity analysis"
        )
    return "; ".join(notes)


def efficacy_by_domain(
    changes: pd.DataFrame,
    *,
    min_k: int = 3,
    method: str = "REML",
    test: str = "knha",
) -> EfficacySynthesis:
    """Group usable SMCR estimates by condition x domain; pool when :func:`should_pool` allows.

    One estimate per trial enters a pooled group: the trial's outcome with the most patients
    (first listed on ties), because outcomes of one trial share patients. Pooling is on the
    benefit-oriented scale (``yi_benefit``) with :func:`helpers.stats.meta.rma`.
    """
    usable = changes[changes["usable"]] if not changes.empty else changes
    rows, pooled = [], {}
    for (condition, domain), group in usable.groupby(["condition", "domain"], sort=True):
        chosen = (
            group.assign(_order=np.arange(len(group)))
            .sort_values(["n", "_order"], ascending=[False, True], kind="stable")
            .groupby("trial_id", sort=False)
            .head(1)
        )
        ok, reason = should_pool(len(chosen), min_k)
        if len(chosen) == 1 and len(group) > 1:
            reason = (
                f"{len(group)} outcomes, all from one trial ({chosen['trial_id'].iloc[0]}): "
                "the same patients, not independent estimates"
            )
        row = {
            "condition": _condition(condition),
            "domain": domain,
            "trials": len(chosen),
            "estimates": len(group),
            "pooled": "yes" if ok else "no",
            "reason": reason,
        }
        if ok:
            result = meta.rma(
                chosen["yi_benefit"].to_numpy(float),
                chosen["vi"].to_numpy(float),
                method=method,
                test=test,
            )
            pooled[(str(condition), str(domain))] = result
            row.update(
                {
                    "SMCR [95% CI]": _interval(result.estimate, result.ci_low, result.ci_high),
                    "prediction interval": _prediction_interval(result),
                    "tau²": f"{result.tau2:.3f}",
                    "I² (%)": f"{result.i2:.0f}",
                }
            )
        rows.append(row)
    return EfficacySynthesis(
        estimates=changes,
        groups=captioned(pd.DataFrame(rows), "Pooling decision per condition and domain"),
        pooled=pooled,
        min_k=min_k,
        method=method,
        test=test,
    )


def efficacy_forest(efficacy: EfficacySynthesis) -> list[Figure]:
    """Benefit-oriented SMCR: one forest per pooled group, one of the rest side by side."""
    usable = efficacy.estimates[efficacy.estimates["usable"]]
    if usable.empty:
        return []

    def studies(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
        sign = frame["benefit_sign"].to_numpy(float)
        low, high = frame["ci_low"].to_numpy(float) * sign, frame["ci_high"].to_numpy(float) * sign
        return pd.DataFrame(
            {
                "label": labels.to_numpy(),
                "n": frame["n"].to_numpy(),
                "estimate": frame["yi_benefit"].to_numpy(float),
                "ci_low": np.minimum(low, high),
                "ci_high": np.maximum(low, high),
                "weight": 1 / frame["vi"].to_numpy(float),
            }
        )

    figures = []
    done = set()
    for (condition, domain), result in efficacy.pooled.items():
        group = usable[(usable["condition"] == condition) & (usable["domain"] == domain)]
        done.update(group.index)
        figures.append(
            _described_forest(
                studies(group, group["trial_id"] + " · " + group["outcome_id"]),
                pooled={
                    "label": f"{efficacy.method}, {efficacy.test}",
                    "estimate": result.estimate,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "pi_low": result.pi_low,
                    "pi_high": result.pi_high,
                },
                xlabel="SMCR (positive = benefit)",
                title=f"{domain.capitalize()} in {_condition(condition)}",
            )
        )
    rest = usable.drop(index=list(done)).sort_values(["condition", "domain"], kind="stable")
    if not rest.empty:
        labels = (
            rest["condition"].map(_short_condition)
            + " · "
            + rest["domain"]
            + " · "
            + rest["outcome_id"]
        )
        figures.append(
            _described_forest(
                studies(rest, labels),
                xlabel="SMCR (positive = benefit)",
                label_header="condition · domain · outcome",
                title="Change from baseline, side by side (not pooled)",
            )
        )
    return figures


def _short_condition(condition: object) -> str:
    return {"spina_bifida": "SB", "cerebral_palsy": "CP", "spinal_cord_injury": "SCI"}.get(
        str(condition), str(condition)
    )


@with_caption("Responder-type outcomes: patients in each state over time, with exact 95% intervals")
def responder_proportions(tables: Mapping[str, pd.DataFrame], level: float = LEVEL) -> pd.DataFrame:
    """Proportions of patients in a state (walking independently, improved, ...) with exact CIs.

    Latest timepoint per outcome; with a baseline, both proportions and the exact McNemar p range
    over the pairings the margins allow (:func:`helpers.stats.estimates.count_changes`); without one,
    the follow-up proportion alone (:func:`helpers.stats.estimates.proportions`).
    """
    outcomes = tables["outcomes"]
    attributes = _trial_attributes(tables["trials"])
    changes = estimates.count_changes(outcomes, level=level)
    latest = (
        changes.sort_values("timepoint_months", kind="stable")
        .groupby(["trial_id", "outcome_id"], sort=False)
        .tail(1)
    )
    rows = []
    for row in latest.itertuples(index=False):
        rows.append(
            {
                "condition": _condition(attributes.loc[row.trial_id, "condition"]),
                "trial": row.trial_id,
                "measure": row.measure,
                "population": row.population if _present(row.population) else "all",
                "better": row.direction_of_benefit,
                "baseline": f"{row.pre_events}/{row.pre_total} ({_pct(row.pre_proportion, 0)})",
                "months": f"{row.timepoint_months:g}",
                "follow-up [exact 95% CI]": (
                    f"{row.post_events}/{row.post_total} = {_pct(row.post_proportion)} "
                    f"[{_pct_ci(row.post_ci_low, row.post_ci_high)}]"
                ),
                "exact McNemar p (pairing unknown)": (
                    f"{row.mcnemar_p_min:.3g} to {row.mcnemar_p_max:.3g}"
                    if _present(row.mcnemar_p_min)
                    else "not computable"
                ),
                "note": row.p_reported_note or "",
            }
        )
    keys = set(zip(changes["trial_id"], changes["outcome_id"], strict=True))
    post_only = estimates.proportions(outcomes, level=level)
    post_only = post_only[
        [
            (t, o) not in keys
            for t, o in zip(post_only["trial_id"], post_only["outcome_id"], strict=True)
        ]
    ]
    for row in post_only.itertuples(index=False):
        rows.append(
            {
                "condition": _condition(attributes.loc[row.trial_id, "condition"]),
                "trial": row.trial_id,
                "measure": row.measure,
                "population": row.population if _present(row.population) else "all",
                "better": row.direction_of_benefit,
                "baseline": "not applicable (improvement counted directly)",
                "months": f"{row.timepoint_months:g}",
                "follow-up [exact 95% CI]": (
                    f"{row.events}/{row.total} = {_pct(row.proportion)} "
                    f"[{_pct_ci(row.ci_low, row.ci_high)}]"
                ),
                "exact McNemar p (pairing unknown)": "no baseline",
                "note": "",
            }
        )
    columns = [
        "condition", "trial", "measure", "population", "better", "baseline", "months",
        "follow-up [exact 95% CI]", "exact McNemar p (pairing unknown)", "note",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["condition", "trial"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Direction of effect (SWiM vote counting)
# --------------------------------------------------------------------------------------------

DIRECTIONS = ("improved", "worsened", "no_change", "mixed")
VOTE_LIMITS = (
    "Vote counting ignores the size and precision of each change: a tiny change and a large "
    "one count the same.",
    "Outcomes within a trial share patients, so outcome-level votes are not independent and "
    "the outcome-level sign test overstates the evidence; the trial-level count is the safer "
    "one.",
    "In uncontrolled before-after studies an improvement includes natural recovery, growth, "
    "rehabilitation and regression to the mean: direction is not a treatment effect.",
    "Narrative directions are the authors' own claims, from press reports and abstracts "
    "among others; unfavourable outcomes may be reported less often.",
)


def _numeric_direction(group: pd.DataFrame, sign: float) -> tuple[str, str] | None:
    """Direction from baseline vs latest values (mean, else median, else proportion)."""
    baseline = group[group["timepoint_months"] == 0]
    later = group[group["timepoint_months"] > 0]
    if baseline.empty or later.empty:
        return None
    before, after = baseline.iloc[0], later.iloc[-1]
    for column, label in (("mean", "mean"), ("median", "median")):
        if _present(before[column]) and _present(after[column]):
            a, b = float(before[column]), float(after[column])
            text = f"{label} {a:g} → {b:g}"
            break
    else:
        if not all(
            _present(v)
            for v in (before["events"], before["total"], after["events"], after["total"])
        ):
            return None
        a = float(before["events"]) / float(before["total"])
        b = float(after["events"]) / float(after["total"])
        text = (
            f"{int(before['events'])}/{int(before['total'])} → "
            f"{int(after['events'])}/{int(after['total'])}"
        )
    change = (b - a) * sign
    direction = "improved" if change > 0 else "worsened" if change < 0 else "no_change"
    return direction, text


@dataclass(frozen=True, eq=False)
class DirectionOfEffect:
    """SWiM vote count: one row per outcome, totals, and exact sign tests."""

    per_outcome: pd.DataFrame
    per_trial: pd.DataFrame
    improved: int
    worsened: int
    no_change: int
    unclassified: int
    excluded: int
    sign_test_p: float
    trials_improved: int
    trials_worsened: int
    trials_unclear: int
    trial_sign_test_p: float
    limits: tuple[str, ...] = VOTE_LIMITS

    @with_caption("Direction of effect of every outcome, and where the direction comes from")
    def display_table(self) -> pd.DataFrame:
        """Every outcome with its direction and where the direction comes from."""
        table = self.per_outcome
        return pd.DataFrame(
            {
                "condition": table["condition"].map(_condition),
                "trial": table["trial"],
                "domain": table["domain"],
                "measure": table["measure"],
                "from": table["basis"],
                "direction": table["direction"].str.replace("_", " "),
                "detail": table["detail"],
            }
        )

    @with_caption("Direction of effect by outcome domain")
    def by_domain(self) -> pd.DataFrame:
        classified = self.per_outcome[self.per_outcome["direction"].isin(DIRECTIONS)]
        labels = {"no_change": "unchanged", "mixed": "mixed"}
        table = pd.crosstab(
            [classified["condition"].map(_condition), classified["domain"]],
            classified["direction"].map(lambda d: labels.get(d, d)),
        )
        order = ["improved", "worsened", "unchanged", "mixed"]
        table = table.reindex(columns=[c for c in order if c in table.columns], fill_value=0)
        table.index.names = ["condition", "domain"]
        table.columns.name = None
        return table

    def statements(self) -> list[str]:
        votes = self.improved + self.worsened
        lines = [
            f"Direction of effect over {votes + self.no_change + self.unclassified} outcomes "
            f"(numeric and narrative): {self.improved} improved, {self.worsened} worsened, "
            f"{self.no_change} unchanged or mixed, {self.unclassified} without an agreed "
            f"direction of benefit; {self.excluded} excluded (not independent outcomes or a "
            "single illustrative patient).",
            f"Sign test over outcomes: {self.improved} of {votes} favour benefit "
            f"({_p(self.sign_test_p)}, exact, two-sided); over trials: "
            f"{self.trials_improved} of {self.trials_improved + self.trials_worsened} trials "
            f"favour benefit ({_p(self.trial_sign_test_p)})"
            + (
                f", {self.trials_unclear} without a clear direction."
                if self.trials_unclear
                else "."
            ),
        ]
        return lines


def direction_of_effect(tables: Mapping[str, pd.DataFrame]) -> DirectionOfEffect:
    """SWiM vote count over all outcomes, with exact sign tests (scipy ``binomtest``).

    Per outcome: numbers first (latest timepoint vs baseline: mean, else median, else the
    proportion, multiplied by the direction of benefit); an outcome counted only at follow-up
    as "patients improved" counts as improved when more than half improved; otherwise the
    source's narrative direction. Outcomes without an agreed direction of benefit are not
    classifiable; a single illustrative patient and narrative rows marked "not an independent
    outcome" are excluded. Trial level: a trial favours benefit when more of its outcomes
    improved than worsened. Sign test: ``binomtest(improved, improved + worsened, 0.5)``;
    unchanged and mixed outcomes are ties and drop out, as in any sign test.
    """
    attributes = _trial_attributes(tables["trials"])
    outcomes = tables["outcomes"]
    narratives = tables["outcome_narratives"]
    narrative_by_key = {
        (row.trial_id, row.outcome_id): row for row in narratives.itertuples(index=False)
    }
    rows = []
    seen = set()
    for (trial_id, outcome_id), group in outcomes.groupby(["trial_id", "outcome_id"], sort=False):
        group = group.sort_values("timepoint_months", kind="stable")
        last = group.iloc[-1]
        seen.add((trial_id, outcome_id))
        sign = estimates.benefit_sign(last["direction_of_benefit"])
        narrative = narrative_by_key.get((trial_id, outcome_id))
        sizes = group["n"].fillna(group["total"])
        record = {
            "trial": trial_id,
            "condition": attributes.loc[trial_id, "condition"],
            "domain": last["domain"],
            "outcome": outcome_id,
            "measure": last["measure"],
            "patients": int(sizes.max()) if sizes.notna().any() else None,
            "surrogate": bool(
                SURROGATE_PATTERN.search(str(last["measure"])) or last["domain"] == "imaging"
            ),
        }
        numeric = _numeric_direction(group, sign) if not math.isnan(sign) else None
        if sizes.notna().all() and (sizes == 1).all():
            record.update(direction="excluded", basis="numbers", detail="one illustrative patient")
        elif math.isnan(sign):
            record.update(
                direction="not classifiable",
                basis="numbers",
                detail="no agreed direction of benefit",
            )
        elif numeric is not None:
            direction, text = numeric
            detail = text
            if narrative is not None and narrative.direction != direction:
                detail += f" (source says {narrative.direction})"
            record.update(direction=direction, basis="numbers", detail=detail)
        elif last["kind"] == "count" and _present(last["events"]) and _present(last["total"]):
            share = float(last["events"]) / float(last["total"])
            record.update(
                direction="improved" if share > 0.5 else "mixed",
                basis="responders",
                detail=f"{int(last['events'])}/{int(last['total'])} improved",
            )
        elif narrative is not None:
            record.update(
                direction=narrative.direction,
                basis="words",
                detail="source states the direction"
                + (" (significant per source)" if narrative.significant is True else ""),
            )
        else:
            record.update(direction="not classifiable", basis="numbers", detail="no usable values")
        rows.append(record)
    for row in narratives.itertuples(index=False):
        if (row.trial_id, row.outcome_id) in seen:
            continue
        excluded = _present(row.not_independent)
        rows.append(
            {
                "trial": row.trial_id,
                "condition": attributes.loc[row.trial_id, "condition"],
                "domain": row.domain,
                "outcome": row.outcome_id,
                "measure": row.measure,
                "patients": None,
                "surrogate": bool(
                    SURROGATE_PATTERN.search(str(row.measure)) or row.domain == "imaging"
                ),
                "direction": "excluded" if excluded else row.direction,
                "basis": "words",
                "detail": (
                    "subgroup analysis of outcomes already counted"
                    if excluded
                    else "source states the direction"
                    + (" (significant per source)" if row.significant is True else "")
                ),
            }
        )
    per_outcome = pd.DataFrame(
        rows,
        columns=[
            "trial", "condition", "domain", "outcome", "measure", "patients", "surrogate",
            "direction", "basis", "detail",
        ],
    )  # fmt: skip
    counts = per_outcome["direction"].value_counts()
    improved, worsened = int(counts.get("improved", 0)), int(counts.get("worsened", 0))

    trial_rows = []
    for trial_id, group in per_outcome.groupby("trial", sort=True):
        up = int((group["direction"] == "improved").sum())
        down = int((group["direction"] == "worsened").sum())
        verdict = (
            "favours benefit"
            if up > down
            else "favours harm"
            if down > up
            else "no clear direction"
        )
        trial_rows.append(
            {
                "trial": trial_id,
                "condition": _condition(attributes.loc[trial_id, "condition"]),
                "improved": up,
                "worsened": down,
                "unchanged or mixed": int(group["direction"].isin(["no_change", "mixed"]).sum()),
                "trial direction": verdict,
            }
        )
    per_trial = pd.DataFrame(
        trial_rows,
        columns=["trial", "condition", "improved", "worsened", "unchanged or mixed",
                 "trial direction"],
    )  # fmt: skip
    t_up = int((per_trial["trial direction"] == "favours benefit").sum()) if trial_rows else 0
    t_down = int((per_trial["trial direction"] == "favours harm").sum()) if trial_rows else 0
    return DirectionOfEffect(
        per_outcome=per_outcome,
        per_trial=captioned(per_trial, "Direction of effect per trial"),
        improved=improved,
        worsened=worsened,
        no_change=int(counts.get("no_change", 0) + counts.get("mixed", 0)),
        unclassified=int(counts.get("not classifiable", 0)),
        excluded=int(counts.get("excluded", 0)),
        sign_test_p=_sign_test(improved, worsened),
        trials_improved=t_up,
        trials_worsened=t_down,
        trials_unclear=len(trial_rows) - t_up - t_down,
        trial_sign_test_p=_sign_test(t_up, t_down),
    )


def _sign_test(up: int, down: int) -> float:
    """Exact two-sided sign test of ``up`` successes in ``up + down`` at 1/2 (1 when empty)."""
    if up + down == 0:
        return 1.0
    return float(stats.binomtest(up, up + down, 0.5).pvalue)


# --------------------------------------------------------------------------------------------
# Heterogeneity, subgroups, sensitivity
# --------------------------------------------------------------------------------------------


@with_caption("Between-trial heterogeneity of each analysis, or why there is none")
def heterogeneity(
    serious: SeriousSafety, by_term: SafetyByTerm, efficacy: EfficacySynthesis
) -> pd.DataFrame:
    """tau^2, I^2 and prediction interval for every analysis that was pooled; reasons otherwise."""
    rows = [
        {
            "analysis": "serious adverse events",
            "trials": serious.trials,
            "pooled": "yes" if serious.pooled else "no",
            "tau²": f"{serious.glmm.tau2:.3f}" if serious.glmm else "—",
            "I² (%)": "—",
            "prediction interval": (
                _pct_ci(serious.glmm.pi_low, serious.glmm.pi_high) if serious.glmm else "—"
            ),
            "why": "GLMM (I² is not defined for it)" if serious.glmm else serious.reason,
        }
    ]
    for term in by_term.terms:
        rows.append(
            {
                "analysis": f"adverse event: {term.term}",
                "trials": len(term.trials),
                "pooled": "yes" if term.pooled else "no",
                "tau²": f"{term.glmm.tau2:.3f}" if term.glmm else "—",
                "I² (%)": f"{term.logit.i2:.0f} (logit model)" if term.logit else "—",
                "prediction interval": (
                    _pct_ci(term.glmm.pi_low, term.glmm.pi_high) if term.glmm else "—"
                ),
                "why": "GLMM primary; I² from the logit sensitivity model"
                if term.glmm
                else term.reason,
            }
        )
    for row in efficacy.groups.itertuples(index=False):
        key = next(
            (
                k
                for k in efficacy.pooled
                if _condition(k[0]) == row.condition and k[1] == row.domain
            ),
            None,
        )
        result = efficacy.pooled.get(key) if key else None
        rows.append(
            {
                "analysis": f"SMCR: {row.domain} in {row.condition}",
                "trials": row.trials,
                "pooled": row.pooled,
                "tau²": f"{result.tau2:.3f}" if result else "—",
                "I² (%)": f"{result.i2:.0f}" if result else "—",
                "prediction interval": _prediction_interval(result) if result else "—",
                "why": f"{efficacy.method}, {efficacy.test}" if result else row.reason,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class Subgroups:
    """Trial characteristics by level (descriptive) and which statistical contrasts k allows."""

    levels: pd.DataFrame
    contrasts: pd.DataFrame

    def statements(self) -> list[str]:
        possible = self.contrasts[self.contrasts["contrast possible"] == "yes"]
        if possible.empty:
            return [
                "No subgroup contrast could be tested: a test of subgroup differences needs a "
                "pooled analysis with at least two trials in each of at least two levels, and "
                "no analysis has that (the table names the k that is missing)."
            ]
        return [
            f"Subgroup test, {row.moderator} in {row.analysis}: {row.result}."
            for row in possible.itertuples(index=False)
        ]


def subgroup_contrasts(
    tables: Mapping[str, pd.DataFrame],
    *,
    serious: SeriousSafety,
    efficacy: EfficacySynthesis,
    direction: DirectionOfEffect,
    method: str = "REML",
    test: str = "knha",
) -> Subgroups:
    """Subgroups by condition, cell type, autologous/allogeneic and route.

    ``levels`` describes each level (trials, patients, serious events, trial-level votes: a
    descriptive SWiM summary, not a test). ``contrasts`` says, per moderator and analysis,
    whether a test of subgroup differences (:func:`helpers.stats.meta.moderator_test`) is possible
    - at least two levels with at least two trials each - and runs it when it is; otherwise
    the reason names the k per level.
    """
    trials = tables["trials"].set_index("trial_id")
    treated = treated_patients(tables["trials"])
    serious_rows = serious.per_trial.set_index("trial") if not serious.per_trial.empty else None
    votes = direction.per_trial.set_index("trial") if not direction.per_trial.empty else None
    level_rows = []
    for moderator, label in MODERATORS.items():
        for level, members in trials.groupby(moderator, sort=True).groups.items():
            ids = sorted(members)
            in_serious = [t for t in ids if serious_rows is not None and t in serious_rows.index]
            events = (
                int(serious_rows.loc[in_serious, "patients with event"].sum()) if in_serious else 0
            )
            patients = int(serious_rows.loc[in_serious, "patients"].sum()) if in_serious else 0
            favour = sum(
                votes.loc[t, "trial direction"] == "favours benefit"
                for t in ids
                if votes is not None and t in votes.index
            )
            level_rows.append(
                {
                    "moderator": label,
                    "level": _condition(level) if moderator == "condition" else str(level),
                    "trials": ", ".join(ids),
                    "patients treated": int(treated[ids].sum()),
                    "serious events / patients": f"{events}/{patients}" if in_serious else "—",
                    "exact one-sided 95% upper bound": (
                        _pct(float(effects.exact_upper_bound(events, patients)[0]))
                        if in_serious
                        else "—"
                    ),
                    "trials favouring benefit (votes)": f"{favour} of {len(ids)}",
                }
            )

    units = _contrast_units(tables, serious=serious, efficacy=efficacy)
    contrast_rows = []
    for moderator, label in MODERATORS.items():
        for family, family_units in units.items():
            if family.startswith("SMCR") and moderator == "condition":
                contrast_rows.append(
                    {
                        "moderator": label,
                        "analysis": family,
                        "k per level": "—",
                        "contrast possible": "no",
                        "result": "change scores are only combined within one condition "
                        "(the pooling rule), so condition is not a moderator here",
                    }
                )
                continue
            tried = []
            for unit_name, frame in family_units:
                levels = frame["trial_id"].map(trials[moderator])
                k_by_level = levels.value_counts().sort_index().to_dict()
                if frame["events_all_zero"].iloc[0]:
                    ok, reason = False, "every trial reported zero events: nothing to contrast"
                else:
                    ok, reason = _possible(k_by_level, moderator)
                tried.append((unit_name, frame, levels, k_by_level, ok, reason))
            possible = [t for t in tried if t[4]]
            for unit_name, frame, levels, k_by_level, _, _ in possible:
                fit = meta.moderator_test(
                    frame["yi"].to_numpy(float),
                    frame["vi"].to_numpy(float),
                    levels.astype(str).to_numpy(),
                    method=method,
                    test=test,
                )
                contrast_rows.append(
                    {
                        "moderator": label,
                        "analysis": f"{family}: {unit_name}",
                        "k per level": _k_text(k_by_level, moderator),
                        "contrast possible": "yes",
                        "result": f"QM = {fit.qm:.2f} on {fit.qm_df} df, {_p(fit.qm_pvalue)}",
                    }
                )
            if possible:
                continue
            if not tried:
                k_text, reason = "—", "no trial has this kind of data"
            else:
                best = max(tried, key=lambda t: (len(t[3]), min(t[3].values(), default=0)))
                k_text = _k_text(best[3], moderator)
                if len(tried) > 1:
                    k_text = f"{best[0]}: {k_text}"
                largest = max(len(t[1]) for t in tried)
                if len(tried) == 1:
                    reason = best[5]
                elif largest < 2:
                    reason = (
                        f"each of the {len(tried)} analyses has a single trial: there is no "
                        "second trial to compare with"
                    )
                else:
                    reason = (
                        f"none of the {len(tried)} analyses has at least 2 trials in each of 2 "
                        f"levels (best: {best[5]})"
                    )
            contrast_rows.append(
                {
                    "moderator": label,
                    "analysis": family,
                    "k per level": k_text,
                    "contrast possible": "no",
                    "result": reason,
                }
            )
    return Subgroups(
        levels=captioned(pd.DataFrame(level_rows), "Subgroup levels described (no test)"),
        contrasts=captioned(pd.DataFrame(contrast_rows), "Subgroup contrasts and their k"),
    )


def _contrast_units(
    tables: Mapping[str, pd.DataFrame], *, serious: SeriousSafety, efficacy: EfficacySynthesis
) -> dict[str, list[tuple[str, pd.DataFrame]]]:
    """Per analysis family, the units a moderator test could run on: one row per trial with
    ``trial_id``, ``yi``, ``vi`` (logit proportions for safety, benefit-oriented SMCR)."""
    units: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    table = serious.per_trial
    if not table.empty:
        logits = effects.logit_proportion(table["patients with event"], table["patients"])
        units["serious adverse events (logit)"] = [
            (
                "serious adverse events",
                pd.DataFrame(
                    {
                        "trial_id": table["trial"].to_numpy(),
                        "yi": logits.yi,
                        "vi": logits.vi,
                        "events_all_zero": bool((table["patients with event"] == 0).all()),
                    }
                ),
            )
        ]
    rates = safety_by_term(tables).per_patient
    term_units = []
    for term, group in rates.groupby("term", sort=True):
        logits = effects.logit_proportion(group["patients with event"], group["patients"])
        term_units.append(
            (
                str(term),
                pd.DataFrame(
                    {
                        "trial_id": group["trial"].to_numpy(),
                        "yi": logits.yi,
                        "vi": logits.vi,
                        "events_all_zero": bool((group["patients with event"] == 0).all()),
                    }
                ),
            )
        )
    units["per-patient adverse events (logit), by term"] = term_units
    usable = (
        efficacy.estimates[efficacy.estimates["usable"]] if not efficacy.estimates.empty else None
    )
    smcr_units = []
    if usable is not None:
        for (condition, domain), group in usable.groupby(["condition", "domain"], sort=True):
            chosen = (
                group.sort_values("n", ascending=False, kind="stable")
                .groupby("trial_id", sort=False)
                .head(1)
            )
            smcr_units.append(
                (
                    f"{domain} in {_condition(condition)}",
                    pd.DataFrame(
                        {
                            "trial_id": chosen["trial_id"].to_numpy(),
                            "yi": chosen["yi_benefit"].to_numpy(float),
                            "vi": chosen["vi"].to_numpy(float),
                            "events_all_zero": False,
                        }
                    ),
                )
            )
    units["SMCR, by condition × domain"] = smcr_units
    return units


def _k_text(k_by_level: Mapping[object, int], moderator: str) -> str:
    return ", ".join(
        f"{_condition(level) if moderator == 'condition' else level}: {k}"
        for level, k in sorted(k_by_level.items(), key=lambda item: str(item[0]))
    )


def _possible(k_by_level: Mapping[object, int], moderator: str) -> tuple[bool, str]:
    if len(k_by_level) < 2:
        return False, "only one level among the trials with this outcome"
    short = [
        _condition(level) if moderator == "condition" else str(level)
        for level, k in k_by_level.items()
        if k < 2
    ]
    if short:
        return False, f"fewer than 2 trials in level(s) {', '.join(short)}"
    return True, "at least 2 trials in each level"


@with_caption("Sensitivity of the change estimates to the pre-post correlation r")
def r_sensitivity(changes: pd.DataFrame, grid: Sequence[float]) -> pd.DataFrame:
    """SMCR 95% CI of each usable estimate under every assumed r and the r recovered from p.

    yi does not depend on r (raw-score standardisation); only its variance, hence the CI, does.
    Wraps :func:`helpers.stats.estimates.r_sensitivity`; CIs are oriented so positive = benefit.
    """
    usable = changes[changes["usable"]] if not changes.empty else changes
    if usable.empty:
        return pd.DataFrame()
    table = estimates.r_sensitivity(usable, grid)
    sign = usable.set_index(["trial_id", "outcome_id"])["benefit_sign"]
    recovered_column = "r recovered from p"
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for row in table.itertuples(index=False):
        s = float(sign.loc[(row.trial_id, row.outcome_id)])
        low, high = sorted((row.ci_low * s, row.ci_high * s))
        entry = rows.setdefault(
            (row.trial_id, row.outcome_id),
            {
                "trial": row.trial_id,
                "outcome": row.outcome_id,
                "n": int(row.n),
                "SMCR": _num(row.yi * s),
            },
        )
        interval = f"[{_num(low)}, {_num(high)}]"
        if row.r_source == "assumed":
            entry[f"95% CI, r = {row.r:g}"] = interval
        else:
            bound = " (p reported as a bound)" if "bound" in row.r_source else ""
            entry[recovered_column] = f"{row.r:.2f}{bound}"
            entry["95% CI, recovered r"] = interval
    frame = pd.DataFrame(list(rows.values()))
    for column in (recovered_column, "95% CI, recovered r"):
        if column not in frame.columns:
            frame[column] = None
    return frame.fillna({recovered_column: "no p reported", "95% CI, recovered r": "—"})


@with_caption("Sensitivity to dropping press reports and abstract-only sources")
def source_sensitivity(
    all_tables: Mapping[str, pd.DataFrame],
    scenarios: Mapping[str, Sequence[str]] = SOURCE_SCENARIOS,
    *,
    r: float = 0.5,
) -> pd.DataFrame:
    """Key figures when press reports and abstract-only sources are dropped."""
    rows = []
    for name, kinds in scenarios.items():
        try:
            tables = select_sources(all_tables, kinds)
        except ValueError as error:
            rows.append({"sources": name, "trials": 0, "note": str(error)})
            continue
        serious = safety_serious(tables)
        votes = direction_of_effect(tables)
        changes = change_estimates(tables, r=r)
        rows.append(
            {
                "sources": name,
                "trials": len(tables["trials"]),
                "patients treated": int(treated_patients(tables["trials"]).sum()),
                "serious events / patients": f"{serious.events}/{serious.patients}",
                "exact one-sided 95% upper bound": _pct(serious.upper_bound),
                "outcomes improved / worsened": f"{votes.improved}/{votes.worsened}",
                "sign test (outcomes)": _p(votes.sign_test_p),
                "trials favouring benefit": f"{votes.trials_improved} of {len(votes.per_trial)}",
                "sign test (trials)": _p(votes.trial_sign_test_p),
                "SMCR estimates": int(changes["usable"].sum()) if not changes.empty else 0,
            }
        )
    return pd.DataFrame(rows)


@with_caption("Leaving one trial out of each analysis")
def leave_one_out(serious: SeriousSafety, efficacy: EfficacySynthesis) -> pd.DataFrame:
    """Omit each trial in turn: the serious-event bound, and every pooled SMCR with k >= 3."""
    rows = []
    table = serious.per_trial
    for i, trial in enumerate(table["trial"] if not table.empty else []):
        rest = table.drop(index=table.index[i])
        if rest.empty:
            continue
        events, patients = int(rest["patients with event"].sum()), int(rest["patients"].sum())
        rows.append(
            {
                "analysis": "serious adverse events (exact, summed counts)",
                "omitted": trial,
                "result": f"{events}/{patients}; one-sided 95% upper bound "
                f"{_pct(float(effects.exact_upper_bound(events, patients)[0]))}",
            }
        )
    for (condition, domain), result in efficacy.pooled.items():
        if result.k < 3:
            continue
        usable = efficacy.estimates[efficacy.estimates["usable"]]
        group = usable[(usable["condition"] == condition) & (usable["domain"] == domain)]
        group = (
            group.sort_values("n", ascending=False, kind="stable")
            .groupby("trial_id", sort=False)
            .head(1)
        )
        loo = meta.leave1out(
            group["yi_benefit"].to_numpy(float),
            group["vi"].to_numpy(float),
            labels=list(group["trial_id"]),
            method=efficacy.method,
            test=efficacy.test,
        )
        for row in loo.itertuples(index=False):
            rows.append(
                {
                    "analysis": f"SMCR: {domain} in {_condition(condition)}",
                    "omitted": row.omitted,
                    "result": _interval(row.estimate, row.ci_low, row.ci_high),
                }
            )
    if not efficacy.pooled:
        rows.append(
            {
                "analysis": "SMCR (any domain)",
                "omitted": "—",
                "result": "not applicable: no efficacy analysis was pooled",
            }
        )
    return pd.DataFrame(rows)


@with_caption("The same analyses under other estimators")
def estimator_comparison(
    serious: SeriousSafety, by_term: SafetyByTerm, efficacy: EfficacySynthesis
) -> pd.DataFrame:
    """The same data under each estimator.

    Proportions: GLMM, logit REML, logit DL and exact on summed counts; pooled SMCR: REML, DL
    and PM, each with z and Hartung-Knapp intervals.
    """
    rows = []
    table = serious.per_trial
    if not table.empty:
        x = table["patients with event"].to_numpy()
        n = table["patients"].to_numpy()
        rows.append(_proportion_estimators("serious adverse events", x, n))
    for term in by_term.terms:
        if len(term.trials) < 2:
            continue
        group = by_term.per_patient[by_term.per_patient["term"] == term.term]
        rows.append(
            _proportion_estimators(
                f"adverse event: {term.term}",
                group["patients with event"].to_numpy(),
                group["patients"].to_numpy(),
            )
        )
    for (condition, domain), _ in efficacy.pooled.items():
        usable = efficacy.estimates[efficacy.estimates["usable"]]
        group = usable[(usable["condition"] == condition) & (usable["domain"] == domain)]
        group = (
            group.sort_values("n", ascending=False, kind="stable")
            .groupby("trial_id", sort=False)
            .head(1)
        )
        row = {"analysis": f"SMCR: {domain} in {_condition(condition)}"}
        for method in ("REML", "DL", "PM"):
            for test in ("z", "knha"):
                fit = meta.rma(group["yi_benefit"], group["vi"], method=method, test=test)
                row[f"{method}, {test}"] = _interval(fit.estimate, fit.ci_low, fit.ci_high)
        rows.append(row)
    return pd.DataFrame(rows)


def _proportion_estimators(name: str, x: np.ndarray, n: np.ndarray) -> dict[str, str]:
    row = {"analysis": name}
    try:
        fit = meta.rma_glmm_proportions(x, n)
        row["GLMM (ML)"] = f"{_pct(fit.proportion)} [{_pct_ci(fit.ci_low, fit.ci_high)}]"
    except ValueError as error:
        row["GLMM (ML)"] = "undefined: " + str(error).split(":")[0]
    for method in ("REML", "DL"):
        fit = meta.rma_logit_proportions(x, n, method=method)
        corrected = int(((x == 0) | (x == n)).sum())
        row[f"logit {method}"] = f"{_pct(fit.proportion)} [{_pct_ci(fit.ci_low, fit.ci_high)}]" + (
            f" (0.5 added in {corrected} of {len(x)} trials: driven by the correction)"
            if corrected == len(x)
            else ""
        )
    low, high = effects.clopper_pearson_ci(int(x.sum()), int(n.sum()))
    row["exact, summed counts"] = (
        f"{int(x.sum())}/{int(n.sum())} = {_pct(x.sum() / n.sum())} "
        f"[{_pct_ci(float(low[0]), float(high[0]))}]"
    )
    return row


# --------------------------------------------------------------------------------------------
# Certainty (GRADE) inputs
# --------------------------------------------------------------------------------------------


def _efficacy_evidence(
    direction: DirectionOfEffect,
    efficacy: EfficacySynthesis,
    efficacy_patients: Mapping[str, int],
    count_changes: pd.DataFrame,
) -> list[grade.OutcomeEvidence]:
    """One GRADE outcome per condition x domain (physiological measures apart).

    The effect shown is, in this order: the pooled SMCR; the SMCR of the outcome with the most
    patients; the count change of the outcome with the most patients (first listed on ties, so
    the choice does not depend on the result), whose exact McNemar p range decides whether the
    data can exclude no change; otherwise the words of the source.
    """
    latest_counts = (
        count_changes.sort_values("timepoint_months", kind="stable")
        .groupby(["trial_id", "outcome_id"], sort=False)
        .tail(1)
        .set_index(["trial_id", "outcome_id"])
    )
    per_outcome = direction.per_outcome
    per_outcome = per_outcome[per_outcome["direction"].isin(DIRECTIONS)]
    usable = (
        efficacy.estimates[efficacy.estimates["usable"]] if not efficacy.estimates.empty else None
    )
    evidences = []
    for (condition, domain, surrogate), group in per_outcome.groupby(
        ["condition", "domain", "surrogate"], sort=True
    ):
        trial_ids = tuple(sorted(group["trial"].unique()))
        directions = []
        for _, trial_group in group.groupby("trial", sort=True):
            up = (trial_group["direction"] == "improved").sum()
            down = (trial_group["direction"] == "worsened").sum()
            directions.append("improved" if up > down else "worsened" if down > up else "no_change")
        numeric = group["basis"].isin(["numbers", "responders"]).any()
        patients = int(
            sum(
                efficacy_patients.get(t, 0)
                if group.loc[group["trial"] == t, "patients"].isna().all()
                else group.loc[group["trial"] == t, "patients"].max()
                for t in trial_ids
            )
        )
        smcr = None
        if usable is not None:
            candidates = usable[
                (usable["condition"] == condition)
                & (usable["domain"] == domain)
                & usable["outcome_id"].isin(group["outcome"])
            ]
            if not candidates.empty:
                smcr = candidates.sort_values("n", ascending=False, kind="stable").iloc[0]
        pooled = efficacy.pooled.get((str(condition), str(domain))) if not surrogate else None
        counts = (
            f"{int((group['direction'] == 'improved').sum())} of {len(group)} outcomes improved "
            f"in {_plural(len(trial_ids), 'trial')}"
        )
        kwargs: dict[str, object] = {}
        if pooled is not None:
            effect = (
                f"pooled SMCR {_interval(pooled.estimate, pooled.ci_low, pooled.ci_high)}; {counts}"
            )
            kwargs = dict(
                pooled=True,
                estimate=pooled.estimate,
                ci_low=pooled.ci_low,
                ci_high=pooled.ci_high,
                pi_low=pooled.pi_low,
                pi_high=pooled.pi_high,
                i2=pooled.i2,
                null_value=0.0,
            )
        elif smcr is not None:
            s = float(smcr["benefit_sign"])
            low, high = sorted((smcr["ci_low"] * s, smcr["ci_high"] * s))
            effect = (
                f"SMCR {_interval(smcr['yi_benefit'], low, high)} ({smcr['measure']}, "
                f"{smcr['trial_id']}); {counts}"
            )
            kwargs = dict(
                estimate=float(smcr["yi_benefit"]), ci_low=low, ci_high=high, null_value=0.0
            )
        elif numeric:
            numbered = group[group["basis"].isin(["numbers", "responders"])]
            shown = (
                numbered.assign(_order=np.arange(len(numbered)), _n=numbered["patients"].fillna(0))
                .sort_values(["_n", "_order"], ascending=[False, True], kind="stable")
                .iloc[0]
            )
            effect = f"{shown['measure']}: {shown['detail']}; {counts}"
            kwargs = dict(null_value=None)
            key = (shown["trial"], shown["outcome"])
            if key in latest_counts.index and _present(latest_counts.loc[key, "mcnemar_p_max"]):
                p_low, p_high = latest_counts.loc[key, ["mcnemar_p_min", "mcnemar_p_max"]]
                shown_p = (
                    f"p = {p_low:.3g}" if p_low == p_high else f"p {p_low:.3g} to {p_high:.3g}"
                )
                effect += f" (exact McNemar {shown_p}, pairing unknown)"
                kwargs.update(
                    includes_null=bool(p_high >= 0.05),
                    null_reason=(
                        f"exact McNemar p up to {p_high:.3g}: the change could be no change"
                    ),
                )
        else:
            effect = f"stated in words only; {counts}"
        evidences.append(
            grade.OutcomeEvidence(
                outcome=f"{_condition(condition)}: {domain}"
                + (" (physiological measures)" if surrogate else ""),
                trial_ids=trial_ids,
                n_patients=patients,
                conditions=(str(condition),),
                effect=effect,
                numeric=bool(numeric),
                surrogate=bool(surrogate),
                directions=tuple(directions),
                **kwargs,
            )
        )
    return evidences


def grade_evidence(
    tables: Mapping[str, pd.DataFrame],
    *,
    serious: SeriousSafety,
    by_term: SafetyByTerm,
    efficacy: EfficacySynthesis,
    direction: DirectionOfEffect,
) -> list[grade.OutcomeEvidence]:
    """GRADE inputs: safety outcomes first, then efficacy by condition x domain."""
    trials = tables["trials"]
    # Trials whose patient numbers no report gives have no entry: they add no patients.
    efficacy_n = (
        trials.set_index("trial_id")["n_efficacy"]
        .fillna(treated_patients(trials))
        .dropna()
        .astype(int)
        .to_dict()
    )
    conditions = trials.set_index("trial_id")["condition"]
    evidences = []
    if serious.trials:
        ids = tuple(serious.per_trial["trial"])
        evidences.append(
            grade.OutcomeEvidence(
                outcome="serious adverse events",
                trial_ids=ids,
                n_patients=serious.patients,
                conditions=tuple(sorted(set(conditions[list(ids)]))),
                effect=(
                    f"{serious.events}/{serious.patients}; exact one-sided 95% upper bound "
                    f"{_pct(serious.upper_bound)}"
                ),
                null_value=None,
                zero_events=serious.events == 0,
                directions=tuple(
                    "no events" if e == 0 else "events"
                    for e in serious.per_trial["patients with event"]
                ),
                estimate=serious.proportion,
                ci_low=serious.ci_low,
                ci_high=serious.ci_high,
            )
        )
    for term in by_term.terms:
        others = by_term.other_bases[by_term.other_bases["term"] == term.term]
        effect = (
            f"{_pct(term.glmm.proportion)} [{_pct_ci(term.glmm.ci_low, term.glmm.ci_high)}] (GLMM)"
            if term.glmm
            else f"{term.events}/{term.patients} = {_pct(term.events / term.patients)} "
            f"[{_pct_ci(term.exact_low, term.exact_high)}]"
        )
        if not others.empty:
            effect += (
                f"; also reported on another basis in {', '.join(sorted(set(others['trial'])))}"
            )
        evidences.append(
            grade.OutcomeEvidence(
                outcome=f"adverse event: {term.term} (per patient)",
                trial_ids=term.trials,
                n_patients=term.patients,
                conditions=tuple(sorted(set(conditions[list(term.trials)]))),
                effect=effect,
                null_value=None,
                pooled=term.pooled,
                estimate=term.events / term.patients,
                ci_low=term.exact_low,
                ci_high=term.exact_high,
            )
        )
    evidences.extend(
        _efficacy_evidence(
            direction, efficacy, efficacy_n, estimates.count_changes(tables["outcomes"])
        )
    )
    return evidences


def certainty(
    tables: Mapping[str, pd.DataFrame],
    *,
    serious: SeriousSafety,
    by_term: SafetyByTerm,
    efficacy: EfficacySynthesis,
    direction: DirectionOfEffect,
    optimal_information_size: int = grade.DEFAULT_OIS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GRADE Summary of findings (one row per outcome) and every judgment with its reason."""
    evidences = grade_evidence(
        tables, serious=serious, by_term=by_term, efficacy=efficacy, direction=direction
    )
    options = {
        "patients": treated_patients(tables["trials"]).dropna().astype(int).to_dict(),
        "optimal_information_size": optimal_information_size,
    }
    return (
        grade.summary_of_findings(evidences, tables["appraisal"], **options),
        grade.judgments_table(evidences, tables["appraisal"], **options),
    )


# --------------------------------------------------------------------------------------------
# Prior meta-analyses (data/context)
# --------------------------------------------------------------------------------------------

PRIOR_COLUMNS = {
    "study": "string",
    "journal": "string",
    "year": "Int64",
    "doi": "string",
    "condition": "string",
    "design_of_included": "string",
    "k": "Int64",
    "n_patients": "Int64",
    "outcome": "string",
    "measure": "string",
    "estimate": "Float64",
    "ci_low": "Float64",
    "ci_high": "Float64",
    "i2": "Float64",
    "compare_with": "string",
    "note": "string",
}
_REQUIRED_PRIOR = ("study", "journal", "year", "condition", "outcome", "measure", "estimate")


def load_prior_meta_analyses(path: Path | None = None) -> pd.DataFrame:
    """The cited table of prior meta-analyses (``data/context/prior_meta_analyses.csv``).

    Columns are described in ``data/context/README.md``. Raises
    :class:`helpers.errors.EvidenceInputError` naming the file, the row and the column when a
    column is missing or unknown, a required value is empty, a number does not parse, the CI
    does not contain the estimate, or ``compare_with`` is not ``<condition>:<domain>``.
    """
    path = path or paths.context_dir() / "prior_meta_analyses.csv"
    if not path.is_file():
        raise EvidenceInputError(path, "(file)", "a CSV of prior meta-analyses", "missing file")
    raw = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    missing = [c for c in PRIOR_COLUMNS if c not in raw.columns]
    extra = [c for c in raw.columns if c not in PRIOR_COLUMNS]
    if missing or extra:
        raise EvidenceInputError(
            path,
            "(header)",
            f"columns {list(PRIOR_COLUMNS)}",
            f"missing {missing}, unknown {extra}",
        )
    for i, row in raw.iterrows():
        where = f"row {i + 2}"  # the header is line 1
        for column in _REQUIRED_PRIOR:
            if not _present(row[column]):
                raise EvidenceInputError(path, f"{where}.{column}", "a value", "empty")
        for column, dtype in PRIOR_COLUMNS.items():
            if dtype in ("Int64", "Float64") and _present(row[column]):
                try:
                    number = float(row[column])
                except ValueError:
                    raise EvidenceInputError(
                        path, f"{where}.{column}", "a number", row[column]
                    ) from None
                if dtype == "Int64" and number != int(number):
                    raise EvidenceInputError(
                        path, f"{where}.{column}", "a whole number", row[column]
                    )
        if row["condition"] not in CONDITION_LABELS:
            raise EvidenceInputError(
                path, f"{where}.condition", f"one of {list(CONDITION_LABELS)}", row["condition"]
            )
        if _present(row["ci_low"]) and _present(row["ci_high"]):
            low, estimate, high = (float(row[c]) for c in ("ci_low", "estimate", "ci_high"))
            if not low <= estimate <= high:
                raise EvidenceInputError(
                    path,
                    f"{where}.ci_low/ci_high",
                    "ci_low <= estimate <= ci_high",
                    (low, estimate, high),
                )
        if _present(row["compare_with"]):
            condition, _, domain = str(row["compare_with"]).partition(":")
            if condition not in CONDITION_LABELS or not domain:
                raise EvidenceInputError(
                    path, f"{where}.compare_with", "'<condition>:<domain>'", row["compare_with"]
                )
    return raw.astype(PRIOR_COLUMNS)


@with_caption("Prior meta-analyses beside this synthesis for the same condition and domain")
def context_table(prior: pd.DataFrame, sof: pd.DataFrame) -> pd.DataFrame:
    """Each prior meta-analysis beside what this synthesis found for the same condition x domain."""
    ours = {str(row.outcome): row for row in sof.itertuples(index=False)}
    rows = []
    for row in prior.itertuples(index=False):
        digits = 1 if "%" in str(row.measure) else 2
        estimate = (
            f"{row.estimate:.{digits}f} [{row.ci_low:.{digits}f}, {row.ci_high:.{digits}f}]"
            if _present(row.ci_low)
            else f"{row.estimate:.{digits}f}"
        )
        match = None
        if _present(row.compare_with):
            condition, _, domain = str(row.compare_with).partition(":")
            match = ours.get(f"{_condition(condition)}: {domain}")
        rows.append(
            {
                "prior meta-analysis": f"{row.study} {row.journal} {row.year}",
                "doi": row.doi if _present(row.doi) else "",
                "included": f"{row.design_of_included}; k = {row.k}, n = {row.n_patients}",
                "outcome": f"{row.outcome} ({row.measure})",
                "estimate [95% CI]": estimate,
                "I² (%)": f"{row.i2:g}" if _present(row.i2) else "not reported here",
                "this synthesis (same condition and domain)": (
                    f"{match.effect} — certainty {match.certainty}"
                    if match is not None
                    else "no comparable outcome in the selected trials"
                ),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Everything at once, and the key findings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Synthesis:
    """Every result of the synthesis page, computed once from the selected tables."""

    tables: Mapping[str, pd.DataFrame]
    parameters: Mapping[str, object]
    serious: SeriousSafety
    by_term: SafetyByTerm
    changes: pd.DataFrame
    efficacy: EfficacySynthesis
    responders: pd.DataFrame
    direction: DirectionOfEffect
    subgroups: Subgroups
    heterogeneity: pd.DataFrame
    r_sensitivity: pd.DataFrame
    source_sensitivity: pd.DataFrame
    leave_one_out: pd.DataFrame
    estimators: pd.DataFrame
    summary_of_findings: pd.DataFrame
    grade_judgments: pd.DataFrame
    prior: pd.DataFrame
    context: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    @with_caption("Summary of findings: certainty of the evidence (GRADE) per outcome")
    def summary_of_findings_table(self) -> pd.DataFrame:
        """The summary of findings without the long reasons (they are in ``grade_judgments``)."""
        return self.summary_of_findings.drop(columns=["reasons"]).set_index("outcome")


def run(
    tables: Mapping[str, pd.DataFrame],
    *,
    all_tables: Mapping[str, pd.DataFrame] | None = None,
    tau2_method: str = "REML",
    test: str = "knha",
    assumed_r: float = 0.5,
    r_grid: Sequence[float] = (0.3, 0.5, 0.7, 0.9),
    min_k: int = 3,
    prior_path: Path | None = None,
) -> Synthesis:
    """Run every analysis on ``tables`` (already restricted to the chosen source kinds).

    ``all_tables`` (default: ``tables``) feeds the source-kind sensitivity analysis.
    """
    if tau2_method not in meta.METHODS:
        raise ValueError(f"tau2_method must be one of {meta.METHODS}, got {tau2_method!r}")
    if test not in meta.TESTS:
        raise ValueError(f"test must be one of {meta.TESTS}, got {test!r}")
    if int(min_k) != min_k or min_k < 1:
        raise ValueError(f"min_k must be a positive whole number, got {min_k!r}")
    serious = safety_serious(tables, min_k=min_k)
    by_term = safety_by_term(tables, min_k=min_k, method=tau2_method)
    changes = change_estimates(tables, r=assumed_r)
    efficacy = efficacy_by_domain(changes, min_k=min_k, method=tau2_method, test=test)
    direction = direction_of_effect(tables)
    sof, judgments = certainty(
        tables, serious=serious, by_term=by_term, efficacy=efficacy, direction=direction
    )
    prior = load_prior_meta_analyses(prior_path)
    return Synthesis(
        tables=tables,
        parameters={
            "tau2_method": tau2_method,
            "test": test,
            "assumed_r": assumed_r,
            "r_grid": tuple(r_grid),
            "min_k": min_k,
        },
        serious=serious,
        by_term=by_term,
        changes=changes,
        efficacy=efficacy,
        responders=responder_proportions(tables),
        direction=direction,
        subgroups=subgroup_contrasts(
            tables,
            serious=serious,
            efficacy=efficacy,
            direction=direction,
            method=tau2_method,
            test=test,
        ),
        heterogeneity=heterogeneity(serious, by_term, efficacy),
        r_sensitivity=r_sensitivity(changes, r_grid),
        source_sensitivity=source_sensitivity(all_tables or tables, r=assumed_r),
        leave_one_out=leave_one_out(serious, efficacy),
        estimators=estimator_comparison(serious, by_term, efficacy),
        summary_of_findings=sof,
        grade_judgments=captioned(judgments, "Every GRADE judgment with its reason"),
        prior=prior,
        context=context_table(prior, sof),
    )


def parameter_statement(result: Synthesis) -> list[str]:
    """The analysis settings in words (they are the notebook's parameters)."""
    parameters = result.parameters
    kinds = sorted({str(k) for k in result.tables["trials"]["source_kind"]})
    test = "Hartung-Knapp (t) intervals" if parameters["test"] == "knha" else "normal (z) intervals"
    return [
        f"Settings: between-trial variance by {parameters['tau2_method']}, {test} for pooled "
        f"change scores; pre-post correlation assumed r = {parameters['assumed_r']:g} "
        f"(sensitivity: r = {', '.join(f'{r:g}' for r in parameters['r_grid'])} and the r "
        f"recovered from reported p-values); pooling needs at least {parameters['min_k']} "
        f"trials; sources included: {', '.join(k.replace('_', ' ') for k in kinds)} "
        f"({_plural(len(result.tables['trials']), 'trial')})."
    ]


def sensitivity_statements(result: Synthesis) -> list[str]:
    """What changes under the sensitivity analyses, in words."""
    lines = []
    usable = result.changes[result.changes["usable"]] if not result.changes.empty else None
    table = result.r_sensitivity
    if usable is not None and not usable.empty and "95% CI, recovered r" in table.columns:
        assumed = f"95% CI, r = {result.parameters['assumed_r']:g}"

        def excludes_zero(text: object) -> bool:
            if not isinstance(text, str) or not text.startswith("["):
                return False
            low, high = (float(v.replace("−", "-")) for v in text.strip("[]").split(","))
            return low > 0 or high < 0

        recovered = table[table["r recovered from p"] != "no p reported"]
        if not recovered.empty and assumed in table.columns:
            at_assumed = int(recovered[assumed].map(excludes_zero).sum())
            at_recovered = int(recovered["95% CI, recovered r"].map(excludes_zero).sum())
            r_values = recovered["r recovered from p"].str.extract(r"^([0-9.]+)")[0].astype(float)
            trials = ", ".join(sorted(set(recovered["trial"])))
            lines.append(
                "Whether the changes look beyond chance depends on a correlation the sources do "
                f"not report: the p-values given for {len(recovered)} change scores ({trials}) "
                f"imply r = {r_values.min():.2f} to {r_values.max():.2f}, and with that "
                f"{at_recovered} of {len(recovered)} intervals exclude no change, against "
                f"{at_assumed} of {len(recovered)} at the assumed r = "
                f"{result.parameters['assumed_r']:g}. The size of each change does not depend "
                "on r."
            )
    sources = result.source_sensitivity
    if len(sources) > 1:
        parts = [
            f"{row['sources']}: {_plural(int(row['trials']), 'trial')}, serious events "
            f"{row['serious events / patients']} (bound {row['exact one-sided 95% upper bound']})"
            for _, row in sources.iterrows()
            if row.get("trials", 0)
        ]
        lines.append("By source kind - " + "; ".join(parts) + ".")
    loo = result.leave_one_out
    serious_rows = loo[loo["analysis"].str.startswith("serious")]
    if not serious_rows.empty:
        bounds = serious_rows["result"].str.extract(r"bound ([0-9.]+)%")[0].astype(float)
        worst = serious_rows.iloc[int(bounds.to_numpy().argmax())]
        lines.append(
            f"Leaving one trial out, the serious-event bound is largest without "
            f"{worst['omitted']} ({bounds.max():.1f}%): that trial contributes the most patients."
        )
    return lines


def evidence_statement(tables: Mapping[str, pd.DataFrame]) -> str:
    """What the evidence base is: trials, patients, conditions, source kinds."""
    trials = tables["trials"]
    treated = treated_patients(trials)
    parts = []
    for condition, group in trials.groupby("condition", sort=True):
        parts.append(
            f"{_condition(condition)} ({_plural(len(group), 'trial')}, "
            f"{int(treated[group['trial_id']].sum())} patients)"
        )
    kinds = trials["source_kind"].value_counts()
    secondary = []
    if kinds.get("press_report", 0):
        secondary.append(f"{kinds['press_report']} known only from press reports")
    abstract_only = int(kinds.get("abstract", 0) + kinds.get("bibliographic_record", 0))
    if abstract_only:
        secondary.append(f"{abstract_only} only from abstracts")
    control = trials["control"]
    uncontrolled = int(control.eq("none").sum())
    controlled = int((control.notna() & control.ne("none")).sum())
    unknown = int(control.isna().sum())
    parts_control = [
        f"{_plural(controlled, 'trial')} had a control group" if controlled else "",
        f"{uncontrolled} reported no control group" if uncontrolled else "",
        f"{unknown} did not report whether there was one" if unknown else "",
    ]
    return (
        f"The evidence is {_plural(len(trials), 'trial')} with {int(treated.sum())} treated "
        f"patients in {_plural(trials['condition'].nunique(), 'condition')}: "
        + ", ".join(parts)
        + ". "
        + "; ".join(part for part in parts_control if part).capitalize()
        + (f"; {' and '.join(secondary)}." if secondary else ".")
    )


def key_findings(result: Synthesis) -> list[str]:
    """Plain-language key findings, every number taken from ``result``."""
    lines = [evidence_statement(result.tables)]
    serious = result.serious
    if serious.trials:
        if serious.events == 0:
            lines.append(
                f"No serious adverse event was reported: 0 of {serious.patients} patients across "
                f"{serious.trials} trials. With that many patients, the true rate could still be "
                f"up to {_pct(serious.upper_bound)} (exact one-sided 95% upper bound), and "
                "definitions and follow-up differed between trials."
            )
        else:
            lines.extend(serious.statements()[:1])
    lines.extend(result.by_term.statements()[:1])
    lines.extend(result.efficacy.statements()[:2])
    precision = [line for line in sensitivity_statements(result) if "beyond chance" in line]
    lines.extend(precision[:1])
    d = result.direction
    lines.append(
        f"Almost every reported outcome moved in the direction of benefit ({d.improved} improved, "
        f"{d.worsened} worsened; sign test {_p(d.sign_test_p)}), and "
        f"{d.trials_improved} of {len(d.per_trial)} trials favour benefit "
        f"({_p(d.trial_sign_test_p)} at trial level). Without control groups this cannot "
        "separate the cells' effect from natural recovery, growth or rehabilitation."
        if d.improved > d.worsened
        else f"Outcomes did not consistently favour benefit ({d.improved} improved, "
        f"{d.worsened} worsened; sign test {_p(d.sign_test_p)})."
    )
    sof = result.summary_of_findings
    if not sof.empty:
        ratings = sof["certainty"].value_counts()
        lines.append(
            f"Certainty of evidence (GRADE) for the {len(sof)} outcomes assessed: "
            + ", ".join(
                f"{ratings[level]} {level}"
                for level in reversed(grade.CERTAINTY_LEVELS)
                if level in ratings
            )
            + "."
        )
    return lines
