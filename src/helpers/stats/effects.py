"""Effect sizes and confidence intervals, named after metafor's ``escalc`` measures.

Every function is vectorised: pass scalars or equal-length array-likes; the result arrays have
one entry per study. Invalid input raises ``ValueError`` naming the offending argument.

Vocabulary (ours -> metafor ``escalc``)
---------------------------------------
==========================  ==================================================================
ours                        metafor
==========================  ==================================================================
``escalc(measure, ...)``    ``escalc(measure, ...)``: RR, OR, RD, MD, SMD, ROM, MC, SMCC, SMCR,
                            PLO with metafor's argument names (``ai, bi, ci, di, n1i, n2i``,
                            ``m1i, sd1i, m2i, sd2i``, ``ni, ri``, ``xi``) and zero-cell options
                            (``add=1/2, to="only0", drop00=False``)
``na_action="fail"/"omit"`` ``na.action = "na.fail"`` / ``"na.omit"`` (here strict by default)
``mean_change``             ``measure="MC"``   (m1i = post mean, m2i = pre mean)
``smcr``                    ``measure="SMCR"`` (sd1i = pre SD; raw-score standardisation)
``smcc``                    ``measure="SMCC"`` (change-score standardisation)
``logit_proportion``        ``measure="PLO"``  with ``add=1/2, to="only0"``
``EffectSizes.yi / .vi``    ``yi`` / ``vi`` columns of an ``escalc`` object
``EffectSizes.slab / .ni``  study labels (``slab``) and total sample sizes (``ni`` attribute)
``small_sample_correction`` the hidden ``.cmicalc`` (exact gamma-function correction J)
==========================  ==================================================================

Missing values: every function that takes study rows is strict by default - a missing value
(NaN / None) raises a ``ValueError`` naming the column and the rows; ``na_action="omit"`` drops
the incomplete rows with a :class:`MissingValuesOmitted` warning that lists them (metafor omits
by default, with a warning that does not say which).

metafor orders pre-post arguments as ``m1i`` = later (post) and ``m2i`` = earlier (pre) so that
``yi = m1i - m2i``; here the arguments are spelled out (``pre_mean``, ``post_mean`` ...) and every
change is ``post - pre``: a positive effect is an increase.

Also here: recovery of the SD of change (and the pre-post correlation ``r``) from a reported
paired t or p (Cochrane Handbook 6.5.2.8), a sensitivity table over assumed ``r``, exact
(Clopper-Pearson), Wilson and one-sided zero-event intervals for single proportions, and the
range of the exact McNemar p-value when before/after counts are reported without their pairing.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "MEASURES",
    "NA_ACTIONS",
    "ChangeSdRecovery",
    "EffectSizes",
    "MissingValuesOmitted",
    "UnknownPairingComparison",
    "before_after_unknown_pairing",
    "clopper_pearson_ci",
    "escalc",
    "exact_upper_bound",
    "logit_proportion",
    "mean_change",
    "parse_p_value",
    "recover_change_sd",
    "sd_change",
    "small_sample_correction",
    "smcc",
    "smcr",
    "smcr_sensitivity",
    "wilson_ci",
    "zero_event_upper_bound",
]

ArrayLike = float | int | Sequence[float] | np.ndarray


# --------------------------------------------------------------------------------------------
# Input checking (shared with helpers.stats.meta)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Missing values (metafor's na.action) and study labels
# --------------------------------------------------------------------------------------------

NA_ACTIONS = ("fail", "omit")


class MissingValuesOmitted(UserWarning):
    """Rows with missing values were dropped because ``na_action="omit"`` was asked for."""


def _float_column(name: str, values: object) -> np.ndarray:
    """1-D float array in which missing values (None, NaN, pandas NA) are NaN."""
    try:
        if isinstance(values, pd.Series | pd.Index):
            array = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            array = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {values!r}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be a scalar or 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _check_na_action(na_action: str) -> None:
    if na_action not in NA_ACTIONS:
        raise ValueError(f"na_action must be one of {NA_ACTIONS}, got {na_action!r}")


def _complete_rows(
    caller: str,
    columns: Mapping[str, np.ndarray],
    row_names: Sequence[object],
    na_action: str,
) -> np.ndarray:
    """Rows without missing values; raise (``"fail"``) or warn (``"omit"``) about the others.

    ``columns`` maps a description of each input ("'sd1i'", "column 'sd_pre' (sd1i)") to its
    values; ``row_names`` names the rows in messages (data frame index labels or positions).
    """
    _check_na_action(na_action)
    missing = {name: np.isnan(values) for name, values in columns.items()}
    incomplete = np.zeros(len(row_names), dtype=bool)
    for flags in missing.values():
        incomplete |= flags
    if not incomplete.any():
        return ~incomplete
    if na_action == "fail":
        where = "; ".join(
            f"{name} at row(s) {', '.join(str(row_names[i]) for i in np.flatnonzero(flags))}"
            for name, flags in missing.items()
            if flags.any()
        )
        raise ValueError(
            f"{caller}: missing values in {where}. Fill them in, or pass na_action='omit' to "
            "drop incomplete rows (metafor's na.action = 'na.omit')."
        )
    if incomplete.all():
        raise ValueError(f"{caller}: every row has a missing value; nothing is left to analyse")
    dropped = ", ".join(
        f"{row_names[i]} ({', '.join(name for name, flags in missing.items() if flags[i])})"
        for i in np.flatnonzero(incomplete)
    )
    warnings.warn(
        f"{caller}: omitted {int(incomplete.sum())} of {incomplete.size} rows with missing "
        f"values: {dropped}",
        MissingValuesOmitted,
        stacklevel=3,
    )
    return ~incomplete


def _default_slab(positions: Iterable[int]) -> tuple[str, ...]:
    """metafor's default study labels: "Study 1", "Study 2", ... (1-based row numbers)."""
    return tuple(f"Study {i + 1}" for i in positions)


def _fixed(value: float, digits: int = 4) -> str:
    """metafor's ``.fcf``: fixed notation with ``digits`` decimals."""
    return f"{value:.{digits}f}"


# --------------------------------------------------------------------------------------------
# Effect sizes
# --------------------------------------------------------------------------------------------


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
        z = stats.norm.isf(_alpha(level) / 2)
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
# escalc: metafor's effect-size calculator, with its measure and argument names
# --------------------------------------------------------------------------------------------

# arguments each measure needs; "bi|n1i" means either (metafor computes bi = n1i - ai)
_MEASURE_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "RR": ("ai", "bi|n1i", "ci", "di|n2i"),
    "OR": ("ai", "bi|n1i", "ci", "di|n2i"),
    "RD": ("ai", "bi|n1i", "ci", "di|n2i"),
    "MD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "SMD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "ROM": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "MC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "SMCC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "SMCR": ("m1i", "m2i", "sd1i", "ni", "ri"),
    "PLO": ("xi", "ni"),
}
MEASURES = tuple(_MEASURE_ARGUMENTS)
_ZERO_CELL_OPTIONS = ("only0", "all", "if0all", "none")


def escalc(
    measure: str,
    *,
    ai: object = None,
    bi: object = None,
    ci: object = None,
    di: object = None,
    n1i: object = None,
    n2i: object = None,
    m1i: object = None,
    m2i: object = None,
    sd1i: object = None,
    sd2i: object = None,
    ni: object = None,
    ri: object = None,
    xi: object = None,
    data: pd.DataFrame | None = None,
    slab: Sequence[object] | None = None,
    add: float = 0.5,
    to: str = "only0",
    drop00: bool = False,
    na_action: str = "fail",
) -> EffectSizes | pd.DataFrame:
    """Effect sizes and sampling variances as metafor ``escalc(measure, ...)`` computes them.

    Two groups, 2x2 counts (``ai``/``bi`` events/non-events in group 1, ``ci``/``di`` in group 2;
    ``n1i``/``n2i`` may replace ``bi``/``di``):

    - ``"RR"`` log risk ratio ``log(p1/p2)``, ``vi = 1/ai - 1/n1i + 1/ci - 1/n2i``;
    - ``"OR"`` log odds ratio, ``vi = 1/ai + 1/bi + 1/ci + 1/di`` (Woolf 1955);
    - ``"RD"`` risk difference ``p1 - p2``, ``vi = p1(1-p1)/n1i + p2(1-p2)/n2i``.

    Zero cells as metafor: ``add`` (1/2) is added to all four cells of the studies chosen by
    ``to`` - ``"only0"`` (studies with a zero cell, the default), ``"all"``, ``"if0all"`` (all
    studies if any has a zero cell) or ``"none"`` - also for RD, and before ``yi`` and ``vi``
    are computed; ``drop00=True`` makes studies with no events (or only events) in both groups
    missing (NaN), so that pooling needs ``na_action="omit"``, as in metafor.

    Two groups, means (``m1i, sd1i, n1i`` vs ``m2i, sd2i, n2i``):

    - ``"MD"`` raw mean difference, ``vi = sd1i^2/n1i + sd2i^2/n2i`` (metafor ``vtype="LS"``);
    - ``"SMD"`` Hedges' g: ``J(m) (m1i - m2i) / s_pooled`` with ``m = n1i + n2i - 2``,
      ``s_pooled^2 = ((n1i-1) sd1i^2 + (n2i-1) sd2i^2) / m`` and the exact correction J of
      :func:`small_sample_correction` (Hedges 1981); ``vi = 1/n1i + 1/n2i + yi^2/(2 (n1i +
      n2i))`` (metafor's default, ``vtype="LS"``);
    - ``"ROM"`` log ratio of means ``log(m1i/m2i)``, ``vi = sd1i^2/(n1i m1i^2) +
      sd2i^2/(n2i m2i^2)`` (Hedges, Gurevitch & Curtis 1999, Ecology 80:1150).

    One group, before/after (metafor: ``m1i``/``sd1i`` later, ``m2i``/``sd2i`` earlier,
    ``ni``, ``ri``): ``"MC"`` (:func:`mean_change`), ``"SMCC"`` (:func:`smcc`) and ``"SMCR"``
    (:func:`smcr`, standardised by ``sd1i`` - metafor's documentation passes the pre-test SD
    there). One group, proportion: ``"PLO"`` (:func:`logit_proportion`, ``xi`` events of
    ``ni``).

    With ``data`` (a DataFrame), an argument given as a string names a column, and the result is
    a copy of ``data`` with ``yi`` and ``vi`` columns appended (replaced if present) and
    ``attrs["measure"]`` set, as metafor appends to its ``data``; otherwise the result is an
    :class:`EffectSizes` (labels from ``slab``). Missing values: see the module docstring
    (``na_action``). Formulas: metafor ``escalc`` (Viechtbauer 2010, J Stat Softw 36(3)), checked
    against it on dat.bcg, dat.nielweise2007 and dat.normand1999 (tests/fixtures/metafor).
    """
    if measure not in _MEASURE_ARGUMENTS:
        raise ValueError(f"escalc: measure must be one of {MEASURES}, got {measure!r}")
    if to not in _ZERO_CELL_OPTIONS:
        raise ValueError(f"escalc: to must be one of {_ZERO_CELL_OPTIONS}, got {to!r}")
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"escalc: add must be >= 0, got {add!r}")
    _check_na_action(na_action)
    given = {
        name: value
        for name, value in dict(
            ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, m1i=m1i, m2i=m2i, sd1i=sd1i,
            sd2i=sd2i, ni=ni, ri=ri, xi=xi,
        ).items()
        if value is not None
    }  # fmt: skip
    needed = _MEASURE_ARGUMENTS[measure]
    order = [name for entry in needed for name in entry.split("|")]  # messages follow metafor
    unused = sorted(set(given) - set(order))
    if unused:
        raise ValueError(
            f"escalc: measure {measure!r} does not use {unused}; it takes {', '.join(needed)} "
            "('a|b': either)"
        )
    for entry in needed:
        if not any(name in given for name in entry.split("|")):
            raise ValueError(f"escalc: measure {measure!r} needs {entry.replace('|', ' or ')}")
    if data is not None and slab is not None:
        raise ValueError(
            "escalc: with data=, keep the study labels in a column and pass it on "
            "(rma(..., slab=data['author']), forest_plot(..., labels=...))"
        )

    given = {name: given[name] for name in order if name in given}
    columns, descriptions = _escalc_columns(given, data)
    k = len(data) if data is not None else max(a.size for a in columns.values())
    for name, values in columns.items():
        if values.size == 1 and k > 1:
            columns[name] = np.full(k, values[0])
        elif values.size != k:
            raise ValueError(f"escalc: {descriptions[name]} has {values.size} values for {k} rows")
    if slab is not None:
        slab = tuple(str(label) for label in slab)
        if len(slab) != k:
            raise ValueError(f"escalc: slab has {len(slab)} labels for {k} rows")
    row_names: Sequence[object] = list(data.index) if data is not None else list(range(k))
    keep = _complete_rows(
        "escalc",
        {descriptions[name]: values for name, values in columns.items()},
        row_names,
        na_action,
    )
    kept = {name: values[keep] for name, values in columns.items()}
    yi, vi, study_n = _escalc_measure(measure, kept, add=add, to=to, drop00=drop00)

    kept_rows = [row for row, flag in zip(row_names, keep, strict=True) if flag]
    double_zero = np.zeros(yi.size, dtype=bool)
    if drop00 and measure in ("RR", "OR", "RD"):
        double_zero = np.isnan(yi) & np.isnan(vi)
    broken = ~(np.isfinite(yi) & np.isfinite(vi)) & ~double_zero
    if broken.any():
        rows = ", ".join(str(kept_rows[i]) for i in np.flatnonzero(broken))
        hint = (
            " (a zero cell is left uncorrected: use add > 0 with to='only0')"
            if measure in ("RR", "OR", "RD", "PLO")
            else ""
        )
        raise ValueError(f"escalc: {measure} is not finite at row(s) {rows}{hint}")

    if data is not None:
        out = data.loc[keep].copy()
        out["yi"] = yi
        out["vi"] = vi
        out.attrs["measure"] = measure
        return out
    if slab is None and not keep.all():
        slab = _default_slab(np.flatnonzero(keep))  # keep each study's own number
    elif slab is not None:
        slab = tuple(label for label, flag in zip(slab, keep, strict=True) if flag)
    return EffectSizes(yi=yi, vi=vi, measure=measure, slab=slab, ni=study_n)


def _escalc_columns(
    given: Mapping[str, object], data: pd.DataFrame | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Resolve column names against ``data``; float arrays (NaN = missing) and descriptions."""
    columns: dict[str, np.ndarray] = {}
    descriptions: dict[str, str] = {}
    for name, value in given.items():
        if isinstance(value, str):
            if data is None:
                raise ValueError(f"escalc: {name}={value!r} names a column, but no data= was given")
            if value not in data.columns:
                raise ValueError(
                    f"escalc: data has no column {value!r} (given as {name}); columns: "
                    f"{list(data.columns)}"
                )
            descriptions[name] = f"column {value!r} ({name})"
            columns[name] = _float_column(descriptions[name], data[value])
        else:
            descriptions[name] = repr(name)
            columns[name] = _float_column(name, value)
    return columns, descriptions


def _escalc_measure(
    measure: str, a: dict[str, np.ndarray], *, add: float, to: str, drop00: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """yi, vi and total n of complete rows (metafor ``escalc``'s formulas, same order)."""
    if measure in ("RR", "OR", "RD"):
        return _two_by_two(measure, a, add=add, to=to, drop00=drop00)
    if measure in ("MD", "SMD", "ROM"):
        return _two_group_means(measure, a)
    if measure == "PLO":
        effects = logit_proportion(a["xi"], a["ni"], add=add, to=to)
        return effects.yi, effects.vi, a["ni"]
    # pre-post: metafor's m1i/sd1i are the later time point, m2i/sd2i the earlier one
    try:
        if measure == "MC":
            effects = mean_change(
                pre_mean=a["m2i"], post_mean=a["m1i"], pre_sd=a["sd2i"], post_sd=a["sd1i"],
                n=a["ni"], r=a["ri"],
            )  # fmt: skip
        elif measure == "SMCC":
            effects = smcc(
                pre_mean=a["m2i"], post_mean=a["m1i"], pre_sd=a["sd2i"], post_sd=a["sd1i"],
                n=a["ni"], r=a["ri"],
            )  # fmt: skip
        else:
            effects = smcr(
                pre_mean=a["m2i"], post_mean=a["m1i"], pre_sd=a["sd1i"], n=a["ni"], r=a["ri"]
            )
    except ValueError as error:
        names = "pre_sd = sd1i" if measure == "SMCR" else "pre_sd = sd2i, post_sd = sd1i"
        raise ValueError(
            f"escalc({measure!r}): {error} (post_mean = m1i, pre_mean = m2i, {names}, n = ni, "
            "r = ri)"
        ) from error
    return effects.yi, effects.vi, a["ni"]


def _two_by_two(
    measure: str, a: dict[str, np.ndarray], *, add: float, to: str, drop00: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ai, ci = a["ai"], a["ci"]
    for name in ("ai", "bi", "ci", "di", "n1i", "n2i"):
        if name in a:
            _require(a[name] >= 0, f"escalc: {name} must be >= 0, got {a[name].tolist()}")
    for events, non_events, total, group in (("ai", "bi", "n1i", 1), ("ci", "di", "n2i", 2)):
        if non_events in a and total in a:
            _require(
                a[total] == a[events] + a[non_events],
                f"escalc: {total} must equal {events} + {non_events} (group {group})",
            )
        if total in a:
            _require(
                a[events] <= a[total],
                f"escalc: {events} must be <= {total}, got {a[events].tolist()} vs "
                f"{a[total].tolist()}",
            )
    bi = a["bi"] if "bi" in a else a["n1i"] - ai
    di = a["di"] if "di" in a else a["n2i"] - ci
    ai, bi, ci, di = (cell.astype(float).copy() for cell in (ai, bi, ci, di))
    _require((ai + bi > 0) & (ci + di > 0), "escalc: every group needs n1i, n2i > 0")
    study_n = ai + bi + ci + di
    if drop00:
        double_zero = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
        for cell in (ai, bi, ci, di):
            cell[double_zero] = np.nan
    zero_cell = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    corrected = {
        "only0": zero_cell,
        "all": np.ones_like(zero_cell),
        "if0all": np.full_like(zero_cell, zero_cell.any()),
        "none": np.zeros_like(zero_cell),
    }[to]
    increment = np.where(corrected, add, 0.0)
    ai, bi, ci, di = ai + increment, bi + increment, ci + increment, di + increment
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        elif measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
        else:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return yi, vi, study_n


def _two_group_means(
    measure: str, a: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m1, sd1, n1, m2, sd2, n2 = (a[name] for name in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))
    for name in ("sd1i", "sd2i"):
        _require(a[name] >= 0, f"escalc: {name} must be >= 0, got {a[name].tolist()}")
    for name in ("n1i", "n2i"):
        _require(a[name] > 0, f"escalc: {name} must be > 0, got {a[name].tolist()}")
    if measure == "MD":
        return m1 - m2, sd1**2 / n1 + sd2**2 / n2, n1 + n2
    if measure == "ROM":
        _require(
            m1 / m2 > 0,
            f"escalc: ROM needs means of the same sign (log of m1i/m2i), got m1i = "
            f"{m1.tolist()}, m2i = {m2.tolist()}",
        )
        return np.log(m1 / m2), sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2), n1 + n2
    df = n1 + n2 - 2
    _require(df > 1, f"escalc: SMD needs n1i + n2i > 3, got {(n1 + n2).tolist()}")
    pooled_sd = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / df)
    _require(pooled_sd > 0, "escalc: SMD is undefined where both SDs are 0")
    yi = small_sample_correction(df) * ((m1 - m2) / pooled_sd)
    vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    return yi, vi, n1 + n2


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
        t = float(stats.t.isf(p_used / 2, df))
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


# --------------------------------------------------------------------------------------------
# Single proportions
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Before/after counts of the same patients, pairing unknown
# --------------------------------------------------------------------------------------------


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


def _exact_mcnemar_p(before_only: int, after_only: int) -> float:
    discordant = before_only + after_only
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(before_only, discordant, 0.5).pvalue)


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

    rows = []
    for both in range(max(0, x1 + x2 - n), min(x1, x2) + 1):
        before_only, after_only = x1 - both, x2 - both
        rows.append(
            {
                "both": both,
                "before_only": before_only,
                "after_only": after_only,
                "neither": n - x1 - x2 + both,
                "discordant": before_only + after_only,
                "p_value": _exact_mcnemar_p(before_only, after_only),
            }
        )
    tables = pd.DataFrame(rows)
    at_min = tables.loc[tables["p_value"].idxmin()]
    at_max = tables.loc[tables["p_value"].idxmax()]
    cells = ("both", "before_only", "after_only", "neither")
    (b_low, b_high), (a_low, a_high) = (clopper_pearson_ci(x, n, level) for x in (x1, x2))
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
        before_ci=(float(b_low[0]), float(b_high[0])),
        after_proportion=x2 / n,
        after_ci=(float(a_low[0]), float(a_high[0])),
        p_value_min=float(at_min["p_value"]),
        p_value_max=float(at_max["p_value"]),
        table_at_p_min={c: int(at_min[c]) for c in cells},
        table_at_p_max={c: int(at_max[c]) for c in cells},
        tables=tables,
        note=note,
    )
