"""Single proportions: exact, Wilson and zero-event intervals, and the logit (metafor ``"PLO"``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from helpers.stats.effects.checks import (
    ArrayLike,
    _alpha,
    _as_float_array,
    _broadcast,
    _check_counts,
)
from helpers.stats.effects.sizes import EffectSizes


def _counts(events: ArrayLike, totals: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = _broadcast(events=events, totals=totals)
    _check_counts(a["events"], a["totals"])
    return a["events"], a["totals"]


def clopper_pearson_ci(
    events: ArrayLike, totals: ArrayLike, level: float = 95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper & Pearson 1934, Biometrika 26:404) two-sided interval for x/n.

    Beta quantiles ``B(alpha/2; x, n-x+1)`` and ``B(1-alpha/2; x+1, n-x)``, with 0 and 1 at the
    ends, via statsmodels ``proportion_confint(method="beta")`` (same as scipy
    ``binomtest(...).proportion_ci(method="exact")``).
    """
    x, n = _counts(events, totals)
    low, high = proportion_confint(x, n, alpha=_alpha(level), method="beta")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


@lru_cache(maxsize=65536)
def clopper_pearson_interval(events: int, total: int, level: float = 95) -> tuple[float, float]:
    """:func:`clopper_pearson_ci` of one proportion, as two floats.

    Remembered per (events, total, level): the per-trial tables ask for the same few small
    counts thousands of times, and the same arguments give the same floats.
    """
    low, high = clopper_pearson_ci(events, total, level)
    return float(low[0]), float(high[0])


def wilson_ci(
    events: ArrayLike, totals: ArrayLike, level: float = 95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927, J Am Stat Assoc 22:209) score interval for x/n (statsmodels)."""
    x, n = _counts(events, totals)
    low, high = proportion_confint(x, n, alpha=_alpha(level), method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def exact_upper_bound(events: ArrayLike, totals: ArrayLike, level: float = 95) -> np.ndarray:
    """One-sided exact upper confidence bound ``B(level; x+1, n-x)`` (1 when x = n).

    For x = 0 this is ``1 - alpha^(1/n)`` (e.g. 0/11 -> 0.2384 at 95%; the "rule of three"
    ``3/n`` approximates it; Hanley & Lippman-Hand 1983, JAMA 249:1743).
    """
    x, n = _counts(events, totals)
    one_sided_alpha = _alpha(level)
    full = x == n
    bound = stats.beta.isf(one_sided_alpha, x + 1, np.where(full, 1, n - x))
    return np.where(full, 1.0, bound)


def zero_event_upper_bound(totals: ArrayLike, level: float = 95) -> np.ndarray:
    """One-sided exact upper bound for 0 events in n: ``1 - alpha^(1/n)`` (see above)."""
    n = _as_float_array("totals", totals)
    _check_counts(np.zeros_like(n), n)
    return 1 - _alpha(level) ** (1 / n)


def logit_proportion(
    events: ArrayLike, totals: ArrayLike, *, add: float = 0.5, to: str = "only0"
) -> EffectSizes:
    """Logit of a proportion with its variance (metafor ``escalc(measure="PLO")``).

    ``yi = log(x / (n - x))``, ``vi = 1/x + 1/(n - x)``. Cells are the events and the
    non-events; ``add`` is added to both cells of studies chosen by ``to`` (metafor defaults
    ``add=1/2, to="only0"``: only studies with 0 events or 0 non-events, i.e. x = 0 or x = n,
    which gives ``(x + 0.5) / (n + 1)``). ``to`` is one of ``"only0"``, ``"all"``, ``"if0all"``,
    ``"none"``.
    """
    x, n = _counts(events, totals)
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add must be >= 0, got {add!r}")
    zero_cell = (x == 0) | (x == n)
    if to == "only0":
        corrected = zero_cell
    elif to == "all":
        corrected = np.ones_like(zero_cell)
    elif to == "if0all":
        corrected = np.full_like(zero_cell, zero_cell.any())
    elif to == "none":
        corrected = np.zeros_like(zero_cell)
    else:
        raise ValueError(f"to must be 'only0', 'all', 'if0all' or 'none', got {to!r}")
    events_cell = x + np.where(corrected, add, 0.0)
    non_events_cell = n - x + np.where(corrected, add, 0.0)
    if np.any(events_cell == 0) or np.any(non_events_cell == 0):
        raise ValueError("a zero cell remains uncorrected; use add > 0 with to='only0'")
    yi = np.log(events_cell / non_events_cell)
    vi = 1 / events_cell + 1 / non_events_cell
    return EffectSizes(yi=yi, vi=vi, measure="PLO")
