"""Leave-one-out refits (metafor ``leave1out``)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.stats.effects.checks import ArrayLike
from helpers.stats.effects.sizes import EffectSizes, _default_slab, _fixed
from helpers.stats.meta.estimation import (
    _check_options,
)
from helpers.stats.meta.model import RmaResult, rma
from helpers.stats.meta.studies import _Studies, _studies


class Leave1outResult(pd.DataFrame):
    """metafor's ``leave1out(res)``: one row per omitted study (a DataFrame).

    Columns: omitted (the study's label), estimate, se, statistic (z, or t under ``"knha"``),
    pval, ci_low, ci_high, q, q_pvalue, tau2, i2, h2, pi_low, pi_high (NaN for ``"EE"``).
    ``attrs`` holds method, test and level. Prints with metafor's 4 decimals; anything derived
    from it (a filter, a column) is a plain DataFrame.
    """

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def _display_table(self) -> pd.DataFrame:
        shown = self.drop(columns="omitted")
        shown.index = [str(label) for label in self["omitted"]]
        return shown

    def _caption(self) -> str:
        return (
            f"Leave-one-out ({self.attrs.get('method')}, {self.attrs.get('test')}): "
            f"{len(self)} fits, each without the study named in the row"
        )

    def __repr__(self) -> str:
        return self._caption() + "\n\n" + self._display_table().to_string(float_format=_fixed)

    def _repr_html_(self) -> str:
        table = self._display_table().to_html(float_format=_fixed)
        return f"<div><p>{html.escape(self._caption())}</p>{table}</div>"


def leave1out(
    yi: ArrayLike | EffectSizes | pd.DataFrame | RmaResult,
    vi: ArrayLike | None = None,
    *,
    labels: Sequence[str] | None = None,
    method: str | None = None,
    test: str | None = None,
    level: float | None = None,
    na_action: str = "fail",
) -> Leave1outResult:
    """Refit :func:`rma` omitting each study in turn (metafor ``leave1out(res)``).

    Give a fitted :class:`RmaResult` (its studies, method, test and level are reused), or the
    studies as for :func:`rma` (defaults ``method="REML"``, ``test="z"``, ``level=95``).
    ``labels`` (metafor's ``slab``; default the studies' own labels, else "Study 1" ...) name the
    omitted study of each row. Needs k >= 2.
    """
    if isinstance(yi, RmaResult):
        if vi is not None or any(option is not None for option in (method, test, level)):
            raise ValueError(
                "leave1out(result) refits with the result's own studies, method, test and level"
            )
        result = yi
        if result.yi is None or result.vi is None:
            raise ValueError("leave1out: this result does not hold its studies")
        studies = _Studies(result.yi, result.vi, result.slab, result.ni, result.measure)
        method, test, level = result.method, result.test, result.level
    else:
        method, test = method or "REML", test or "z"
        level = 95 if level is None else level
        studies = _studies("leave1out", yi, vi, None, na_action)
    _check_options(method, test, level)
    y, v = studies.yi, studies.vi
    k = y.size
    if k < 2:
        raise ValueError("leave1out needs at least 2 studies")
    names = list(labels) if labels is not None else list(studies.slab or _default_slab(range(k)))
    if len(names) != k:
        raise ValueError(f"labels has {len(names)} entries for {k} studies")
    rows = []
    for i in range(k):
        keep = np.arange(k) != i
        res = rma(y[keep], v[keep], method=method, test=test, level=level)
        rows.append(
            {
                "omitted": names[i],
                "estimate": res.estimate,
                "se": res.se,
                "statistic": res.zval if res.zval is not None else res.tval,
                "pval": res.pval,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "q": res.q,
                "q_pvalue": res.q_pvalue,
                "tau2": res.tau2,
                "i2": res.i2,
                "h2": res.h2,
                "pi_low": math.nan if res.pi_low is None else res.pi_low,
                "pi_high": math.nan if res.pi_high is None else res.pi_high,
            }
        )
    table = Leave1outResult(rows)
    table.attrs = {"method": method, "test": test, "level": level}
    return table
