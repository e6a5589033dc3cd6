"""Methods: the review question, how reports were selected, how they were analysed, who paid.

* :func:`question` - the question in PICO form and the eligibility criteria, from the
  curated protocol (``data/context/protocol.yaml``, :mod:`helpers.evidence.protocol`);
* :func:`flow_counts` / :func:`flow_table` - a PRISMA-style flow per condition: reports
  assessed, excluded with reasons, included; studies included and analysed on this page;
* :func:`register_table` and :func:`excluded_table` - every report with its kind, study,
  whether it is the study's most complete report and why it was included; every excluded
  report with its reason;
* :func:`analysis` - the analysis methods in words with their references, phrased from the
  settings this page was computed with;
* :func:`funding_table` - each study's funding and conflicts of interest, or "not reported"
  with the reason its sheet gives.

The register, flow and funding cover every included study, also those the settings leave out
of this page's analyses (the flow counts both).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from IPython.display import HTML
from markupsafe import escape

from helpers import labels
from helpers.evidence.protocol import Protocol, load_protocol
from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.inputs import Inputs, anchored, capitalised, paragraphs, shown_rows
from helpers.pages.synthesis.settings import METHOD_WORDS, TEST_WORDS, pooled_analyses
from helpers.pages.trial.common import or_reason
from helpers.pages.trial.header import cells_text
from helpers.stats import estimates
from helpers.stats.synthesis import SOURCE_KINDS
from helpers.stats.synthesis.certainty import CRITICAL_DOMAINS, IMPORTANT_DOMAINS

ALL_CONDITIONS = "all conditions"


# --------------------------------------------------------------------------------------------
# Question and eligibility
# --------------------------------------------------------------------------------------------


def question(inputs: Inputs, protocol: Protocol | None = None) -> HTML:
    """The review question, then the eligibility criteria in PICO form (one captioned table)."""
    protocol = protocol or load_protocol()
    kinds = ", ".join(labels.label("kind", kind) for kind in protocol.report_kinds)
    conditions = ", ".join(fmt.condition(code) for code in protocol.conditions)
    rows = [
        ("Population", f"{protocol.population} Conditions: {conditions}."),
        ("Intervention", protocol.intervention),
        ("Comparators", protocol.comparators),
        ("Outcomes", f"{protocol.outcomes} {_importance_sentence()}"),
        ("Study designs", protocol.designs),
        ("Reports", f"Accepted kinds: {kinds}. {_ranking_sentence(inputs)}"),
        ("How reports were identified", protocol.identification),
    ]
    table = tables.Table(
        pd.DataFrame(rows, columns=["criterion", "what the review accepts"]),
        caption="Eligibility criteria of the review (population, intervention, comparators, "
        "outcomes, designs, reports)",
        lift_repeated=False,
    )
    statement = HTML(f"<p><strong>Review question.</strong> {escape(protocol.question)}</p>")
    return anchored("methods-question", statement, table)


def _importance_sentence() -> str:
    """The importance ranking the certainty ratings use (a protocol choice, as GRADE asks)."""
    critical = listed(
        ["serious adverse events", *(labels.label("domain", d) for d in CRITICAL_DOMAINS)]
    )
    important = listed(
        [*(labels.label("domain", d) for d in IMPORTANT_DOMAINS), "common adverse events"]
    )
    return (
        f"Ranked by importance to patients: {critical} are critical; {important} are "
        "important; physiological and imaging measures are of limited importance."
    )


def listed(items: list[str], conjunction: str = "and") -> str:
    """'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _ranking_sentence(inputs: Inputs) -> str:
    """How reports of one study rank, from the reports table (most complete first)."""
    reports = inputs.processed["reports"]
    if reports.empty:
        return ""
    kinds = reports.drop_duplicates("kind").sort_values(["completeness_rank", "kind"])
    order = ", then ".join(
        listed([labels.label("kind", kind) for kind in group["kind"]], "or")
        for _, group in kinds.groupby("completeness_rank", sort=True)
    )
    return (
        "When a study has several reports, a value is taken from the most complete report that "
        f"gives it (in this order among the registered reports: {order})."
    )


# --------------------------------------------------------------------------------------------
# Flow of reports and studies
# --------------------------------------------------------------------------------------------


def flow_counts(
    processed: Mapping[str, pd.DataFrame],
    analysed: set[str],
    protocol: Protocol,
) -> pd.DataFrame:
    """PRISMA-style counts: one row per stage, one column per condition and one for all.

    ``processed`` holds every processed table (``reports``, ``trials``); ``analysed`` the ids
    of the studies this page's settings include. Excluded reports without a condition count
    only under all conditions.
    """
    trials, reports = processed["trials"], processed["reports"]
    condition_of = dict(zip(trials["trial_id"], trials["condition"], strict=True))
    report_conditions = reports["trial_id"].map(condition_of)
    named = {e.condition for e in protocol.excluded_reports if e.condition is not None}
    conditions = sorted(set(trials["condition"]) | named)
    excluded = pd.DataFrame(
        [(e.reason, e.condition) for e in protocol.excluded_reports],
        columns=["reason", "condition"],
    )

    def per_condition(values: pd.Series) -> dict[str, int]:
        counts = {c: int((values == c).sum()) for c in conditions}
        return {**counts, ALL_CONDITIONS: len(values)}

    primary = reports["primary"].fillna(False).astype(bool)
    rows: list[tuple[str, dict[str, int]]] = [
        (
            "Reports assessed against the criteria",
            per_condition(pd.concat([report_conditions, excluded["condition"]])),
        ),
    ]
    if excluded.empty:
        rows.append(("Reports excluded", per_condition(excluded["condition"])))
    for reason, group in excluded.groupby("reason", sort=False):
        rows.append(
            (f"Reports excluded: {protocol.reason(str(reason))}", per_condition(group["condition"]))
        )
    rows += [
        ("Reports included", per_condition(report_conditions)),
        ("… of which a study's most complete report", per_condition(report_conditions[primary])),
        ("… of which further reports of a study", per_condition(report_conditions[~primary])),
        ("Studies included", per_condition(trials["condition"])),
        (
            "Studies in this page's analyses",
            per_condition(trials.loc[trials["trial_id"].isin(analysed), "condition"]),
        ),
    ]
    outside = outside_protocol(trials, protocol)
    if outside:
        rows.append(
            (
                "Studies outside the criteria (kept and flagged in the register)",
                per_condition(trials.loc[trials["trial_id"].isin(outside), "condition"]),
            )
        )
    frame = pd.DataFrame([counts for _, counts in rows], index=[stage for stage, _ in rows])
    frame.index.name = "stage"
    return frame[[*conditions, ALL_CONDITIONS]]


def outside_protocol(trials: pd.DataFrame, protocol: Protocol) -> dict[str, str]:
    """Studies that do not meet the protocol's criteria: trial id -> what they miss."""
    gaps = {}
    for row in trials.itertuples(index=False):
        missing = []
        if row.condition not in protocol.conditions:
            missing.append(f"{fmt.condition(row.condition)} is not one of the review's conditions")
        if row.source_kind not in protocol.report_kinds:
            missing.append(
                "its most complete report is of a kind the protocol does not accept "
                f"({labels.label('kind', row.source_kind)})"
            )
        if missing:
            gaps[str(row.trial_id)] = "; ".join(missing)
    return gaps


def flow_table(inputs: Inputs, protocol: Protocol | None = None) -> tables.Table:
    """The flow of reports and studies per condition, with what the counts mean."""
    protocol = protocol or load_protocol()
    counts = flow_counts(inputs.processed, set(inputs.trials["trial_id"]), protocol)
    names = {c: capitalised(fmt.condition(c)) for c in counts.columns if c != ALL_CONDITIONS}
    frame = counts.rename(columns={**names, ALL_CONDITIONS: capitalised(ALL_CONDITIONS)})
    notes = [
        "A study is counted once, whatever the number of its reports; a report belongs to "
        "the condition of its study.",
        "Studies in this page's analyses: those whose most complete report is of a kind the "
        "analysis settings include.",
    ]
    if any(e.condition is None for e in protocol.excluded_reports):
        notes.append(
            "An excluded report that names none of the review's conditions is "
            "counted under all conditions only."
        )
    return tables.Table(
        frame.reset_index().rename(columns={"stage": "stage of selection"}),
        caption="Flow of reports and studies through selection, per condition "
        "(PRISMA-style counts)",
        notes=notes,
        lift_repeated=False,
    )


# --------------------------------------------------------------------------------------------
# Register of reports
# --------------------------------------------------------------------------------------------


def why_included(trial: pd.Series, primary: bool, kind: str, gap: str = "") -> str:
    """Why a report is in the review: its study meets the criteria (condition, cell therapy,
    a clinical study), and what the report contributes."""
    design = str(trial["design"]) if fmt.present(trial["design"]) else "design not reported"
    meets = (
        f"Does not meet the criteria: {gap}."
        if gap
        else f"A study of {fmt.condition(trial['condition'])} treated with {cells_text(trial)}; "
        f"{design}."
    )
    if primary:
        return meets  # the column beside it says it is the study's most complete report
    role = (
        f"A further report of the study ({labels.label('kind', kind)}): used for values the "
        "more complete report does not give, and compared with it."
    )
    return f"{meets} {role}"


def register_table(inputs: Inputs, protocol: Protocol | None = None) -> tables.Table:
    """Every registered report: citation, kind, study, most complete or not, why included."""
    protocol = protocol or load_protocol()
    trials = inputs.processed["trials"].set_index("trial_id", drop=False)
    gaps = outside_protocol(inputs.processed["trials"], protocol)
    reports = inputs.processed["reports"].assign(
        condition=lambda r: r["trial_id"].map(trials["condition"])
    )
    reports = reports.sort_values(
        ["condition", "trial_id", "completeness_rank", "report"], kind="stable"
    )
    shown, notes = shown_rows(
        reports, what="reports", ranked="by condition and study", table="reports"
    )
    rows = []
    for row in shown.itertuples(index=False):
        primary = bool(row.primary) if fmt.present(row.primary) else False
        rows.append(
            {
                "report": str(row.citation) if fmt.present(row.citation) else "not reported",
                "kind of report": labels.label("kind", row.kind),
                "study": inputs.study_link(row.trial_id),
                "the study's most complete report": "yes" if primary else "no",
                "quotes located": fmt.count(row.n_quotes) if fmt.present(row.n_quotes) else "0",
                "why it was included": why_included(
                    trials.loc[row.trial_id], primary, str(row.kind), gaps.get(row.trial_id, "")
                ),
            }
        )
    columns = [
        "report",
        "kind of report",
        "study",
        "the study's most complete report",
        "quotes located",
        "why it was included",
    ]
    analysed = set(inputs.trials["trial_id"])
    left_out = sorted(set(trials["trial_id"]) - analysed)
    if left_out:
        notes.append(
            "Registered and included, but left out of this page's analyses by the analysis "
            f"settings (kinds of report): {inputs.studies(';'.join(left_out))}."
        )
    return tables.Table(
        pd.DataFrame(rows, columns=columns),
        caption="Register of reports: every report of an included study, its kind and why it "
        "was included",
        notes=notes,
        lift_repeated=False,
    )


def excluded_table(protocol: Protocol | None = None) -> tables.Table | HTML:
    """Every report assessed and excluded, with its reason; a sentence when there is none."""
    protocol = protocol or load_protocol()
    if not protocol.excluded_reports:
        return paragraphs(["No report assessed against the criteria has been excluded."])
    frame = pd.DataFrame(
        [
            {
                "report": report.citation,
                "condition": fmt.condition(report.condition) if report.condition else "—",
                "reason for exclusion": capitalised(protocol.reason(report.reason)),
            }
            for report in protocol.excluded_reports
        ]
    )
    return tables.Table(
        frame, caption="Reports assessed and excluded, with the reason", lift_repeated=False
    )


# --------------------------------------------------------------------------------------------
# Funding and conflicts of interest
# --------------------------------------------------------------------------------------------


def funding_table(inputs: Inputs) -> tables.Table:
    """Each included study's funding and declared conflicts of interest, as its reports give
    them, or 'not reported' with the reason."""
    trials = inputs.processed["trials"].sort_values(["condition", "trial_id"], kind="stable")
    shown, notes = shown_rows(trials, what="studies", ranked="by condition", table="trials")
    rows = []
    for row in shown.itertuples(index=False):
        trial_id = str(row.trial_id)
        rows.append(
            {
                "study": inputs.study_link(trial_id),
                "condition": fmt.condition(row.condition),
                "funding": _reported(row.funding, trial_id, inputs, "trial.funding"),
                "conflicts of interest": _reported(
                    row.conflicts_of_interest, trial_id, inputs, "trial.conflicts_of_interest"
                ),
            }
        )
    return tables.Table(
        pd.DataFrame(rows, columns=["study", "condition", "funding", "conflicts of interest"]),
        caption="Funding and conflicts of interest of each included study, as its reports "
        "give them",
        notes=notes,
        lift_repeated=False,
    )


def _reported(value: object, trial_id: str, inputs: Inputs, field: str) -> str:
    text = str(value).strip() if fmt.present(value) else ""
    return or_reason(text, trial_id, inputs.processed, field)


# --------------------------------------------------------------------------------------------
# Analysis methods
# --------------------------------------------------------------------------------------------

REFERENCES = {
    "Becker 1988": "Becker BJ. Synthesizing standardized mean-change measures. Br J Math Stat "
    "Psychol 1988;41:257–278.",
    "Campbell 2020": "Campbell M, McKenzie JE, Sowden A, et al. Synthesis without meta-analysis "
    "(SWiM) in systematic reviews: reporting guideline. BMJ 2020;368:l6890.",
    "Clopper 1934": "Clopper CJ, Pearson ES. The use of confidence or fiducial limits "
    "illustrated in the case of the binomial. Biometrika 1934;26:404–413.",
    "DerSimonian 1986": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin "
    "Trials 1986;7:177–188.",
    "Guyatt 2011": "Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines: 2. Framing the "
    "question and deciding on important outcomes. J Clin Epidemiol 2011;64:395–400.",
    "Hanley 1983": "Hanley JA, Lippman-Hand A. If nothing goes wrong, is everything all right? "
    "Interpreting zero numerators. JAMA 1983;249:1743–1745.",
    "Hartung 2001": "Hartung J, Knapp G. A refined method for the meta-analysis of controlled "
    "clinical trials with binary outcome. Stat Med 2001;20:3875–3889.",
    "Higgins 2024": "Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for "
    "Systematic Reviews of Interventions, version 6.5. Cochrane, 2024.",
    "McNemar 1947": "McNemar Q. Note on the sampling error of the difference between correlated "
    "proportions or percentages. Psychometrika 1947;12:153–157.",
    "Munn 2020": "Munn Z, Barker TH, Moola S, et al. Methodological quality of case series "
    "studies: an introduction to the JBI critical appraisal tool. JBI Evid Synth "
    "2020;18:2127–2133.",
    "Murad 2017": "Murad MH, Mustafa RA, Schünemann HJ, Sultan S, Santesso N. Rating the "
    "certainty in evidence in the absence of a single estimate of effect. Evid Based Med "
    "2017;22:85–87.",
    "Paule 1982": "Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur "
    "Stand 1982;87:377–385.",
    "Santesso 2020": "Santesso N, Glenton C, Dahm P, et al. GRADE guidelines 26: informative "
    "statements to communicate the findings of systematic reviews of interventions. J Clin "
    "Epidemiol 2020;119:126–135.",
    "Schünemann 2013": "Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE handbook for "
    "grading quality of evidence and strength of recommendations. Updated October 2013.",
    "Stijnen 2010": "Stijnen T, Hamza TH, Özdemir P. Random effects meta-analysis of event "
    "outcome in the framework of the generalized linear mixed model with applications in "
    "sparse data. Stat Med 2010;29:3046–3067.",
    "Viechtbauer 2005": "Viechtbauer W. Bias and efficiency of meta-analytic variance "
    "estimators in the random-effects model. J Educ Behav Stat 2005;30:261–293.",
    "Viechtbauer 2010": "Viechtbauer W. Conducting meta-analyses in R with the metafor package. "
    "J Stat Softw 2010;36(3):1–48.",
}
ESTIMATOR_REFERENCES = {
    "REML": ("Viechtbauer 2005",),
    "ML": ("Viechtbauer 2005",),
    "DL": ("DerSimonian 1986",),
    "PM": ("Paule 1982",),
    "EE": (),
}


@dataclass(frozen=True)
class Method:
    """One analysis method in words, with the references it cites (keys of REFERENCES)."""

    topic: str
    text: str
    cites: tuple[str, ...]


def analysis_methods(inputs: Inputs) -> list[Method]:
    """The methods this page's numbers were computed with, phrased from its settings."""
    settings = inputs.settings
    grid = ", ".join(fmt.reported(r) for r in settings.r_grid)
    if settings.assumed_r == estimates.PRIMARY_R:
        correlation = (
            f"r = {fmt.reported(settings.assumed_r)} is assumed, the protocol's value: below the "
            "scales' test-retest reliability (the most it can be), because over months "
            "patients change by different amounts."
        )
    else:
        correlation = (
            f"r = {fmt.reported(settings.assumed_r)} is assumed for this page, changed from the "
            f"protocol's r = {fmt.reported(estimates.PRIMARY_R)}."
        )
    pooled = pooled_analyses(inputs)
    run = (
        f"On this page {fmt.plural(pooled, 'analysis', 'analyses')} had enough trials and "
        f"{'was' if pooled == 1 else 'were'} pooled."
        if pooled
        else "On this page no analysis had enough trials, so nothing was pooled: estimates "
        "are shown side by side, each with the reason."
    )
    estimator = settings.tau2_method
    kinds = (
        "of any kind"
        if set(settings.source_kinds) == set(SOURCE_KINDS)
        else "a " + listed([labels.label("kind", kind) for kind in settings.source_kinds], "or")
    )
    return [
        Method(
            "Change from baseline in scores",
            "The standardised mean change: the mean change divided by the baseline standard "
            "deviation, corrected for small samples, with the sampling variance of Becker, as "
            "the escalc function of the R package metafor computes it (measure SMCR). Effects "
            "are turned so that "
            f"{fmt.BENEFIT_NOTE}. The variance needs the correlation between a patient's "
            f"baseline and later scores, which no report gives. {correlation} "
            f"Sensitivity analysis: r = {grid}, and the r each reported p-value implies.",
            ("Becker 1988", "Viechtbauer 2010", "Higgins 2024"),
        ),
        Method(
            "Proportions and responders",
            "Each proportion with its exact (Clopper-Pearson) 95% confidence interval; with no "
            "event, the exact one-sided 95% upper bound. When the reports give how many "
            "patients were in a state before and after but not who changed, the exact McNemar "
            "p-value is given as its range over every pairing the counts allow.",
            ("Clopper 1934", "Hanley 1983", "McNemar 1947"),
        ),
        Method(
            "Pooling",
            "Estimates are pooled only when at least "
            f"{fmt.plural(settings.min_k, 'trial')} share the condition and the outcome domain, "
            "one estimate per trial. Change scores: a random-effects model, between-trial "
            f"variance by {METHOD_WORDS[estimator]}, {TEST_WORDS[settings.test]}, with I² and "
            "a prediction interval. Proportions: the binomial-normal generalised linear mixed "
            "model, with the logit model (0.5 added to trials with no or all patients affected) as "
            "sensitivity analysis; "
            "counts summed over trials for an exact interval when every trial has zero events. "
            f"{run}",
            (
                *ESTIMATOR_REFERENCES[estimator],
                *(("Hartung 2001",) if settings.test == "knha" else ()),
                "Stijnen 2010",
                "Viechtbauer 2010",
            ),
        ),
        Method(
            "Direction of effect",
            "Synthesis without meta-analysis: each outcome counts as improved, worsened, "
            "unchanged or not classifiable; the outcomes of one domain in one trial give one "
            "vote, and a trial's domains give the trial's vote. The exact two-sided sign test "
            "is applied to the trials' votes first, because only they are independent.",
            ("Campbell 2020",),
        ),
        Method(
            "Certainty of the evidence",
            "GRADE, per condition and outcome: evidence from uncontrolled studies starts at low "
            "certainty and is rated down for risk of bias (the JBI checklist for case series), "
            "inconsistency, indirectness, imprecision and publication bias, each with its "
            "reason. Outcomes were ranked by importance before rating. Where nothing is pooled, "
            "the summary of findings is narrative, and the key messages use GRADE's "
            "plain-language wording.",
            ("Schünemann 2013", "Guyatt 2011", "Munn 2020", "Murad 2017", "Santesso 2020"),
        ),
        Method(
            "Sensitivity analyses and scope",
            "Leaving out press reports and abstract-only sources, leaving one trial out, and "
            "other between-trial variance estimators. The analyses on this page include the "
            f"studies whose most complete report is {kinds}.",
            (),
        ),
    ]


def analysis(inputs: Inputs) -> HTML:
    """The analysis methods as paragraphs with author-year citations, then the references."""
    methods = analysis_methods(inputs)
    cited: list[str] = []
    parts = []
    for method in methods:
        cited += [key for key in method.cites if key not in cited]
        citation = f" ({'; '.join(method.cites)})" if method.cites else ""
        parts.append(
            f"<p><strong>{escape(method.topic)}.</strong> {escape(method.text)}"
            f"{escape(citation)}</p>"
        )
    references = "".join(f"<li>{escape(REFERENCES[key])}</li>" for key in sorted(cited))
    return HTML(
        f'<div id="methods-analysis">{"".join(parts)}'
        f'<p><strong>References</strong></p><ul class="references">{references}</ul></div>'
    )
