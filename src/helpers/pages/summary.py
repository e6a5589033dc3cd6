"""Sections of one trial's page, each built from the processed tables.

Every builder takes ``(trial_id, tables)`` - ``tables`` as returned by
:func:`helpers.data.load_all` - and returns one of three things a notebook cell can show as
its last expression:

* a :class:`pandas.DataFrame` whose cells are already formatted text (pandas escapes cell
  text when it renders HTML, so data can never inject markup);
* an :class:`IPython.display.HTML` in which every value from data went through
  :func:`html.escape`;
* a figure (:mod:`helpers.pages.plots`).

A section without data returns a plain sentence saying so. Numbers as reported are shown in
the shortest form that round-trips the table (``127.7 ± 59.2``); computed numbers carry their
method. ``[q087]`` marks point to the verbatim quotes listed by :func:`provenance`.
"""

from __future__ import annotations

import html
import math
import urllib.parse
from collections.abc import Iterable

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from helpers import labels
from helpers.pages import plots, report
from helpers.pages.tables import with_caption
from helpers.stats import effects, estimates

MISSING = "—"
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
}
SOURCE_KIND_LABELS = {
    "full_text": "full text of the publication",
    "abstract": "abstract only",
    "bibliographic_record": "bibliographic record (abstract) only",
    "press_report": "press report (secondary source)",
}
CELL_TYPES = {
    "BMMNC": "bone-marrow mononuclear cells (BMMNC)",
    "MSC": "mesenchymal stem/stromal cells (MSC)",
}
DOSE_BASES = {
    "per_kg": "per kg of body weight",
    "per_administration_total": "total per administration",
    "per_patient_total": "total per patient",
}
SMALL_SAMPLE = 20
BASELINE_CAPTIONS = {
    "baseline": "Baseline characteristics of the patients",
    "product": "The cell product: preparation and dose",
}
# Said once in the page's text instead of in every row's note.
GENERIC_RECOVERY_NOTE = "two-sided paired t-test with n - 1 df assumed (Cochrane Handbook 6.5.2.8)."
CAUTION_STYLE = (
    "border-left: 6px solid #b35900; background: #fff4e5; padding: 0.6em 1em; margin: 0.8em 0"
)


# --------------------------------------------------------------------------------------------
# Formatting: reported numbers, computed numbers, quote references
# --------------------------------------------------------------------------------------------


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def reported(value: object) -> str:
    """A reported number in the shortest form that round-trips (127.7, 104.0, 0.083)."""
    if not _present(value):
        return MISSING
    number = float(value)
    text = repr(number)
    return f"{number:g}" if "e" in text else text


def _decimals(value: float) -> int:
    text = reported(value)
    return len(text.split(".")[1]) if "." in text else 0


def _minus(text: str) -> str:
    """Typographic minus sign, so negative numbers do not read as dashes."""
    return text.replace("-", "−")


def _signed(value: float, decimals: int) -> str:
    return _minus(f"{value:+.{decimals}f}")


def _fixed(value: float, decimals: int = 2) -> str:
    return _minus(f"{value:.{decimals}f}")


def _percent(proportion: float) -> str:
    return f"{100 * proportion:.1f}%"


def _interval(low: float, high: float, decimals: int = 2) -> str:
    return f"{_fixed(low, decimals)} to {_fixed(high, decimals)}"


def _integer(value: object) -> str:
    return str(int(value)) if _present(value) else MISSING


def _text(value: object) -> str:
    return str(value) if _present(value) else MISSING


def short_ref(quote_id: str, trial_id: str) -> str:
    """'sb_nguyen2023-q087' -> 'q087' (the trial is implied on its own page)."""
    prefix = f"{trial_id}-"
    return quote_id[len(prefix) :] if quote_id.startswith(prefix) else quote_id


def refs(quote_ids: object, trial_id: str) -> str:
    """Footnote-style marks for ';'-separated quote ids: '[q087] [q088]'."""
    joined = estimates.join_quote_ids(quote_ids)
    return " ".join(f"[{short_ref(q, trial_id)}]" for q in joined.split(";") if q) or MISSING


def _month(value: object) -> str:
    return f"{float(value):g}" if _present(value) else MISSING


def _sentence(text: str, items: Iterable[str] = ()) -> HTML:
    """A plain escaped sentence, optionally followed by a bullet list."""
    bullets = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return HTML(f"<p>{html.escape(text)}</p>" + (f"<ul>{bullets}</ul>" if bullets else ""))


def _rows(tables: dict[str, pd.DataFrame], table: str, trial_id: str) -> pd.DataFrame:
    frame = tables[table]
    return frame[frame["trial_id"] == trial_id].reset_index(drop=True)


def statistics_text(row: pd.Series) -> str:
    """One cell for any reported summary: mean ± SD, median (range), events/total, percent."""
    if _present(row.get("mean")):
        text = reported(row["mean"])
        if _present(row.get("sd")):
            return f"{text} ± {reported(row['sd'])}"
        if _present(row.get("se")):
            return f"{text} ± {reported(row['se'])} (SE)"
        return f"{text} (no SD reported)"
    if _present(row.get("median")):
        low, high = row.get("low"), row.get("high")
        spread = f" (range {reported(low)}–{reported(high)})" if _present(low) else ""
        return f"median {reported(row['median'])}{spread}"
    if _present(row.get("events")) and _present(row.get("total")):
        events, total = int(row["events"]), int(row["total"])
        percent = row.get("percent_reported")
        shown = f"{percent}% reported" if _present(percent) else _percent(events / total)
        return f"{events}/{total} ({shown})"
    if _present(row.get("percent_reported")):
        return f"{row['percent_reported']}%"
    low, high = row.get("low"), row.get("high")
    if _present(low) and _present(high):
        return reported(low) if float(low) == float(high) else f"{reported(low)}–{reported(high)}"
    if _present(low):
        return f"lower bound {reported(low)}"
    if _present(high):
        return f"upper bound {reported(high)}"
    return "described in words only"


# --------------------------------------------------------------------------------------------
# The trial and its header
# --------------------------------------------------------------------------------------------


def require_trial(trial_id: object, trials: pd.DataFrame) -> str:
    """``trial_id`` if it names a processed trial, else ValueError listing the valid ids."""
    valid = sorted(trials["trial_id"].dropna().astype(str))
    if not isinstance(trial_id, str) or trial_id not in valid:
        raise ValueError(f"unknown trial_id {trial_id!r}; valid ids: {', '.join(valid)}")
    return trial_id


def _trial(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.Series:
    require_trial(trial_id, tables["trials"])
    return _rows(tables, "trials", trial_id).iloc[0]


def _fact(trial_id: str, tables: dict[str, pd.DataFrame], field: str) -> tuple[str, str]:
    """(why it is not reported, quote refs) for one sheet field of the trial."""
    facts = _rows(tables, "trial_facts", trial_id)
    match = facts[facts["field"] == field]
    if match.empty:
        return "", MISSING
    fact = match.iloc[0]
    reason = str(fact["not_reported"]) if _present(fact["not_reported"]) else ""
    return reason, refs(fact["quote_id"], trial_id)


def _or_reason(value: str, trial_id: str, tables: dict, field: str) -> str:
    if value and value != MISSING:
        return value
    reason, _ = _fact(trial_id, tables, field)
    return f"not reported ({reason})" if reason else "not reported"


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def _doi_link(doi: object) -> str:
    if not _present(doi):
        return "not reported"
    url = "https://doi.org/" + urllib.parse.quote(str(doi), safe="/:;()._-")
    return _link(url, str(doi))


def _registry_link(registry_id: object) -> str:
    if not _present(registry_id):
        return "no registry identifier reported"
    text = str(registry_id)
    if text.startswith("NCT") and text[3:].isdigit() and len(text) == 11:
        return _link(f"https://clinicaltrials.gov/study/{text}", text)
    return html.escape(text)


def caution(trial_id: str, tables: dict[str, pd.DataFrame]) -> HTML:
    """A visible box for abstract-only, bibliographic-record and press-report sources."""
    kind = _trial(trial_id, tables)["source_kind"]
    if kind not in SECONDARY_SOURCES:
        return HTML("")
    title, body = SECONDARY_SOURCES[kind]
    return HTML(
        f'<div role="note" style="{CAUTION_STYLE}"><strong>{html.escape(title)}.</strong> '
        f"{html.escape(body)}</div>"
    )


def header(trial_id: str, tables: dict[str, pd.DataFrame]) -> HTML:
    """Title, citation, DOI and registry links, design, setting, dates and source kind."""
    trial = _trial(trial_id, tables)
    dates = f"{_text(trial['start'])} to {_text(trial['end'])}"
    if not _present(trial["start"]) and not _present(trial["end"]):
        dates = _or_reason("", trial_id, tables, "trial.start")
    design = f"{_text(trial['design'])}; phase {_text(trial['phase'])}"
    setting = _or_reason(_text(trial["setting"]), trial_id, tables, "trial.setting")
    country = _or_reason(_text(trial["country"]), trial_id, tables, "trial.country")
    kind = str(trial["source_kind"])
    facts = [
        ("Citation", html.escape(_text(trial["citation"]))),
        ("DOI", _doi_link(trial["doi"])),
        ("Registry", _registry_link(trial["registry_id"])),
        ("Design", html.escape(design)),
        ("Setting", html.escape(f"{setting}; country: {country}")),
        ("Study period", html.escape(dates)),
        ("Reports", html.escape(_reports_text(trial_id, tables))),
        (
            "Most complete report",
            html.escape(
                f"{SOURCE_KIND_LABELS.get(kind, kind)} (file {_text(trial['primary_report'])}; "
                f"{_integer(trial['n_quotes'])} verbatim quotes located in all reports)"
            ),
        ),
    ]
    rows = "".join(
        f'<tr><th style="text-align:left;vertical-align:top">{name}</th><td>{value}</td></tr>'
        for name, value in facts
    )
    return HTML(
        f"<h2>{html.escape(_text(trial['title']))}</h2>"
        f"<p><code>{html.escape(trial_id)}</code> · {html.escape(_condition(trial))}</p>"
        f"<table><caption>About this source</caption>{rows}</table>"
        + caution(trial_id, tables).data
    )


def _reports_text(trial_id: str, tables: dict[str, pd.DataFrame]) -> str:
    """'full-text article (000_….txt); press report (004_….txt)'."""
    reports = _rows(tables, "reports", trial_id)
    return "; ".join(
        f"{labels.label('kind', row['kind'])} ({row['report']}, {_integer(row['n_quotes'])} quotes)"
        for _, row in reports.iterrows()
    )


def _condition(trial: pd.Series) -> str:
    return _text(trial["condition"]).replace("_", " ")


def _n_patients(trial: pd.Series) -> int | None:
    for column in ("n_enrolled", "n_safety", "n_efficacy"):
        if _present(trial[column]):
            return int(trial[column])
    return None


def at_a_glance(trial_id: str, tables: dict[str, pd.DataFrame], r: float = 0.5) -> HTML:
    """Five lines a clinician can read first: what, to whom, what changed, harms, trust."""
    trial = _trial(trial_id, tables)
    lines = [
        ("What was done", _intervention_text(trial)),
        ("To whom", _population_text(trial)),
        ("What changed", _changes_text(trial_id, tables, r)),
        ("What went wrong", _harms_text(trial_id, tables)),
        ("How much to trust it", _trust_text(trial_id, tables)),
    ]
    items = "".join(
        f"<li><strong>{name}:</strong> {html.escape(text)}</li>" for name, text in lines
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
        if _present(trial[column])
    ]
    age = f"age {trial['age']}" if _present(trial["age"]) else "age not reported"
    return f"patients with {_condition(trial)}, {age}; {', '.join(counts) or 'n not reported'}"


def _is(value: object, expected: str) -> bool:
    """NA-safe equality for a text field."""
    return _present(value) and str(value) == expected


def cells_text(trial: pd.Series) -> str:
    """'autologous bone-marrow mononuclear cells (BMMNC) from bone marrow'."""
    cells = CELL_TYPES.get(str(trial["cell_type"]), _text(trial["cell_type"]))
    source = f"{trial['cell_source']} " if _present(trial["cell_source"]) else ""
    tissue = f" from {str(trial['tissue']).replace('_', ' ')}" if _present(trial["tissue"]) else ""
    return f"{source}{cells}{tissue}"


def _intervention_text(trial: pd.Series) -> str:
    count = _integer(trial["n_administrations"])
    interval = (
        f", {_month(trial['interval_months'])} month(s) apart"
        if _present(trial["interval_months"]) and count not in (MISSING, "1")
        else ""
    )
    follow = (
        f"; follow-up {_month(trial['follow_up_months'])} months"
        if _present(trial["follow_up_months"])
        else "; follow-up not reported"
    )
    control = (
        labels.label("control", trial["control"])
        if _present(trial["control"])
        else "control group not reported"
    )
    route = _text(trial["route"]) if _present(trial["route"]) else "route not reported"
    return f"{count} {route} administration(s) of {cells_text(trial)}{interval}{follow}; {control}"


def _last_comparisons(trial_id: str, tables: dict, r: float) -> pd.DataFrame:
    """Each outcome's comparison at its last timepoint, with a one-word reading."""
    rows = _effect_rows(trial_id, tables, r)
    if rows.empty:
        return rows
    last = rows.sort_values("timepoint_months", kind="stable").groupby("outcome_id").tail(1)
    return last


def _changes_text(trial_id: str, tables: dict, r: float) -> str:
    last = _last_comparisons(trial_id, tables, r)
    narratives = _rows(tables, "outcome_narratives", trial_id)
    if last.empty:
        singles = estimates.proportions(_rows(tables, "outcomes", trial_id))
        if not singles.empty:
            first = singles.iloc[0]
            return (
                f"no before/after numbers; {first['measure']}: {first['events']}/{first['total']}"
                f" at {first['timepoint']} (no baseline reported); "
                f"{len(narratives)} outcome(s) described in words only"
            )
        return f"no numbers reported; {len(narratives)} outcome(s) described in words only"
    counts = last["reading"].value_counts()
    text = (
        f"of {len(last)} outcomes compared with baseline at their last assessment, "
        f"{counts.get('improved', 0)} improved and {counts.get('worsened', 0)} worsened beyond "
        f"chance (95% CI, r = {r:g} assumed; for counts every possible pairing), "
        f"{counts.get('uncertain', 0) + counts.get('depends on pairing', 0)} are uncertain and "
        f"{counts.get('no agreed direction', 0)} have no agreed better direction"
    )
    if "reading_recovered" in last and last["reading_recovered"].notna().any():
        readings = last["reading_recovered"].where(
            last["reading_recovered"].notna(), last["reading"]
        )
        text += (
            f"; with r recovered from the reported p-values, {int((readings == 'improved').sum())}"
            f" improved and {int((readings == 'worsened').sum())} worsened"
        )
    return text + "; without a control group these changes cannot be attributed to the cells"


def _harms_text(trial_id: str, tables: dict) -> str:
    rates = estimates.adverse_event_rates(_rows(tables, "adverse_events", trial_id))
    if rates.empty:
        return "the source reports nothing on adverse events"
    is_serious = rates["serious"].fillna(False).astype(bool)
    parts = [f"{row['term']}: {row['rate_text']}" for _, row in rates[is_serious].iterrows()]
    if not is_serious.any():
        parts.append("serious adverse events not reported on")
    others = [_short_rate(row) for _, row in rates[~is_serious].iterrows()]
    if others:
        parts.append("other adverse events: " + ", ".join(others))
    return "; ".join(parts)


def _short_rate(row: pd.Series) -> str:
    """'nausea 3 of 16 patients', 'headache 3 events among 11 patients', 'fever 14.1% (...)'."""
    term, count = row["term"], row["count"]
    if _present(count) and _present(row["denominator"]):
        derived = f" (from {row['percent_reported']}%)" if row["count_derived"] else ""
        if row["count_unit"] == row["denominator_unit"]:
            return f"{term} {count} of {row['denominator']} {row['denominator_unit']}{derived}"
        unit = estimates.unit_text(row["count_unit"], count)
        return f"{term} {count} {unit} among {row['denominator']} {row['denominator_unit']}"
    if _present(count):
        return f"{term} {count} {estimates.unit_text(row['count_unit'], count)}"
    if _present(row["percent_reported"]):
        return f"{term} {row['percent_reported']}% (denominator not stated)"
    return f"{term} (named, no count)"


def _trust_text(trial_id: str, tables: dict) -> str:
    trial = _trial(trial_id, tables)
    answers = _rows(tables, "appraisal", trial_id)["answer"].value_counts()
    checks = _rows(tables, "checks", trial_id)
    warnings = int((checks["severity"] == "warning").sum())
    kind = SOURCE_KIND_LABELS.get(str(trial["source_kind"]), _text(trial["source_kind"]))
    appraisal_text = ", ".join(f"{answers[a]} {a}" for a in answers.index) or "not appraised"
    return (
        f"source: {kind}; JBI checklist: {appraisal_text}; {warnings} data-quality warning(s); "
        f"{len(_limitation_rows(trial_id, tables))} limitation(s) listed below"
    )


# --------------------------------------------------------------------------------------------
# PICO, baseline and cell product
# --------------------------------------------------------------------------------------------


def _dose_text(trial_id: str, tables: dict[str, pd.DataFrame]) -> str:
    """Every administration's dose: '839 (SE 86.37) × 10^6 cells per administration (1st); …'."""
    parts = []
    for _, dose in _rows(tables, "doses", trial_id).iterrows():
        unit = _text(dose["unit"])
        amount = reported(dose["value"]) if _present(dose["value"]) else ""
        if _present(dose["sd"]):
            amount += f" ± {reported(dose['sd'])}"
        if _present(dose["se"]):
            amount += f" (SE {reported(dose['se'])})"
        quantity = f"{amount} × {unit}" if unit.startswith("10^") else f"{amount} {unit}"
        basis = labels.label("dose_basis", dose["basis"])
        which = (
            f", {dose['administration']} administration" if _present(dose["administration"]) else ""
        )
        parts.append(f"{quantity.strip()} ({basis}{which})")
    return "; ".join(parts)


@with_caption("Who was treated, with what, compared with what (PICO), as the source reports it")
def pico(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Population, intervention, comparison, outcomes and time, each with its quotes."""
    trial = _trial(trial_id, tables)
    outcomes = _rows(tables, "outcomes", trial_id)
    narratives = _rows(tables, "outcome_narratives", trial_id)
    facts = _rows(tables, "trial_facts", trial_id)
    co_interventions = facts[facts["field"].str.startswith("intervention.co_interventions")]

    def item(part: str, name: str, value: str, field: str | None) -> dict:
        shown = _or_reason(value, trial_id, tables, field) if field else value or "not reported"
        return {
            "PICO": part,
            "item": name,
            "as reported": shown,
            "sources": _fact(trial_id, tables, field)[1] if field else MISSING,
        }

    cells = cells_text(trial)
    n_efficacy = _integer(trial["n_efficacy"])
    numeric = outcomes.drop_duplicates("outcome_id")
    words_only = narratives[~narratives["outcome_id"].isin(outcomes["outcome_id"])]
    rows = [
        item("Population", "condition", _condition(trial), "trial.condition"),
        item("Population", "age", _text(trial["age"]), "trial.age"),
        item("Population", "sex", _text(trial["sex"]), "trial.sex"),
        item("Population", "enrolled", _integer(trial["n_enrolled"]), "trial.n_enrolled"),
        item("Population", "in the safety analysis", _integer(trial["n_safety"]), "trial.n_safety"),
        item("Population", "in the efficacy analysis", n_efficacy, "trial.n_efficacy"),
        item("Intervention", "cells", cells, "intervention.cell_type"),
        item("Intervention", "route", _text(trial["route"]), "intervention.route"),
        item("Intervention", "dose", _dose_text(trial_id, tables), "intervention.dose"),
        item(
            "Intervention",
            "administrations",
            _integer(trial["n_administrations"]),
            "intervention.n_administrations",
        ),
        item(
            "Intervention",
            "interval (months)",
            _month(trial["interval_months"]) if _present(trial["interval_months"]) else "",
            "intervention.interval_months",
        ),
    ]
    for _, fact in co_interventions.iterrows():
        rows.append(
            {
                "PICO": "Intervention",
                "item": "co-intervention",
                "as reported": _text(fact["value"]),
                "sources": refs(fact["quote_id"], trial_id),
            }
        )
    rows += [
        item("Comparison", "control", _text(trial["control"]), "trial.control"),
        item(
            "Comparison", "blinding", _text(trial["blinding"]).replace("_", " "), "trial.blinding"
        ),
        {
            "PICO": "Outcomes",
            "item": "reported with numbers",
            "as reported": _outcome_list(numeric),
            "sources": "see section 4",
        },
        {
            "PICO": "Outcomes",
            "item": "described in words only",
            "as reported": _outcome_list(words_only),
            "sources": "see section 4",
        },
        item(
            "Time",
            "follow-up (months)",
            _month(trial["follow_up_months"]) if _present(trial["follow_up_months"]) else "",
            "trial.follow_up_months",
        ),
        item(
            "Time",
            "assessments",
            _text(trial["follow_up_schedule"]),
            "trial.follow_up_schedule",
        ),
    ]
    return pd.DataFrame(rows).set_index(["PICO", "item"])


def _outcome_list(outcomes: pd.DataFrame, limit: int = 8) -> str:
    """'motor: GMFM total; BBS' when short, else outcome counts per domain."""
    if outcomes.empty:
        return "none"
    if len(outcomes) <= limit:
        return "; ".join(f"{row['domain']}: {row['measure']}" for _, row in outcomes.iterrows())
    per_domain = outcomes.groupby("domain", sort=False).size()
    return ", ".join(f"{domain} ({count})" for domain, count in per_domain.items()) + (
        f": {len(outcomes)} outcomes"
    )


def _baseline_caption(trial_id: str, tables: dict, group: str = "baseline") -> str:
    return BASELINE_CAPTIONS.get(group, f"Reported {group} characteristics")


@with_caption(_baseline_caption)
def baseline(
    trial_id: str, tables: dict[str, pd.DataFrame], group: str = "baseline"
) -> pd.DataFrame | HTML:
    """Baseline characteristics (``group="baseline"``) or the cell product (``"product"``)."""
    _trial(trial_id, tables)
    rows = _rows(tables, "characteristics", trial_id)
    rows = rows[rows["group"] == group]
    if rows.empty:
        what = "baseline characteristics" if group == "baseline" else "cell-product details"
        return _sentence(f"This source reports no {what} beyond those listed above.")
    return pd.DataFrame(
        {
            "characteristic": rows["label"].to_list(),
            "unit": [_text(u) for u in rows["unit"]],
            "n": [_integer(n) for n in rows["n"]],
            "as reported": [statistics_text(row) for _, row in rows.iterrows()],
            "how obtained": [_text(d) if _present(d) else "as written" for d in rows["derived"]],
            "sources": [refs(q, trial_id) for q in rows["quote_id"]],
        }
    ).set_index("characteristic")


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


def _effect_rows(trial_id: str, tables: dict, r: float) -> pd.DataFrame:
    """Continuous and count comparisons of the trial as one frame of display-ready text."""
    outcomes = _rows(tables, "outcomes", trial_id)
    assumed = estimates.change_from_baseline(outcomes, r=r)
    recovered = estimates.change_from_baseline(outcomes, r=r, use_recovered=True)
    counts = estimates.count_changes(outcomes)
    rows = []
    for (_, change), (_, alternative) in zip(assumed.iterrows(), recovered.iterrows(), strict=True):
        rows.append(_continuous_effect(change, alternative, r, trial_id))
    for _, change in counts.iterrows():
        rows.append(_count_effect(change, trial_id))
    if not rows:
        return pd.DataFrame(rows)
    # Back into the outcomes table's order, so domains stay together as in the outcome table.
    order = {outcome_id: i for i, outcome_id in enumerate(dict.fromkeys(outcomes["outcome_id"]))}
    frame = pd.DataFrame(rows)
    frame["_order"] = frame["outcome_id"].map(order)
    frame = frame.sort_values(["_order", "timepoint_months"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def _reading(estimate: float, low: float, high: float, sign: float) -> str:
    if math.isnan(sign):
        return "no agreed direction"
    if math.isnan(low):
        return "not computable"
    if low > 0 or high < 0:
        return "improved" if estimate * sign > 0 else "worsened"
    return "uncertain"


def _continuous_effect(change: pd.Series, alternative: pd.Series, r: float, trial_id: str) -> dict:
    decimals = max(_decimals(change["pre_mean"]), _decimals(change["post_mean"]))
    unit = f" {change['unit']}" if _present(change["unit"]) else ""
    computable = _present(change["yi"])
    assumption = f"r = {r:g} assumed"
    if _present(change["r_recovered"]):
        bound = " (p is a bound)" if change["p_is_bound"] else ""
        assumption += (
            f"; r recovered from p {estimates.p_text(change['p_reported'])}{bound}: "
            f"{change['r_recovered']:.2f}, 95% CI "
            f"{_interval(alternative['ci_low'], alternative['ci_high'])}"
        )
    return {
        "outcome_id": change["outcome_id"],
        "domain": change["domain"],
        "outcome": change["measure"],
        "timepoint": change["timepoint"],
        "timepoint_months": change["timepoint_months"],
        "comparison": f"baseline → {change['timepoint']} (month {_month(change['timepoint_months'])})",
        "n": _integer(change["n"]),
        "change": _signed(change["mean_change"], decimals) + unit,
        "effect": f"SMCR {_fixed(change['yi'])}" if computable else MISSING,
        "95% CI": _interval(change["ci_low"], change["ci_high"]) if computable else MISSING,
        "assumption / paired test": assumption,
        "p (as reported)": _text(change["p_reported"]),
        "reading": _reading(
            change["yi"], change["ci_low"], change["ci_high"], change["benefit_sign"]
        ),
        "note": (change["note"] or "").replace(GENERIC_RECOVERY_NOTE, "").strip(),
        "sources": refs(change["quote_id"], trial_id),
        "reading_recovered": (
            _reading(
                alternative["yi"],
                alternative["ci_low"],
                alternative["ci_high"],
                alternative["benefit_sign"],
            )
            if _present(change["r_recovered"])
            else None
        ),
    }


def _count_effect(change: pd.Series, trial_id: str) -> dict:
    p_min, p_max = change["mcnemar_p_min"], change["mcnemar_p_max"]
    if _present(p_min):
        pairings = int(change["n_pairings"])
        if p_min == p_max:
            test = f"exact McNemar p = {p_min:.3g} (the only value the margins allow)"
        else:
            test = f"exact McNemar p between {p_min:.3g} and {p_max:.3g}"
        test += f"; pairing unknown, {pairings} pairing(s) fit the counts"
    else:
        test = str(change["mcnemar_note"])
    sign = change["benefit_sign"]
    if math.isnan(sign):
        reading = "no agreed direction"
    elif not _present(p_min) or change["risk_difference"] == 0 or p_min >= 0.05:
        reading = "uncertain"
    elif p_max < 0.05:
        reading = "improved" if change["rd_benefit"] > 0 else "worsened"
    else:
        reading = "depends on pairing"
    return {
        "outcome_id": change["outcome_id"],
        "domain": change["domain"],
        "outcome": change["measure"],
        "timepoint": change["timepoint"],
        "timepoint_months": change["timepoint_months"],
        "comparison": f"baseline → {change['timepoint']} (month {_month(change['timepoint_months'])})",
        "n": f"{change['pre_total']} → {change['post_total']}",
        "change": _minus(f"{100 * change['risk_difference']:+.1f} percentage points"),
        "effect": (
            f"{change['pre_events']}/{change['pre_total']} → "
            f"{change['post_events']}/{change['post_total']}"
        ),
        "95% CI": (
            f"{_percent(change['pre_proportion'])} ({_percent(change['pre_ci_low'])}–"
            f"{_percent(change['pre_ci_high'])}) → {_percent(change['post_proportion'])} "
            f"({_percent(change['post_ci_low'])}–{_percent(change['post_ci_high'])}), exact"
        ),
        "assumption / paired test": test,
        "p (as reported)": _text(change["p_reported"]),
        "reading": reading,
        "note": change["p_reported_note"] or "",
        "sources": refs(change["quote_id"], trial_id),
    }


def _no_numbers(trial_id: str, tables: dict) -> HTML:
    narratives = _rows(tables, "outcome_narratives", trial_id)
    items = [
        f"{row['measure']}: {_text(row['direction']).replace('_', ' ')} as the source states"
        + (", called significant" if row["significant"] is True else "")
        + f" {refs(row['quote_id'], trial_id)}"
        for _, row in narratives.iterrows()
    ]
    if not items:
        return _sentence("This source reports no outcomes, neither in numbers nor in words.")
    return _sentence("This source reports no numeric outcomes; it describes them in words:", items)


@with_caption("Every outcome at every timepoint: value as reported, change and effect estimate")
def outcome_table(
    trial_id: str, tables: dict[str, pd.DataFrame], r: float = 0.5
) -> pd.DataFrame | HTML:
    """Every outcome at every timepoint: n, value as reported, change, effect, quotes.

    Values: mean ± SD, median (range) or events/total; proportions with the exact
    Clopper-Pearson 95% CI. Change from baseline: mean change in the outcome's unit or the risk
    difference in percentage points. Effect: SMCR with its 95% CI (r assumed, see the effect
    table) or the exact McNemar p range (pairing unknown).
    """
    _trial(trial_id, tables)
    outcomes = _rows(tables, "outcomes", trial_id)
    if outcomes.empty:
        return _no_numbers(trial_id, tables)
    effects_by_key = {
        (row["outcome_id"], row["timepoint"]): row
        for _, row in _effect_rows(trial_id, tables, r).iterrows()
    }
    exact = {
        (row["outcome_id"], row["timepoint"]): row
        for _, row in estimates.proportions(outcomes).iterrows()
    }
    baselines = set(outcomes.loc[outcomes["timepoint_months"] == 0, "outcome_id"])
    rows = []
    for _, row in outcomes.iterrows():
        key = (row["outcome_id"], row["timepoint"])
        value = statistics_text(row)
        numberless = value == "described in words only"
        if numberless:
            value = "not reported (only a p-value versus baseline)"
        if key in exact:
            proportion = exact[key]
            value += (
                f"; exact 95% CI {_percent(proportion['ci_low'])}–{_percent(proportion['ci_high'])}"
            )
        effect = effects_by_key.get(key)
        if row["timepoint_months"] == 0:
            change, estimate = "baseline", MISSING
        elif effect is not None:
            change = effect["change"]
            estimate = (
                f"{effect['effect']} ({effect['95% CI']})"
                if effect["effect"].startswith("SMCR")
                else effect["assumption / paired test"]
            )
        elif numberless:
            change, estimate = "not reported", MISSING
        elif row["outcome_id"] not in baselines:
            change, estimate = "no baseline reported", MISSING
        else:
            change, estimate = _descriptive_change(outcomes, row), MISSING
        n = row["n"] if _present(row["n"]) else row["total"]
        rows.append(
            {
                "domain": row["domain"],
                "outcome": row["measure"]
                + (f" [{row['population']}]" if _present(row["population"]) else ""),
                "timepoint": row["timepoint"],
                "month": _month(row["timepoint_months"]),
                "n": _integer(n),
                "mean ± SD / median (range) / events/total": value,
                "change from baseline": change,
                "effect (95% CI)": estimate,
                "p (as reported)": _text(row["p_reported"]),
                "derivation": _text(row["derived"]) if _present(row["derived"]) else "",
                "sources": refs(row["quote_id"], trial_id),
            }
        )
    return pd.DataFrame(rows).set_index(["domain", "outcome", "timepoint"])


def _descriptive_change(outcomes: pd.DataFrame, row: pd.Series) -> str:
    """Change when no SMCR is possible: difference of medians, or of means without SD."""
    start = outcomes[
        (outcomes["outcome_id"] == row["outcome_id"]) & (outcomes["timepoint_months"] == 0)
    ].iloc[0]
    unit = f" {row['unit']}" if _present(row["unit"]) else ""
    for column, label in (("mean", ""), ("median", "difference of medians ")):
        if _present(row[column]) and _present(start[column]):
            decimals = max(_decimals(row[column]), _decimals(start[column]))
            return label + _signed(float(row[column]) - float(start[column]), decimals) + unit
    return MISSING


@with_caption("Before/after comparisons with baseline: effect with its 95% interval and reading")
def effect_table(
    trial_id: str, tables: dict[str, pd.DataFrame], r: float = 0.5
) -> pd.DataFrame | HTML:
    """Each before/after comparison with its effect measure, 95% CI, assumption and reading.

    Continuous: SMCR (post − pre)/SD_pre with the small-sample correction, 95% Wald CI, at the
    assumed r and at the r recovered from a reported p. Counts: both proportions with exact
    CIs and the exact McNemar p range over the pairings the margins allow. ``reading`` is
    "improved"/"worsened" when the CI excludes no change (or every pairing gives p < 0.05),
    "uncertain" otherwise, "depends on pairing" when only some pairings give p < 0.05.
    """
    _trial(trial_id, tables)
    rows = _effect_rows(trial_id, tables, r)
    if rows.empty:
        outcomes = _rows(tables, "outcomes", trial_id)
        if outcomes.empty:
            return _sentence("No numeric outcomes, so no before/after effect can be computed.")
        return _sentence(
            "No outcome is reported both at baseline and later with numbers, so no before/after "
            "effect can be computed; the values are shown as reported above."
        )
    columns = [
        "domain",
        "outcome",
        "comparison",
        "n",
        "change",
        "effect",
        "95% CI",
        "assumption / paired test",
        "p (as reported)",
        "reading",
        "note",
        "sources",
    ]
    return rows[columns].set_index(["domain", "outcome", "comparison"])


@with_caption("How the 95% intervals of the standardised mean change depend on the assumed r")
def r_sensitivity_table(
    trial_id: str,
    tables: dict[str, pd.DataFrame],
    r_grid: Iterable[float] = (0.3, 0.5, 0.7, 0.9),
) -> pd.DataFrame | HTML:
    """SMCR (95% CI) of each continuous comparison under each assumed r and the recovered r."""
    _trial(trial_id, tables)
    grid = tuple(float(r) for r in r_grid)
    changes = estimates.change_from_baseline(_rows(tables, "outcomes", trial_id))
    sensitivity = estimates.r_sensitivity(changes, grid)
    if sensitivity.empty:
        return _sentence(
            "No outcome is reported as mean ± SD at baseline and later, so there is no "
            "standardised mean change whose confidence interval depends on r."
        )
    rows = []
    for _, group in sensitivity.groupby(["outcome_id", "timepoint"], sort=False):
        first = group.iloc[0]
        row = {
            "outcome": first["measure"],
            "comparison": f"baseline → {first['timepoint']}",
            "n": _integer(first["n"]),
            "SMCR": _fixed(first["yi"]),
        }
        for _, entry in group.iterrows():
            interval = _interval(entry["ci_low"], entry["ci_high"])
            if entry["r_source"] == "assumed":
                row[f"95% CI, r = {entry['r']:g}"] = interval
            else:
                row["95% CI, r recovered from p"] = f"r = {entry['r']:.2f}: {interval}" + (
                    " (p bound)" if "bound" in entry["r_source"] else ""
                )
        row["note"] = first["note"]
        rows.append(row)
    frame = pd.DataFrame(rows).fillna(MISSING)
    if "95% CI, r recovered from p" not in frame:
        frame["95% CI, r recovered from p"] = "no p-value reported"
    ordered = [c for c in frame.columns if c not in ("95% CI, r recovered from p", "note")]
    return frame[[*ordered, "95% CI, r recovered from p", "note"]].set_index("outcome")


@with_caption("What the source says in words about each outcome")
def narratives(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """What the source says in words about each outcome, including claims of significance."""
    _trial(trial_id, tables)
    rows = _rows(tables, "outcome_narratives", trial_id)
    if rows.empty:
        return _sentence("The source makes no verbal claims about outcomes beyond the numbers.")
    significance = {True: "claimed", False: "not claimed"}
    return pd.DataFrame(
        {
            "domain": rows["domain"].to_list(),
            "outcome": rows["measure"].to_list(),
            "direction (as the source states)": [
                _text(d).replace("_", " ") for d in rows["direction"]
            ],
            "statistical significance": [
                significance.get(s, "not stated") if _present(s) else "not stated"
                for s in rows["significant"]
            ],
            "sources": [refs(q, trial_id) for q in rows["quote_id"]],
        }
    ).set_index(["domain", "outcome"])


def outcomes_figure(trial_id: str, tables: dict[str, pd.DataFrame]) -> Figure | HTML:
    """Small multiples of each numeric outcome over time, or a sentence when there are none."""
    _trial(trial_id, tables)
    figure = plots.outcome_small_multiples(_rows(tables, "outcomes", trial_id))
    if figure is None:
        return _sentence(
            "No outcome of this source is reported with numbers, so nothing is plotted."
        )
    return figure


def timeline_figure(trial_id: str, tables: dict[str, pd.DataFrame]) -> Figure:
    """Administrations, assessment times and end of follow-up on one months axis."""
    return plots.intervention_timeline(
        _trial(trial_id, tables), _rows(tables, "outcomes", trial_id)
    )


# --------------------------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------------------------


def serious_adverse_events(trial_id: str, tables: dict[str, pd.DataFrame]) -> HTML:
    """Serious adverse events in words, with the exact one-sided 95% upper bound when zero."""
    _trial(trial_id, tables)
    rates = estimates.adverse_event_rates(_rows(tables, "adverse_events", trial_id))
    serious = rates[rates["serious"].fillna(False)]
    if serious.empty:
        return _sentence("The source does not report on serious adverse events.")
    items = []
    for _, row in serious.iterrows():
        text = f"{row['term']}: {row['rate_text']}"
        bound = row["upper_bound_one_sided"]
        if _present(bound):
            text += (
                f". Zero events in {row['denominator']} {row['denominator_unit']} is still "
                f"compatible with a true rate of up to {_percent(bound)} (about 1 in "
                f"{max(1, round(1 / bound))})"
            )
        if _present(row["relatedness"]):
            text += f"; relatedness: {row['relatedness']}"
        items.append(f"{text} {refs(row['quote_id'], trial_id)}")
    return _sentence("Serious adverse events:", items)


@with_caption("Values given by more than one report of the study")
def report_versions(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """Values that more than one report gives: the version used (most complete report) and
    the others, saying whether they agree."""
    _trial(trial_id, tables)
    rows = _rows(tables, "superseded", trial_id)
    if rows.empty:
        return _sentence("No value is given by more than one report of this study.")
    kinds = _rows(tables, "reports", trial_id).set_index("report")["kind"]

    def from_reports(files: object) -> str:
        return "; ".join(
            labels.label("kind", kinds.get(file, "")) for file in str(files).split(";")
        )

    return pd.DataFrame(
        {
            "item": rows["item"],
            "value used": rows["used_value"] + " (" + rows["used_report"].map(from_reports) + ")",
            "other report's value": rows["value"] + " (" + rows["report"].map(from_reports) + ")",
            "the reports": rows["agrees"].map({True: "agree", False: "disagree"}),
            "sources": [refs(ids, trial_id) for ids in rows["quote_id"]],
        }
    ).set_index("item")


@with_caption("Every adverse event as reported, with the incidence per patient where computable")
def safety(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """Every adverse-event row: count and unit, denominator and unit, basis, incidence."""
    _trial(trial_id, tables)
    rates = estimates.adverse_event_rates(_rows(tables, "adverse_events", trial_id))
    if rates.empty:
        return _sentence("This source reports no adverse events, neither as counts nor in words.")
    rates = rates.sort_values("serious", ascending=False, kind="stable", na_position="last")
    rows = []
    for _, row in rates.iterrows():
        if _present(row["count"]):
            count = f"{row['count']} {estimates.unit_text(row['count_unit'], row['count'])}"
            if row["count_derived"]:
                count += f" (derived: {row['percent_reported']}% × {row['denominator']})"
        else:
            count = "not reported"
        incidence = (
            f"{_percent(row['incidence'])} ({_percent(row['ci_low'])}–{_percent(row['ci_high'])})"
            if _present(row["incidence"])
            else MISSING
        )
        rows.append(
            {
                "adverse event": row["term"],
                "serious": "yes" if row["serious"] is True else "no",
                "count (unit)": count,
                "percent (as reported)": (
                    f"{row['percent_reported']}%" if _present(row["percent_reported"]) else MISSING
                ),
                "denominator (unit)": (
                    f"{row['denominator']} {row['denominator_unit']}"
                    if _present(row["denominator"])
                    else f"not stated ({row['denominator_unit']})"
                ),
                "rate basis": row["rate_basis"],
                "incidence per patient (exact 95% CI)": incidence,
                "one-sided 95% upper bound (zero events)": (
                    _percent(row["upper_bound_one_sided"])
                    if _present(row["upper_bound_one_sided"])
                    else MISSING
                ),
                "in words": row["rate_text"],
                "relatedness": _text(row["relatedness"]),
                "note": _text(row["note"]),
                "sources": refs(row["quote_id"], trial_id),
            }
        )
    return pd.DataFrame(rows).set_index("adverse event")


# --------------------------------------------------------------------------------------------
# Appraisal, limitations, flags, provenance
# --------------------------------------------------------------------------------------------


@with_caption("Critical appraisal (JBI checklist for case series): answer and reason per item")
def appraisal(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """The JBI critical-appraisal checklist for case series: answer and reason per item."""
    _trial(trial_id, tables)
    rows = _rows(tables, "appraisal", trial_id)
    if rows.empty:
        return _sentence("This source has not been appraised.")
    return rows[["item", "question", "answer", "reason"]].set_index("item")


def _limitation_rows(trial_id: str, tables: dict) -> list[dict]:
    trial = _trial(trial_id, tables)
    rows = []
    for _, stated in _rows(tables, "limitations", trial_id).iterrows():
        rows.append(
            {
                "limitation": stated["limitation"],
                "basis": "stated by the source"
                if _present(stated["quote_id"])
                else "extractor's note",
                "sources": refs(stated["quote_id"], trial_id),
            }
        )

    def derived(text: str, basis: str) -> None:
        rows.append(
            {"limitation": text, "basis": f"derived from the data: {basis}", "sources": MISSING}
        )

    if _is(trial["control"], "none"):
        derived(
            "No control group: changes from baseline cannot be separated from natural history, "
            "growth and maturation, concurrent therapy or regression to the mean",
            "control = none",
        )
    if _is(trial["blinding"], "open_label"):
        derived(
            "Open label: patients, families and assessors knew the treatment, so outcomes "
            "(especially rated scales) are open to expectation and observer bias",
            "blinding = open_label",
        )
    elif not _present(trial["blinding"]):
        derived("Blinding not reported", "blinding not stated")
    n = _n_patients(trial)
    if n is not None and n < SMALL_SAMPLE:
        bound = float(effects.zero_event_upper_bound(n)[0])
        derived(
            f"Small sample (n = {n}): wide confidence intervals, and rare harms cannot be "
            f"excluded (0 events in {n} is compatible with a rate of up to {_percent(bound)})",
            f"n < {SMALL_SAMPLE}",
        )
    if _present(trial["n_efficacy"]):
        reference = next(
            (int(trial[c]) for c in ("n_enrolled", "n_safety") if _present(trial[c])), None
        )
        if reference and int(trial["n_efficacy"]) < reference:
            derived(
                f"Efficacy analysed in {int(trial['n_efficacy'])} of {reference} treated "
                "patients: attrition or selection may bias every efficacy result",
                "n_efficacy < n treated",
            )
    kind = str(trial["source_kind"])
    if kind in SECONDARY_SOURCES:
        derived(SECONDARY_SOURCES[kind][1], f"source kind = {kind}")
    if not _present(trial["registry_id"]):
        derived("No trial registration identifier reported", "registry id missing")
    return rows


@with_caption("Limitations stated by the source, then those derived from the data")
def limitations(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Limitations stated by the source, then the generic ones derived from the data."""
    return pd.DataFrame(_limitation_rows(trial_id, tables)).set_index("limitation")


@with_caption("Data-quality flags raised by the ingestion, warnings first")
def flags(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """Consistency findings of the ingestion (checks table), warnings first."""
    _trial(trial_id, tables)
    found = report.flags(tables["checks"], trial_id)
    if found.empty:
        return _sentence("Ingestion raised no consistency findings for this source.")
    found = found.reset_index()
    found.index = pd.RangeIndex(1, len(found) + 1, name="#")
    return found


@with_caption("Numbers in the source's results that the extraction did not capture")
def uncaptured(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """Numbers in the source's results that no extracted value captured, with context."""
    _trial(trial_id, tables)
    found = report.uncaptured(tables["coverage"], trial_id)
    if found.empty:
        return _sentence("Every number in the source's results was captured by the extraction.")
    return found.reset_index(drop=True).set_index("number")


PAGE_TABLES = (
    "trial_facts",
    "characteristics",
    "outcomes",
    "outcome_narratives",
    "adverse_events",
    "limitations",
)


def page_quote_ids(trial_id: str, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Every quote id the page cites, in order of first appearance."""
    joined = estimates.join_quote_ids(
        *(q for table in PAGE_TABLES for q in _rows(tables, table, trial_id)["quote_id"])
    )
    return [q for q in joined.split(";") if q]


@with_caption("Every quote mark on this page with its verbatim quote and where it was found")
def provenance(trial_id: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame | HTML:
    """Every quote id used on the page with its verbatim quote and where it was found."""
    _trial(trial_id, tables)
    used = page_quote_ids(trial_id, tables)
    if not used:
        return _sentence("This page cites no quotes.")
    located = tables["provenance"].drop_duplicates("quote_id").set_index("quote_id")
    rows = []
    for quote_id in used:
        if quote_id in located.index:
            entry = located.loc[quote_id]
            rows.append(
                {
                    "ref": short_ref(quote_id, trial_id),
                    "verbatim quote": entry["quote"],
                    "first cited for": entry["field"],
                    "where": f"{entry['report']}, characters {_integer(entry['start'])}–"
                    f"{_integer(entry['end'])}",
                }
            )
        else:
            rows.append(
                {
                    "ref": short_ref(quote_id, trial_id),
                    "verbatim quote": "NOT FOUND in provenance.csv",
                    "first cited for": MISSING,
                    "where": MISSING,
                }
            )
    return pd.DataFrame(rows).set_index("ref")
