"""Flags the analysis raises: where a number means less than it seems, and what was done."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from helpers import labels
from helpers.stats.synthesis.common import ALL, result_frame


def flags(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Warnings and notes from the result tables, one row per finding."""
    rows = []
    events = results["synthesis_adverse_events"]
    for row in events[events["basis"] == "unknown unit"].itertuples(index=False):
        rows.append(
            {
                "trial_id": row.trial_id,
                "analysis": "safety",
                "severity": "warning",
                "subject": f"adverse event: {row.as_reported}",
                "message": f"{row.what_was_reported}; listed under another basis, not pooled",
            }
        )
    serious = results["synthesis_serious_events"]
    for row in serious[~serious["reported"].fillna(False)].itertuples(index=False):
        rows.append(
            {
                "trial_id": row.trial_id,
                "analysis": "safety",
                "severity": "warning",
                "subject": "serious adverse events",
                "message": f"{row.why_no_data}: the trial is not in the summed count of serious "
                "events, and is named beside it",
            }
        )
    for table, label in (
        ("synthesis_serious_pooled", "serious adverse events"),
        ("synthesis_adverse_event_terms", "adverse event"),
    ):
        frame = results[table]
        noted = frame[frame["logit_note"].fillna("").str.len() > 0]
        for row in noted.itertuples(index=False):
            subject = label if table == "synthesis_serious_pooled" else f"{label}: {row.term}"
            rows.append(
                {
                    "trial_id": None,
                    "analysis": "safety",
                    "severity": "info",
                    "subject": subject
                    + ("" if row.scope == ALL else f" ({labels.label('condition', row.scope)})"),
                    "message": f"logit sensitivity estimate {row.logit_note}",
                }
            )
    responders = results["synthesis_responders"]
    outside = responders["p_note"].fillna("").str.contains("below every|above the exact")
    for row in responders[outside].itertuples(index=False):
        rows.append(
            {
                "trial_id": row.trial_id,
                "analysis": "efficacy",
                "severity": "warning",
                "subject": str(row.outcome),
                "message": str(row.p_note),
            }
        )
    votes = results["synthesis_votes"]
    disagree = votes["detail"].fillna("").str.contains("the source says")
    for row in votes[disagree & votes["counted"]].itertuples(index=False):
        rows.append(
            {
                "trial_id": row.trial_id,
                "analysis": "votes",
                "severity": "info",
                "subject": str(row.outcome),
                "message": f"direction from the numbers ({row.detail}) is counted",
            }
        )
    return result_frame("synthesis_flags", rows)
