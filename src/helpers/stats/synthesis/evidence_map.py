"""Which trial reports what: patients with data per trial and outcome domain."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from helpers.stats.synthesis.common import result_frame, treated_patients

SAFETY = "safety"  # the domain of serious-event data in the map


def evidence_map(tables: Mapping[str, pd.DataFrame], serious_events: pd.DataFrame) -> pd.DataFrame:
    """One row per trial and domain with data: the largest number of patients measured.

    Numeric outcomes count their measured n (or the count denominator); outcomes reported only
    in words count the trial's efficacy population (else those treated) and are marked
    ``words_only`` unless numbers are reported in the same domain; ``safety`` is the
    per-patient denominator of serious-event data.
    """
    trials = tables["trials"]
    efficacy_n = (
        trials.set_index("trial_id")["n_efficacy"]
        .fillna(trials.set_index("trial_id")["n_enrolled"])
        .fillna(treated_patients(trials))
    )
    outcomes = tables["outcomes"]
    measured = outcomes.assign(patients=outcomes["n"].fillna(outcomes["total"]))
    numeric = measured[outcomes[["mean", "median", "events"]].notna().any(axis=1)]
    narratives = tables["outcome_narratives"]
    narratives = narratives[narratives["not_independent"].isna()]
    cells = [
        measured[["trial_id", "domain", "patients"]].assign(numbers=False),
        numeric[["trial_id", "domain"]].assign(patients=pd.NA, numbers=True),
        narratives[["trial_id", "domain"]].assign(
            patients=narratives["trial_id"].map(efficacy_n), numbers=False
        ),
    ]
    reported = serious_events[serious_events["reported"].fillna(False)]
    cells.append(
        pd.DataFrame(
            {
                "trial_id": reported["trial_id"],
                "domain": SAFETY,
                "patients": reported["patients"],
                "numbers": True,
            }
        )
    )
    cells = [c for c in cells if not c.empty]
    if not cells:
        return result_frame("synthesis_evidence_map", [])
    long = pd.concat(cells, ignore_index=True)
    long["patients"] = pd.to_numeric(long["patients"], errors="coerce")
    grouped = long.groupby(["trial_id", "domain"], sort=False).agg(
        patients=("patients", "max"), numbers=("numbers", "any")
    )
    condition = trials.set_index("trial_id")["condition"]
    rows = [
        {
            "trial_id": trial_id,
            "condition": condition[trial_id],
            "domain": domain,
            "patients": None if pd.isna(row.patients) else int(row.patients),
            "words_only": not row.numbers,
        }
        for (trial_id, domain), row in grouped.iterrows()
    ]
    order = trials.sort_values(["condition", "trial_id"], kind="stable")["trial_id"].tolist()
    rows.sort(key=lambda r: (order.index(r["trial_id"]), r["domain"] != SAFETY, r["domain"]))
    return result_frame("synthesis_evidence_map", rows)
