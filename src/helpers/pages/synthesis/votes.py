"""Direction of effect on the synthesis page (SWiM vote counting): trial level first, then
outcome domains and outcomes with their dependence stated."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML

from helpers.pages import format as fmt
from helpers.pages import tables
from helpers.pages.synthesis.inputs import (
    Inputs,
    anchored,
    capitalised,
    paragraphs,
    scope_words,
    shown_rows,
)
from helpers.stats.synthesis import ALL

LIMITS = (
    "Vote counting ignores the size and precision of each change: a tiny change and a large "
    "one count the same.",
    "Outcomes and outcome domains within a trial share patients, so their votes are not "
    "independent and their sign tests overstate the evidence; the trial-level count is the "
    "one to rely on.",
    "In uncontrolled before-after studies an improvement includes natural recovery, growth, "
    "rehabilitation and regression to the mean: a direction is not a treatment effect.",
    "Directions stated in words are the authors' own claims, from press reports and abstracts "
    "among others; unfavourable outcomes may be reported less often.",
)
LEVEL_WORDS = {
    "trials": "one vote per trial",
    "domains": "one vote per outcome domain per trial",
    "outcomes": "one vote per outcome",
}


def limits() -> HTML:
    return HTML("<ul>" + "".join(f"<li>{line}</li>" for line in LIMITS) + "</ul>")


def _test(row: pd.Series, unit: str) -> str:
    total = int(row["favour_benefit"] + row["favour_harm"] + row["ties"])
    return (
        f"{int(row['favour_benefit'])} of {fmt.plural(total, unit)} favour benefit, "
        f"{int(row['favour_harm'])} favour harm, {int(row['ties'])} show no clear direction "
        f"(exact sign test {fmt.p_value(row['sign_test_p'])})"
    )


def statements(inputs: Inputs) -> HTML:
    """The trial-level result first, then the dependent counts, then what was not counted."""
    tests = inputs["synthesis_vote_tests"]
    overall = tests[tests["scope"] == ALL].set_index("level")
    if overall.empty:
        return paragraphs(["No trial is included."])
    lines = [
        f"Trial level ({LEVEL_WORDS['trials']}): {_test(overall.loc['trials'], 'trial')}.",
        f"Outcome domains ({LEVEL_WORDS['domains']}; not independent): "
        f"{_test(overall.loc['domains'], 'domain vote')}.",
        f"Outcomes ({LEVEL_WORDS['outcomes']}; not independent, and the most overstated): "
        f"{_test(overall.loc['outcomes'], 'outcome')}.",
    ]
    votes = inputs["synthesis_votes"]
    left_out = votes[~votes["counted"]]
    if not left_out.empty:
        reasons = left_out["not_counted_because"].map(_reason_kind).value_counts()
        lines.append(
            f"Not counted: {fmt.plural(len(left_out), 'outcome')} ("
            + ", ".join(f"{n} {reason}" for reason, n in reasons.items())
            + ")."
        )
    return paragraphs(lines)


def _reason_kind(reason: object) -> str:
    text = str(reason)
    if text.startswith("not independent"):
        return "not independent of an outcome already counted"
    if text == "one illustrative patient":
        return "describing one illustrative patient"
    return "without an agreed better direction or usable values"


def tests_table(inputs: Inputs) -> HTML:
    """Sign tests per condition and level, with the dependence of each level stated."""
    tests = inputs["synthesis_vote_tests"]
    rows = [
        {
            "conditions": capitalised(scope_words(row.scope)),
            "what one vote is": LEVEL_WORDS[row.level],
            "favour benefit": int(row.favour_benefit),
            "favour harm": int(row.favour_harm),
            "no clear direction": int(row.ties),
            "exact sign test": fmt.p_value(row.sign_test_p),
            "independent votes": "yes" if row.independent else "no",
        }
        for row in tests.itertuples(index=False)
    ]
    table = tables.Table(
        pd.DataFrame(rows).set_index(["conditions", "what one vote is"]),
        caption="Direction of effect: sign tests at trial level, over outcome domains and over "
        "outcomes",
        notes=[
            "Domains of one trial, and outcomes of one trial, share its patients: only the "
            "trial-level votes are independent.",
            "A tie (no clear direction) drops out of the sign test.",
        ],
    )
    return anchored("votes", table)


def trials_table(inputs: Inputs) -> tables.Table:
    """Each trial's vote and the domain votes behind it."""
    per_trial = inputs["synthesis_vote_trials"]
    domains = inputs["synthesis_vote_domains"]
    rows = []
    for row in per_trial.itertuples(index=False):
        own = domains[domains["trial_id"] == row.trial_id]
        rows.append(
            {
                "trial": inputs.study_link(row.trial_id),
                "condition": fmt.condition(row.condition),
                "domains improved": ", ".join(
                    fmt.domain(d) for d in own.loc[own["vote"] == "improved", "domain"]
                )
                or "—",
                "domains worsened": ", ".join(
                    fmt.domain(d) for d in own.loc[own["vote"] == "worsened", "domain"]
                )
                or "—",
                "domains without a clear direction": ", ".join(
                    fmt.domain(d) for d in own.loc[own["vote"] == "no clear direction", "domain"]
                )
                or "—",
                "trial's vote": row.vote,
            }
        )
    frame, notes = shown_rows(
        pd.DataFrame(rows), what="trials", ranked="by condition", table="synthesis_vote_trials"
    )
    return tables.Table(
        frame,
        caption="Direction of effect per trial: one vote per outcome domain, then per trial",
        notes=[
            "A domain votes by the majority of its counted outcomes; a trial favours benefit "
            "when more of its domains improved than worsened.",
            *notes,
        ],
        lift_repeated=False,
    )


def outcomes_table(inputs: Inputs) -> tables.Table:
    """Every outcome's direction, where it comes from, and whether it was counted."""
    votes = inputs["synthesis_votes"].sort_values(
        ["counted", "condition", "trial_id", "domain"],
        ascending=[False, True, True, True],
        kind="stable",
    )
    rows = [
        {
            "condition": fmt.condition(row.condition),
            "trial": inputs.study_link(row.trial_id),
            "outcome domain": fmt.domain(row.domain),
            "outcome": row.outcome,
            "direction": row.direction,
            "from": row.basis,
            "detail": row.detail,
            "counted": "yes" if row.counted else f"no: {row.not_counted_because}",
        }
        for row in votes.itertuples(index=False)
    ]
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="outcomes",
        ranked="counted first, then by condition and trial",
        table="synthesis_votes",
    )
    return tables.Table(
        frame,
        caption="Direction of effect of every outcome, where it comes from, and whether it "
        "was counted",
        notes=notes,
    )
