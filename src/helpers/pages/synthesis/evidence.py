"""The evidence: which trial reports what (evidence map) and the trials' characteristics."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from helpers import labels
from helpers.pages import forest, tables
from helpers.pages import format as fmt
from helpers.pages.figures import describe
from helpers.pages.synthesis.inputs import FIGURE_ROWS, ROWS_SHOWN, Inputs, paragraphs, shown_rows
from helpers.stats.synthesis.common import treated_patients

WORDS_ONLY_MARK = "†"


def statement(inputs: Inputs) -> str:
    """What the evidence is: trials, patients, conditions, controls and kinds of report."""
    trials = inputs.trials
    if trials.empty:
        return "No trial has a report of the kinds included."
    treated = treated_patients(trials)
    parts = [
        f"{fmt.condition(condition)} ({fmt.plural(len(group), 'trial')}, "
        f"{fmt.plural(int(treated[group['trial_id']].sum()), 'patient')})"
        for condition, group in trials.groupby("condition", sort=True)
    ]
    control = trials["control"]
    uncontrolled, unknown = int(control.eq("none").sum()), int(control.isna().sum())
    controlled = len(trials) - uncontrolled - unknown
    design = [
        f"{fmt.plural(controlled, 'trial')} had a control group" if controlled else "",
        f"{uncontrolled} reported no control group" if uncontrolled else "",
        f"{unknown} did not report whether there was one" if unknown else "",
    ]
    kinds = trials["source_kind"].value_counts()
    secondary = [
        f"{kinds[kind]} {'is' if kinds[kind] == 1 else 'are'} known only from "
        f"{'a press report' if kinds[kind] == 1 else 'press reports'}"
        if kind == "press_report"
        else f"{kinds[kind]} only from {'an abstract' if kinds[kind] == 1 else 'abstracts'}"
        for kind in ("press_report", "abstract")
        if kinds.get(kind, 0)
    ]
    abstracts = int(kinds.get("bibliographic_record", 0))
    if abstracts:
        secondary.append(f"{abstracts} only from a bibliographic record's abstract")
    return (
        f"The evidence is {fmt.plural(len(trials), 'trial')} with "
        f"{fmt.plural(int(treated.sum()), 'treated patient')} in "
        f"{fmt.plural(trials['condition'].nunique(), 'condition')}: {', '.join(parts)}. "
        + "; ".join(d for d in design if d).capitalize()
        + (f"; {', '.join(secondary)}." if secondary else ".")
    )


def _domain_label(domain: str) -> str:
    return "safety" if domain == "safety" else fmt.domain(domain)


def evidence_map(inputs: Inputs) -> Figure | HTML:
    """Patients with data per trial and outcome domain (per condition when there are many
    trials); † marks a domain reported in words only."""
    long = inputs["synthesis_evidence_map"]
    if long.empty:
        return paragraphs(["No trial reports any outcome or serious-event data."])
    domains = ["safety", *sorted(d for d in set(long["domain"]) if d != "safety")]
    columns = [_domain_label(d) for d in domains]
    if long["trial_id"].nunique() <= FIGURE_ROWS:
        order = [t for t in inputs.trials["trial_id"] if t in set(long["trial_id"])]
        rows = {
            t: f"{inputs.study(t)} ({fmt.condition(c)})"
            for t, c in zip(inputs.trials["trial_id"], inputs.trials["condition"], strict=True)
        }
        keyed = long.assign(row=long["trial_id"].map(rows))
        index = [rows[t] for t in order]
        what = f"each of {fmt.plural(len(index), 'trial')}"
    else:
        keyed = long.assign(row=long["condition"].map(fmt.condition))
        index = [fmt.condition(c) for c in inputs.conditions if c in set(long["condition"])]
        what = (
            f"each condition (patients summed over its trials; {long['trial_id'].nunique()} "
            "trials in all)"
        )
    keyed = keyed.assign(column=keyed["domain"].map(_domain_label))
    matrix = keyed.pivot_table(index="row", columns="column", values="patients", aggfunc="sum")
    matrix = matrix.reindex(index=index, columns=columns)
    marks = pd.DataFrame("", index=index, columns=columns)
    for (row, column), only in keyed.groupby(["row", "column"])["words_only"].all().items():
        if only and row in marks.index and column in marks.columns:
            marks.loc[row, column] = WORDS_ONLY_MARK
    marks = marks.where(matrix.notna(), "")
    matrix.index.name, matrix.columns.name = "trial", "domain"
    figure = forest.evidence_heatmap(
        matrix, marks=marks, mark_legend=f"{WORDS_ONLY_MARK} results stated in words only"
    )
    return describe(
        figure,
        f"Evidence map: patients with data in each outcome domain ({', '.join(columns)}) for "
        f"{what}: {'; '.join(index[:12])}{'; …' if len(index) > 12 else ''}. "
        f"{WORDS_ONLY_MARK} marks results stated in words only; an empty cell, nothing reported.",
    )


def _dose(doses: pd.DataFrame) -> str:
    basis = {"per_kg": "", "per_administration_total": " per administration"}
    parts = []
    for dose in doses.itertuples(index=False):
        value = (
            f"{fmt.reported(dose.value)} × {dose.unit}" if fmt.present(dose.value) else dose.unit
        )
        when = (
            f" ({dose.administration} administration)" if fmt.present(dose.administration) else ""
        )
        parts.append(f"{value}{basis.get(str(dose.basis), ' per patient')}{when}")
    return "; ".join(parts) or fmt.MISSING


def _schedule(trial) -> str:
    if not fmt.present(trial.n_administrations):
        return fmt.MISSING
    text = fmt.plural(int(trial.n_administrations), "administration")
    if fmt.present(trial.interval_months):
        text += f", {fmt.months(trial.interval_months)} apart"
    return text


def characteristics(inputs: Inputs) -> tables.Table:
    """One row per trial (the largest first when there are many): condition, cells, route,
    dose, schedule, patients, follow-up, design and the kind of report."""
    trials = inputs.trials
    treated = treated_patients(trials)
    doses = inputs.tables["doses"]
    ranked = trials.assign(_n=trials["trial_id"].map(treated).fillna(0))
    if len(ranked) > ROWS_SHOWN:
        ranked = ranked.sort_values("_n", ascending=False, kind="stable")
    rows = []
    for trial in ranked.itertuples(index=False):
        patients = ", ".join(
            f"{label} {int(value)}"
            for label, value in (
                ("enrolled", trial.n_enrolled),
                ("safety", trial.n_safety),
                ("efficacy", trial.n_efficacy),
            )
            if fmt.present(value)
        )
        rows.append(
            {
                "trial": inputs.study_link(trial.trial_id),
                "condition": fmt.condition(trial.condition),
                "age": trial.age if fmt.present(trial.age) else fmt.MISSING,
                "cells": labels.label("cell_type", trial.cell_type)
                if fmt.present(trial.cell_type)
                else fmt.MISSING,
                "tissue": labels.label("tissue", trial.tissue)
                if fmt.present(trial.tissue)
                else fmt.MISSING,
                "donor": trial.cell_source if fmt.present(trial.cell_source) else fmt.MISSING,
                "route": labels.label("route", trial.route)
                if fmt.present(trial.route)
                else fmt.MISSING,
                "dose": _dose(doses[doses["trial_id"] == trial.trial_id]),
                "schedule": _schedule(trial),
                "patients": patients or fmt.MISSING,
                "follow-up": fmt.months(trial.follow_up_months),
                "design": trial.design if fmt.present(trial.design) else fmt.MISSING,
                "most complete report": labels.label("kind", trial.source_kind),
            }
        )
    frame, notes = shown_rows(
        pd.DataFrame(rows), what="trials", ranked="the most patients first", table="trials"
    )
    return tables.Table(
        frame,
        caption="Characteristics of the trials: condition, cells, route, dose, schedule, "
        "patients, follow-up and kind of report",
        notes=[
            "Follow-up as each trial reports it. A press report or an abstract could not be "
            "checked against a full article.",
            *notes,
        ],
        lift_repeated=False,
    )
