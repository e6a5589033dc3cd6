"""The result tables (``data/results/``): every estimate, bound, vote, rating and flag.

Computed from the processed tables by :mod:`helpers.stats` before any page is drawn; pages,
analysts and the "what changed" comparison read them. Each table is a tuple of
:class:`~helpers.data.store.Column`.

Conventions shared by every table: ``trial_id`` and ``outcome_id`` are the identifiers of the
processed tables; intervals are 95%; a column ending in ``_benefit`` is oriented so that a
positive value is a benefit to patients (empty when the outcome has no better direction given
by the source or a cited reference); statistics are ``float64`` (empty = not computed, with the
reason in a text column), counts ``Int64``, yes/no columns ``boolean``.
"""

from __future__ import annotations

from helpers.data.store import Column, columns

# --------------------------------------------------------------------------------------------
# Per-trial results (helpers.stats.estimates): one study at a time, no pooling
# --------------------------------------------------------------------------------------------

_OUTCOME = (
    ("trial_id", "string", "study identifier"),
    ("outcome_id", "string", "outcome identifier, unique within the study"),
    ("outcome", "string", "short name of the outcome, e.g. 'GMFM total'"),
    ("domain", "string", "outcome domain code (helpers.labels gives its words)"),
    ("measure", "string", "what was measured, as the extraction sheet words it"),
    ("population", "string", "subgroup measured when not the whole study (empty: everyone)"),
    (
        "not_independent",
        "string",
        "why the outcome repeats another outcome's patients (a component or subgroup); "
        "empty when it is independent",
    ),
    ("direction_of_benefit", "string", "higher | lower | none: which change is better"),
    (
        "direction_basis",
        "string",
        "source | reference | assumed: where the better direction comes from; an assumed "
        "direction never supports an improvement claim",
    ),
    ("timepoint", "string", "the later assessment, as the source names it"),
    ("timepoint_months", "float64", "months from the first cell administration to it"),
)
_READING = (
    (
        "reading",
        "string",
        "improved | worsened | uncertain | not judged: improved or worsened only when the "
        "95% interval (counts: every possible pairing) excludes no change and the better "
        "direction is given by the source or a cited reference",
    ),
    ("improved", "boolean", "reading is 'improved' (for filtering)"),
    ("worsened", "boolean", "reading is 'worsened'"),
    ("uncertain", "boolean", "reading is 'uncertain': the data are compatible with no change"),
    ("not_judged", "boolean", "reading is 'not judged': no estimate, or no established direction"),
    ("reading_reason", "string", "why the reading is what it is, in words"),
)
_TRACE = (("quote_id", "string", "provenance keys of the numbers used, ';'-separated"),)

TRIAL_RESULTS: dict[str, tuple[Column, ...]] = {
    "trial_changes": columns(
        *_OUTCOME,
        ("scale", "string", "instrument name"),
        ("unit", "string", "unit of the scores (empty for scale points)"),
        ("kind", "string", "continuous | ordinal"),
        ("n", "Int64", "patients compared: the smaller n of the two assessments"),
        ("pre_mean", "float64", "baseline mean as reported"),
        ("pre_sd", "float64", "baseline SD as reported"),
        ("post_mean", "float64", "later mean as reported"),
        ("post_sd", "float64", "later SD as reported"),
        ("mean_change", "float64", "post_mean - pre_mean, in the outcome's unit"),
        ("estimable", "boolean", "a standardised mean change (SMCR) could be computed"),
        (
            "not_estimable_reason",
            "string",
            "why no SMCR was computed (n below 3, an SD of 0, ...); empty when estimable",
        ),
        (
            "yi",
            "float64",
            "SMCR = J(n-1) (post_mean - pre_mean) / pre_sd (metafor escalc 'SMCR'); its sign "
            "is that of the raw change, not oriented to benefit",
        ),
        ("vi", "float64", "sampling variance of yi at r_used (Becker 1988)"),
        ("ci_low", "float64", "lower end of the 95% interval of yi: yi - 1.96 sqrt(vi)"),
        ("ci_high", "float64", "upper end of the 95% interval of yi"),
        (
            "r_used",
            "float64",
            "pre-post correlation assumed for vi (the primary r, see "
            "helpers.stats.estimates.PRIMARY_R)",
        ),
        ("p_reported", "string", "p-value versus baseline exactly as the source writes it"),
        ("p_is_bound", "boolean", "the p-value was reported as a bound ('< 0.001')"),
        (
            "r_recovered",
            "float64",
            "pre-post correlation implied by the reported p-value under a two-sided paired "
            "t-test (Cochrane Handbook 6.5.2.8); empty without a usable p-value",
        ),
        (
            "r_recovered_plausible",
            "boolean",
            "false when the recovered r cannot be taken at face value (clipped to [-1, 1], or "
            "near 1 for skewed or ordinal scores); empty when there is none",
        ),
        ("r_recovered_note", "string", "how r was recovered and why it is implausible, if so"),
        (
            "ci_low_recovered",
            "float64",
            "lower end of the 95% interval of yi at the recovered r: it only restates the "
            "reported p-value, it is not independent evidence",
        ),
        ("ci_high_recovered", "float64", "upper end of that interval"),
        ("benefit_sign", "float64", "+1 higher is better, -1 lower is better, empty: no direction"),
        ("yi_benefit", "float64", "yi x benefit_sign: positive = benefit"),
        ("ci_low_benefit", "float64", "lower end of the 95% interval of yi_benefit"),
        ("ci_high_benefit", "float64", "upper end of the 95% interval of yi_benefit"),
        (
            "skewed",
            "boolean",
            "a mean lies less than 2 SD from a limit of its scale (Altman & Bland 1996, BMJ "
            "313:1200): the scores are skewed and a mean ± SD summary misleads",
        ),
        ("ordinal", "boolean", "the scale is ordinal (grades, not equal steps)"),
        (
            "distribution_note",
            "string",
            "what the skewness or ordinal scale means for the SMCR; empty when neither",
        ),
        *_READING,
        *_TRACE,
        ("note", "string", "anything else unusual about the comparison"),
    ),
    "trial_r_sensitivity": columns(
        ("trial_id", "string", "study identifier"),
        ("outcome_id", "string", "outcome identifier"),
        ("outcome", "string", "short name of the outcome"),
        ("measure", "string", "what was measured"),
        ("timepoint", "string", "the later assessment, as the source names it"),
        ("timepoint_months", "float64", "months from the first cell administration to it"),
        ("n", "Int64", "patients compared"),
        (
            "r_source",
            "string",
            "assumed | recovered | recovered (p bound): whether r is one of the sensitivity "
            "values or the one implied by the reported p-value",
        ),
        ("r", "float64", "pre-post correlation used"),
        ("yi", "float64", "SMCR (does not depend on r)"),
        ("vi", "float64", "sampling variance of yi at r"),
        ("se", "float64", "standard error sqrt(vi)"),
        ("ci_low", "float64", "lower end of the 95% interval of yi at r"),
        ("ci_high", "float64", "upper end of the 95% interval of yi at r"),
        ("yi_benefit", "float64", "yi oriented so that positive = benefit"),
        ("ci_low_benefit", "float64", "lower end of the 95% interval of yi_benefit"),
        ("ci_high_benefit", "float64", "upper end of the 95% interval of yi_benefit"),
        ("note", "string", "why the recovered r is missing, when a p-value could not be used"),
    ),
    "trial_count_changes": columns(
        *_OUTCOME,
        ("pre_events", "Int64", "patients with the finding at baseline"),
        ("pre_total", "Int64", "patients assessed at baseline"),
        ("pre_proportion", "float64", "pre_events / pre_total"),
        ("pre_ci_low", "float64", "exact (Clopper-Pearson) 95% interval of pre_proportion, low"),
        ("pre_ci_high", "float64", "exact 95% interval of pre_proportion, high"),
        ("post_events", "Int64", "patients with the finding at the later assessment"),
        ("post_total", "Int64", "patients assessed then"),
        ("post_proportion", "float64", "post_events / post_total"),
        ("post_ci_low", "float64", "exact 95% interval of post_proportion, low"),
        ("post_ci_high", "float64", "exact 95% interval of post_proportion, high"),
        ("risk_difference", "float64", "post_proportion - pre_proportion"),
        ("benefit_sign", "float64", "+1 more is better, -1 fewer is better, empty: no direction"),
        ("rd_benefit", "float64", "risk_difference x benefit_sign: positive = benefit"),
        (
            "mcnemar_p_min",
            "float64",
            "smallest exact McNemar p over every pairing of patients the margins allow (the "
            "source does not say who changed); empty when the totals differ",
        ),
        ("mcnemar_p_max", "float64", "largest exact McNemar p over those pairings"),
        ("n_pairings", "Int64", "number of 2 x 2 tables consistent with the margins"),
        ("pairing", "string", "why the McNemar p is a range (the pairing is unknown)"),
        ("mcnemar_note", "string", "what was done when no paired test was possible"),
        ("p_reported", "string", "p-value versus baseline exactly as the source writes it"),
        (
            "p_reported_note",
            "string",
            "whether the reported p could be an exact McNemar p of these counts ('no p-value "
            "reported' when there is none)",
        ),
        *_READING,
        *_TRACE,
    ),
    "trial_proportions": columns(
        *_OUTCOME[:9],
        ("timepoint", "string", "assessment, as the source names it"),
        ("timepoint_months", "float64", "months from the first cell administration to it"),
        ("events", "Int64", "patients with the finding"),
        ("total", "Int64", "patients assessed"),
        ("percent_reported", "string", "percentage exactly as the source writes it"),
        ("proportion", "float64", "events / total"),
        ("ci_low", "float64", "exact (Clopper-Pearson) 95% interval, low"),
        ("ci_high", "float64", "exact (Clopper-Pearson) 95% interval, high"),
        (
            "compared_with_baseline",
            "boolean",
            "the row is a baseline or is compared with one in trial_count_changes; false for "
            "outcomes reported only after treatment (a proportion with no before/after "
            "comparison)",
        ),
        *_TRACE,
    ),
    "trial_adverse_events": columns(
        ("trial_id", "string", "study identifier"),
        ("term", "string", "adverse event as the source names it"),
        ("serious", "boolean", "the source calls it serious or severe"),
        ("count_reported", "Int64", "count as the source gives it (empty: only a percentage)"),
        (
            "count",
            "Int64",
            "count used: the reported one, or the whole number a reported percentage of the "
            "denominator stands for (count_derived)",
        ),
        ("count_derived", "boolean", "count was derived from the reported percentage"),
        ("count_unit", "string", "patients | events | cases | unknown"),
        ("denominator", "Int64", "denominator of the count"),
        ("denominator_unit", "string", "patients | administrations | unknown"),
        ("percent_reported", "string", "percentage exactly as the source writes it"),
        (
            "rate_basis",
            "string",
            "per patient | per administration | events (not patients) | unknown denominator "
            "| named, no count: what a rate computed from the row would mean",
        ),
        (
            "incidence",
            "float64",
            "count / denominator, only when both are patients (rate_basis 'per patient')",
        ),
        ("ci_low", "float64", "exact (Clopper-Pearson) 95% interval of incidence, low"),
        ("ci_high", "float64", "exact 95% interval of incidence, high"),
        (
            "upper_bound_one_sided",
            "float64",
            "for zero events with a known denominator: exact one-sided 95% upper bound "
            "1 - 0.05^(1/n) of the proportion of the denominator's units affected",
        ),
        ("rate_text", "string", "the result in words, with its unit"),
        ("relatedness", "string", "relation to treatment as the source reports it"),
        ("note", "string", "extractor's note"),
        *_TRACE,
        ("derived", "string", "how a value not written in the quote was obtained"),
    ),
}

RESULTS: dict[str, tuple[Column, ...]] = {**TRIAL_RESULTS}
