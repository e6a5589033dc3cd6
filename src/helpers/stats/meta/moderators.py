"""Test of subgroup differences by meta-regression on a categorical moderator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from helpers.stats.effects.checks import ArrayLike
from helpers.stats.effects.missing import _complete_rows, _float_column
from helpers.stats.effects.sizes import _fixed
from helpers.stats.meta.estimation import (
    _check_options,
    _critical_value,
    _fit,
    _p_value,
)
from helpers.stats.meta.model import rma
from helpers.stats.meta.printing import _format_p
from helpers.stats.meta.studies import _check_yi_vi


@dataclass(frozen=True, eq=False, repr=False)
class ModeratorTestResult:
    """Mixed-effects model with one categorical moderator and a common tau^2.

    ``coefficients``: intercept (reference level) and differences to it (metafor's dummy coding
    of ``factor(g)``). ``subgroups``: per level, the model-based mean (common tau^2) and, for
    comparison, a separate :func:`rma` fit within the level (``separate_*`` columns).
    ``qm`` is the Wald chi-square (df ``qm_df``) for ``test="z"`` and the F statistic (df
    ``qm_df``, ``qm_df_den``) for ``test="knha"``. ``qe`` is the residual heterogeneity test.
    """

    levels: tuple[str, ...]
    coefficients: pd.DataFrame
    subgroups: pd.DataFrame
    qm: float
    qm_df: int
    qm_df_den: int | None
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    tau2: float
    tau2_se: float | None
    i2: float
    h2: float
    k: int
    method: str
    test: str
    level: float
    loglik: float
    notes: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        if self.qm_df_den is None:
            qm = f"QM(df = {self.qm_df}) = {_fixed(self.qm)}"
        else:
            qm = f"F(df1 = {self.qm_df}, df2 = {self.qm_df_den}) = {_fixed(self.qm)}"
        return (
            f"ModeratorTestResult({self.method}, {self.test}; k = {self.k}, levels "
            f"{', '.join(self.levels)}: {qm}, p-val {_format_p(self.qm_pvalue, with_relation=True)}; "
            f"QE(df = {self.qe_df}) = {_fixed(self.qe)}, "
            f"p-val {_format_p(self.qe_pvalue, with_relation=True)}; tau^2 = {_fixed(self.tau2)})"
        )

    def to_frame(self) -> pd.DataFrame:
        """One-row summary: QM, QE, tau^2, I^2 (tables stay in their own attributes)."""
        row = {
            name: getattr(self, name)
            for name in (
                "k",
                "method",
                "test",
                "qm",
                "qm_df",
                "qm_df_den",
                "qm_pvalue",
                "qe",
                "qe_df",
                "qe_pvalue",
                "tau2",
                "tau2_se",
                "i2",
                "h2",
                "loglik",
            )
        }
        row["levels"] = ", ".join(self.levels)
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])


def _group_series(groups: object) -> pd.Series:
    """Groups as a Series with a 0..k-1 index; a Categorical keeps its level order."""
    if isinstance(groups, pd.Series):
        return groups.reset_index(drop=True)
    if isinstance(groups, pd.Categorical):
        return pd.Series(groups)
    return pd.Series(list(np.atleast_1d(np.asarray(groups, dtype=object))))


def _design(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Intercept plus one dummy per non-reference level (R's treatment coding of a factor)."""
    k = len(values)
    categorical = values.astype("category").cat.remove_unused_categories()
    levels = [str(level) for level in categorical.cat.categories]
    codes = categorical.cat.codes.to_numpy()
    X = np.zeros((k, len(levels)))
    X[:, 0] = 1.0
    for j in range(1, len(levels)):
        X[codes == j, j] = 1.0
    return X, levels


def moderator_test(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[object] | np.ndarray | pd.Series,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    na_action: str = "fail",
) -> ModeratorTestResult:
    """Test of subgroup differences by meta-regression on ``factor(groups)``.

    metafor ``rma(yi, vi, mods = ~ factor(groups), method=, test=)``: WLS with weights
    ``1/(v_i + tau^2)`` and one tau^2 common to all levels, estimated with the design matrix
    (REML maximises ``-1/2 [sum log(v+tau^2) + log|X'WX| + RSS]``; Viechtbauer 2005;
    Raudenbush 2009, Handbook of Research Synthesis ch. 16). ``QM = b' V^-1 b`` over the
    non-intercept coefficients, chi-square with (levels - 1) df (F with (levels - 1, k - p) df
    under ``"knha"``, metafor's ``QM / m``). ``QE`` is the residual Q with ``w = 1/v`` on k - p df;
    I^2/H^2 use ``s^2 = (k - p)/tr(P)`` (metafor). Levels are sorted (R factor order) unless
    ``groups`` is a pandas Categorical; the first is the reference. A missing yi, vi or group
    raises unless ``na_action="omit"`` (the row is then dropped with a warning).
    """
    _check_options(method, test, level)
    y, v = _float_column("yi", yi), _float_column("vi", vi)
    if y.size != v.size:
        raise ValueError(f"yi and vi lengths differ: {y.size} vs {v.size}")
    values = _group_series(groups)
    if len(values) != y.size:
        raise ValueError(f"groups has {len(values)} entries for {y.size} studies")
    group_missing = np.where(values.isna().to_numpy(), np.nan, 0.0)
    keep = _complete_rows(
        "moderator_test",
        {"'yi'": y, "'vi'": v, "'groups'": group_missing},
        list(range(y.size)),
        na_action,
    )
    y, v = _check_yi_vi(y[keep], v[keep])
    k = y.size
    X, levels = _design(values[keep].reset_index(drop=True))
    p = X.shape[1]
    if p < 2:
        raise ValueError("groups has a single level; there is nothing to test")
    if k <= p:
        raise ValueError(f"{k} studies cannot estimate {p} coefficients plus residual variation")
    fit = _fit(y, v, X, method, test)
    notes = list(fit.notes)

    crit = _critical_value(level, fit.ddf)
    se = np.sqrt(np.diag(fit.vb))
    stat = fit.beta / se
    coefficients = pd.DataFrame(
        {
            "term": ["intercept"] + [f"{name} - {levels[0]}" for name in levels[1:]],
            "estimate": fit.beta,
            "se": se,
            "statistic": stat,
            "pval": [_p_value(s, fit.ddf) for s in stat],
            "ci_low": fit.beta - crit * se,
            "ci_high": fit.beta + crit * se,
        }
    )

    moderator = slice(1, p)
    wald = float(
        fit.beta[moderator] @ np.linalg.solve(fit.vb[moderator, moderator], fit.beta[moderator])
    )
    m = p - 1
    if fit.ddf is None:
        qm, qm_pvalue = wald, float(stats.chi2.sf(wald, m))
    else:
        qm = wald / m
        qm_pvalue = float(stats.f.sf(qm, m, fit.ddf))

    contrast = np.zeros((p, p))
    contrast[:, 0] = 1.0
    contrast[np.arange(1, p), np.arange(1, p)] = 1.0
    means = contrast @ fit.beta
    means_se = np.sqrt(np.einsum("ij,jk,ik->i", contrast, fit.vb, contrast))
    codes = np.argmax(X[:, 1:], axis=1) + 1
    codes[X[:, 1:].sum(axis=1) == 0] = 0
    rows = []
    for j, name in enumerate(levels):
        in_level = codes == j
        k_level = int(in_level.sum())
        level_test = test if (test == "z" or k_level >= 2) else "z"
        if level_test != test:
            notes.append(f"separate fit of level {name!r} (k = 1) uses test='z'.")
        separate = rma(y[in_level], v[in_level], method=method, test=level_test, level=level)
        rows.append(
            {
                "group": name,
                "k": k_level,
                "estimate": means[j],
                "se": means_se[j],
                "ci_low": means[j] - crit * means_se[j],
                "ci_high": means[j] + crit * means_se[j],
                "separate_estimate": separate.estimate,
                "separate_se": separate.se,
                "separate_ci_low": separate.ci_low,
                "separate_ci_high": separate.ci_high,
                "separate_tau2": separate.tau2,
            }
        )
    return ModeratorTestResult(
        levels=tuple(levels),
        coefficients=coefficients,
        subgroups=pd.DataFrame(rows),
        qm=qm,
        qm_df=m,
        qm_df_den=fit.ddf,
        qm_pvalue=qm_pvalue,
        qe=fit.q,
        qe_df=fit.q_df,
        qe_pvalue=fit.q_pvalue,
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        k=k,
        method=method,
        test=test,
        level=level,
        loglik=fit.loglik,
        notes=tuple(notes),
    )
