"""Who was treated, with what, compared with what: PICO, baseline characteristics, the cell
product and the timeline of administrations and assessments."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages import plots
from helpers.pages.tables import with_caption
from helpers.pages.trial import common
from helpers.pages.trial.common import MISSING, Tables, present, rows, text, trial_row
from helpers.pages.trial.header import cells_text, condition, control_text

BASELINE_CAPTIONS = {
    "baseline": "Baseline characteristics of the patients",
    "product": "The cell product: preparation and dose",
}


def dose_text(trial_id: str, tables: Tables) -> str:
    """Every administration's dose: '839 ± 86.37 × 10^6 cells (per administration, 1st)'."""
    parts = []
    for _, dose in rows(tables, "doses", trial_id).iterrows():
        unit = text(dose["unit"], "")
        amount = fmt.reported(dose["value"]) if present(dose["value"]) else ""
        if present(dose["sd"]):
            amount += f" ± {fmt.reported(dose['sd'])}"
        if present(dose["se"]):
            amount += f" (SE {fmt.reported(dose['se'])})"
        quantity = f"{amount} × {unit}" if unit.startswith("10^") else f"{amount} {unit}"
        basis = labels.label("dose_basis", dose["basis"]) if present(dose["basis"]) else ""
        which = (
            f"{dose['administration']} administration" if present(dose["administration"]) else ""
        )
        detail = ", ".join(part for part in (basis, which) if part)
        parts.append(quantity.strip() + (f" ({detail})" if detail else ""))
    return "; ".join(parts)


def _outcome_list(outcomes: pd.DataFrame, limit: int = 8) -> str:
    """'motor function: GMFM total; balance: Berg Balance Scale' when short, else counts."""
    if outcomes.empty:
        return "none"
    if len(outcomes) <= limit:
        return "; ".join(
            f"{labels.label('domain', row['domain'])}: {text(row['outcome'], row['measure'])}"
            for _, row in outcomes.iterrows()
        )
    per_domain = outcomes.groupby("domain", sort=False).size()
    listed = ", ".join(
        f"{labels.label('domain', domain)} ({count})" for domain, count in per_domain.items()
    )
    return f"{listed}: {fmt.plural(len(outcomes), 'outcome')}"


@with_caption("Who was treated, with what, compared with what (PICO), as the reports give it")
def pico(trial_id: str, tables: Tables) -> pd.DataFrame:
    """Population, intervention, comparison, outcomes and time, each with its quotes."""
    trial = trial_row(trial_id, tables)
    outcomes = rows(tables, "outcomes", trial_id)
    narratives = rows(tables, "outcome_narratives", trial_id)
    facts = rows(tables, "trial_facts", trial_id)
    co_interventions = facts[facts["field"].str.startswith("intervention.co_interventions")]

    def item(part: str, name: str, value: str, field: str | None) -> dict:
        shown = (
            common.or_reason(value, trial_id, tables, field) if field else value or "not reported"
        )
        return {
            "PICO": part,
            "item": name,
            "as reported": shown,
            "sources": common.fact(trial_id, tables, field)[1] if field else MISSING,
        }

    def count(column: str) -> str:
        return fmt.count(trial[column]) if present(trial[column]) else ""

    interval = fmt.months(trial["interval_months"]) if present(trial["interval_months"]) else ""
    follow_up = fmt.months(trial["follow_up_months"]) if present(trial["follow_up_months"]) else ""
    numeric = outcomes.drop_duplicates("outcome_id")
    words_only = narratives[~narratives["outcome_id"].isin(outcomes["outcome_id"])]
    control = control_text(trial) if present(trial["control"]) else ""
    blinding = labels.label("blinding", trial["blinding"]) if present(trial["blinding"]) else ""
    route = labels.label("route", trial["route"]) if present(trial["route"]) else ""
    items = [
        item("Population", "condition", condition(trial), "trial.condition"),
        item("Population", "age", text(trial["age"], ""), "trial.age"),
        item("Population", "sex", text(trial["sex"], ""), "trial.sex"),
        item("Population", "patients enrolled", count("n_enrolled"), "trial.n_enrolled"),
        item("Population", "in the safety analysis", count("n_safety"), "trial.n_safety"),
        item("Population", "in the efficacy analysis", count("n_efficacy"), "trial.n_efficacy"),
        item("Intervention", "cells", cells_text(trial), "intervention.cell_type"),
        item("Intervention", "route", route, "intervention.route"),
        item("Intervention", "dose", dose_text(trial_id, tables), "intervention.dose"),
        item(
            "Intervention",
            "administrations",
            count("n_administrations"),
            "intervention.n_administrations",
        ),
        item(
            "Intervention",
            "interval between administrations",
            interval,
            "intervention.interval_months",
        ),  # fmt: skip
    ]
    for _, found in co_interventions.iterrows():
        items.append(
            {
                "PICO": "Intervention",
                "item": "co-intervention",
                "as reported": text(found["value"]),
                "sources": common.refs(found["quote_id"], trial_id),
            }
        )
    items += [
        item("Comparison", "control group", control, "trial.control"),
        item("Comparison", "blinding", blinding, "trial.blinding"),
        {
            "PICO": "Outcomes",
            "item": "reported with numbers",
            "as reported": _outcome_list(numeric),
            "sources": "section 4",
        },
        {
            "PICO": "Outcomes",
            "item": "described in words only",
            "as reported": _outcome_list(words_only),
            "sources": "section 4",
        },
        item("Time", "follow-up, as the report states it", follow_up, "trial.follow_up_months"),
        item(
            "Time",
            "assessments",
            text(trial["follow_up_schedule"], ""),
            "trial.follow_up_schedule",
        ),
    ]
    return pd.DataFrame(items).set_index(["PICO", "item"])


def _baseline_caption(trial_id: str, tables: Tables, group: str = "baseline") -> str:
    return BASELINE_CAPTIONS.get(group, f"Reported {group} characteristics")


@with_caption(_baseline_caption)
def baseline(trial_id: str, tables: Tables, group: str = "baseline") -> pd.DataFrame | HTML:
    """Baseline characteristics (``group="baseline"``) or the cell product (``"product"``)."""
    trial_row(trial_id, tables)
    found = rows(tables, "characteristics", trial_id)
    found = found[found["group"] == group]
    if found.empty:
        what = "baseline characteristics" if group == "baseline" else "cell-product details"
        return common.sentence(f"The reports give no {what} beyond those listed above.")
    return pd.DataFrame(
        {
            "characteristic": found["label"].to_list(),
            "unit": [text(u) for u in found["unit"]],
            "patients": [fmt.count(n) if present(n) else MISSING for n in found["n"]],
            "as reported": [common.statistics_text(row) for _, row in found.iterrows()],
            "how obtained": [text(d, "as written") for d in found["derived"]],
            "sources": [common.refs(q, trial_id) for q in found["quote_id"]],
        }
    ).set_index("characteristic")


def timeline_figure(trial_id: str, tables: Tables) -> Figure:
    """Administrations, assessment times and end of follow-up on one months axis."""
    return plots.intervention_timeline(
        trial_row(trial_id, tables), rows(tables, "outcomes", trial_id)
    )
