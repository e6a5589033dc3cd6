"""Safety on the synthesis page: serious adverse events, common adverse events by term, and
what is reported on another basis. Every number comes from the safety result tables."""

from __future__ import annotations

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from helpers.pages import forest, tables
from helpers.pages import format as fmt
from helpers.pages.figures import describe, forest_alt
from helpers.pages.synthesis.inputs import (
    FIGURE_ROWS,
    FIGURES_SHOWN,
    ROWS_SHOWN,
    Inputs,
    anchored,
    capitalised,
    paragraphs,
    scope_words,
    shown_rows,
)
from helpers.stats.synthesis import ALL


def _all(inputs: Inputs, table: str) -> pd.Series | None:
    frame = inputs[table]
    frame = frame[frame["scope"] == ALL]
    return None if frame.empty else frame.iloc[0]


def _counts(events: object, patients: object) -> str:
    return f"{int(events)} of {int(patients)}"


def _model(row: pd.Series) -> str:
    """The GLMM estimate, or why there is none."""
    if bool(row["pooled"]):
        return (
            f"{fmt.percent(row['glmm_proportion'])} (95% CI "
            f"{fmt.percent_interval(row['glmm_ci_low'], row['glmm_ci_high'])}; prediction "
            f"interval {fmt.percent_interval(row['glmm_pi_low'], row['glmm_pi_high'])})"
        )
    return f"none: {row['reason']}"


def serious_statements(inputs: Inputs) -> HTML:
    """What can be said about serious adverse events across every trial."""
    row = _all(inputs, "synthesis_serious_pooled")
    if row is None or not row["trials"]:
        return paragraphs(["No trial reports serious or severe adverse events per patient."])
    total = len(inputs.trials)
    lines = [
        f"{fmt.plural(int(row['trials']), 'trial')} of {total} report serious or severe "
        f"adverse events per patient: {_counts(row['events'], row['patients'])} patients had "
        f"one ({fmt.percent(row['proportion'])}; exact 95% CI "
        f"{fmt.percent_interval(row['ci_low'], row['ci_high'])}; exact one-sided 95% upper "
        f"bound {fmt.percent(row['upper_bound'])})."
    ]
    missing = inputs.studies(row["trials_without_data"])
    if missing:
        lines.append(
            f"Not in this count, because they give no serious-event data per patient: {missing} "
            "(see the table of each trial below)."
        )
    if bool(row["pooled"]):
        lines.append(f"Binomial-normal model (GLMM): {_model(row)}.")
    else:
        lines.append(f"No model estimate: {row['reason']}.")
    if fmt.present(row["assumption"]) and row["assumption"]:
        lines.append(f"The summed count: {row['assumption']}.")
    return paragraphs(lines)


def serious_summary(inputs: Inputs) -> HTML:
    """Summed serious-event counts for every condition together and for each condition, with
    what each summed count assumes and who is not in it (the key messages link here)."""
    rows = []
    for row in inputs["synthesis_serious_pooled"].itertuples(index=False):
        has_data = bool(row.trials)
        rows.append(
            {
                "conditions": capitalised(scope_words(row.scope)),
                "trials with data": int(row.trials),
                "patients with an event": _counts(row.events, row.patients) if has_data else "—",
                "exact 95% CI": (
                    fmt.percent_interval(row.ci_low, row.ci_high) if has_data else "—"
                ),
                "exact one-sided 95% upper bound": (
                    fmt.percent(row.upper_bound) if has_data else "—"
                ),
                "what the sum assumes": row.assumption if has_data else "—",
                "not reported per patient by": inputs.studies(row.trials_without_data) or "—",
                "model estimate": _model(pd.Series(row._asdict())),
            }
        )
    table = tables.Table(
        pd.DataFrame(rows).set_index("conditions"),
        caption="Serious adverse events summed over trials, with what each sum assumes",
        notes=[
            "Each trial counts the patients with any serious or severe event as it defines "
            "them; its own row is in the next table."
        ],
        lift_repeated=False,
    )
    return anchored("serious-events", table)


def serious_per_trial(inputs: Inputs) -> tables.Table:
    """Each trial's serious events as it defines them, with its follow-up and exact bounds;
    trials without per-patient data say what they report instead."""
    per_trial = inputs["synthesis_serious_events"]
    ranked = per_trial.assign(_n=per_trial["patients"].fillna(0)).sort_values(
        ["reported", "_n"], ascending=[False, False], kind="stable"
    )
    rows = []
    for row in ranked.itertuples(index=False):
        reported = bool(row.reported)
        rows.append(
            {
                "trial": inputs.study_link(row.trial_id),
                "condition": fmt.condition(row.condition),
                "serious events as reported": row.definition if reported else row.why_no_data,
                "relatedness": (
                    row.relatedness
                    if reported and fmt.present(row.relatedness) and row.relatedness
                    else "not stated"
                    if reported
                    else "—"
                ),
                "follow-up": fmt.months(row.follow_up_months),
                "patients with an event": _counts(row.events, row.patients) if reported else "—",
                "exact 95% CI": fmt.percent_interval(row.ci_low, row.ci_high) if reported else "—",
                "exact one-sided 95% upper bound": fmt.percent(row.upper_bound)
                if reported
                else "—",
                "note": (
                    "several serious terms have events: the count is at least the largest"
                    if reported and bool(row.several_terms)
                    else ""
                ),
            }
        )
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="trials",
        ranked="the most patients first",
        table="synthesis_serious_events",
    )
    return tables.Table(
        frame,
        caption="Serious adverse events in each trial, as each defines them, with exact 95% "
        "intervals",
        notes=notes,
    )


def _studies_frame(labels: list[str], frame: pd.DataFrame, x: str, n: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": labels,
            "n": frame[n].to_numpy(dtype=float),
            "estimate": (frame[x].to_numpy(dtype=float) / frame[n].to_numpy(dtype=float)),
            "ci_low": frame["ci_low"].to_numpy(dtype=float),
            "ci_high": frame["ci_high"].to_numpy(dtype=float),
            "weight": frame[n].to_numpy(dtype=float),
        }
    )


def _forest(studies: pd.DataFrame, *, shown_of: int, **options) -> Figure:
    pooled = options.get("pooled") or {}
    title = options.get("title", "")
    alt = forest_alt(title, options.get("xlabel", ""), studies["label"], pooled.get("label"))
    if shown_of > len(studies):
        alt += f" The {len(studies)} largest of {shown_of} trials are drawn."
    return describe(forest.forest_plot(studies, **options), alt)


def serious_forest(inputs: Inputs) -> Figure | HTML:
    """Each trial's serious-event proportion; the summary is a model diamond only when a GLMM
    exists, else the exact interval of the summed counts drawn as a bar."""
    per_trial = inputs["synthesis_serious_events"]
    counted = per_trial[per_trial["reported"].fillna(False)]
    if counted.empty:
        return paragraphs(["No trial reports serious adverse events per patient: nothing to plot."])
    drawn = counted.sort_values("patients", ascending=False, kind="stable").head(FIGURE_ROWS)
    row = _all(inputs, "synthesis_serious_pooled")
    if bool(row["pooled"]):
        pooled = {
            "label": "binomial-normal model",
            "n": int(row["patients"]),
            "estimate": row["glmm_proportion"],
            "ci_low": row["glmm_ci_low"],
            "ci_high": row["glmm_ci_high"],
            "pi_low": row["glmm_pi_low"],
            "pi_high": row["glmm_pi_high"],
        }
    else:
        pooled = {
            "label": "summed counts (exact)",
            "n": int(row["patients"]),
            "estimate": row["proportion"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "style": "interval",
        }
    return _forest(
        _studies_frame([inputs.study(t) for t in drawn["trial_id"]], drawn, "events", "patients"),
        shown_of=len(counted),
        pooled=pooled,
        null_value=None,
        xlabel="patients with a serious adverse event",
        percent=True,
        label_header="trial",
        title="Serious adverse events (exact 95% intervals)",
    )


def terms_statements(inputs: Inputs) -> HTML:
    """Which common adverse events could be pooled, and the largest single-trial rates."""
    terms = inputs["synthesis_adverse_event_terms"]
    terms = terms[terms["scope"] == ALL]
    lines = []
    pooled = terms[terms["pooled"].fillna(False)]
    for row in pooled.itertuples(index=False):
        lines.append(
            f"{capitalised(row.term)}: {_model(pd.Series(row._asdict()))} over "
            f"{fmt.plural(int(row.trials), 'trial')}."
        )
    if pooled.empty:
        most = int(terms["trials"].max()) if not terms.empty else 0
        lines.append(
            f"No common adverse event is reported per patient by at least "
            f"{fmt.plural(inputs.settings.min_k, 'trial')} (at most "
            f"{fmt.plural(most, 'trial')} per term), so none was pooled."
        )
    events = inputs["synthesis_adverse_events"]
    apart = events[events["basis"] != "per patient"]
    if not apart.empty:
        counts = apart["basis"].value_counts()
        lines.append(
            "Listed apart, never combined with per-patient rates: "
            + ", ".join(
                f"{fmt.plural(int(n), 'row')} {_basis_words(basis)}" for basis, n in counts.items()
            )
            + f" from {fmt.plural(apart['trial_id'].nunique(), 'trial')}."
        )
    return paragraphs(lines)


def _basis_words(basis: str) -> str:
    return {
        "per administration": "per administration",
        "events (not patients)": "counting events, not patients",
        "unknown denominator": "without a denominator",
        "unknown unit": "that fit patients and administrations alike (unit unknown)",
        "named, no count": "named without a count",
    }.get(basis, basis)


def terms_table(inputs: Inputs) -> tables.Table:
    """Per harmonised term (every condition together): summed counts, pooled or why not."""
    terms = inputs["synthesis_adverse_event_terms"]
    terms = terms[terms["scope"] == ALL].sort_values(
        ["trials", "patients"], ascending=False, kind="stable"
    )
    rows = []
    for row in terms.itertuples(index=False):
        record = pd.Series(row._asdict())
        logit = (
            f"{fmt.percent(row.logit_proportion)} (95% CI "
            f"{fmt.percent_interval(row.logit_ci_low, row.logit_ci_high)})"
            if fmt.present(row.logit_proportion)
            else (row.logit_note if fmt.present(row.logit_note) and row.logit_note else "—")
        )
        rows.append(
            {
                "adverse event": row.term,
                "trials (per patient)": inputs.studies(row.trial_ids),
                "patients with it": _counts(row.events, row.patients),
                "exact, summed counts": (
                    f"{fmt.percent(row.proportion)} (95% CI "
                    f"{fmt.percent_interval(row.ci_low, row.ci_high)})"
                ),
                "binomial-normal model": _model(record),
                "logit model (sensitivity)": logit,
                "also reported on another basis by": inputs.studies(row.other_basis_trial_ids)
                or "—",
            }
        )
    frame, notes = shown_rows(
        pd.DataFrame(rows),
        what="terms",
        ranked="the most trials first",
        table="synthesis_adverse_event_terms",
    )
    return tables.Table(
        frame,
        caption="Common adverse events per patient, by term: pooled, or why not",
        notes=notes,
    )


def per_patient_table(inputs: Inputs) -> tables.Table:
    """Each trial's per-patient rate of each common adverse event, with exact intervals."""
    events = inputs["synthesis_adverse_events"]
    rows_in = events[(events["basis"] == "per patient") & ~events["serious"].fillna(False)]
    by_size = len(rows_in) > ROWS_SHOWN  # too many to show: the largest trials of any term
    rows_in = rows_in.sort_values(
        ["denominator", "term"] if by_size else ["term", "denominator"],
        ascending=[False, True] if by_size else [True, False],
        kind="stable",
    )
    rows = [
        {
            "adverse event": row.term,
            "as reported": row.as_reported,
            "trial": inputs.study_link(row.trial_id),
            "patients with it": _counts(row.events, row.denominator),
            "incidence (exact 95% CI)": (
                f"{fmt.percent(row.incidence)} ({fmt.percent_interval(row.ci_low, row.ci_high)})"
            ),
            "count": "derived from the reported percentage" if row.count_derived else "reported",
        }
        for row in rows_in.itertuples(index=False)
    ]
    frame, notes = shown_rows(
        pd.DataFrame(
            rows,
            columns=[
                "adverse event",
                "as reported",
                "trial",
                "patients with it",
                "incidence (exact 95% CI)",
                "count",
            ],
        ),
        what="rows",
        ranked="the most patients first",
        table="synthesis_adverse_events",
    )
    return tables.Table(
        frame,
        caption="Common adverse events per patient in each trial, with exact 95% intervals",
        notes=notes,
    )


def terms_forests(inputs: Inputs) -> list[Figure | HTML]:
    """One forest per pooled term (the model's diamond; the terms reported by the most trials
    first), then the other per-patient rates side by side (exact 95% intervals)."""
    events = inputs["synthesis_adverse_events"]
    rows = events[(events["basis"] == "per patient") & ~events["serious"].fillna(False)]
    if rows.empty:
        return [paragraphs(["No common adverse event is reported per patient: nothing to plot."])]
    terms = inputs["synthesis_adverse_event_terms"]
    pooled = terms[(terms["scope"] == ALL) & terms["pooled"].fillna(False)].sort_values(
        "trials", ascending=False, kind="stable"
    )
    figures: list[Figure | HTML] = []
    for row in pooled.head(FIGURES_SHOWN).itertuples(index=False):
        own = rows[rows["term"] == row.term]
        drawn = own.sort_values("denominator", ascending=False, kind="stable").head(FIGURE_ROWS)
        figures.append(
            _forest(
                _studies_frame(
                    [inputs.study(t) for t in drawn["trial_id"]], drawn, "events", "denominator"
                ),
                shown_of=len(own),
                pooled={
                    "label": "binomial-normal model",
                    "n": int(row.patients),
                    "estimate": row.glmm_proportion,
                    "ci_low": row.glmm_ci_low,
                    "ci_high": row.glmm_ci_high,
                    "pi_low": row.glmm_pi_low,
                    "pi_high": row.glmm_pi_high,
                },
                null_value=None,
                xlabel=f"patients with {row.term}",
                percent=True,
                label_header="trial",
                title=f"{capitalised(row.term)} per patient",
            )
        )
    rest = rows[~rows["term"].isin(set(pooled["term"]))]
    if not rest.empty:
        drawn = rest.sort_values("denominator", ascending=False, kind="stable").head(FIGURE_ROWS)
        drawn = drawn.sort_values("term", kind="stable")
        labels = [f"{row.term} · {inputs.study(row.trial_id)}" for row in drawn.itertuples()]
        figures.append(
            _forest(
                _studies_frame(labels, drawn, "events", "denominator"),
                shown_of=len(rest),
                pooled=None,
                null_value=None,
                xlabel="patients with the event",
                percent=True,
                label_header="adverse event · trial",
                title="Common adverse events per patient, not pooled (exact 95% intervals)",
            )
        )
    return figures


def other_basis_table(inputs: Inputs) -> tables.Table:
    """Adverse events reported as events, per administration, in an unknown unit or without a
    denominator: listed, never combined with per-patient rates."""
    events = inputs["synthesis_adverse_events"]
    apart = events[events["basis"] != "per patient"].sort_values(
        ["term", "trial_id"], kind="stable"
    )
    rows = [
        {
            "adverse event": row.term,
            "as reported": row.as_reported,
            "serious": "yes" if row.serious else "no",
            "trial": inputs.study_link(row.trial_id),
            "basis": row.basis,
            "what was reported": row.what_was_reported,
        }
        for row in apart.itertuples(index=False)
    ]
    frame, notes = shown_rows(
        pd.DataFrame(
            rows,
            columns=[
                "adverse event",
                "as reported",
                "serious",
                "trial",
                "basis",
                "what was reported",
            ],
        ),
        what="rows",
        ranked="by term",
        table="synthesis_adverse_events",
    )
    return tables.Table(
        frame,
        caption="Adverse events reported on another basis (not combined with per-patient rates)",
        notes=notes,
    )
