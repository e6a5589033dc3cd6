"""What every synthesis analysis shares: the trials selected, patients treated, the pooling rule.

Result frames are built here too (:func:`result_frame`), typed and ordered as the result
table declares them in :mod:`helpers.data.results`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from helpers import data
from helpers.evidence import sources
from helpers.labels import plural

LEVEL = 95  # every interval of the synthesis is a 95% interval
ALL = "all conditions"  # the scope of a row that summarises every condition together
SOURCE_KINDS = sources.KINDS
SOURCE_SCENARIOS: dict[str, tuple[str, ...]] = {
    "all sources": SOURCE_KINDS,
    "without press reports": tuple(kind for kind in SOURCE_KINDS if kind != "press_report"),
    "full articles only": ("erratum", "full_text"),
}


def present(value: object) -> bool:
    """A value that is there: not None, NaN or pandas' NA."""
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def select_sources(
    tables: Mapping[str, pd.DataFrame], source_kinds: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Every table restricted to the trials whose most complete report is of ``source_kinds``.

    Tables without a ``trial_id`` column pass unchanged; no trial qualifying gives empty tables.
    """
    unknown = sorted(set(source_kinds) - set(SOURCE_KINDS))
    if unknown:
        raise ValueError(f"unknown source kinds {unknown}; known: {list(SOURCE_KINDS)}")
    trials = tables["trials"]
    keep = set(trials.loc[trials["source_kind"].isin(list(source_kinds)), "trial_id"])
    return {
        name: frame[frame["trial_id"].isin(keep)].reset_index(drop=True)
        if "trial_id" in frame.columns
        else frame
        for name, frame in tables.items()
    }


def treated_patients(trials: pd.DataFrame) -> pd.Series:
    """Patients treated per trial (index trial_id): the safety population, else those enrolled."""
    treated = trials["n_safety"].fillna(trials["n_enrolled"])
    return pd.Series(treated.to_numpy(), index=trials["trial_id"].to_numpy(), name="patients")


def conditions(trials: pd.DataFrame) -> pd.Series:
    """Condition code per trial (index trial_id)."""
    return pd.Series(trials["condition"].to_numpy(), index=trials["trial_id"].to_numpy())


def scopes(trials: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(scope, trial ids) for every condition together and each condition in turn."""
    ordered = trials.sort_values(["condition", "trial_id"], kind="stable")
    result = [(ALL, list(ordered["trial_id"]))]
    for condition, group in ordered.groupby("condition", sort=True):
        result.append((str(condition), list(group["trial_id"])))
    return result


def join_ids(ids: Iterable[object]) -> str:
    """Trial ids as one ';'-separated text, sorted, each once."""
    return ";".join(sorted({str(i) for i in ids if present(i)}))


def should_pool(
    k: int,
    min_k: int,
    *,
    n_trials: int | None = None,
    all_zero: bool = False,
    all_full: bool = False,
) -> tuple[bool, str]:
    """Whether ``k`` estimates may be pooled, with the reason either way.

    Refuses: no estimate; several estimates from fewer trials (the same patients are not
    independent); k = 1 (nothing to pool; tau² not estimable) whatever ``min_k`` says; k below
    ``min_k`` (too few for a between-trial variance: with 2 trials tau² is almost
    unidentifiable and Hartung-Knapp intervals explode); every trial with zero events (or
    every trial with all patients affected): the binomial-normal likelihood then has no
    maximum.
    """
    if k < 1:
        return False, "no estimate"
    if n_trials is not None and n_trials < k:
        return False, (
            f"{k} estimates come from {plural(n_trials, 'trial')}: estimates from the same "
            "patients are not independent"
        )
    if k == 1:
        return False, "one trial: nothing to pool, and between-trial variation is not estimable"
    if k < min_k:
        return False, f"{k} trials, fewer than the minimum of {min_k} set for pooling"
    if all_zero:
        return False, (
            f"all {k} trials report zero events: the binomial-normal (GLMM) likelihood has no "
            "maximum, so no model estimate exists"
        )
    if all_full:
        return False, f"all {k} trials report every patient affected: the GLMM is undefined"
    return True, f"{k} trials, at least the minimum of {min_k}"


def result_frame(table: str, rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Rows as the result table ``table`` declares it (typed; empty when there are none)."""
    names = [column.name for column in data.RESULTS[table]]
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise ValueError(f"table {table}: unexpected columns {sorted(unknown)}")
    frame = pd.DataFrame(list(rows), columns=names)
    return data.conform(table, frame)
