"""The top of a trial page: what the study is, where it comes from, and five lines to read first.

Every value from data goes through :func:`html.escape` (or :class:`markupsafe.Markup`'s
escaping), so a title containing markup renders as text.
"""

from __future__ import annotations

import html
import urllib.parse

import pandas as pd
from IPython.display import HTML

from helpers import labels
from helpers.pages import format as fmt
from helpers.pages.trial import common
from helpers.pages.trial.appraisal import limitation_rows
from helpers.pages.trial.common import MISSING, Tables, present, rows, text, trial_row
from helpers.stats import analysis, effects, estimates

SECONDARY_SOURCES = {
    "press_report": (
        "Caution: secondary source (press report)",
        "The numbers on this page come from a press report about the study, not from the "
        "article itself. Methods and results could not be checked against the publication; "
        "treat every number as unverified.",
    ),
    "abstract": (
        "Caution: abstract only",
        "The numbers on this page come from the abstract only. Methods, full results and "
        "harms could not be checked against the full article.",
    ),
    "bibliographic_record": (
        "Caution: bibliographic record only",
        "The numbers on this page come from a bibliographic record (its abstract), not from "
        "the full article. Methods, full results and harms could not be checked.",
    ),
    "registry_record": (
        "Caution: trial registry record only",
        "The numbers on this page come from a trial registry record, not from a publication. "
        "Results posted to a registry are not peer reviewed.",
    ),
}


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def _doi_link(doi: object) -> str:
    if not present(doi):
        return "not reported"
    url = "https://doi.org/" + urllib.parse.quote(str(doi), safe="/:;()._-")
    return _link(url, str(doi))


def _registry_link(registry_id: object) -> str:
    if not present(registry_id):
        return "no registry identifier reported"
    value = str(registry_id)
    if value.startswith("NCT") and value[3:].isdigit() and len(value) == 11:
        return _link(f"https://clinicaltrials.gov/study/{value}", value)
    return html.escape(value)


def caution(trial_id: str, tables: Tables) -> HTML:
    """A visible box for sources that are not the full article."""
    kind = trial_row(trial_id, tables)["source_kind"]
    if kind not in SECONDARY_SOURCES:
        return HTML("")
    title, body = SECONDARY_SOURCES[kind]
    return HTML(
        f'<div class="caution" role="note"><strong>{html.escape(title)}.</strong> '
        f"{html.escape(body)}</div>"
    )


def _reported_or_reason(trial: pd.Series, column: str, trial_id: str, tables: Tables) -> str:
    field = f"trial.{column}"
    return common.or_reason(text(trial[column], ""), trial_id, tables, field)


def _reports_text(trial_id: str, tables: Tables) -> str:
    """'full-text article (000_….txt, 120 quotes); press report (004_….txt, 3 quotes)'."""
    return "; ".join(
        f"{labels.label('kind', row['kind'])} ({row['report']}, "
        f"{fmt.plural(int(row['n_quotes']) if present(row['n_quotes']) else 0, 'quote')})"
        for _, row in rows(tables, "reports", trial_id).iterrows()
    )


def condition(trial: pd.Series) -> str:
    return (
        labels.label("condition", trial["condition"])
        if present(trial["condition"])
        else ("condition not reported")
    )


def header(trial_id: str, tables: Tables) -> HTML:
    """Title, study label and condition, the source's identifiers, design, setting, dates,
    funding and conflicts of interest, its reports, a caution box and a link to the synthesis."""
    trial = trial_row(trial_id, tables)
    if present(trial["start"]) or present(trial["end"]):
        dates = f"{text(trial['start'], 'start not reported')} to {text(trial['end'], 'end not reported')}"
    else:
        dates = common.or_reason("", trial_id, tables, "trial.start")
    design = text(trial["design"], "not reported")
    if present(trial["phase"]):
        design += f"; phase {trial['phase']}"
    setting = _reported_or_reason(trial, "setting", trial_id, tables)
    country = _reported_or_reason(trial, "country", trial_id, tables)
    kind = labels.label("kind", trial["source_kind"])
    facts = [
        ("Citation", html.escape(text(trial["citation"], "not reported"))),
        ("DOI", _doi_link(trial["doi"])),
        ("Registry", _registry_link(trial["registry_id"])),
        ("Design", html.escape(design)),
        ("Setting", html.escape(f"{setting}; country: {country}")),
        ("Study period", html.escape(dates)),
        ("Funding", html.escape(_reported_or_reason(trial, "funding", trial_id, tables))),
        (
            "Conflicts of interest",
            html.escape(_reported_or_reason(trial, "conflicts_of_interest", trial_id, tables)),
        ),
        ("Reports of the study", html.escape(_reports_text(trial_id, tables))),
        ("Most complete report", html.escape(f"{kind} ({text(trial['primary_report'])})")),
    ]
    body = "".join(f'<tr><th scope="row">{name}</th><td>{value}</td></tr>' for name, value in facts)
    label = html.escape(common.study_label(trial))
    return HTML(
        f"<h2>{html.escape(text(trial['title'], common.study_label(trial)))}</h2>"
        f"<p><strong>{label}</strong> · {html.escape(condition(trial))} · "
        f'<a href="{common.SYNTHESIS_PAGE}">back to the synthesis of all studies</a></p>'
        f'<div class="table-block"><div class="table-box"><table>'
        f"<caption>About the study {label} and its reports</caption>"
        f"<tbody>{body}</tbody></table></div></div>" + caution(trial_id, tables).data
    )


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def settings_used(settings: analysis.Settings) -> HTML:
    """The analysis settings this page was computed with, and why the primary r is what it is."""
    grid = ", ".join(f"{r:g}" for r in settings.r_grid)
    primary = settings.assumed_r == estimates.PRIMARY_R
    r_text = (
        f"r = {settings.assumed_r:g}, the review's primary value"
        if primary
        else f"r = {settings.assumed_r:g}, changed from the review's primary value "
        f"{estimates.PRIMARY_R:g} for this page"
    )
    items = [
        f"Correlation between a patient's baseline and later scores: {r_text}. "
        + estimates.PRIMARY_R_REASON,
        f"Sensitivity analysis: r = {grid}, and the r each reported p-value implies.",
        "Intervals: 95%; standardised changes and their intervals to 2 decimals, percentages "
        "to 1 decimal; every effect is shown so that a positive value is a benefit.",
    ]
    sources = "".join(f"<li>{html.escape(source)}</li>" for source in estimates.PRIMARY_R_SOURCES)
    listed = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return HTML(f"<ul>{listed}</ul><p>Sources for the correlation:</p><ul>{sources}</ul>")


# --------------------------------------------------------------------------------------------
# At a glance
# --------------------------------------------------------------------------------------------


def at_a_glance(trial_id: str, tables: Tables) -> HTML:
    """Five lines a clinician can read first: what, to whom, what changed, harms, trust."""
    trial = trial_row(trial_id, tables)
    lines = [
        ("What was done", intervention_text(trial)),
        ("To whom", _population_text(trial)),
        ("What changed", _changes_text(trial_id, tables)),
        ("What went wrong", _harms_text(trial_id, tables)),
        ("How much to trust it", _trust_text(trial_id, tables)),
    ]
    items = "".join(
        f"<li><strong>{name}:</strong> {html.escape(line)}</li>" for name, line in lines
    )
    return HTML(f"<ul>{items}</ul>")


def _population_text(trial: pd.Series) -> str:
    counts = [
        f"{int(trial[column])} {label}"
        for column, label in (
            ("n_enrolled", "enrolled"),
            ("n_safety", "in the safety analysis"),
            ("n_efficacy", "in the efficacy analysis"),
        )
        if present(trial[column])
    ]
    age = f"age {trial['age']}" if present(trial["age"]) else "age not reported"
    patients = ", ".join(counts) or "number of patients not reported"
    return f"patients with {condition(trial)}, {age}; {patients}"


def cells_text(trial: pd.Series) -> str:
    """'autologous bone-marrow mononuclear cells (BMMNC) from bone marrow'."""
    cells = (
        labels.label("cell_type", trial["cell_type"])
        if present(trial["cell_type"])
        else ("cells (type not reported)")
    )
    source = f"{trial['cell_source']} " if present(trial["cell_source"]) else ""
    tissue = f" from {labels.label('tissue', trial['tissue'])}" if present(trial["tissue"]) else ""
    return f"{source}{cells}{tissue}"


def control_text(trial: pd.Series) -> str:
    """'no control group' only when the report says so."""
    if not present(trial["control"]):
        return "whether there was a control group is not reported"
    if str(trial["control"]) == "none":
        return "no control group (as the report states)"
    return f"compared with {labels.label('control', trial['control'])}"


def follow_up_text(trial: pd.Series) -> str:
    """The follow-up as the report states it (the one definition the page uses)."""
    if not present(trial["follow_up_months"]):
        return "follow-up not reported"
    return f"follow-up {fmt.months(trial['follow_up_months'])} as the report states it"


def intervention_text(trial: pd.Series) -> str:
    count = int(trial["n_administrations"]) if present(trial["n_administrations"]) else None
    route = (
        labels.label("route", trial["route"]) if present(trial["route"]) else "route not reported"
    )
    given = (
        f"{fmt.plural(count, f'{route} administration')}" if count else f"{route} administrations"
    )
    interval = (
        f", {fmt.months(trial['interval_months'])} apart"
        if present(trial["interval_months"]) and count and count > 1
        else ""
    )
    return (
        f"{given} of {cells_text(trial)}{interval}; {follow_up_text(trial)}; {control_text(trial)}"
    )


def _last_readings(trial_id: str, tables: Tables) -> pd.DataFrame:
    """Each independent outcome's reading at its last assessment (scores and counts)."""
    parts = [
        rows(tables, table, trial_id)[
            ["outcome_id", "timepoint_months", "reading", "p_reported", "not_independent"]
        ]
        for table in ("trial_changes", "trial_count_changes")
    ]
    frame = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    frame = frame[frame["not_independent"].isna()]
    return frame.sort_values("timepoint_months", kind="stable").groupby("outcome_id").tail(1)


def _below_005(p_reported: object) -> bool:
    if not present(p_reported):
        return False
    try:
        p, _ = effects.parse_p_value(str(p_reported))
    except ValueError:
        return False
    return p < 0.05


def _are(count: int) -> str:
    """'1 is', '3 are'."""
    return f"{count} {'is' if count == 1 else 'are'}"


def _changes_text(trial_id: str, tables: Tables) -> str:
    trial = trial_row(trial_id, tables)
    last = _last_readings(trial_id, tables)
    narratives = rows(tables, "outcome_narratives", trial_id)
    in_words = fmt.plural(len(narratives), "outcome") + " described in words only"
    if last.empty:
        follow_up_only = rows(tables, "trial_proportions", trial_id)
        if not follow_up_only.empty:
            first = follow_up_only.iloc[0]
            return (
                f"no before/after numbers; {first['outcome']}: {first['events']}/"
                f"{first['total']} at {first['timepoint']} (no baseline reported); {in_words}"
            )
        return f"no numbers reported; {in_words}"
    counts = last["reading"].value_counts()
    primary = rows(tables, "trial_changes", trial_id)["r_used"]
    at_r = f"r = {primary.iloc[0]:g}" if not primary.empty else "counts"
    text_ = (
        f"of {fmt.plural(len(last), 'independent outcome')} compared with baseline at their "
        f"last assessment, {counts.get('improved', 0)} improved and "
        f"{counts.get('worsened', 0)} worsened beyond chance (95% intervals, {at_r}; for counts "
        f"every possible pairing of patients), {_are(counts.get('uncertain', 0))} uncertain and "
        f"{_are(counts.get('not judged', 0))} not judged (no estimate, or no established better "
        "direction)"
    )
    reported = int(last["p_reported"].map(_below_005).sum())
    if reported:
        text_ += (
            f"; the report's own tests, which it does not describe, give p < 0.05 for "
            f"{reported} of them"
        )
    if common.is_(trial["control"], "none"):
        text_ += "; without a control group these changes cannot be attributed to the cells"
    return text_


def _harms_text(trial_id: str, tables: Tables) -> str:
    rates = rows(tables, "trial_adverse_events", trial_id)
    if rates.empty:
        return "the report says nothing about adverse events"
    is_serious = rates["serious"].fillna(False).astype(bool)
    parts = [f"{row['term']}: {row['rate_text']}" for _, row in rates[is_serious].iterrows()]
    if not is_serious.any():
        parts.append("serious adverse events not reported on")
    others = [short_rate(row) for _, row in rates[~is_serious].iterrows()]
    if others:
        parts.append("other adverse events: " + ", ".join(others))
    return "; ".join(parts)


def short_rate(row: pd.Series) -> str:
    """'nausea 3 of 16 patients', 'headache 3 events among 11 patients', 'fever 14.1% (...)'."""
    term, count = row["term"], row["count"]
    if present(count) and present(row["denominator"]):
        derived = f" (from {row['percent_reported']}%)" if row["count_derived"] else ""
        if row["count_unit"] == row["denominator_unit"]:
            return f"{term} {count} of {row['denominator']} {row['denominator_unit']}{derived}"
        unit = estimates.unit_text(row["count_unit"], count)
        return f"{term} {count} {unit} among {row['denominator']} {row['denominator_unit']}"
    if present(count):
        return f"{term} {count} {estimates.unit_text(row['count_unit'], count)}"
    if present(row["percent_reported"]):
        return f"{term} {row['percent_reported']}% (denominator not stated)"
    return f"{term} (named, no count)"


def _trust_text(trial_id: str, tables: Tables) -> str:
    trial = trial_row(trial_id, tables)
    answers = rows(tables, "appraisal", trial_id)["answer"].value_counts()
    checks = rows(tables, "checks", trial_id)
    warnings = int((checks["severity"] == "warning").sum())
    kind = labels.label("kind", trial["source_kind"])
    appraisal = (
        ", ".join(f"{answers[a]} {labels.label('answer', a)}" for a in answers.index)
        or "not appraised"
    )
    listed = len(limitation_rows(trial_id, tables))
    return (
        f"most complete report: {kind}; JBI checklist: {appraisal}; "
        f"{fmt.plural(warnings, 'data-quality warning')}; "
        f"{fmt.plural(listed, 'limitation')} listed below"
    )


__all__ = [
    "MISSING",
    "at_a_glance",
    "caution",
    "cells_text",
    "control_text",
    "follow_up_text",
    "header",
    "intervention_text",
    "settings_used",
    "short_rate",
]
