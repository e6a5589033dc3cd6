"""Key messages: per condition, what the evidence says on safety, efficacy and certainty.

In GRADE's plain-language wording (Santesso et al. 2020, J Clin Epidemiol 119:126, "GRADE
guidelines 26: informative statements"): high certainty states the finding, moderate says
"probably", low says "may", very low says "we are very uncertain whether". Every number comes
from the result tables; every message links to its detail on the synthesis page. The index
page shows the same messages (:func:`key_messages_html` with ``page="synthesis.html"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from markupsafe import escape

from helpers.pages import format as fmt
from helpers.pages.synthesis.inputs import capitalised, outcome_words

TOPICS = ("safety", "efficacy", "certainty")
ANCHORS = {"safety": "serious-events", "efficacy": "efficacy"}
CERTAINTY_SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}


@dataclass(frozen=True)
class KeyMessage:
    """One statement: its condition (code), topic, text and the page fragment it links to."""

    condition: str
    topic: str
    text: str
    anchor: str


def findings_anchor(condition: str) -> str:
    """The fragment of a condition's summary of findings."""
    return "findings-" + str(condition).replace("_", "-")


def _row(frame: pd.DataFrame, **where: object) -> pd.Series | None:
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return None if frame.empty else frame.iloc[0]


def _certainty_of(certainty: pd.DataFrame, key: str) -> str | None:
    row = _row(certainty, outcome_key=key)
    return None if row is None else str(row["certainty"])


def _missing(row: pd.Series) -> str:
    ids = str(row["trials_without_data"]) if fmt.present(row["trials_without_data"]) else ""
    missing = len([i for i in ids.split(";") if i])
    if not missing:
        return ""
    verb = "does" if missing == 1 else "do"
    return f" {fmt.plural(missing, 'more trial')} {verb} not report serious events per patient."


def safety_message(condition: str, results: Mapping[str, pd.DataFrame]) -> str:
    """Serious adverse events in one condition, with the certainty statement."""
    name = fmt.condition(condition)
    row = _row(results["synthesis_serious_pooled"], scope=condition)
    if row is None or not row["trials"]:
        return (
            f"No trial in {name} reports serious adverse events per patient, so their "
            "frequency cannot be estimated from these reports."
        )
    certainty = _certainty_of(results["synthesis_certainty"], f"{condition}:serious")
    patients, trials = int(row["patients"]), int(row["trials"])
    if int(row["events"]) == 0:
        found = (
            f"No serious adverse events were reported in {fmt.plural(patients, 'patient')} "
            f"({fmt.plural(trials, 'trial')}); the true rate could still be as high as "
            f"{fmt.percent(row['upper_bound'])}."
        )
        claim = {
            "very low": f"We are very uncertain whether cell therapy for {name} causes serious "
            "adverse events.",
            "low": f"Serious adverse events may be uncommon with cell therapy for {name}.",
            "moderate": f"Serious adverse events are probably uncommon with cell therapy for "
            f"{name}.",
            "high": f"Serious adverse events are uncommon with cell therapy for {name}.",
        }
    else:
        found = (
            f"{int(row['events'])} of {fmt.plural(patients, 'patient')} "
            f"({fmt.plural(trials, 'trial')}) had a serious adverse event"
            + (
                f"; pooled rate {fmt.percent(row['glmm_proportion'])} (95% CI "
                f"{fmt.percent_interval(row['glmm_ci_low'], row['glmm_ci_high'])})."
                if bool(row["pooled"])
                else f" ({fmt.percent(row['proportion'])}; exact 95% CI "
                f"{fmt.percent_interval(row['ci_low'], row['ci_high'])})."
            )
        )
        claim = {
            "very low": f"We are very uncertain how often cell therapy for {name} causes "
            "serious adverse events.",
            "low": f"Cell therapy for {name} may cause serious adverse events.",
            "moderate": f"Cell therapy for {name} probably causes serious adverse events.",
            "high": f"Cell therapy for {name} causes serious adverse events.",
        }
    definitions = (
        f" The trials define serious events in {int(row['definitions'])} ways."
        if fmt.present(row["definitions"]) and int(row["definitions"]) > 1
        else ""
    )
    return f"{found}{definitions}{_missing(row)} {claim.get(certainty or 'very low')}"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def efficacy_message(condition: str, results: Mapping[str, pd.DataFrame]) -> str:
    """Direction of effect at trial level and the certainty about the main outcomes."""
    name = fmt.condition(condition)
    certainty = results["synthesis_certainty"]
    outcomes = certainty[
        (certainty["condition"] == condition)
        & (certainty["kind"] == "efficacy")
        & certainty["importance"].isin(["critical", "important"])
    ].sort_values("rank", kind="stable")
    if outcomes.empty:
        return f"No trial in {name} reports a clinical efficacy outcome that can be judged."
    votes = _row(results["synthesis_vote_tests"], scope=condition, level="trials")
    up, down = int(votes["favour_benefit"]), int(votes["favour_harm"])
    voted = up + down + int(votes["ties"])
    found = (
        f"{up} of {fmt.plural(voted, 'trial')} found improvement on balance across their "
        "outcome domains"
        + (f" ({down} found worsening)" if down else "")
        + (f" (exact sign test {fmt.p_value(votes['sign_test_p'])})" if voted > 1 else "")
        + "."
    )
    by_level: dict[str, list[str]] = {}
    for row in outcomes.head(4).itertuples(index=False):
        by_level.setdefault(row.certainty, []).append(outcome_words(row.subject).lower())
    claims = []
    for level, domains in by_level.items():
        subject = _joined(domains)
        claims.append(
            {
                "very low": f"we are very uncertain whether cell therapy improves {subject}",
                "low": f"cell therapy may improve {subject}",
                "moderate": f"cell therapy probably improves {subject}",
                "high": f"cell therapy improves {subject}",
            }[level]
        )
    caveat = (
        " The trials were not randomised: before-after changes include natural recovery, "
        "growth and rehabilitation."
        if (outcomes["start"] == "low").all()
        else ""
    )
    return f"{found} {capitalised('; '.join(claims))} in {name}.{caveat}"


def certainty_message(condition: str, results: Mapping[str, pd.DataFrame]) -> str:
    """How certain the evidence is across the condition's outcomes, and why."""
    certainty = results["synthesis_certainty"]
    own = certainty[certainty["condition"] == condition]
    if own.empty:
        return f"No outcome in {fmt.condition(condition)} could be rated."
    counts = own["certainty"].value_counts()
    total = len(own)
    if len(counts) == 1:
        summary = f"{capitalised(str(counts.index[0]))} for all {fmt.plural(total, 'outcome')}"
    else:
        summary = (
            capitalised(
                _and(
                    [
                        f"{level} for {counts[level]}"
                        for level in ("high", "moderate", "low", "very low")
                        if level in counts
                    ]
                )
            )
            + f" of the {fmt.plural(total, 'outcome')}"
        )
    judgments = results["synthesis_certainty_judgments"]
    judged = judgments[judgments["outcome_key"].isin(own["outcome_key"])]
    down = judged[judged["levels_down"] > 0].groupby("domain")["outcome_key"].nunique()
    down = down.sort_values(ascending=False, kind="stable")
    reasons = [f"{domain} in {n} of {total}" for domain, n in down.head(3).items()]
    because = f", rated down for {_and(reasons)}" if reasons else ""
    return f"{summary} assessed{because}."


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def key_messages(results: Mapping[str, pd.DataFrame]) -> list[KeyMessage]:
    """Per condition (in the order of their codes): safety, efficacy and certainty messages."""
    trials = results["synthesis_serious_events"]
    messages = []
    for condition in sorted(set(trials["condition"])):
        messages += [
            KeyMessage(condition, "safety", safety_message(condition, results), ANCHORS["safety"]),
            KeyMessage(
                condition, "efficacy", efficacy_message(condition, results), ANCHORS["efficacy"]
            ),
            KeyMessage(
                condition,
                "certainty",
                certainty_message(condition, results),
                findings_anchor(condition),
            ),
        ]
    return messages


def key_messages_html(results: Mapping[str, pd.DataFrame], *, page: str = "") -> str:
    """The key messages as HTML: a heading per condition, a list of linked statements.

    ``page`` is the synthesis page's address from where the HTML is shown: ``""`` on the
    synthesis page itself, ``"synthesis.html"`` on the index.
    """
    messages = key_messages(results)
    if not messages:
        return "<p>No trial is included, so there is nothing to summarise.</p>"
    parts = ['<div class="key-messages">']
    for condition in dict.fromkeys(m.condition for m in messages):
        parts.append(f"<h3>{escape(capitalised(fmt.condition(condition)))}</h3><ul>")
        for message in (m for m in messages if m.condition == condition):
            href = escape(f"{page}#{message.anchor}")
            parts.append(
                f"<li><strong>{escape(capitalised(message.topic))}.</strong> "
                f"{escape(message.text)} "
                f'<a href="{href}">{escape(message.topic)} in detail</a></li>'
            )
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)
