"""Appraisal and limitations of one study: the JBI checklist for case series, the limitations
the reports state and those that follow from the data."""

from __future__ import annotations

import re

import pandas as pd
from IPython.display import HTML

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages.tables import with_caption
from helpers.pages.trial import common
from helpers.pages.trial.common import MISSING, Tables, is_, present, rows, trial_row
from helpers.stats import effects

SMALL_SAMPLE = 20


def plain_question(question: object) -> str:
    """The checklist's question without its "(s)" plurals: 'site(s)/clinic(s)' reads 'sites or
    clinics'."""
    words = re.sub(r"\b(\w+)\(s\)/(\w+)\(s\)", r"\1s or \2s", str(question))
    return re.sub(r"\b(\w+)\((?:e?s)\)", lambda m: m.group(1) + "s", words)


def jbi_item(item: object) -> str:
    """'q3' -> 'JBI item 3' (never mistaken for a quote mark such as [q003])."""
    match = re.fullmatch(r"q?(\d+)", str(item).strip(), flags=re.I)
    return f"JBI item {int(match.group(1))}" if match else str(item)


@with_caption("Critical appraisal (JBI checklist for case series): answer and reason per item")
def appraisal(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """The JBI critical-appraisal checklist for case series: answer and reason per item."""
    trial_row(trial_id, tables)
    found = rows(tables, "appraisal", trial_id)
    if found.empty:
        return common.sentence("This study has not been appraised.")
    return pd.DataFrame(
        {
            "item": found["item"].map(jbi_item),
            "question": found["question"].map(plain_question),
            "answer": [
                labels.label("answer", a) if present(a) else MISSING for a in found["answer"]
            ],
            "reason": found["reason"],
        }
    ).set_index("item")


def limitation_rows(trial_id: str, tables: Tables) -> list[dict]:
    """Limitations the reports state, then those that follow from the data, with the basis."""
    trial = trial_row(trial_id, tables)
    found = []
    for _, stated in rows(tables, "limitations", trial_id).iterrows():
        found.append(
            {
                "limitation": stated["limitation"],
                "basis": "stated by the report"
                if present(stated["quote_id"])
                else "extractor's note",
                "sources": common.refs(stated["quote_id"], trial_id),
            }
        )

    def derived(words: str, basis: str) -> None:
        found.append({"limitation": words, "basis": basis, "sources": MISSING})

    if is_(trial["control"], "none"):
        derived(
            "No control group: changes from baseline cannot be separated from natural history, "
            "growth and maturation, concurrent therapy or regression to the mean",
            "the report states there was no control group",
        )
    elif not present(trial["control"]):
        derived("Whether there was a control group is not reported", "no report says")
    if is_(trial["blinding"], "open_label"):
        derived(
            "Open label: patients, families and assessors knew the treatment, so outcomes "
            "(especially rated scales) are open to expectation and observer bias",
            "the report states open-label treatment",
        )
    elif not present(trial["blinding"]):
        derived("Blinding not reported", "no report says")
    n = next(
        (int(trial[c]) for c in ("n_enrolled", "n_safety", "n_efficacy") if present(trial[c])), None
    )
    if n is not None and n < SMALL_SAMPLE:
        bound = float(effects.zero_event_upper_bound(n)[0])
        derived(
            f"Small sample ({fmt.plural(n, 'patient')}): wide confidence intervals, and rare "
            f"harms cannot be excluded (no event in {n} is compatible with a rate of up to "
            f"{fmt.percent(bound)})",
            f"fewer than {SMALL_SAMPLE} patients",
        )
    if present(trial["n_efficacy"]):
        treated = next(
            (int(trial[c]) for c in ("n_enrolled", "n_safety") if present(trial[c])), None
        )
        if treated and int(trial["n_efficacy"]) < treated:
            derived(
                f"Efficacy analysed in {int(trial['n_efficacy'])} of {treated} treated "
                "patients: attrition or selection may bias every efficacy result",
                "fewer patients analysed for efficacy than treated",
            )
    kind = str(trial["source_kind"])
    if kind not in ("full_text", "erratum"):
        derived(
            f"The most complete report is the {labels.label('kind', kind)}, not the full "
            "article: methods, full results and harms could not be checked",
            "kind of the most complete report",
        )
    if not present(trial["registry_id"]):
        derived("No trial registration identifier reported", "no registry identifier in any report")
    return found


@with_caption("Limitations stated by the reports, then those that follow from the data")
def limitations(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Limitations stated by the reports, then the generic ones derived from the data."""
    found = limitation_rows(trial_id, tables)
    if not found:
        return common.sentence("The reports state no limitation, and none follows from the data.")
    return pd.DataFrame(found).set_index("limitation")
