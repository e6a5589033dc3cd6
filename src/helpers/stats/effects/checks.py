"""Checks of numeric inputs shared by the effect sizes and the pooling (``helpers.stats.meta``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = float | int | Sequence[float] | np.ndarray


def _as_float_array(name: str, values: ArrayLike) -> np.ndarray:
    """1-D float array of finite values, or ValueError naming ``name``."""
    try:
        array = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {values!r}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be a scalar or 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf): {array.tolist()}")
    return array


def _broadcast(**named: ArrayLike) -> dict[str, np.ndarray]:
    """Check every argument, then broadcast scalars against the common study count."""
    arrays = {name: _as_float_array(name, value) for name, value in named.items()}
    lengths = {name: a.size for name, a in arrays.items() if a.size != 1}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"argument lengths differ: {lengths}")
    k = max((a.size for a in arrays.values()), default=1)
    return {name: np.broadcast_to(a, (k,)).copy() for name, a in arrays.items()}


def _require(condition: np.ndarray | bool, message: str) -> None:
    if not np.all(condition):
        raise ValueError(message)


def _check_counts(events: np.ndarray, totals: np.ndarray, events_name: str = "events") -> None:
    _require(totals > 0, f"totals must be > 0, got {totals.tolist()}")
    _require(events >= 0, f"{events_name} must be >= 0, got {events.tolist()}")
    _require(
        events <= totals,
        f"{events_name} must be <= totals ({events.tolist()} vs {totals.tolist()})",
    )
    _require(
        (events == np.round(events)) & (totals == np.round(totals)),
        f"{events_name} and totals must be whole numbers",
    )


def _alpha(level: float) -> float:
    """Two-sided error rate from a confidence level given as 95 or 0.95 (metafor's ``.level``)."""
    if not np.isfinite(level) or level <= 0 or level >= 100:
        raise ValueError(f"level must be in (0, 1) or (1, 100), got {level!r}")
    if level == 1:
        raise ValueError("level = 1 is ambiguous; use 95 or 0.95")
    return (100 - level) / 100 if level > 1 else 1 - level
