"""Safety of one study, rendered from the result table ``trial_adverse_events``.

Serious adverse events first, in words; then every adverse event with the basis a rate would
have (per patient, per administration, events, unknown denominator, named without a count).
"""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML

from helpers.pages import format as fmt
from helpers.pages.tables import with_caption
from helpers.pages.trial import common
from helpers.pages.trial.common import MISSING, Tables, present, rows, text, trial_row
from helpers.stats import estimates

# The result table's rate bases read as words already, except this one.
RATE_BASIS_WORDS = {"unknown unit": "patients or administrations (not stated)"}


def serious_adverse_events(trial_id: str, tables: Tables) -> HTML:
    """Serious adverse events in words, with the exact one-sided 95% upper bound when zero."""
    trial_row(trial_id, tables)
    rates = rows(tables, "trial_adverse_events", trial_id)
    serious = rates[rates["serious"].fillna(False).astype(bool)]
    if serious.empty:
        return common.sentence("The reports say nothing about serious adverse events.")
    items = []
    for _, row in serious.iterrows():
        words = f"{row['term']}: {row['rate_text']}"
        bound = row["upper_bound_one_sided"]
        if present(bound):
            words += (
                f". No event in {fmt.plural(int(row['denominator']), row['denominator_unit'][:-1])}"
                f" is still compatible with a true rate of up to {fmt.percent(bound)} (about 1 in "
                f"{max(1, round(1 / bound))})"
            )
        if present(row["relatedness"]):
            words += f"; relatedness: {row['relatedness']}"
        items.append(f"{html.escape(words)} {common.refs_html(row['quote_id'], trial_id)}")
    bullets = "".join(f"<li>{item}</li>" for item in items)
    return HTML(f"<p>Serious adverse events:</p><ul>{bullets}</ul>")


def _reported_as(row: pd.Series) -> str:
    if present(row["count"]):
        shown = f"{row['count']} {estimates.unit_text(row['count_unit'], row['count'])}"
        if row["count_derived"]:
            shown += f" (from {row['percent_reported']}% of {row['denominator']})"
        elif present(row["percent_reported"]):
            shown += f" ({row['percent_reported']}%)"
        return shown
    if present(row["percent_reported"]):
        return f"{row['percent_reported']}% (no count)"
    return "named, no count"


@with_caption("Every adverse event as reported, with the incidence per patient where it applies")
def safety(trial_id: str, tables: Tables) -> pd.DataFrame | HTML:
    """Every adverse-event row: what was reported, over what, the basis a rate would have, and
    the per-patient incidence with its exact interval where count and denominator are both
    patients."""
    trial_row(trial_id, tables)
    rates = rows(tables, "trial_adverse_events", trial_id)
    if rates.empty:
        return common.sentence(
            "The reports give no adverse events, neither as counts nor in words."
        )
    rates = rates.sort_values("serious", ascending=False, kind="stable", na_position="last")
    shown = []
    for _, row in rates.iterrows():
        incidence = (
            f"{fmt.percent(row['incidence'])} ({fmt.percent_interval(row['ci_low'], row['ci_high'])})"
            if present(row["incidence"])
            else MISSING
        )
        shown.append(
            {
                "adverse event": row["term"],
                "serious": {True: "yes", False: "no"}.get(row["serious"], "not stated"),
                "reported as": _reported_as(row),
                "out of": (
                    f"{row['denominator']} {row['denominator_unit']}"
                    if present(row["denominator"])
                    else "not stated"
                ),
                "rate basis": RATE_BASIS_WORDS.get(row["rate_basis"], row["rate_basis"]),
                "incidence per patient (exact 95% CI)": incidence,
                "upper bound when none occurred (one-sided 95%)": (
                    fmt.percent(row["upper_bound_one_sided"])
                    if present(row["upper_bound_one_sided"])
                    else MISSING
                ),
                "relatedness": text(row["relatedness"]),
                "note": text(row["note"]),
                "sources": common.refs(row["quote_id"], trial_id),
            }
        )
    return pd.DataFrame(shown).set_index("adverse event")
