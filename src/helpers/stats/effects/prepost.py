"""Pre-post measures (one group, before/after) and recovery of the SD of change from a paired t
or p."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from helpers.stats.effects.checks import (
    ArrayLike,
    _as_float_array,
    _broadcast,
    _require,
)
from helpers.stats.effects.sizes import EffectSizes, _fixed, small_sample_correction


def sd_change(pre_sd: ArrayLike, post_sd: ArrayLike, r: ArrayLike) -> np.ndarray:
    """SD of the within-person change: ``sqrt(sd1^2 + sd2^2 - 2 r sd1 sd2)``.

    Cochrane Handbook (version 6.5) section 6.5.2.8, formula for imputing a change-from-baseline SD.
    """
    a = _broadcast(pre_sd=pre_sd, post_sd=post_sd, r=r)
    _check_sds_and_r(a)
    variance = a["pre_sd"] ** 2 + a["post_sd"] ** 2 - 2 * a["r"] * a["pre_sd"] * a["post_sd"]
    return np.sqrt(np.maximum(variance, 0.0))


def _check_sds_and_r(a: dict[str, np.ndarray]) -> None:
    for name in ("pre_sd", "post_sd"):
        if name in a:
            _require(a[name] > 0, f"{name} must be > 0, got {a[name].tolist()}")
    if "r" in a:
        _require(np.abs(a["r"]) <= 1, f"r must be in [-1, 1], got {a['r'].tolist()}")


def mean_change(
    *,
    pre_mean: ArrayLike,
    post_mean: ArrayLike,
    pre_sd: ArrayLike,
    post_sd: ArrayLike,
    n: ArrayLike,
    r: ArrayLike,
) -> EffectSizes:
    """Raw mean change of one group (metafor ``escalc(measure="MC")``).

    ``yi = post_mean - pre_mean``; ``vi = (sd_pre^2 + sd_post^2 - 2 r sd_pre sd_post) / n``
    (Viechtbauer 2010 J Stat Softw 36(3); metafor ``escalc`` documentation, "MC").
    """
    a = _broadcast(pre_mean=pre_mean, post_mean=post_mean, pre_sd=pre_sd, post_sd=post_sd, n=n, r=r)
    _check_sds_and_r(a)
    _require(a["n"] >= 2, f"n must be >= 2, got {a['n'].tolist()}")
    yi = a["post_mean"] - a["pre_mean"]
    vi = sd_change(a["pre_sd"], a["post_sd"], a["r"]) ** 2 / a["n"]
    return EffectSizes(yi=yi, vi=vi, measure="MC")


def smcr(
    *,
    pre_mean: ArrayLike,
    post_mean: ArrayLike,
    pre_sd: ArrayLike,
    n: ArrayLike,
    r: ArrayLike,
) -> EffectSizes:
    """Standardised mean change, raw-score (pre SD) standardisation (metafor ``"SMCR"``).

    ``yi = J(n-1) * (post_mean - pre_mean) / pre_sd`` and Becker's (1988, Br J Math Stat
    Psychol 41:257) large-sample variance ``vi = 2 (1 - r) / n + yi^2 / (2 n)``, as computed by
    metafor ``escalc(measure="SMCR", m1i=post, m2i=pre, sd1i=pre_sd, ni, ri)``; J is the exact
    correction of :func:`small_sample_correction`. Reproduces the Morris (2008, Organ Res Methods
    11:364) example in metafor's test suite.
    """
    a = _broadcast(pre_mean=pre_mean, post_mean=post_mean, pre_sd=pre_sd, n=n, r=r)
    _check_sds_and_r(a)
    _require(a["n"] >= 3, f"n must be >= 3 for the small-sample correction, got {a['n'].tolist()}")
    yi = small_sample_correction(a["n"] - 1) * (a["post_mean"] - a["pre_mean"]) / a["pre_sd"]
    vi = 2 * (1 - a["r"]) / a["n"] + yi**2 / (2 * a["n"])
    return EffectSizes(yi=yi, vi=vi, measure="SMCR")


def smcc(
    *,
    pre_mean: ArrayLike,
    post_mean: ArrayLike,
    pre_sd: ArrayLike,
    post_sd: ArrayLike,
    n: ArrayLike,
    r: ArrayLike,
) -> EffectSizes:
    """Standardised mean change, change-score standardisation (metafor ``"SMCC"``).

    ``yi = J(n-1) * (post_mean - pre_mean) / sd_change`` with
    ``sd_change = sqrt(sd_pre^2 + sd_post^2 - 2 r sd_pre sd_post)`` and
    ``vi = 1/n + yi^2 / (2 n)`` (Gibbons, Hedeker & Davis 1993, J Educ Stat 18:271; metafor
    ``escalc`` documentation, "SMCC").
    """
    a = _broadcast(pre_mean=pre_mean, post_mean=post_mean, pre_sd=pre_sd, post_sd=post_sd, n=n, r=r)
    _check_sds_and_r(a)
    _require(a["n"] >= 3, f"n must be >= 3 for the small-sample correction, got {a['n'].tolist()}")
    change_sd = sd_change(a["pre_sd"], a["post_sd"], a["r"])
    _require(change_sd > 0, "sd of change is 0 (r = 1 with equal SDs); SMCC is undefined")
    yi = small_sample_correction(a["n"] - 1) * (a["post_mean"] - a["pre_mean"]) / change_sd
    vi = 1 / a["n"] + yi**2 / (2 * a["n"])
    return EffectSizes(yi=yi, vi=vi, measure="SMCC")


# --------------------------------------------------------------------------------------------
# Recovering the SD of change (and r) from a paired t or p
# --------------------------------------------------------------------------------------------

_P_PATTERN = re.compile(r"^\s*(?:p\s*)?(<=|≤|<|=|>=|≥|>)?\s*(\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$", re.I)


def parse_p_value(p_value: float | str) -> tuple[float, bool]:
    """Read a reported p-value: ``0.004``, ``"0.004"``, ``"= 0.0047"``, ``"p < .001"``.

    Returns ``(p, is_bound)``. ``"< x"`` (or ``"<= x"``) is used as ``p = x`` and flagged as a
    bound: the true p is smaller, so the t recovered from it is too small and the SD of change
    too large - a conservative choice. ``"> x"`` carries no usable information and is rejected.
    """
    if isinstance(p_value, bool):
        raise ValueError(f"p_value must be a number or a string, got {p_value!r}")
    if isinstance(p_value, int | float | np.floating):
        value, relation = float(p_value), "="
    else:
        match = _P_PATTERN.match(str(p_value))
        if match is None:
            raise ValueError(f"p_value {p_value!r} is not a p-value like '0.004' or '<0.001'")
        relation = match.group(1) or "="
        value = float(match.group(2))
    if relation in (">", ">=", "≥"):
        raise ValueError(f"p_value {p_value!r} is a lower bound; it cannot give a t statistic")
    if not 0 < value < 1:
        raise ValueError(f"p_value must be in (0, 1), got {p_value!r}")
    return value, relation in ("<", "<=", "≤")


@dataclass(frozen=True, repr=False)
class ChangeSdRecovery:
    """SD of change and pre-post correlation recovered from a paired test of one group."""

    p_used: float | None  # None when t was given directly
    p_is_bound: bool  # True when the report was "p < x" and p = x was used
    t: float  # |t| with n - 1 degrees of freedom
    df: int
    sd_change: float
    r: float  # clipped to [-1, 1]
    r_unclipped: float
    r_clipped: bool
    note: str

    def __repr__(self) -> str:
        source = f"t = {_fixed(self.t)}" if self.p_used is None else f"p = {self.p_used:g}"
        if self.p_is_bound:
            source = f"p < {self.p_used:g}"
        clipped = f", clipped from {_fixed(self.r_unclipped)}" if self.r_clipped else ""
        return (
            f"ChangeSdRecovery(from {source} with {self.df} df: sd_change = "
            f"{_fixed(self.sd_change)}, r = {_fixed(self.r)}{clipped})"
        )


@lru_cache(maxsize=65536)
def _t_quantile(upper_tail: float, df: int) -> float:
    """The t quantile with ``upper_tail`` above it, remembered: the same reported p and n recur
    for every comparison that recovers r (change from baseline, then each sensitivity table)."""
    return float(stats.t.isf(upper_tail, df))


def recover_change_sd(
    *,
    pre_mean: float,
    post_mean: float,
    pre_sd: float,
    post_sd: float,
    n: int,
    p_value: float | str | None = None,
    t_value: float | None = None,
) -> ChangeSdRecovery:
    """Recover SD of change and r from a paired t-test's p (two-sided) or t.

    Cochrane Handbook (version 6.5) section 6.5.2.8 (and 6.5.2.3 for t from p):
    ``t = t_{n-1}^{-1}(1 - p/2)``, ``sd_change = |post - pre| * sqrt(n) / t``,
    ``r = (sd_pre^2 + sd_post^2 - sd_change^2) / (2 sd_pre sd_post)``, clipped to [-1, 1] and
    flagged when outside (the reported summaries are then mutually inconsistent).
    Give exactly one of ``p_value`` and ``t_value``.
    """
    if (p_value is None) == (t_value is None):
        raise ValueError("give exactly one of p_value and t_value")
    a = _broadcast(pre_mean=pre_mean, post_mean=post_mean, pre_sd=pre_sd, post_sd=post_sd, n=n)
    if a["n"].size != 1:
        raise ValueError("recover_change_sd works on one study at a time (scalar inputs)")
    pre_m, post_m, sd1, sd2, n_ = (float(a[key][0]) for key in a)
    _check_sds_and_r({"pre_sd": a["pre_sd"], "post_sd": a["post_sd"]})
    if n_ < 2 or n_ != round(n_):
        raise ValueError(f"n must be a whole number >= 2, got {n!r}")
    df = int(n_) - 1
    change = post_m - pre_m
    if change == 0:
        raise ValueError("post_mean equals pre_mean: the SD of change cannot be recovered from t")

    notes: list[str] = []
    p_used: float | None = None
    is_bound = False
    if p_value is not None:
        p_used, is_bound = parse_p_value(p_value)
        t = _t_quantile(p_used / 2, df)
        if is_bound:
            notes.append(
                f"p reported as a bound ({p_value!r}); used p = {p_used:g}, the largest value "
                "allowed, so |t| is underestimated and the SD of change overestimated "
                "(conservative: r is underestimated)."
            )
    else:
        t = abs(_as_float_array("t_value", t_value)[0])  # type: ignore[arg-type]
        if t == 0:
            raise ValueError("t_value must be non-zero")

    change_sd = abs(change) * math.sqrt(n_) / t
    r_raw = (sd1**2 + sd2**2 - change_sd**2) / (2 * sd1 * sd2)
    r = min(1.0, max(-1.0, r_raw))
    clipped = r != r_raw
    if clipped:
        notes.append(
            f"recovered r = {r_raw:.4f} lies outside [-1, 1] and was clipped to {r:g}; the "
            "reported means, SDs and test statistic are not mutually consistent."
        )
    notes.append("two-sided paired t-test with n - 1 df assumed (Cochrane Handbook 6.5.2.8).")
    return ChangeSdRecovery(
        p_used=p_used,
        p_is_bound=is_bound,
        t=t,
        df=df,
        sd_change=change_sd,
        r=r,
        r_unclipped=r_raw,
        r_clipped=clipped,
        note=" ".join(notes),
    )


def smcr_sensitivity(
    *,
    pre_mean: float,
    post_mean: float,
    pre_sd: float,
    post_sd: float,
    n: int,
    r_values: Sequence[float] = (0.3, 0.5, 0.7, 0.9),
    p_value: float | str | None = None,
    t_value: float | None = None,
    level: float = 95,
) -> pd.DataFrame:
    """SMCR of one study under each assumed pre-post correlation, plus the recovered one.

    One row per ``r`` in ``r_values`` (``r_source = "assumed"``) and, when ``p_value`` or
    ``t_value`` is given, one row for the r recovered by :func:`recover_change_sd`
    (``r_source = "recovered"``, or ``"recovered (p bound)"`` for a "p < x" report). Columns:
    r_source, r, yi, vi, se, ci_low, ci_high. yi does not depend on r (raw-score
    standardisation); vi does (see :func:`smcr`).
    """
    rows: list[tuple[str, float]] = [("assumed", float(r)) for r in r_values]
    if p_value is not None or t_value is not None:
        recovered = recover_change_sd(
            pre_mean=pre_mean,
            post_mean=post_mean,
            pre_sd=pre_sd,
            post_sd=post_sd,
            n=n,
            p_value=p_value,
            t_value=t_value,
        )
        label = "recovered (p bound)" if recovered.p_is_bound else "recovered"
        rows.append((label, recovered.r))
    if not rows:
        raise ValueError("no r to evaluate: give r_values or a p_value / t_value")
    r_column = np.array([r for _, r in rows])
    effects = smcr(pre_mean=pre_mean, post_mean=post_mean, pre_sd=pre_sd, n=n, r=r_column)
    low, high = effects.ci(level)
    return pd.DataFrame(
        {
            "r_source": [source for source, _ in rows],
            "r": r_column,
            "yi": effects.yi,
            "vi": effects.vi,
            "se": np.sqrt(effects.vi),
            "ci_low": low,
            "ci_high": high,
        }
    )
