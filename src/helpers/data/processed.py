"""The processed tables (``data/processed/``): what ingestion writes, column by column.

Each table is a tuple of :class:`~helpers.data.store.Column` (name, pandas dtype, meaning);
ingestion writes the columns in this order and the data dictionary from these descriptions.
"""

from __future__ import annotations

from helpers.data.store import Column, columns

STAT_COLUMNS = (
    ("n", "Int64", "number of patients measured"),
    ("mean", "Float64", "mean as reported"),
    ("sd", "Float64", "standard deviation as reported"),
    ("se", "Float64", "standard error as reported"),
    ("median", "Float64", "median as reported"),
    ("low", "Float64", "lower end of the reported range (or lower bound)"),
    ("high", "Float64", "upper end of the reported range (or upper bound)"),
    ("events", "Int64", "patients with the characteristic or event"),
    ("total", "Int64", "denominator of events"),
    ("percent_reported", "string", "percentage exactly as written in the source"),
)
TRACE_COLUMNS = (
    (
        "report",
        "string",
        "raw file of the report the quote(s) come from (';'-separated if several)",
    ),
    ("quote_id", "string", "provenance key(s) into provenance.csv, ';'-separated when several"),
    ("derived", "string", "how a value not written in the quote was obtained (empty if none)"),
)

PROCESSED: dict[str, tuple[Column, ...]] = {
    "trials": columns(
        ("trial_id", "string", "study identifier (file stem of its extraction sheet)"),
        ("label", "string", "how pages name the study, e.g. 'Smith 2026'"),
        ("title", "string", "title, or the aim sentence when the report has none"),
        ("citation", "string", "reference of the study's most complete report"),
        ("doi", "string", "DOI of the study publication"),
        ("registry_id", "string", "trial registry identifier, e.g. NCT number"),
        (
            "source_kind",
            "string",
            "kind of the most complete report: erratum | full_text | "
            "abstract | bibliographic_record | registry_record | press_report",
        ),
        ("primary_report", "string", "raw file of the most complete report"),
        ("n_reports", "Int64", "reports the sheet draws on (reports.csv)"),
        ("condition", "string", "spina_bifida | cerebral_palsy | spinal_cord_injury"),
        ("design", "string", "design as described by the source"),
        ("phase", "string", "trial phase as reported"),
        ("blinding", "string", "open_label | single_blind | double_blind"),
        (
            "control",
            "string",
            "none (the source says: no control group) | placebo | sham | "
            "usual_care | waitlist | active; empty when no report says",
        ),
        ("setting", "string", "centre(s)"),
        ("country", "string", "country"),
        ("start", "string", "start of recruitment or treatment (YYYY-MM)"),
        ("end", "string", "end of the study period (YYYY-MM)"),
        ("age", "string", "age of participants as reported"),
        ("sex", "string", "sex distribution as reported"),
        ("funding", "string", "funding as reported"),
        ("conflicts_of_interest", "string", "declared conflicts of interest as reported"),
        ("n_enrolled", "Int64", "patients enrolled"),
        ("n_safety", "Int64", "patients in the safety analysis"),
        ("n_efficacy", "Int64", "patients in the efficacy analysis"),
        ("follow_up_months", "Float64", "follow-up as reported, in months"),
        ("follow_up_schedule", "string", "when outcomes were assessed, as the source words it"),
        ("cell_type", "string", "BMMNC | MSC | UCB_MNC | NSC | OEC | Schwann | other"),
        (
            "tissue",
            "string",
            "bone_marrow | umbilical_cord | umbilical_cord_blood | adipose | "
            "olfactory_mucosa | neural_tissue | other",
        ),
        ("cell_source", "string", "autologous | allogeneic"),
        (
            "route",
            "string",
            "intrathecal (incl. subarachnoid) | intravenous | intraspinal | "
            "intra_arterial | intramuscular | other",
        ),
        ("n_administrations", "Int64", "number of cell administrations per patient"),
        ("interval_months", "Float64", "months between administrations"),
        (
            "dose",
            "Float64",
            "cell dose when one dose applies to every administration (doses.csv "
            "has each administration's)",
        ),
        ("dose_sd", "Float64", "SD of that dose where reported as mean ± SD"),
        ("dose_unit", "string", "unit of that dose"),
        ("dose_basis", "string", "per_kg | per_administration_total | per_patient_total"),
        ("n_doses", "Int64", "dose rows in doses.csv (0: no report gives a dose)"),
        ("n_quotes", "Int64", "verbatim quotes located for this study"),
    ),
    "reports": columns(
        ("trial_id", "string", "study identifier"),
        ("report_id", "string", "the report's short name in the sheet"),
        ("report", "string", "raw file of the report (data/raw/sources.yaml)"),
        (
            "kind",
            "string",
            "erratum | full_text | abstract | bibliographic_record | "
            "registry_record | press_report",
        ),
        (
            "completeness_rank",
            "Int64",
            "0 erratum, 1 full text, 2 abstract, 3 registry record, "
            "4 press report: a value comes from the lowest rank that gives it",
        ),
        ("primary", "boolean", "the study's most complete report"),
        ("citation", "string", "reference of the report"),
        ("doi", "string", "DOI (of the study reported on, for press reports)"),
        ("registry_id", "string", "trial registry identifier named by the report"),
        ("n_quotes", "Int64", "quotes located in this report"),
    ),
    "trial_facts": columns(
        ("trial_id", "string", "study identifier"),
        ("field", "string", "sheet field path, e.g. intervention.route"),
        ("value", "string", "value used (text); empty when not reported"),
        ("not_reported", "string", "why no report gives a value (empty when reported)"),
        *TRACE_COLUMNS,
    ),
    "doses": columns(
        ("trial_id", "string", "study identifier"),
        ("administration", "string", "which administration ('1st', '2nd'); empty: every one"),
        ("value", "Float64", "dose (mean where reported with a spread)"),
        ("sd", "Float64", "standard deviation of the dose"),
        ("se", "Float64", "standard error of the dose"),
        ("unit", "string", "unit of the dose"),
        ("basis", "string", "per_kg | per_administration_total | per_patient_total"),
        *TRACE_COLUMNS,
    ),
    "characteristics": columns(
        ("trial_id", "string", "study identifier"),
        ("group", "string", "baseline (participants) | product (cell preparation)"),
        ("label", "string", "characteristic"),
        ("unit", "string", "unit"),
        *STAT_COLUMNS,
        *TRACE_COLUMNS,
    ),
    "outcomes": columns(
        ("trial_id", "string", "study identifier"),
        ("outcome_id", "string", "outcome identifier, unique within the study"),
        ("outcome", "string", "short name of the outcome, e.g. 'GMFM total'"),
        ("domain", "string", "motor, spasticity, balance, function, cognition, bladder, ..."),
        ("measure", "string", "what was measured"),
        ("scale", "string", "instrument name"),
        ("scale_min", "Float64", "lowest possible score"),
        ("scale_max", "Float64", "highest possible score"),
        ("scale_integer", "boolean", "each patient's score is a whole number"),
        ("unit", "string", "unit of measurement"),
        ("direction_of_benefit", "string", "higher | lower | none (no agreed better direction)"),
        (
            "direction_basis",
            "string",
            "source | reference | assumed: where the better direction "
            "comes from (assumed directions never support an improvement claim)",
        ),
        ("direction_reference", "string", "reference defining the better direction"),
        ("kind", "string", "continuous | ordinal | count"),
        ("population", "string", "subgroup measured when not the whole study"),
        (
            "not_independent",
            "string",
            "why the outcome repeats another's patients (a component "
            "or subgroup): never counted as a separate vote",
        ),
        ("timepoint", "string", "assessment as the source names it"),
        ("timepoint_months", "Float64", "months since the first administration"),
        *STAT_COLUMNS,
        ("p_reported", "string", "p-value versus baseline exactly as written"),
        *TRACE_COLUMNS,
    ),
    "outcome_narratives": columns(
        ("trial_id", "string", "study identifier"),
        ("outcome_id", "string", "outcome identifier"),
        ("outcome", "string", "short name of the outcome"),
        ("domain", "string", "outcome domain"),
        ("measure", "string", "what was assessed"),
        ("direction_of_benefit", "string", "higher | lower | none"),
        ("direction_basis", "string", "source | reference | assumed"),
        ("not_independent", "string", "why the outcome repeats another's patients"),
        ("direction", "string", "improved | worsened | no_change | mixed, as the source states"),
        ("significant", "boolean", "whether the source claims statistical significance"),
        *TRACE_COLUMNS,
    ),
    "adverse_events": columns(
        ("trial_id", "string", "study identifier"),
        ("term", "string", "adverse event"),
        ("serious", "boolean", "the source calls it serious or severe"),
        ("count", "Int64", "number reported"),
        ("count_unit", "string", "patients | events | cases | unknown"),
        ("denominator", "Int64", "denominator of the count"),
        ("denominator_unit", "string", "patients | administrations | unknown"),
        ("percent_reported", "string", "percentage exactly as written"),
        ("named_only", "boolean", "named by the source without any count or percentage"),
        ("relatedness", "string", "relation to treatment as reported"),
        ("note", "string", "extractor's note"),
        *TRACE_COLUMNS,
    ),
    "appraisal": columns(
        ("trial_id", "string", "study identifier"),
        ("item", "string", "JBI case-series checklist item (q1-q10)"),
        ("question", "string", "checklist question"),
        ("answer", "string", "yes | no | unclear | not_applicable"),
        ("reason", "string", "one-line justification"),
    ),
    "limitations": columns(
        ("trial_id", "string", "study identifier"),
        ("limitation", "string", "limitation stated by the source"),
        ("report", "string", "raw file of the report stating it"),
        ("quote_id", "string", "provenance key"),
    ),
    "superseded": columns(
        ("trial_id", "string", "study identifier"),
        ("item", "string", "what the value is about, in words"),
        ("field", "string", "sheet field path of the version not used"),
        ("value", "string", "the version not used, in words"),
        ("report", "string", "raw file of the report giving it"),
        ("used_value", "string", "the version used, in words"),
        ("used_report", "string", "raw file of the (more complete) report whose version is used"),
        ("agrees", "boolean", "the two versions say the same"),
        ("quote_id", "string", "provenance key(s) of the version not used"),
    ),
    "provenance": columns(
        ("quote_id", "string", "provenance key"),
        ("trial_id", "string", "study identifier"),
        ("report", "string", "raw file the quote was located in"),
        ("report_kind", "string", "kind of that report"),
        ("also_in", "string", "other reports of the study containing the same quote"),
        ("field", "string", "first sheet field that cites the quote"),
        ("quote", "string", "verbatim quote as written in the sheet"),
        ("start", "Int64", "character offset of the match in the normalised report text"),
        ("end", "Int64", "end offset (exclusive) of the match"),
    ),
    "checks": columns(
        ("trial_id", "string", "study identifier"),
        (
            "check",
            "string",
            "grim | percent_count | denominators | sd_range | contradiction | "
            "reports_disagree | ...",
        ),
        ("severity", "string", "warning (a reader should know) | info"),
        ("subject", "string", "what the check looked at, in words"),
        ("field", "string", "sheet field path the check looked at"),
        ("message", "string", "what was found, with the evidence"),
    ),
    "coverage": columns(
        ("trial_id", "string", "study identifier"),
        ("report", "string", "raw file of the report"),
        ("number", "string", "number in the report's results that no sheet value captured"),
        ("offset", "Int64", "character offset in the normalised report text"),
        ("context", "string", "surrounding text"),
    ),
}
