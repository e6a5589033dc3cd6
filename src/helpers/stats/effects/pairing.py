"""Before/after counts of the same patients when the pairing is unknown (exact McNemar range)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from helpers.stats.effects.checks import (
    _broadcast,
    _check_counts,
)
from helpers.stats.effects.proportions import (
    clopper_pearson_interval,
)


@dataclass(frozen=True, eq=False, repr=False)
class UnknownPairingComparison:
    """Before/after proportions of one cohort when the paired (discordant) counts are unknown.

    ``tables`` lists every 2x2 table consistent with the margins (columns ``both``,
    ``before_only``, ``after_only``, ``neither``, ``discordant``, ``p_value``); the McNemar
    p-value is only known to lie in ``[p_value_min, p_value_max]``.
    """

    n: int
    before_events: int
    after_events: int
    before_proportion: float
    before_ci: tuple[float, float]
    after_proportion: float
    after_ci: tuple[float, float]
    p_value_min: float
    p_value_max: float
    table_at_p_min: dict[str, int]
    table_at_p_max: dict[str, int]
    tables: pd.DataFrame
    pairing_known: bool = False
    note: str = field(default="")

    def __repr__(self) -> str:
        return (
            f"UnknownPairingComparison(n = {self.n}: before {self.before_events}/{self.n}, after "
            f"{self.after_events}/{self.n}; exact McNemar p from {self.p_value_min:.4g} to "
            f"{self.p_value_max:.4g} over {len(self.tables)} feasible tables)"
        )


TABLE_COLUMNS = ("both", "before_only", "after_only", "neither", "discordant", "p_value")


@lru_cache(maxsize=65536)
def _exact_mcnemar_p(before_only: int, after_only: int) -> float:
    discordant = before_only + after_only
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(before_only, discordant, 0.5).pvalue)


@lru_cache(maxsize=65536)
def _feasible_tables(x1: int, x2: int, n: int) -> tuple[tuple[int, int, int, int, int, float], ...]:
    """Every 2x2 table with these margins and its exact McNemar p (``TABLE_COLUMNS``).

    Remembered per margins: a function of three small whole numbers that the per-trial tables
    ask for thousands of times (one scipy ``binomtest`` per table otherwise).
    """
    tables = []
    for both in range(max(0, x1 + x2 - n), min(x1, x2) + 1):
        before_only, after_only = x1 - both, x2 - both
        tables.append(
            (
                both,
                before_only,
                after_only,
                n - x1 - x2 + both,
                before_only + after_only,
                _exact_mcnemar_p(before_only, after_only),
            )
        )
    return tuple(tables)


def exact_mcnemar_range(before_events: int, after_events: int, n: int) -> tuple[float, float, int]:
    """Smallest and largest exact McNemar p over every 2x2 table with these margins, and the
    number of tables: :func:`before_after_unknown_pairing` without its intervals and tables
    (the counts are not checked here: give whole numbers with both events <= n)."""
    p_values = [row[-1] for row in _feasible_tables(int(before_events), int(after_events), int(n))]
    return min(p_values), max(p_values), len(p_values)


def before_after_unknown_pairing(
    *,
    before_events: int,
    before_n: int,
    after_events: int,
    after_n: int,
    level: float = 95,
) -> UnknownPairingComparison:
    """Both proportions with exact CIs and the range of the exact McNemar p over all pairings.

    With margins x1 (before) and x2 (after) of the same n patients, the number with the event at
    both times ``a`` ranges over ``max(0, x1 + x2 - n) .. min(x1, x2)``; the discordant cells are
    ``b = x1 - a`` (before only) and ``c = x2 - a`` (after only). Each table's exact McNemar
    p-value is the two-sided exact binomial test of b in b + c at 1/2 (McNemar 1947,
    Psychometrika 12:153; exact version e.g. Fagerland, Lydersen & Laake 2013, BMC Med Res
    Methodol 13:91), via scipy ``binomtest``. All feasible tables are enumerated.
    """
    a = _broadcast(
        before_events=before_events, before_n=before_n, after_events=after_events, after_n=after_n
    )
    if any(v.size != 1 for v in a.values()):
        raise ValueError("before_after_unknown_pairing takes one cohort (scalar counts)")
    x1, n1, x2, n2 = (a[key][0] for key in ("before_events", "before_n", "after_events", "after_n"))
    _check_counts(np.array([x1]), np.array([n1]), "before_events")
    _check_counts(np.array([x2]), np.array([n2]), "after_events")
    if n1 != n2:
        raise ValueError(
            f"before_n ({int(n1)}) and after_n ({int(n2)}) differ: a paired comparison needs the "
            "same patients at both times; analyse the completers or compare as independent groups"
        )
    n, x1, x2 = int(n1), int(x1), int(x2)

    feasible = _feasible_tables(x1, x2, n)
    tables = pd.DataFrame([dict(zip(TABLE_COLUMNS, row, strict=True)) for row in feasible])
    p_values = [row[-1] for row in feasible]
    # the first table with the smallest and the largest p, as idxmin/idxmax pick them
    at_min = dict(zip(TABLE_COLUMNS, feasible[p_values.index(min(p_values))], strict=True))
    at_max = dict(zip(TABLE_COLUMNS, feasible[p_values.index(max(p_values))], strict=True))
    cells = ("both", "before_only", "after_only", "neither")
    before_ci, after_ci = (clopper_pearson_interval(x, n, level) for x in (x1, x2))
    note = (
        "Pairing unknown: only the margins were reported, so the exact McNemar p-value is only "
        f"bounded: {at_min['p_value']:.4g} (table with {int(at_min['discordant'])} discordant "
        f"pairs) to {at_max['p_value']:.4g} ({int(at_max['discordant'])} discordant pairs) over "
        f"{len(tables)} feasible table(s)."
    )
    return UnknownPairingComparison(
        n=n,
        before_events=x1,
        after_events=x2,
        before_proportion=x1 / n,
        before_ci=before_ci,
        after_proportion=x2 / n,
        after_ci=after_ci,
        p_value_min=float(at_min["p_value"]),
        p_value_max=float(at_max["p_value"]),
        table_at_p_min={c: int(at_min[c]) for c in cells},
        table_at_p_max={c: int(at_max[c]) for c in cells},
        tables=tables,
        note=note,
    )
