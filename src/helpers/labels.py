"""Human words for the codes the sheets and tables use, in one place for every stage.

Sheets and tables store short codes (``spinal_cord_injury``, ``per_kg``, ``n_enrolled``);
every message and page shows these words instead. :func:`label` falls back to the code with
underscores as spaces, so a new code never prints as an identifier.
"""

from __future__ import annotations

from collections.abc import Mapping

CONDITIONS = {
    "spina_bifida": "spina bifida",
    "cerebral_palsy": "cerebral palsy",
    "spinal_cord_injury": "spinal cord injury",
}
CELL_TYPES = {
    "BMMNC": "bone-marrow mononuclear cells (BMMNC)",
    "MSC": "mesenchymal stromal cells (MSC)",
    "UCB_MNC": "umbilical-cord-blood mononuclear cells",
    "NSC": "neural stem or progenitor cells",
    "OEC": "olfactory ensheathing cells",
    "Schwann": "Schwann cells",
    "other": "other cells",
}
CELL_TYPES_SHORT = {"BMMNC": "BMMNC", "MSC": "MSC", "UCB_MNC": "cord-blood MNC"}
TISSUES = {
    "bone_marrow": "bone marrow",
    "umbilical_cord": "umbilical cord",
    "umbilical_cord_blood": "umbilical cord blood",
    "adipose": "adipose tissue",
    "olfactory_mucosa": "olfactory mucosa",
    "neural_tissue": "neural tissue",
    "other": "other tissue",
}
ROUTES = {
    "intrathecal": "intrathecal",
    "intravenous": "intravenous",
    "intraspinal": "intraspinal (into the cord or lesion)",
    "intra_arterial": "intra-arterial",
    "intramuscular": "intramuscular",
    "other": "other route",
}
CONTROLS = {
    "none": "no control group",
    "placebo": "placebo",
    "sham": "sham procedure",
    "usual_care": "usual care",
    "waitlist": "waiting list",
    "active": "active comparator",
}
BLINDING = {
    "open_label": "open label",
    "single_blind": "single blind",
    "double_blind": "double blind",
}
DOSE_BASES = {
    "per_kg": "per kg of body weight",
    "per_administration_total": "per administration",
    "per_patient_total": "per patient in total",
}
DOMAINS = {
    "motor": "motor function",
    "spasticity": "spasticity and tone",
    "balance": "balance",
    "function": "daily function",
    "cognition": "cognition",
    "bladder": "bladder",
    "bowel": "bowel",
    "sensory": "sensation",
    "neurological": "neurological status",
    "imaging": "imaging",
    "quality_of_life": "quality of life",
    "other": "other outcomes",
}
REPORT_KINDS = {
    "erratum": "erratum",
    "full_text": "full-text article",
    "abstract": "abstract",
    "bibliographic_record": "abstract (bibliographic record)",
    "registry_record": "trial registry record",
    "press_report": "press report",
}
APPRAISAL_ANSWERS = {
    "yes": "yes",
    "no": "no",
    "unclear": "unclear",
    "not_applicable": "not applicable",
}
NARRATIVE_DIRECTIONS = {
    "improved": "improved",
    "worsened": "worsened",
    "no_change": "no change",
    "mixed": "mixed",
}
# Consistency checks of the ingestion (checks.csv).
CHECKS = {
    "grim": "GRIM (means possible with whole-number scores)",
    "percent_count": "percentage and count disagree",
    "denominators": "denominators",
    "sd_range": "standard deviation out of range",
    "sd_zero": "standard deviation of 0",
    "contradiction": "contradiction in the report",
    "reports_disagree": "reports disagree",
    "derived_value": "value derived, not written",
    "subgroup": "subgroup measured",
    "count_unit": "unit of a count",
    "named_only": "named without a count",
    "source_kind": "kind of report",
}
# Sheet fields of the trial and the intervention.
FIELDS = {
    "title": "title",
    "condition": "condition",
    "design": "design",
    "phase": "phase",
    "blinding": "blinding",
    "control": "control group",
    "setting": "setting",
    "country": "country",
    "start": "start",
    "end": "end",
    "age": "age",
    "sex": "sex",
    "funding": "funding",
    "conflicts_of_interest": "conflicts of interest",
    "n_enrolled": "patients enrolled",
    "n_safety": "patients in the safety analysis",
    "n_efficacy": "patients in the efficacy analysis",
    "follow_up_months": "follow-up (months)",
    "follow_up_schedule": "assessment schedule",
    "cell_type": "cell type",
    "tissue": "tissue of origin",
    "cell_source": "donor",
    "route": "route",
    "dose": "dose",
    "n_administrations": "number of administrations",
    "interval_months": "interval between administrations (months)",
    "co_interventions": "co-interventions",
}
VOCABULARIES: Mapping[str, Mapping[str, str]] = {
    "condition": CONDITIONS,
    "cell_type": CELL_TYPES,
    "tissue": TISSUES,
    "route": ROUTES,
    "control": CONTROLS,
    "blinding": BLINDING,
    "dose_basis": DOSE_BASES,
    "domain": DOMAINS,
    "kind": REPORT_KINDS,
    "field": FIELDS,
    "answer": APPRAISAL_ANSWERS,
    "narrative_direction": NARRATIVE_DIRECTIONS,
    "check": CHECKS,
}


def label(vocabulary: str, code: object) -> str:
    """The words for ``code`` in a vocabulary ("condition", "route"...); unknown codes are
    shown with spaces for underscores, never as identifiers."""
    text = str(code)
    return VOCABULARIES[vocabulary].get(text, text.replace("_", " "))


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 trial', '3 trials', '0 trials'; ``many`` for irregular plurals."""
    return f"{count} {word if count == 1 else many or word + 's'}"
