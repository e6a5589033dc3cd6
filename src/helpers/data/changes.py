"""What a regeneration changed: its results compared with those of the site it replaces.

Each published site carries the tables it was built from (``reports/data/``: the result tables
and the processed tables). :func:`compare` takes two such sets of tables, the published one and
the new one, and returns the change tables described in :data:`CHANGES`; it reads and writes no
file. The pipeline renders them as ``reports/changes.html`` and writes them as
``reports/changes.json`` (:func:`to_json`).

What counts as a change:

* trials and reports added or removed (a report by its study and report identifiers);
* estimates that moved: per trial, every benefit-oriented change of an outcome (the
  standardised mean change of ``trial_changes``, the risk difference of
  ``trial_count_changes``), one per outcome and later assessment; across trials, pooled
  efficacy estimates, the serious-event proportions of ``synthesis_serious_pooled`` and the
  adverse-event proportions of ``synthesis_adverse_event_terms``. An estimate moved when its
  value or an end of its interval differs beyond floating-point noise; one that appears or
  disappears (an outcome added, or no longer estimable) is listed as added or removed;
* votes: the direction a trial's outcome domain, or the trial as a whole, votes for in the
  vote counting (``synthesis_vote_domains``, ``synthesis_vote_trials``), where it differs,
  appears or disappears;
* certainty: a GRADE rating (``synthesis_certainty``) that differs, appears or disappears;
* flags raised or resolved: rows of the data-quality checks (``checks``) and of the analysis
  flags (``synthesis_flags``) that appear or disappear.

Rows about a trial added or removed are left out: the trial's own row says it all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.data.store import Column, columns, conform, empty

# Processed tables a published site carries besides the results (the rest are for download).
COMPARED_PROCESSED = ("trials", "reports", "checks")
# Values closer than this are the same estimate (CSV round trips and summation order).
TOLERANCE = 1e-9

_CHANGE = ("change", "string", "added | removed")
_STUDY = (
    ("trial_id", "string", "study identifier"),
    ("label", "string", "study label, e.g. 'Akhlaghpasand 2025'"),
)

CHANGES: dict[str, tuple[Column, ...]] = {
    "changes_trials": columns(*_STUDY, ("condition", "string", "condition code"), _CHANGE),
    "changes_reports": columns(
        *_STUDY,
        ("report_id", "string", "report identifier within the study"),
        ("citation", "string", "the report's citation"),
        _CHANGE,
    ),
    "changes_estimates": columns(
        ("trial_id", "string", "study identifier; empty for an estimate across trials"),
        ("label", "string", "study label; empty for an estimate across trials"),
        (
            "estimate",
            "string",
            "change score (a trial's standardised mean change, positive = benefit) | "
            "risk difference (a trial's change in the proportion with a finding, positive = "
            "benefit) | pooled efficacy (pooled standardised mean change of a condition and "
            "domain) | serious events (summed serious-event proportion of a scope) | adverse "
            "events (summed proportion of patients with an adverse-event term in a scope)",
        ),
        (
            "subject",
            "string",
            "outcome identifier (per trial), '<condition>:<domain>' (pooled efficacy), the "
            "scope (serious events) or '<scope>:<term>' (adverse events)",
        ),
        ("outcome", "string", "outcome label (per trial); empty otherwise"),
        ("timepoint", "string", "the later assessment, as the source names it (per trial)"),
        ("old", "float64", "the estimate in the site replaced (empty: none)"),
        ("old_ci_low", "float64", "its 95% interval, lower end"),
        ("old_ci_high", "float64", "its 95% interval, upper end"),
        ("new", "float64", "the estimate now (empty: none)"),
        ("new_ci_low", "float64", "its 95% interval, lower end"),
        ("new_ci_high", "float64", "its 95% interval, upper end"),
        ("change", "string", "moved | added | removed"),
    ),
    "changes_votes": columns(
        *_STUDY,
        ("condition", "string", "condition code"),
        ("domain", "string", "outcome domain code; empty for the trial's overall vote"),
        ("old", "string", "the vote in the site replaced (empty: no vote)"),
        ("new", "string", "the vote now (empty: no vote)"),
    ),
    "changes_certainty": columns(
        ("outcome_key", "string", "synthesis_certainty.outcome_key"),
        ("condition", "string", "condition code"),
        ("kind", "string", "safety | efficacy"),
        ("subject", "string", "serious | an adverse-event term | an outcome domain code"),
        ("old", "string", "certainty in the site replaced (empty: not rated)"),
        ("new", "string", "certainty now (empty: not rated)"),
    ),
    "changes_flags": columns(
        *_STUDY[:1],
        ("label", "string", "study label; empty for a flag about several trials"),
        ("found_by", "string", "checks (data-quality checks of ingestion) | analysis"),
        ("severity", "string", "warning | info"),
        ("subject", "string", "what the flag is about, in words"),
        ("message", "string", "the flag's message"),
        ("change", "string", "raised | resolved"),
    ),
}


@dataclass(frozen=True)
class _Estimates:
    """Where an estimate lives: its table, key columns, value and interval columns."""

    estimate: str
    table: str
    keys: tuple[str, ...]
    value: str
    ci: tuple[str, str] | None
    outcome: str | None = None


_ESTIMATES = (
    _Estimates(
        "change score",
        "trial_changes",
        ("trial_id", "outcome_id", "timepoint"),
        "yi_benefit",
        ("ci_low_benefit", "ci_high_benefit"),
        "outcome",
    ),
    _Estimates(
        "risk difference",
        "trial_count_changes",
        ("trial_id", "outcome_id", "timepoint"),
        "rd_benefit",
        None,
        "outcome",
    ),
    _Estimates(
        "pooled efficacy",
        "synthesis_efficacy_groups",
        ("condition", "domain"),
        "estimate",
        ("ci_low", "ci_high"),
    ),
    _Estimates(
        "serious events",
        "synthesis_serious_pooled",
        ("scope",),
        "proportion",
        ("ci_low", "ci_high"),
    ),
    _Estimates(
        "adverse events",
        "synthesis_adverse_event_terms",
        ("scope", "term"),
        "proportion",
        ("ci_low", "ci_high"),
    ),
)


def compare(
    old: Mapping[str, pd.DataFrame] | None, new: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame] | None:
    """The change tables from ``old`` (the site replaced) to ``new``; None when there is no
    ``old`` (a first build: nothing to compare with)."""
    if old is None:
        return None
    labels = {**_labels(old), **_labels(new)}
    trials = _added_removed(old, new, "trials", ("trial_id",))
    trials["label"] = trials["trial_id"].map(labels)
    skipped = set(trials["trial_id"])
    reports = _added_removed(old, new, "reports", ("trial_id", "report_id"))
    reports = reports[~reports["trial_id"].isin(skipped)].copy()
    reports["label"] = reports["trial_id"].map(labels)
    estimates = _estimates(old, new, skipped)
    estimates["label"] = estimates["trial_id"].map(labels)
    votes = _votes(old, new, skipped)
    votes["label"] = votes["trial_id"].map(labels)
    flags = _flags(old, new, skipped)
    flags["label"] = flags["trial_id"].map(labels)
    changes = {
        "changes_trials": trials,
        "changes_reports": reports,
        "changes_estimates": estimates,
        "changes_votes": votes,
        "changes_certainty": _certainty(old, new),
        "changes_flags": flags,
    }
    return {name: conform(name, CHANGES[name], frame) for name, frame in changes.items()}


def nothing_changed(changes: Mapping[str, pd.DataFrame]) -> bool:
    return all(frame.empty for frame in changes.values())


def _table(tables: Mapping[str, pd.DataFrame], name: str, needed: tuple[str, ...]):
    """A table's ``needed`` columns; an absent table (an older site) is empty."""
    frame = tables.get(name)
    if frame is None or not set(needed) <= set(frame.columns):
        return pd.DataFrame({column: pd.Series(dtype="object") for column in needed})
    return frame.loc[:, list(needed)]


def _labels(tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    trials = _table(tables, "trials", ("trial_id", "label"))
    return {
        str(t): str(label) for t, label in zip(trials["trial_id"], trials["label"], strict=True)
    }


def _keyed(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Rows as text keys (missing = ""), deduplicated, in key order."""
    frame = frame.astype("object").where(frame.notna(), "")
    frame = frame.astype("string")
    return frame.drop_duplicates(subset=list(keys)).sort_values(list(keys), kind="stable")


def _added_removed(old, new, name: str, keys: tuple[str, ...]) -> pd.DataFrame:
    extra = {"trials": ("condition",), "reports": ("citation",)}[name]
    needed = (*keys, *extra)
    merged = _keyed(_table(old, name, needed), keys).merge(
        _keyed(_table(new, name, needed), keys),
        on=list(keys),
        how="outer",
        suffixes=("_old", "_new"),
        indicator=True,
    )
    merged = merged[merged["_merge"] != "both"]
    out = merged.loc[:, list(keys)].copy()
    for column in extra:
        out[column] = merged[f"{column}_new"].fillna(merged[f"{column}_old"])
    out["change"] = merged["_merge"].map({"left_only": "removed", "right_only": "added"})
    return out.sort_values(["change", *keys], kind="stable").reset_index(drop=True)


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def _estimate_rows(tables, spec: _Estimates) -> dict[tuple[str, ...], dict]:
    ci = spec.ci or ()
    needed = (*spec.keys, spec.value, *ci, *((spec.outcome,) if spec.outcome else ()))
    rows = {}
    for row in _table(tables, spec.table, needed).to_dict("records"):
        key = tuple("" if pd.isna(row[k]) else str(row[k]) for k in spec.keys)
        value = _number(row[spec.value])
        if key in rows or math.isnan(value):
            continue  # the first row of a key counts; a missing value is no estimate
        rows[key] = {
            "value": value,
            "ci": tuple(_number(row[c]) for c in ci) or (math.nan, math.nan),
            "outcome": row[spec.outcome] if spec.outcome else None,
        }
    return rows


def _estimates(old, new, skipped: set[str]) -> pd.DataFrame:
    out = []
    for spec in _ESTIMATES:
        before, after = _estimate_rows(old, spec), _estimate_rows(new, spec)
        per_trial = spec.keys[0] == "trial_id"
        for key in sorted(set(before) | set(after)):
            if per_trial and key[0] in skipped:
                continue
            was, now = before.get(key), after.get(key)
            if was and now:
                pairs = zip((was["value"], *was["ci"]), (now["value"], *now["ci"]), strict=True)
                if all(_same(a, b) for a, b in pairs):
                    continue
            change = "moved" if was and now else "added" if now else "removed"
            shown = now or was
            old_values = (was["value"], *was["ci"]) if was else (math.nan,) * 3
            new_values = (now["value"], *now["ci"]) if now else (math.nan,) * 3
            out.append(
                {
                    "trial_id": key[0] if per_trial else None,
                    "estimate": spec.estimate,
                    "subject": key[1] if per_trial else ":".join(key),
                    "outcome": shown["outcome"] if per_trial else None,
                    "timepoint": key[2] if per_trial else None,
                    "old": old_values[0],
                    "old_ci_low": old_values[1],
                    "old_ci_high": old_values[2],
                    "new": new_values[0],
                    "new_ci_low": new_values[1],
                    "new_ci_high": new_values[2],
                    "change": change,
                }
            )
    columns_ = [c.name for c in CHANGES["changes_estimates"] if c.name != "label"]
    return pd.DataFrame(out, columns=columns_)


def _ratings(old, new, table: str, keys: tuple[str, ...], rating: str, carried: tuple[str, ...]):
    """Rows of ``table`` whose ``rating`` (a category) differs, appears or disappears: the
    keys, the ``carried`` columns (as now, else as before), ``old`` and ``new``."""
    needed = (*keys, *carried, rating)
    merged = _keyed(_table(old, table, needed), keys).merge(
        _keyed(_table(new, table, needed), keys),
        on=list(keys),
        how="outer",
        suffixes=("_old", "_new"),
    )
    merged = merged[merged[f"{rating}_old"].fillna("") != merged[f"{rating}_new"].fillna("")]
    out = merged.loc[:, list(keys)].copy()
    for column in carried:
        out[column] = merged[f"{column}_new"].fillna(merged[f"{column}_old"])
    out["old"] = merged[f"{rating}_old"].replace("", None)
    out["new"] = merged[f"{rating}_new"].replace("", None)
    return out.reset_index(drop=True)


def _votes(old, new, skipped: set[str]) -> pd.DataFrame:
    """Votes of a trial's outcome domains and of the trial that differ, appear or disappear."""
    domains = _ratings(
        old, new, "synthesis_vote_domains", ("trial_id", "domain"), "vote", ("condition",)
    )
    trials = _ratings(old, new, "synthesis_vote_trials", ("trial_id",), "vote", ("condition",))
    votes = pd.concat([domains, trials], ignore_index=True)
    votes = votes[~votes["trial_id"].isin(skipped)]
    order = ["trial_id", "domain"]  # a trial's domains, then its overall vote (no domain)
    votes = votes.sort_values(order, kind="stable", na_position="last")
    return votes.reset_index(drop=True)


def _certainty(old, new) -> pd.DataFrame:
    carried = ("condition", "kind", "subject")
    return _ratings(old, new, "synthesis_certainty", ("outcome_key",), "certainty", carried)


def _flags(old, new, skipped: set[str]) -> pd.DataFrame:
    fields = ("trial_id", "severity", "subject", "message")
    frames = []
    for table, found_by in (("checks", "checks"), ("synthesis_flags", "analysis")):
        before = _keyed(_table(old, table, fields), fields)
        after = _keyed(_table(new, table, fields), fields)
        merged = before.merge(after, on=list(fields), how="outer", indicator=True)
        merged = merged[merged["_merge"] != "both"]
        frame = merged.loc[:, list(fields)].copy()
        frame["found_by"] = found_by
        frame["change"] = merged["_merge"].map({"left_only": "resolved", "right_only": "raised"})
        frames.append(frame[~frame["trial_id"].isin(skipped)])
    flags = pd.concat(frames, ignore_index=True)
    flags["trial_id"] = flags["trial_id"].replace("", None)
    return flags.sort_values(
        ["trial_id", "found_by", "change", "subject", "message"], kind="stable", na_position="last"
    ).reset_index(drop=True)


# --------------------------------------------------------------------------- files


def read_tables(directory: Path, specs: Mapping[str, tuple[Column, ...]]) -> dict:
    """The tables of ``specs`` found as ``<name>.csv`` in ``directory``, typed where the
    columns are known. Lenient on purpose: a site built by older code may lack a table or a
    column, which then only counts as having none of it."""
    tables = {}
    for name, spec in specs.items():
        path = directory / f"{name}.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
        known = {c.name: c.dtype for c in spec if c.name in frame.columns}
        tables[name] = frame.astype(
            {n: ("float64" if d in ("float64", "Float64") else "string") for n, d in known.items()}
        )
    return tables


def read_changes(directory: Path) -> dict[str, pd.DataFrame]:
    """Every change table stored in ``directory``; one an older site did not store is empty."""
    found = read_tables(directory, CHANGES)
    tables = {}
    for name, spec in CHANGES.items():
        frame = found.get(name, empty(spec))
        frame = frame.reindex(columns=[c.name for c in spec])  # a column it lacks is empty
        tables[name] = conform(name, spec, frame)
    return tables


def to_json(changes: Mapping[str, pd.DataFrame] | None) -> str:
    """The machine-readable log: ``{"first_build": true}``, or every change table as a list
    of records (missing values as null), keys sorted: the same changes give the same bytes."""
    if changes is None:
        document: dict = {"first_build": True}
    else:
        document = {"first_build": False}
        for name, frame in changes.items():
            records = frame.astype("object").where(frame.notna(), None).to_dict("records")
            document[name.removeprefix("changes_")] = records
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
