"""Published meta-analyses beside what this synthesis found for the same condition and domain."""

from __future__ import annotations

import pandas as pd

from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.findings import impact
from helpers.pages.synthesis.inputs import Inputs
from helpers.stats.synthesis.context import load_prior_meta_analyses


def context_table(inputs: Inputs, prior: pd.DataFrame | None = None) -> tables.Table:
    """Each prior meta-analysis beside this synthesis' finding and certainty (same condition and
    outcome domain, when there is one)."""
    prior = load_prior_meta_analyses() if prior is None else prior
    certainty = inputs["synthesis_certainty"].set_index("outcome_key")
    rows = []
    for row in prior.itertuples(index=False):
        decimals = 1 if "%" in str(row.measure) else 2
        estimate = fmt.number(row.estimate, decimals) + (
            f" (95% CI {fmt.interval(row.ci_low, row.ci_high, decimals)})"
            if fmt.present(row.ci_low)
            else ""
        )
        key = str(row.compare_with) if fmt.present(row.compare_with) else ""
        if key in certainty.index:
            ours = certainty.loc[key]
            here = f"{impact(ours, inputs)} Certainty: {ours['certainty']}."
        else:
            here = "no comparable outcome among the included trials"
        rows.append(
            {
                "prior meta-analysis": f"{row.study} {row.journal} {row.year}",
                "trials included": f"{row.design_of_included}; {row.k} studies, "
                f"{row.n_patients} patients",
                "outcome": f"{row.outcome} ({row.measure})",
                "estimate": estimate,
                "I²": f"{fmt.reported(row.i2)}%" if fmt.present(row.i2) else "not reported",
                "this synthesis, same condition and domain": here,
            }
        )
    return tables.Table(
        pd.DataFrame(rows),
        caption="Published meta-analyses beside this synthesis for the same condition and "
        "outcome domain",
        notes=[
            "Not the same quantity: the prior reviews pooled controlled trials (a difference "
            "from a control group) or many single-arm series; the estimates here are "
            "before-after changes in a few small uncontrolled trials."
        ],
        lift_repeated=False,
    )
