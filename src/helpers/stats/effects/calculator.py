"""``escalc``: metafor's effect-size calculator, with its measure and argument names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.stats.effects.missing import (
    _check_na_action,
    _complete_rows,
    _float_column,
)
from helpers.stats.effects.prepost import (
    mean_change,
    smcc,
    smcr,
)
from helpers.stats.effects.proportions import (
    logit_proportion,
)
from helpers.stats.effects.sizes import EffectSizes, _default_slab
from helpers.stats.effects.two_group import _two_by_two, _two_group_means

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
