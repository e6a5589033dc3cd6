"""Per-study effect sizes (metafor's ``escalc`` object), the labels and decimals it prints, and the
small-sample correction of the standardised measures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special, stats

from helpers.stats.effects.checks import (
    ArrayLike,
    _alpha,
    _as_float_array,
    _require,
)


@lru_cache(maxsize=256)
def _normal_quantile(upper_tail: float) -> float:
    """The standard normal quantile with ``upper_tail`` above it (remembered: one per level)."""
    return stats.norm.isf(upper_tail)


def _default_slab(positions: Iterable[int]) -> tuple[str, ...]:
    """metafor's default study labels: "Study 1", "Study 2", ... (1-based row numbers)."""
    return tuple(f"Study {i + 1}" for i in positions)


def _fixed(value: float, digits: int = 4) -> str:
    """metafor's ``.fcf``: fixed notation with ``digits`` decimals."""
    return f"{value:.{digits}f}"


@dataclass(frozen=True, eq=False)
class EffectSizes:
    """Per-study effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc`` output).

    ``slab`` holds the study labels (None: "Study 1", "Study 2", ...) and ``ni`` the total
    sample size of each study when known. Unpacks like a pair: ``yi, vi = smcr(...)``.
    """

    yi: np.ndarray
    vi: np.ndarray
    measure: str
    slab: tuple[str, ...] | None = None
    ni: np.ndarray | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.yi
        yield self.vi

    def __len__(self) -> int:
        return int(self.yi.size)

    def __repr__(self) -> str:
        finite = self.yi[np.isfinite(self.yi)]
        span = (
            f"yi from {_fixed(finite.min())} to {_fixed(finite.max())}" if finite.size else "no yi"
        )
        missing = self.yi.size - finite.size
        return (
            f"EffectSizes(measure={self.measure!r}, k={len(self)}; {span}"
            + (f"; {missing} missing" if missing else "")
            + ")"
        )

    def __str__(self) -> str:
        """The table metafor prints for an ``escalc`` object (4 decimals)."""
        table = pd.DataFrame({"yi": self.yi, "vi": self.vi}, index=list(self.labels))
        return table.to_string(float_format=_fixed)

    @property
    def labels(self) -> tuple[str, ...]:
        """Study labels: ``slab``, or "Study 1" ... "Study k"."""
        return self.slab if self.slab is not None else _default_slab(range(len(self)))

    def ci(self, level: float = 95) -> tuple[np.ndarray, np.ndarray]:
        """Wald interval ``yi -/+ z * sqrt(vi)`` (metafor ``summary.escalc``)."""
        z = _normal_quantile(_alpha(level) / 2)
        half = z * np.sqrt(self.vi)
        return self.yi - half, self.yi + half

    def to_frame(self, level: float = 95) -> pd.DataFrame:
        """One row per study: study (label), yi, vi, sei, ci_low, ci_high."""
        low, high = self.ci(level)
        return pd.DataFrame(
            {
                "study": list(self.labels),
                "measure": self.measure,
                "yi": self.yi,
                "vi": self.vi,
                "sei": np.sqrt(self.vi),
                "ci_low": low,
                "ci_high": high,
            }
        )


def small_sample_correction(df: ArrayLike) -> np.ndarray:
    """Exact small-sample bias correction J(m) for standardised mean (changes).

    ``J(m) = Gamma(m/2) / (sqrt(m/2) * Gamma((m-1)/2))``, computed on the log scale exactly as
    metafor's ``.cmicalc`` (Hedges 1981, J Educ Stat 6:107; Viechtbauer 2010 J Stat Softw
    36(3)). For pre-post designs ``m = n - 1``. Requires ``m > 1``.
    """
    m = _as_float_array("df", df)
    _require(m > 1, f"df must be > 1 for the small-sample correction, got {m.tolist()}")
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
