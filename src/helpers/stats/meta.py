"""Pooling of effect sizes, named after metafor's ``rma``, ``predict``, ``leave1out``, ``rma.glmm``.

Vocabulary (ours -> metafor)
----------------------------
================================  =============================================================
ours                              metafor
================================  =============================================================
``rma(yi, vi, method, test)``     ``rma(yi, vi, method=, test=)`` (``rma.uni``); ``rma(effects)``
                                  takes ``escalc`` output (EffectSizes or a DataFrame with yi, vi)
``print(res)``, ``res.summary()`` ``print(res)``, ``summary(res)`` (fit statistics), and
                                  ``predict(res)`` for the prediction interval; ``res.to_frame()``
                                  is one row per quantity
``res.predict(transf=np.exp)``    ``predict(res, transf=exp)``
``res.weights``                   ``weights(res)`` (percent)
``RmaResult.estimate / se``       ``coef(res)`` / ``res$se``
``RmaResult.ci_low / ci_high``    ``res$ci.lb`` / ``res$ci.ub``
``RmaResult.pi_low / pi_high``    ``predict(res)$pi.lb`` / ``$pi.ub``
``RmaResult.q, q_df, q_pvalue``   ``res$QE``, ``res$k - res$p``, ``res$QEp``
``RmaResult.i2, h2``              ``res$I2`` (percent), ``res$H2``
``RmaResult.loglik``              ``logLik(res)`` (REML likelihood for REML, else ML)
``leave1out(res)``                ``leave1out(res)`` (or ``leave1out(yi, vi)``)
``na_action="omit"``              ``na.action = "na.omit"`` (here strict, ``"fail"``, by default)
``moderator_test(yi, vi, g)``     ``rma(yi, vi, mods = ~ factor(g))``: QM, QE, subgroup means
``rma_glmm_proportions(x, n)``    ``rma.glmm(measure="PLO", xi=, ni=)`` (lme4, nAGQ = 7)
``rma_logit_proportions(x, n)``   ``rma(measure="PLO", xi=, ni=)`` (add = 1/2, to = "only0")
================================  =============================================================

Methods: ``"EE"`` (equal/common effect, tau^2 = 0), ``"DL"`` (DerSimonian & Laird 1986),
``"PM"`` (Paule & Mandel 1982), ``"ML"`` and ``"REML"`` (Fisher scoring, Viechtbauer 2005 J Educ
Behav Stat 30:261). Tests: ``"z"`` (normal) or ``"knha"`` (Hartung & Knapp 2001, Stat Med
20:3875; Sidik & Jonkman 2002: t with k - p df and the variance scaled by the weighted residual
mean square, *not* truncated at 1, as in metafor). Prediction intervals follow metafor
``predict``: ``mu -/+ crit * sqrt(tau^2 + se^2)`` with crit from the normal for ``test="z"`` and
from t(k - p) for ``test="knha"`` (Higgins, Thompson & Spiegelhalter 2009, J R Stat Soc A
172:137; IntHout et al. 2016, BMJ Open 6:e010247 use t(k - 2), which metafor does not).

An equal-effects model (``"EE"``) has no prediction interval (``pi_low``/``pi_high`` are None), as
metafor's ``predict`` gives none. Iterative tau^2 estimates converge relative to the data's scale
(the step must fall below 1e-10 x (tau^2 + mean vi)), so the same data in other units give the
same answer; metafor's absolute threshold (1e-5) stops REML after one scoring step on dat.bcg's
log risk ratios in units 1e5 times larger (yi x 1e-5, every vi about 1e-12).

Edge cases, as in metafor: k = 1 gives the study itself, tau^2 = 0, Q = 0, Q p = 1, I^2 = 0 and
H^2 = 1 (conventions, since heterogeneity is not estimable; a note says so); ``test="knha"``
with k = 1 raises (a t with 0 df does not exist). Every result carries a ``notes`` tuple.

One deliberate difference: when the ML/REML likelihood is multimodal (possible when sampling
variances differ by orders of magnitude), metafor's Fisher scoring may stop at a local maximum;
here the global maximum is returned and a note reports both values.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from helpers.stats.effects import (
    ArrayLike,
    EffectSizes,
    _alpha,
    _as_float_array,
    _check_counts,
    _complete_rows,
    _default_slab,
    _fixed,
    _float_column,
    logit_proportion,
)

__all__ = [
    "METHODS",
    "TESTS",
    "Leave1outResult",
    "ModeratorTestResult",
    "PooledProportionResult",
    "RmaResult",
    "RmaSummary",
    "leave1out",
    "moderator_test",
    "rma",
    "rma_glmm_proportions",
    "rma_logit_proportions",
]

METHODS = ("REML", "ML", "DL", "PM", "EE")
TESTS = ("z", "knha")

# tau^2 iterations stop when a step is below _TAU2_RTOL x (tau^2 + mean vi): relative to the
# data's scale (metafor's default threshold is an absolute 1e-5)
_TAU2_RTOL = 1e-10
_ROOT_RTOL = 1e-14  # root finders' absolute tolerance, as a multiple of mean vi
_MAX_ITER = 1000


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _check_yi_vi(yi: ArrayLike, vi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _as_float_array("yi", yi)
    v = _as_float_array("vi", vi)
    if y.size != v.size:
        raise ValueError(f"yi and vi lengths differ: {y.size} vs {v.size}")
    if np.any(v <= 0):
        raise ValueError(f"vi must be > 0 (sampling variances), got {v.tolist()}")
    return y, v


@dataclass(frozen=True)
class _Studies:
    """Complete study rows: yi, vi, labels and what escalc knew about them."""

    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...] | None
    ni: np.ndarray | None
    measure: str | None


def _studies(
    caller: str,
    yi: object,
    vi: object,
    slab: Sequence[object] | str | None,
    na_action: str,
) -> _Studies:
    """Study rows from arrays, an EffectSizes or an escalc DataFrame, after the na_action policy."""
    measure: str | None = None
    ni: np.ndarray | None = None
    row_names: list[object] | None = None
    if isinstance(yi, EffectSizes | pd.DataFrame) and vi is not None:
        raise ValueError(f"{caller}: give effect sizes, or yi and vi, not both")
    if isinstance(yi, EffectSizes):
        measure, ni = yi.measure, yi.ni
        slab = yi.slab if slab is None else slab
        yi, vi = yi.yi, yi.vi
    elif isinstance(yi, pd.DataFrame):
        frame = yi
        missing = [column for column in ("yi", "vi") if column not in frame.columns]
        if missing:
            raise ValueError(
                f"{caller}: the data frame lacks {missing}; pass escalc(..., data=...) output "
                "or yi and vi"
            )
        if isinstance(slab, str):
            if slab not in frame.columns:
                raise ValueError(f"{caller}: slab {slab!r} is not a column of the data frame")
            slab = frame[slab]
        measure = frame.attrs.get("measure")
        row_names = list(frame.index)
        yi, vi = frame["yi"], frame["vi"]
    elif vi is None:
        raise ValueError(f"{caller}: vi (the sampling variances) is missing")
    elif isinstance(slab, str):
        raise ValueError(f"{caller}: slab names a column only when a data frame is given")
    y = _float_column("yi", yi)
    v = _float_column("vi", vi)
    if y.size != v.size:
        raise ValueError(f"yi and vi lengths differ: {y.size} vs {v.size}")
    labels = None if slab is None else tuple(str(label) for label in slab)
    if labels is not None and len(labels) != y.size:
        raise ValueError(f"{caller}: slab has {len(labels)} labels for {y.size} studies")
    if row_names is None:
        row_names = list(labels) if labels is not None else list(range(y.size))
    keep = _complete_rows(caller, {"'yi'": y, "'vi'": v}, row_names, na_action)
    if not keep.all():
        labels = (
            _default_slab(np.flatnonzero(keep))
            if labels is None
            else tuple(label for label, flag in zip(labels, keep, strict=True) if flag)
        )
        ni = None if ni is None else ni[keep]
    y, v = _check_yi_vi(y[keep], v[keep])
    return _Studies(yi=y, vi=v, slab=labels, ni=ni, measure=measure)


def _check_options(method: str, test: str, level: float) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    _alpha(level)


# --------------------------------------------------------------------------------------------
# Weighted least squares engine (general design matrix X, k x p)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wls:
    w: np.ndarray
    xtwx_inv: np.ndarray
    beta: np.ndarray
    resid: np.ndarray

    @property
    def rss(self) -> float:
        return float(np.sum(self.w * self.resid**2))


def _wls(yi: np.ndarray, X: np.ndarray, w: np.ndarray) -> _Wls:
    xtw = X.T * w
    xtwx_inv = np.linalg.inv(xtw @ X)
    beta = xtwx_inv @ (xtw @ yi)
    return _Wls(w=w, xtwx_inv=xtwx_inv, beta=beta, resid=yi - X @ beta)


def _trace_p(X: np.ndarray, fit: _Wls) -> float:
    """tr(P), P = W - W X (X'WX)^-1 X'W, without forming the k x k matrix."""
    b2 = (X.T * fit.w**2) @ X
    return float(fit.w.sum() - np.sum(fit.xtwx_inv * b2))


def _trace_pp(X: np.ndarray, fit: _Wls) -> float:
    """tr(PP) = tr(W^2) - 2 tr(A^-1 X'W^3X) + tr((A^-1 X'W^2X)^2), A = X'WX."""
    b2 = (X.T * fit.w**2) @ X
    b3 = (X.T * fit.w**3) @ X
    m = fit.xtwx_inv @ b2
    return float(np.sum(fit.w**2) - 2 * np.sum(fit.xtwx_inv * b3) + np.sum(m * m.T))


def _loglik_grid(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2_values: np.ndarray, reml: bool
) -> np.ndarray:
    """metafor's ``fit.stats`` log-likelihood at each tau^2 in ``tau2_values`` (vectorised).

    ML: ``-k/2 log 2pi - 1/2 sum log(v + tau^2) - 1/2 RSS``; REML adds ``p/2 log 2pi
    + 1/2 log|X'X| - 1/2 log|X'WX|`` (metafor ``rma.uni`` with ``REMLf=TRUE``).
    """
    k, p = X.shape
    total_variance = vi[None, :] + tau2_values[:, None]
    w = 1 / total_variance
    xtwx = np.einsum("ki,gk,kj->gij", X, w, X)
    xtwy = np.einsum("ki,gk,k->gi", X, w, yi)
    beta = np.linalg.solve(xtwx, xtwy[..., None])[..., 0]
    rss = np.sum(w * (yi[None, :] - beta @ X.T) ** 2, axis=1)
    log_det_v = np.sum(np.log(total_variance), axis=1)
    if not reml:
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * log_det_v - 0.5 * rss
    _, log_det_xtwx = np.linalg.slogdet(xtwx)
    _, log_det_xtx = np.linalg.slogdet(X.T @ X)
    return (
        -0.5 * (k - p) * np.log(2 * np.pi)
        + 0.5 * log_det_xtx
        - 0.5 * log_det_v
        - 0.5 * log_det_xtwx
        - 0.5 * rss
    )


def _loglik(yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, reml: bool) -> float:
    """metafor's ML or REML log-likelihood at one tau^2 (see :func:`_loglik_grid`)."""
    return float(_loglik_grid(yi, vi, X, np.array([tau2]), reml)[0])


def _tau2_fisher_scoring(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, reml: bool
) -> tuple[float, str | None]:
    """ML/REML tau^2: Fisher scoring as metafor ``rma.uni``, guarded against local maxima.

    REML step: ``(y'PPy - tr P) / tr(PP)``; ML step: ``(y'PPy - sum w) / sum w^2``
    (Viechtbauer 2005, J Educ Behav Stat 30:261, eqs. 9-12), with step halving to stay >= 0,
    started at the Hedges (HE) estimate and iterated until a step is below 1e-10 x (tau^2 + mean
    vi), i.e. relative to the data's scale (Brent's method on the score equation if scoring does
    not converge). The (restricted) likelihood can be bimodal
    when sampling variances differ by orders of magnitude, and scoring then may stop at the
    wrong mode (as can metafor, whose ``ll0check`` only compares with tau^2 = 0); so the
    likelihood is also evaluated on a log-spaced tau^2 grid and, if a grid point beats the
    scoring solution, the maximum in its bracket is returned instead, with a note saying so.
    """
    k, p = X.shape

    def score_and_information(t2: float) -> tuple[float, float]:
        fit = _wls(yi, X, 1 / (vi + t2))
        ypppy = float(np.sum((fit.w * fit.resid) ** 2))
        if reml:
            return ypppy - _trace_p(X, fit), _trace_pp(X, fit)
        return ypppy - float(fit.w.sum()), float(np.sum(fit.w**2))

    typical_v = float(np.mean(vi))

    def scoring(tau2: float) -> float | None:
        for _ in range(_MAX_ITER):
            score, information = score_and_information(tau2)
            step = score / information
            while tau2 + step < 0:
                step /= 2
            tau2 += step
            if abs(step) < _TAU2_RTOL * (tau2 + typical_v):
                return max(0.0, tau2)
        return None

    def loglik(t2: float) -> float:
        return _loglik(yi, vi, X, t2, reml)

    ols = _wls(yi, X, np.ones(k))
    hat_trace = np.sum(ols.xtwx_inv * ((X.T * vi) @ X))  # tr(H V) for the OLS hat matrix H
    hedges = max(0.0, (np.sum(ols.resid**2) - (np.sum(vi) - hat_trace)) / (k - p))
    tau2 = scoring(hedges)
    if tau2 is None:
        tau2 = _tau2_score_root(lambda t2: score_and_information(t2)[0], typical_v)

    scale = max(float(np.var(ols.resid)), float(vi.max()))
    grid = np.concatenate([[0.0], np.geomspace(1e-4 * float(vi.min()), 10 * scale, 60)])
    grid_loglik = _loglik_grid(yi, vi, X, grid, reml)
    best = int(np.argmax(grid_loglik))
    note = None
    if grid_loglik[best] > loglik(tau2) + 1e-10:
        scoring_tau2 = tau2
        if best == 0:
            tau2 = 0.0
        else:
            lower, upper = grid[best - 1], grid[min(best + 1, grid.size - 1)]
            bracketed = optimize.minimize_scalar(
                lambda t2: -loglik(t2),
                bounds=(lower, upper),
                method="bounded",
                options={"xatol": _ROOT_RTOL * typical_v},
            )
            polished = scoring(float(bracketed.x))
            tau2 = float(bracketed.x)
            if polished is not None and lower <= polished <= upper:
                tau2 = polished
        note = (
            f"the {'REML' if reml else 'ML'} likelihood is multimodal: Fisher scoring (metafor's "
            f"algorithm) stops at tau^2 = {scoring_tau2:.6g}, the global maximum is at "
            f"tau^2 = {tau2:.6g} (reported)."
        )

    if tau2 > 0 and loglik(0.0) > loglik(tau2):
        tau2 = 0.0
    return max(0.0, tau2), note


def _upper_bracket(decreasing: Callable[[float], float], start: float) -> float:
    """A tau^2 where ``decreasing`` is negative, searched upwards from ``start`` (> 0)."""
    upper = start
    for _ in range(400):
        if decreasing(upper) < 0:
            return upper
        upper *= 4
    raise RuntimeError("could not bracket the tau^2 estimate (tau^2 > 1e240 x mean vi?)")


def _tau2_score_root(score: Callable[[float], float], typical_v: float) -> float:
    if score(0.0) <= 0:
        return 0.0
    upper = _upper_bracket(score, typical_v)
    return float(
        optimize.brentq(
            score, 0.0, upper, xtol=_ROOT_RTOL * typical_v, rtol=4 * np.finfo(float).eps
        )
    )


def _tau2_paule_mandel(yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Paule & Mandel (1982, J Res Natl Bur Stand 87:377): solve the generalised Q = k - p.

    ``Q(tau^2) = sum w_i (y_i - x_i b(tau^2))^2`` with ``w_i = 1/(v_i + tau^2)`` is decreasing in
    tau^2; the root is found with Brent's method to 1e-14 x mean vi (metafor uses ``uniroot``).
    """
    k, p = X.shape
    typical_v = float(np.mean(vi))

    def excess(t2: float) -> float:
        return _wls(yi, X, 1 / (vi + t2)).rss - (k - p)

    if excess(0.0) <= 0:
        return 0.0
    upper = _upper_bracket(excess, max(float(np.var(yi)), typical_v))
    return float(
        optimize.brentq(
            excess, 0.0, upper, xtol=_ROOT_RTOL * typical_v, rtol=4 * np.finfo(float).eps
        )
    )


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    vb: np.ndarray
    tau2: float
    tau2_se: float | None
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    h2: float
    ddf: int | None
    loglik: float
    notes: tuple[str, ...]


def _fit(yi: np.ndarray, vi: np.ndarray, X: np.ndarray, method: str, test: str) -> _Fit:
    """Fit the (mixed-effects) meta-regression model ``y = X b + u + e`` as metafor ``rma.uni``."""
    k, p = X.shape
    notes: list[str] = []
    if k < p:
        raise ValueError(f"more coefficients ({p}) than studies ({k})")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the design matrix is not of full rank (a level with no studies?)")
    if test == "knha" and k <= p:
        raise ValueError(f"test='knha' needs k > {p} studies (t with k - p = 0 df is undefined)")

    fe = _wls(yi, X, 1 / vi)  # equal-effect fit: Q statistic, I^2 denominators, DL
    trace_p_fe = _trace_p(X, fe)
    tau2_se: float | None = None
    if k == p:
        tau2 = 0.0
        if method != "EE":
            notes.append(f"k = {k}: tau^2 is not estimable and set to 0 (as metafor).")
    elif method == "EE":
        tau2 = 0.0
    elif method == "DL":
        tau2 = max(0.0, (fe.rss - (k - p)) / trace_p_fe)
    elif method == "PM":
        tau2 = _tau2_paule_mandel(yi, vi, X)
    else:
        tau2, note = _tau2_fisher_scoring(yi, vi, X, reml=(method == "REML"))
        if note is not None:
            notes.append(note)

    fit = _wls(yi, X, 1 / (vi + tau2))
    if k > p:
        # metafor's se.tau2 formulas (rma.uni): Fisher information for ML/REML, delta method else
        if method == "REML":
            tau2_se = float(np.sqrt(2 / _trace_pp(X, fit)))
        elif method == "ML":
            tau2_se = float(np.sqrt(2 / np.sum(fit.w**2)))
        elif method == "PM":
            tau2_se = float(np.sqrt(2 * k**2 / (k - p) / np.sum(fit.w) ** 2))
        elif method == "DL":
            tau2_se = float(
                np.sqrt(
                    (2 * (k - p) + 4 * tau2 * trace_p_fe + 2 * tau2**2 * _trace_pp(X, fe))
                    / trace_p_fe**2
                )
            )

    vb = fit.xtwx_inv
    ddf: int | None = None
    if test == "knha":
        ddf = k - p
        rss = fit.rss
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / ddf
        vb = s2w * vb

    if k > p:
        q = max(0.0, fe.rss)
        q_pvalue = float(stats.chi2.sf(q, k - p))
        if method == "EE":
            i2 = max(0.0, 100 * (q - (k - p)) / q) if q > 0 else 0.0
            h2 = q / (k - p)
        else:
            typical_v = (k - p) / trace_p_fe  # Higgins & Thompson 2002 "typical" variance
            i2 = 100 * tau2 / (typical_v + tau2)
            h2 = tau2 / typical_v + 1
    else:
        q, q_pvalue, i2, h2 = 0.0, 1.0, 0.0, 1.0
        notes.append(
            f"k = {k}: Q = 0, Q p = 1, I^2 = 0 and H^2 = 1 are conventions (as metafor); "
            "heterogeneity cannot be assessed."
        )
    loglik = _loglik(yi, vi, X, tau2, reml=(method == "REML"))
    return _Fit(
        beta=fit.beta,
        vb=vb,
        tau2=tau2,
        tau2_se=tau2_se,
        q=q,
        q_df=k - p,
        q_pvalue=q_pvalue,
        i2=i2,
        h2=h2,
        ddf=ddf,
        loglik=loglik,
        notes=tuple(notes),
    )


def _critical_value(level: float, ddf: int | None) -> float:
    tail = _alpha(level) / 2
    return float(stats.norm.isf(tail) if ddf is None else stats.t.isf(tail, ddf))


def _p_value(statistic: float, ddf: int | None) -> float:
    if ddf is None:
        return float(2 * stats.norm.sf(abs(statistic)))
    return float(2 * stats.t.sf(abs(statistic), ddf))


# --------------------------------------------------------------------------------------------
# Printing as metafor (print.rma.uni, summary.rma, predict; default digits = 4)
# --------------------------------------------------------------------------------------------

_LABEL_WIDTH = 49  # metafor aligns the heterogeneity values in column 50
_SIGNIF_LEGEND = (
    "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 "
    "\u2018.\u2019 0.1 \u2018 \u2019 1"
)


def _format_p(p: float, digits: int = 4, *, with_relation: bool = False) -> str:
    """metafor's ``.pval``: ``0.0019`` or ``<.0001`` (``= 0.0019`` / ``< .0001`` in sentences)."""
    if p >= 10.0**-digits:
        text = _fixed(p, digits)
        return f"= {text}" if with_relation else text
    cutoff = "." + "0" * (digits - 1) + "1"
    return f"< {cutoff}" if with_relation else f"<{cutoff}"


def _stars(p: float) -> str:
    """Significance stars (R's ``symnum`` with metafor's cut points)."""
    for cut, symbol in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cut:
            return symbol
    return " "


def _aligned(names: Sequence[str], values: Sequence[str], gap: str = "  ") -> list[str]:
    """Header and value line, each column right-aligned to its widest entry (``.print.vector``)."""
    widths = [max(len(n), len(v)) for n, v in zip(names, values, strict=True)]
    header = gap.join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    row = gap.join(v.rjust(w) for v, w in zip(values, widths, strict=True))
    return [header.rstrip(), row.rstrip()]


def _fit_statistics(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, method: str
) -> tuple[float, float, float, float, float]:
    """logLik, deviance, AIC, BIC, AICc as metafor ``rma.uni`` (``fit.stats``) computes them.

    REML fits use the restricted likelihood (deviance ``-2 ll``; BIC and AICc with k - p
    observations), all other estimators the ML likelihood (deviance against the saturated model,
    ``-2 (ll - sum log dnorm(yi; yi, sqrt(vi)))``, 0 when k = p). Parameters: p coefficients,
    plus tau^2 unless the model is equal-effects.
    """
    k, p = X.shape
    parameters = p + (0 if method == "EE" else 1)
    if method == "REML":
        loglik = _loglik(yi, vi, X, tau2, reml=True)
        deviance = -2 * loglik
        n_obs = k - p
    else:
        loglik = _loglik(yi, vi, X, tau2, reml=False)
        saturated = float(np.sum(-0.5 * np.log(2 * np.pi * vi)))
        deviance = -2 * (loglik - saturated) if k > p else 0.0
        n_obs = k
    bic = -2 * loglik + parameters * (math.log(n_obs) if n_obs > 0 else -math.inf)
    m = max(n_obs, parameters + 2)
    aicc = -2 * loglik + 2 * parameters * m / (m - parameters - 1)
    return loglik, deviance, -2 * loglik + 2 * parameters, bic, aicc


# --------------------------------------------------------------------------------------------
# rma
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class RmaResult:
    """Pooled estimate of an intercept-only model (metafor ``rma.uni`` + ``predict``).

    ``zval`` is set for ``test="z"`` and ``tval`` (with ``df``) for ``test="knha"``. ``i2`` is in
    percent. ``tau2_se`` is None for ``"EE"`` and when k = 1. ``pi_low/pi_high`` is the
    prediction interval for the true effect of a new study (None for ``"EE"``: metafor gives
    none). ``loglik``, ``deviance``, ``aic``, ``bic``, ``aicc`` are the fit statistics metafor's
    ``summary`` prints (REML likelihood for REML, else ML). The studies fitted are kept as
    ``yi``, ``vi``, ``ni``, ``slab`` (as metafor's object keeps them), with ``measure``.

    ``print(res)`` reads like metafor's ``print(res)`` followed by ``predict(res)``;
    ``res.summary()`` adds the fit statistics; notebooks show it as HTML; ``to_frame()`` is one
    row per quantity.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    zval: float | None
    tval: float | None
    df: int | None
    pval: float
    tau2: float
    tau2_se: float | None
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    k: int
    pi_low: float | None
    pi_high: float | None
    method: str
    test: str
    level: float
    loglik: float
    notes: tuple[str, ...] = field(default=())
    deviance: float | None = None
    aic: float | None = None
    bic: float | None = None
    aicc: float | None = None
    measure: str | None = None
    yi: np.ndarray | None = field(default=None, compare=False)
    vi: np.ndarray | None = field(default=None, compare=False)
    ni: np.ndarray | None = field(default=None, compare=False)
    slab: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def labels(self) -> tuple[str, ...]:
        """Study labels: ``slab``, or "Study 1" ... "Study k"."""
        return self.slab if self.slab is not None else _default_slab(range(self.k))

    @property
    def weights(self) -> np.ndarray:
        """Percent weight of each study, ``100 w_i / sum w``, ``w_i = 1/(v_i + tau^2)``
        (metafor ``weights(res)``)."""
        if self.vi is None:
            raise ValueError("this result does not hold its studies' variances")
        w = 1 / (self.vi + self.tau2)
        return 100 * w / w.sum()

    @property
    def model(self) -> str:
        return "Equal-Effects Model" if self.method == "EE" else "Random-Effects Model"

    def predict(self, transf: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
        """metafor ``predict(res, transf=)``: pred, se, CI and PI, optionally transformed.

        ``transf`` (e.g. ``np.exp`` for RR, OR, ROM) is applied to the estimate and the bounds;
        the se is then dropped, as metafor does. No PI columns for an equal-effects model.
        """
        values = {"pred": self.estimate, "se": self.se}
        values |= {"ci_low": self.ci_low, "ci_high": self.ci_high}
        if self.pi_low is not None and self.pi_high is not None:
            values |= {"pi_low": self.pi_low, "pi_high": self.pi_high}
        if transf is not None:
            del values["se"]
            values = {key: float(transf(np.asarray(value))) for key, value in values.items()}
        return pd.DataFrame([values])

    def summary(self) -> RmaSummary:
        """The model with its fit statistics (metafor ``summary(res)``)."""
        return RmaSummary(self)

    def __repr__(self) -> str:
        statistic = f"z = {_fixed(self.zval)}" if self.zval is not None else None
        if self.tval is not None:
            statistic = f"t({self.df}) = {_fixed(self.tval)}"
        heterogeneity = (
            f"I^2 = {_fixed(self.i2, 2)}%"
            if self.method == "EE"
            else f"tau^2 = {_fixed(self.tau2)}, I^2 = {_fixed(self.i2, 2)}%"
        )
        return (
            f"RmaResult({self.method}, {self.test}; k = {self.k}: estimate "
            f"{_fixed(self.estimate)} [{_fixed(self.ci_low)}, {_fixed(self.ci_high)}], "
            f"{statistic}, p {_format_p(self.pval, with_relation=True)}; {heterogeneity})"
        )

    def __str__(self) -> str:
        return "\n".join(self._text_lines(fit_statistics=False))

    def _repr_html_(self) -> str:
        return self._html(fit_statistics=False)

    # pieces shared by the text and the HTML display -----------------------------------------

    def _title(self) -> str:
        if self.method == "EE":
            return f"{self.model} (k = {self.k})"
        return f"{self.model} (k = {self.k}; tau^2 estimator: {self.method})"

    def _heterogeneity(self) -> list[tuple[str, str]]:
        """(label, value) pairs of print.rma.uni's heterogeneity block."""
        rows = []
        if self.method != "EE":
            zero = abs(self.tau2) <= np.finfo(float).eps * 10
            tau2 = _fixed(self.tau2, 0 if zero else 4)
            if self.tau2_se is not None:
                tau2 += f" (SE = {_fixed(self.tau2_se)})"
            rows += [
                ("tau^2 (estimated amount of total heterogeneity):", tau2),
                ("tau (square root of estimated tau^2 value):", _fixed(self.tau, 0 if zero else 4)),
            ]
        rows += [
            ("I^2 (total heterogeneity / total variability):", f"{_fixed(self.i2, 2)}%"),
            ("H^2 (total variability / sampling variability):", _fixed(self.h2, 2)),
        ]
        return rows

    def _q_test(self) -> str:
        return (
            f"Q(df = {self.q_df}) = {_fixed(self.q)}, "
            f"p-val {_format_p(self.q_pvalue, with_relation=True)}"
        )

    def _model_table(self) -> tuple[list[str], list[str]]:
        names = ["estimate", "se"]
        values = [_fixed(self.estimate), _fixed(self.se)]
        if self.tval is not None:
            names += ["tval", "df"]
            values += [_fixed(self.tval), str(self.df)]
        else:
            names.append("zval")
            values.append(_fixed(self.zval if self.zval is not None else math.nan))
        names += ["pval", "ci.lb", "ci.ub", ""]
        values += [
            _format_p(self.pval),
            _fixed(self.ci_low),
            _fixed(self.ci_high),
            _stars(self.pval),
        ]
        return names, values

    def _predict_table(self) -> tuple[list[str], list[str]] | None:
        if self.pi_low is None or self.pi_high is None:
            return None
        names = ["pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"]
        values = [self.estimate, self.se, self.ci_low, self.ci_high, self.pi_low, self.pi_high]
        return names, [_fixed(value) for value in values]

    def _fit_table(self) -> tuple[list[str], list[str]]:
        names = ["logLik", "deviance", "AIC", "BIC", "AICc"]
        values = [self.loglik, self.deviance, self.aic, self.bic, self.aicc]
        return names, [_fixed(math.nan if value is None else value) for value in values]

    def _text_lines(self, *, fit_statistics: bool) -> list[str]:
        lines = [self._title(), ""]
        if fit_statistics:
            names, values = self._fit_table()
            width = max(len(text) for text in names + values)  # R prints a vector in one width
            lines += _aligned([n.rjust(width) for n in names], [v.rjust(width) for v in values])
            lines.append("")
        lines += [f"{label.ljust(_LABEL_WIDTH)}{value}" for label, value in self._heterogeneity()]
        lines += ["", "Test for Heterogeneity:", self._q_test(), "", "Model Results:", ""]
        lines += _aligned(*self._model_table())
        lines += ["", "---", _SIGNIF_LEGEND]
        prediction = self._predict_table()
        if prediction is not None:
            lines += ["", "Prediction (predict):", ""]
            lines += [" " + line for line in _aligned(*prediction, gap=" ")]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {note}" for note in self.notes]
        return lines

    def _html(self, *, fit_statistics: bool) -> str:
        def table(names: Sequence[str], values: Sequence[str]) -> str:
            head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
            body = "".join(f"<td>{html.escape(v)}</td>" for v in values)
            return f"<table><thead><tr>{head}</tr></thead><tbody><tr>{body}</tr></tbody></table>"

        parts = [f"<p><strong>{html.escape(self._title())}</strong></p>"]
        if fit_statistics:
            parts.append(table(*self._fit_table()))
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in [
                *self._heterogeneity(),
                ("Test for heterogeneity:", self._q_test()),
            ]
        )
        parts.append(f"<table><tbody>{rows}</tbody></table>")
        names, values = self._model_table()
        prediction = self._predict_table()
        if prediction is not None:
            names, values = names[:-1] + prediction[0][4:], values[:-1] + prediction[1][4:]
        parts += ["<p>Model results:</p>", table(names, values)]
        if self.notes:
            items = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
            parts.append(f"<p>Notes:</p><ul>{items}</ul>")
        return '<div class="rma-result">' + "".join(parts) + "</div>"

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity: ``quantity`` (the attribute name), ``value``, ``description``.

        ``attrs`` carries model, method, test, level and measure.
        """
        rows: list[tuple[str, float | int, str]] = [
            ("k", self.k, "number of studies"),
            ("estimate", self.estimate, "pooled estimate"),
            ("se", self.se, "standard error of the estimate"),
        ]
        if self.tval is not None:
            rows += [
                ("tval", self.tval, "t statistic (Knapp-Hartung)"),
                ("df", self.df, "degrees of freedom of the t statistic"),
            ]
        elif self.zval is not None:
            rows.append(("zval", self.zval, "z statistic"))
        rows += [
            ("pval", self.pval, "p-value of the estimate"),
            ("ci_low", self.ci_low, f"lower bound of the {self.level:g}% confidence interval"),
            ("ci_high", self.ci_high, f"upper bound of the {self.level:g}% confidence interval"),
        ]
        if self.pi_low is not None and self.pi_high is not None:
            rows += [
                ("pi_low", self.pi_low, f"lower bound of the {self.level:g}% prediction interval"),
                (
                    "pi_high",
                    self.pi_high,
                    f"upper bound of the {self.level:g}% prediction interval",
                ),
            ]
        if self.method != "EE":
            rows.append(("tau2", self.tau2, "tau^2, estimated amount of total heterogeneity"))
            if self.tau2_se is not None:
                rows.append(("tau2_se", self.tau2_se, "standard error of tau^2"))
            rows.append(("tau", self.tau, "square root of tau^2"))
        rows += [
            ("i2", self.i2, "I^2 (%), total heterogeneity / total variability"),
            ("h2", self.h2, "H^2, total variability / sampling variability"),
            ("q", self.q, "Cochran's Q (test for heterogeneity)"),
            ("q_df", self.q_df, "degrees of freedom of Q"),
            ("q_pvalue", self.q_pvalue, "p-value of Q"),
            ("loglik", self.loglik, f"log-likelihood ({self._likelihood()})"),
        ]
        for name, value, text in (
            ("deviance", self.deviance, "deviance"),
            ("aic", self.aic, "Akaike information criterion"),
            ("bic", self.bic, "Bayesian information criterion"),
            ("aicc", self.aicc, "AIC with small-sample correction"),
        ):
            if value is not None:
                rows.append((name, value, text))
        frame = pd.DataFrame(
            {
                "quantity": [row[0] for row in rows],
                "value": [float(row[1]) for row in rows],
                "description": [row[2] for row in rows],
            }
        )
        frame.attrs = {
            "model": self.model,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "measure": self.measure,
        }
        return frame

    def _likelihood(self) -> str:
        return "restricted, REML" if self.method == "REML" else "ML"


@dataclass(frozen=True, repr=False)
class RmaSummary:
    """metafor's ``summary(res)``: the fitted model with its fit statistics.

    Prints (``repr`` and ``str``) as metafor does; notebooks show it as HTML.
    """

    result: RmaResult

    @property
    def fit_statistics(self) -> pd.DataFrame:
        """logLik, deviance, AIC, BIC, AICc in one row (metafor ``fitstats(res)``)."""
        names, _ = self.result._fit_table()
        values = [
            self.result.loglik,
            self.result.deviance,
            self.result.aic,
            self.result.bic,
            self.result.aicc,
        ]
        return pd.DataFrame([dict(zip(names, values, strict=True))])

    def __str__(self) -> str:
        return "\n".join(self.result._text_lines(fit_statistics=True))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.result._html(fit_statistics=True)


def rma(
    yi: ArrayLike | EffectSizes | pd.DataFrame,
    vi: ArrayLike | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    slab: Sequence[object] | str | None = None,
    na_action: str = "fail",
) -> RmaResult:
    """Random-effects (or equal-effect) meta-analysis of ``yi`` with sampling variances ``vi``.

    metafor ``rma(yi, vi, method=, test=, level=)`` followed by ``predict()``. ``yi`` may also be
    effect sizes from :func:`helpers.stats.effects.escalc` - an ``EffectSizes`` or a DataFrame
    with ``yi`` and ``vi`` columns - with ``vi`` omitted (``rma(yi, vi, data=dat)`` in metafor).
    ``slab`` labels the studies (a column name for a DataFrame). Missing yi or vi raise unless
    ``na_action="omit"`` (then the rows are dropped with a warning listing them).

    Weights ``w_i = 1/(v_i + tau^2)``; ``mu = sum w y / sum w``; ``se = sqrt(1/sum w)`` (scaled
    by ``sqrt(sum w (y - mu)^2 / (k - 1))`` under ``test="knha"``, Hartung & Knapp 2001,
    untruncated). tau^2 estimators: see the module docstring (REML: Viechtbauer 2005; DL:
    DerSimonian & Laird 1986, Control Clin Trials 7:177; PM: Paule & Mandel 1982). Q is
    Cochran's Q with ``w = 1/v``. For RE models ``I^2 = 100 tau^2/(tau^2 + s^2)`` and
    ``H^2 = (tau^2 + s^2)/s^2`` with the typical within-study variance
    ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)`` (Higgins & Thompson 2002, Stat Med 21:1539; as
    metafor); for ``"EE"`` ``I^2 = max(0, (Q - df)/Q)`` and ``H^2 = Q/df``, and there is no
    prediction interval. ``level`` is 95 or 0.95.
    """
    _check_options(method, test, level)
    studies = _studies("rma", yi, vi, slab, na_action)
    y, v = studies.yi, studies.vi
    k = y.size
    X = np.ones((k, 1))
    fit = _fit(y, v, X, method, test)
    estimate = float(fit.beta[0])
    se = float(np.sqrt(fit.vb[0, 0]))
    crit = _critical_value(level, fit.ddf)
    notes = list(fit.notes)
    if se > 0:
        statistic = estimate / se
    else:  # only under knha when all yi are equal: metafor's scale factor is then 0
        statistic = 0.0 if estimate == 0 else float(np.copysign(np.inf, estimate))
        notes.append("all estimates are equal: the Knapp-Hartung scale factor and se are 0.")
    pi_low = pi_high = None
    if method != "EE":
        pi_half = float(crit * np.sqrt(fit.tau2 + se**2))
        pi_low, pi_high = estimate - pi_half, estimate + pi_half
    loglik, deviance, aic, bic, aicc = _fit_statistics(y, v, X, fit.tau2, method)
    return RmaResult(
        estimate=estimate,
        se=se,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        zval=float(statistic) if fit.ddf is None else None,
        tval=float(statistic) if fit.ddf is not None else None,
        df=fit.ddf,
        pval=1.0 if statistic == 0 else _p_value(statistic, fit.ddf),
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.q,
        q_df=fit.q_df,
        q_pvalue=fit.q_pvalue,
        k=k,
        pi_low=pi_low,
        pi_high=pi_high,
        method=method,
        test=test,
        level=level,
        loglik=loglik,
        notes=tuple(notes),
        deviance=deviance,
        aic=aic,
        bic=bic,
        aicc=aicc,
        measure=studies.measure,
        yi=y,
        vi=v,
        ni=studies.ni,
        slab=studies.slab,
    )


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


# --------------------------------------------------------------------------------------------
# Categorical moderator (subgroup) test
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Pooled single-arm proportions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PooledProportionResult:
    """Pooled proportion on the logit scale and back-transformed (``proportion``, CI, PI).

    ``model`` is ``"binomial-normal GLMM"`` or ``"normal-normal (logit, inverse variance)"``.
    ``n_nodes`` is the number of adaptive Gauss-Hermite nodes (GLMM only). ``i2`` is only
    defined for the inverse-variance model (None for the GLMM). ``pi_low``/``pi_high`` are None
    for an equal-effects model (no prediction interval).
    """

    model: str
    method: str
    k: int
    total_events: int
    total_n: int
    logit_estimate: float
    logit_se: float
    logit_ci_low: float
    logit_ci_high: float
    zval: float
    pval: float
    tau2: float
    proportion: float
    ci_low: float
    ci_high: float
    pi_low: float | None
    pi_high: float | None
    i2: float | None
    level: float
    loglik: float
    n_nodes: int | None
    notes: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        def percent(value: float) -> str:
            return f"{100 * value:.2f}%"

        prediction = ""
        if self.pi_low is not None and self.pi_high is not None:
            prediction = f", PI {percent(self.pi_low)} to {percent(self.pi_high)}"
        return (
            f"PooledProportionResult({self.model}, {self.method}; k = {self.k}, "
            f"{self.total_events}/{self.total_n} events: {percent(self.proportion)} "
            f"[{percent(self.ci_low)}, {percent(self.ci_high)}]{prediction}; "
            f"tau^2 = {_fixed(self.tau2)})"
        )

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of every field (notes joined with '; ')."""
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])


def _check_events_totals(
    caller: str, events: ArrayLike, totals: ArrayLike, na_action: str
) -> tuple[np.ndarray, np.ndarray]:
    x, n = _float_column("events", events), _float_column("totals", totals)
    if x.size != n.size:
        raise ValueError(f"events and totals lengths differ: {x.size} vs {n.size}")
    keep = _complete_rows(caller, {"'events'": x, "'totals'": n}, list(range(x.size)), na_action)
    x, n = _as_float_array("events", x[keep]), _as_float_array("totals", n[keep])
    _check_counts(x, n)
    return x, n


def rma_logit_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    method: str = "REML",
    level: float = 95,
    na_action: str = "fail",
) -> PooledProportionResult:
    """Inverse-variance random-effects pooling of logit proportions (sensitivity analysis).

    metafor ``rma(measure="PLO", xi=events, ni=totals, method=)``: logits from
    :func:`helpers.stats.effects.logit_proportion` (0.5 added to both cells of 0/n and n/n studies
    only), pooled by :func:`rma` with ``test="z"``, estimate, CI and PI back-transformed with the
    inverse logit (metafor ``predict(res, transf=transf.ilogit)``). Missing counts: see
    :func:`rma` (``na_action``).
    """
    x, n = _check_events_totals("rma_logit_proportions", events, totals, na_action)
    effects = logit_proportion(x, n)
    res = rma(effects.yi, effects.vi, method=method, test="z", level=level)
    notes = list(res.notes)
    corrected = int(np.sum((x == 0) | (x == n)))
    if corrected:
        notes.append(f"0.5 added to both cells of {corrected} study(ies) with 0 or n events.")
    return PooledProportionResult(
        model="normal-normal (logit, inverse variance)",
        method=method,
        k=res.k,
        total_events=int(x.sum()),
        total_n=int(n.sum()),
        logit_estimate=res.estimate,
        logit_se=res.se,
        logit_ci_low=res.ci_low,
        logit_ci_high=res.ci_high,
        zval=float(res.zval),  # type: ignore[arg-type]
        pval=res.pval,
        tau2=res.tau2,
        proportion=float(special.expit(res.estimate)),
        ci_low=float(special.expit(res.ci_low)),
        ci_high=float(special.expit(res.ci_high)),
        pi_low=None if res.pi_low is None else float(special.expit(res.pi_low)),
        pi_high=None if res.pi_high is None else float(special.expit(res.pi_high)),
        i2=res.i2,
        level=level,
        loglik=res.loglik,
        n_nodes=None,
        notes=tuple(notes),
    )


def _glmm_loglik(
    mu: float, tau: float, x: np.ndarray, n: np.ndarray, nodes: np.ndarray, log_weights: np.ndarray
) -> float:
    """Marginal log-likelihood of the random-intercept logistic model by adaptive GHQ.

    ``L_i = int Bin(x_i | n_i, expit(mu + tau u)) phi(u) du``; the integrand is centred at its
    mode u_i and scaled by ``s_i = (1 + tau^2 n_i p_i (1 - p_i))^(-1/2)`` (Liu & Pierce 1994,
    Biometrika 81:624; lme4's nAGQ > 1 uses the same rule). ``tau`` may be negative: the model is
    symmetric in tau.
    """
    log_binom = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)

    # conditional modes by Newton's method (the integrand is strictly log-concave)
    u = np.zeros_like(x)
    for _ in range(200):
        prob = special.expit(mu + tau * u)
        gradient = tau * (x - n * prob) - u
        curvature = 1 + tau**2 * n * prob * (1 - prob)
        step = gradient / curvature
        current = _log_integrand(u, mu, tau, x, n)
        for _ in range(60):  # halve steps that would decrease the log-integrand
            worse = _log_integrand(u + step, mu, tau, x, n) < current - 1e-12
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        u = u + step
        if np.max(np.abs(step)) < 1e-12:
            break
    prob = special.expit(mu + tau * u)
    scale = 1 / np.sqrt(1 + tau**2 * n * prob * (1 - prob))
    points = u[:, None] + np.sqrt(2) * scale[:, None] * nodes[None, :]
    log_terms = (
        log_weights[None, :]
        + nodes[None, :] ** 2
        + _log_integrand(points, mu, tau, x[:, None], n[:, None])
    )
    log_lik = (
        log_binom
        + np.log(np.sqrt(2) * scale)
        - 0.5 * np.log(2 * np.pi)
        + special.logsumexp(log_terms, axis=1)
    )
    return float(np.sum(log_lik))


def _log_integrand(
    u: np.ndarray, mu: float, tau: float, x: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """log Bin(x | n, expit(mu + tau u)) + log phi(u), without the constants."""
    eta = mu + tau * u
    return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * u**2


def _numerical_hessian(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float) -> np.ndarray:
    dim = theta.size
    hessian = np.empty((dim, dim))
    steps = h * np.maximum(1.0, np.abs(theta))
    for i in range(dim):
        for j in range(i, dim):
            ei = np.zeros(dim)
            ej = np.zeros(dim)
            ei[i] = steps[i]
            ej[j] = steps[j]
            value = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4 * steps[i] * steps[j])
            hessian[i, j] = hessian[j, i] = value
    return hessian


def _numerical_gradient(
    f: Callable[[np.ndarray], float], theta: np.ndarray, h: float
) -> np.ndarray:
    gradient = np.empty(theta.size)
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h * max(1.0, abs(theta[i]))
        gradient[i] = (f(theta + e) - f(theta - e)) / (2 * e[i])
    return gradient


def rma_glmm_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    level: float = 95,
    n_nodes: int = 7,
    na_action: str = "fail",
) -> PooledProportionResult:
    """Binomial-normal random-effects model for single-arm proportions, by maximum likelihood.

    ``x_i ~ Bin(n_i, expit(theta_i))``, ``theta_i ~ N(mu, tau^2)`` (Hamza, van Houwelingen &
    Stijnen 2008, J Clin Epidemiol 61:41; Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046).
    This is metafor ``rma.glmm(measure="PLO", xi, ni)``, which calls ``lme4::glmer`` with
    adaptive Gauss-Hermite quadrature, ``nAGQ = 7`` - our default ``n_nodes`` - so the two
    likelihoods agree. (mu, tau) maximise it (BFGS, then Newton steps on central-difference
    derivatives); ``se(mu)`` comes from the inverse of the observed information (numerical
    Hessian in (mu, tau), as lme4's ``vcov``). CI: ``mu -/+ z se``; PI:
    ``mu -/+ z sqrt(tau^2 + se^2)`` (metafor ``predict``), back-transformed.

    Raises ``ValueError`` when k < 2 (tau^2 not identifiable; use
    :func:`helpers.stats.effects.clopper_pearson_ci`) and when every study has 0 events (or every study
    has n events): the likelihood then increases without bound as mu -> -inf (+inf), so no MLE
    exists; report the exact interval on the summed counts instead, e.g.
    ``clopper_pearson_ci(sum(events), sum(totals))`` and
    ``exact_upper_bound(sum(events), sum(totals))``. Missing counts: see :func:`rma`
    (``na_action``).
    """
    x, n = _check_events_totals("rma_glmm_proportions", events, totals, na_action)
    _alpha(level)
    if not isinstance(n_nodes, int | np.integer) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a positive integer, got {n_nodes!r}")
    k = x.size
    if k < 2:
        raise ValueError(
            "rma_glmm_proportions needs k >= 2 studies (tau^2 is not identifiable from one); "
            "use clopper_pearson_ci for a single proportion"
        )
    if np.all(x == 0) or np.all(x == n):
        which = "0 events" if np.all(x == 0) else "events = totals"
        raise ValueError(
            f"all {k} studies have {which}: the binomial-normal likelihood has no maximum "
            "(mu diverges). Report the exact interval on the summed counts instead: "
            f"clopper_pearson_ci({int(x.sum())}, {int(n.sum())}) / "
            f"exact_upper_bound({int(x.sum())}, {int(n.sum())})."
        )

    nodes, weights = np.polynomial.hermite.hermgauss(int(n_nodes))
    log_weights = np.log(weights)

    def objective(theta: np.ndarray) -> float:
        return -_glmm_loglik(theta[0], theta[1], x, n, nodes, log_weights)

    start_fit = rma_logit_proportions(x, n, method="REML", level=level)
    start = np.array([start_fit.logit_estimate, max(np.sqrt(start_fit.tau2), 0.3)])
    fit = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-8})
    theta = fit.x
    for _ in range(50):  # Newton polishing on numerical derivatives
        gradient = _numerical_gradient(objective, theta, 1e-6)
        hessian = _numerical_hessian(objective, theta, 1e-4)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.linalg.eigvalsh(hessian).min() <= 0:
            break
        theta = theta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    mu, tau = float(theta[0]), abs(float(theta[1]))
    if tau > 20 or abs(mu) > 50:
        raise ValueError(
            f"the binomial-normal model did not converge (mu = {mu:.3g}, tau = {tau:.3g}); "
            "the data are too sparse for a GLMM"
        )

    notes: list[str] = []
    theta = np.array([mu, tau])
    hessian = _numerical_hessian(objective, theta, 1e-4)
    if tau < 1e-5:
        tau = 0.0
        notes.append(
            "tau^2 estimated at 0: the model reduces to a common-proportion logistic model."
        )
        se = float(1 / np.sqrt(hessian[0, 0]))
    else:
        covariance = np.linalg.inv(hessian)
        se = float(np.sqrt(covariance[0, 0]))
    tau2 = tau**2
    crit = _critical_value(level, None)
    zval = mu / se
    pi_half = crit * np.sqrt(tau2 + se**2)
    if np.any(x == 0):
        notes.append(f"{int(np.sum(x == 0))} study(ies) with 0 events enter the likelihood as is.")
    return PooledProportionResult(
        model="binomial-normal GLMM",
        method="ML",
        k=k,
        total_events=int(x.sum()),
        total_n=int(n.sum()),
        logit_estimate=mu,
        logit_se=se,
        logit_ci_low=mu - crit * se,
        logit_ci_high=mu + crit * se,
        zval=zval,
        pval=_p_value(zval, None),
        tau2=tau2,
        proportion=float(special.expit(mu)),
        ci_low=float(special.expit(mu - crit * se)),
        ci_high=float(special.expit(mu + crit * se)),
        pi_low=float(special.expit(mu - pi_half)),
        pi_high=float(special.expit(mu + pi_half)),
        i2=None,
        level=level,
        loglik=-objective(theta),
        n_nodes=int(n_nodes),
        notes=tuple(notes),
    )
