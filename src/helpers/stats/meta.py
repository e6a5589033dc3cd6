"""Pooling of effect sizes, named after metafor's ``rma``, ``predict``, ``leave1out``, ``rma.glmm``.

Vocabulary (ours -> metafor)
----------------------------
================================  =============================================================
ours                              metafor
================================  =============================================================
``rma(yi, vi, method, test)``     ``rma(yi, vi, method=, test=)`` (``rma.uni``)
``RmaResult.estimate / se``       ``coef(res)`` / ``res$se``
``RmaResult.ci_low / ci_high``    ``res$ci.lb`` / ``res$ci.ub``
``RmaResult.pi_low / pi_high``    ``predict(res)$pi.lb`` / ``$pi.ub``
``RmaResult.q, q_df, q_pvalue``   ``res$QE``, ``res$k - res$p``, ``res$QEp``
``RmaResult.i2, h2``              ``res$I2`` (percent), ``res$H2``
``RmaResult.loglik``              ``logLik(res)`` (REML likelihood for REML, else ML)
``leave1out(yi, vi)``             ``leave1out(res)``
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

Edge cases, as in metafor: k = 1 gives the study itself, tau^2 = 0, Q = 0, Q p = 1, I^2 = 0 and
H^2 = 1 (conventions, since heterogeneity is not estimable; a note says so); ``test="knha"``
with k = 1 raises (a t with 0 df does not exist). Every result carries a ``notes`` tuple.

One deliberate difference: when the ML/REML likelihood is multimodal (possible when sampling
variances differ by orders of magnitude), metafor's Fisher scoring may stop at a local maximum;
here the global maximum is returned and a note reports both values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from helpers.stats.effects import (
    ArrayLike,
    _alpha,
    _as_float_array,
    _check_counts,
    logit_proportion,
)

__all__ = [
    "METHODS",
    "TESTS",
    "ModeratorTestResult",
    "PooledProportionResult",
    "RmaResult",
    "leave1out",
    "moderator_test",
    "rma",
    "rma_glmm_proportions",
    "rma_logit_proportions",
]

METHODS = ("REML", "ML", "DL", "PM", "EE")
TESTS = ("z", "knha")

_TAU2_TOL = 1e-10  # absolute convergence threshold for tau^2 (metafor default: 1e-5)
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
    started at the Hedges (HE) estimate and iterated to |change| < 1e-10 (Brent's method on the
    score equation if scoring does not converge). The (restricted) likelihood can be bimodal
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

    def scoring(tau2: float) -> float | None:
        for _ in range(_MAX_ITER):
            score, information = score_and_information(tau2)
            step = score / information
            while tau2 + step < 0:
                step /= 2
            tau2 += step
            if abs(step) < _TAU2_TOL:
                return max(0.0, tau2)
        return None

    def loglik(t2: float) -> float:
        return _loglik(yi, vi, X, t2, reml)

    ols = _wls(yi, X, np.ones(k))
    hat_trace = np.sum(ols.xtwx_inv * ((X.T * vi) @ X))  # tr(H V) for the OLS hat matrix H
    hedges = max(0.0, (np.sum(ols.resid**2) - (np.sum(vi) - hat_trace)) / (k - p))
    tau2 = scoring(hedges)
    if tau2 is None:
        tau2 = _tau2_score_root(lambda t2: score_and_information(t2)[0])

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
                options={"xatol": 1e-14},
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
    upper = max(start, 1.0)
    for _ in range(200):
        if decreasing(upper) < 0:
            return upper
        upper *= 4
    raise RuntimeError("could not bracket the tau^2 estimate (tau^2 > 1e120?)")


def _tau2_score_root(score: Callable[[float], float]) -> float:
    if score(0.0) <= 0:
        return 0.0
    upper = _upper_bracket(score, 1.0)
    return float(optimize.brentq(score, 0.0, upper, xtol=1e-14, rtol=4 * np.finfo(float).eps))


def _tau2_paule_mandel(yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Paule & Mandel (1982, J Res Natl Bur Stand 87:377): solve the generalised Q = k - p.

    ``Q(tau^2) = sum w_i (y_i - x_i b(tau^2))^2`` with ``w_i = 1/(v_i + tau^2)`` is decreasing in
    tau^2; the root is found with Brent's method to 1e-14 (metafor uses ``uniroot``).
    """
    k, p = X.shape

    def excess(t2: float) -> float:
        return _wls(yi, X, 1 / (vi + t2)).rss - (k - p)

    if excess(0.0) <= 0:
        return 0.0
    upper = _upper_bracket(excess, float(np.var(yi)))
    return float(optimize.brentq(excess, 0.0, upper, xtol=1e-14, rtol=4 * np.finfo(float).eps))


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
# rma
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RmaResult:
    """Pooled estimate of an intercept-only model (metafor ``rma.uni`` + ``predict``).

    ``zval`` is set for ``test="z"`` and ``tval`` (with ``df``) for ``test="knha"``. ``i2`` is in
    percent. ``tau2_se`` is None for ``"EE"`` and when k = 1. ``pi_low/pi_high`` is the
    prediction interval for the true effect of a new study.
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
    pi_low: float
    pi_high: float
    method: str
    test: str
    level: float
    loglik: float
    notes: tuple[str, ...] = field(default=())

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of every field (notes joined with '; ')."""
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])


def rma(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> RmaResult:
    """Random-effects (or equal-effect) meta-analysis of ``yi`` with sampling variances ``vi``.

    metafor ``rma(yi, vi, method=, test=, level=)`` followed by ``predict()``. Weights
    ``w_i = 1/(v_i + tau^2)``; ``mu = sum w y / sum w``; ``se = sqrt(1/sum w)`` (scaled by
    ``sqrt(sum w (y - mu)^2 / (k - 1))`` under ``test="knha"``, Hartung & Knapp 2001, untruncated).
    tau^2 estimators: see the module docstring (REML: Viechtbauer 2005; DL: DerSimonian & Laird
    1986, Control Clin Trials 7:177; PM: Paule & Mandel 1982). Q is Cochran's Q with
    ``w = 1/v``. For RE models ``I^2 = 100 tau^2/(tau^2 + s^2)`` and ``H^2 = (tau^2 + s^2)/s^2``
    with the typical within-study variance ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)``
    (Higgins & Thompson 2002, Stat Med 21:1539; as metafor); for ``"EE"``
    ``I^2 = max(0, (Q - df)/Q)`` and ``H^2 = Q/df``. ``level`` is 95 or 0.95.
    """
    _check_options(method, test, level)
    y, v = _check_yi_vi(yi, vi)
    k = y.size
    fit = _fit(y, v, np.ones((k, 1)), method, test)
    estimate = float(fit.beta[0])
    se = float(np.sqrt(fit.vb[0, 0]))
    crit = _critical_value(level, fit.ddf)
    notes = list(fit.notes)
    if se > 0:
        statistic = estimate / se
    else:  # only under knha when all yi are equal: metafor's scale factor is then 0
        statistic = 0.0 if estimate == 0 else float(np.copysign(np.inf, estimate))
        notes.append("all estimates are equal: the Knapp-Hartung scale factor and se are 0.")
    pi_half = float(crit * np.sqrt(fit.tau2 + se**2))
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
        pi_low=estimate - pi_half,
        pi_high=estimate + pi_half,
        method=method,
        test=test,
        level=level,
        loglik=fit.loglik,
        notes=tuple(notes),
    )


def leave1out(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> pd.DataFrame:
    """Refit :func:`rma` omitting each study in turn (metafor ``leave1out(res)``).

    One row per omitted study (``omitted`` = its label, default its 0-based position) with
    estimate, se, statistic, pval, ci_low, ci_high, q, q_pvalue, tau2, i2, h2, pi_low, pi_high.
    Needs k >= 2.
    """
    _check_options(method, test, level)
    y, v = _check_yi_vi(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError("leave1out needs at least 2 studies")
    if labels is None:
        names: list[object] = list(range(k))
    else:
        names = list(labels)
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
                "pi_low": res.pi_low,
                "pi_high": res.pi_high,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Categorical moderator (subgroup) test
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
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


def _design(groups: ArrayLike | Sequence[object], k: int) -> tuple[np.ndarray, list[str]]:
    values = pd.Series(list(np.atleast_1d(np.asarray(groups, dtype=object))))
    if len(values) != k:
        raise ValueError(f"groups has {len(values)} entries for {k} studies")
    if values.isna().any():
        raise ValueError("groups contains missing values")
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
) -> ModeratorTestResult:
    """Test of subgroup differences by meta-regression on ``factor(groups)``.

    metafor ``rma(yi, vi, mods = ~ factor(groups), method=, test=)``: WLS with weights
    ``1/(v_i + tau^2)`` and one tau^2 common to all levels, estimated with the design matrix
    (REML maximises ``-1/2 [sum log(v+tau^2) + log|X'WX| + RSS]``; Viechtbauer 2005;
    Raudenbush 2009, Handbook of Research Synthesis ch. 16). ``QM = b' V^-1 b`` over the
    non-intercept coefficients, chi-square with (levels - 1) df (F with (levels - 1, k - p) df
    under ``"knha"``, metafor's ``QM / m``). ``QE`` is the residual Q with ``w = 1/v`` on k - p df;
    I^2/H^2 use ``s^2 = (k - p)/tr(P)`` (metafor). Levels are sorted (R factor order) unless
    ``groups`` is a pandas Categorical; the first is the reference.
    """
    _check_options(method, test, level)
    y, v = _check_yi_vi(yi, vi)
    k = y.size
    X, levels = _design(groups, k)
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


@dataclass(frozen=True)
class PooledProportionResult:
    """Pooled proportion on the logit scale and back-transformed (``proportion``, CI, PI).

    ``model`` is ``"binomial-normal GLMM"`` or ``"normal-normal (logit, inverse variance)"``.
    ``n_nodes`` is the number of adaptive Gauss-Hermite nodes (GLMM only). ``i2`` is only
    defined for the inverse-variance model (None for the GLMM).
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
    pi_low: float
    pi_high: float
    i2: float | None
    level: float
    loglik: float
    n_nodes: int | None
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of every field (notes joined with '; ')."""
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])


def _check_events_totals(events: ArrayLike, totals: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = _as_float_array("events", events)
    n = _as_float_array("totals", totals)
    if x.size != n.size:
        raise ValueError(f"events and totals lengths differ: {x.size} vs {n.size}")
    _check_counts(x, n)
    return x, n


def rma_logit_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    method: str = "REML",
    level: float = 95,
) -> PooledProportionResult:
    """Inverse-variance random-effects pooling of logit proportions (sensitivity analysis).

    metafor ``rma(measure="PLO", xi=events, ni=totals, method=)``: logits from
    :func:`helpers.stats.effects.logit_proportion` (0.5 added to both cells of 0/n and n/n studies
    only), pooled by :func:`rma` with ``test="z"``, estimate, CI and PI back-transformed with the
    inverse logit (metafor ``predict(res, transf=transf.ilogit)``).
    """
    x, n = _check_events_totals(events, totals)
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
        pi_low=float(special.expit(res.pi_low)),
        pi_high=float(special.expit(res.pi_high)),
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
    ``exact_upper_bound(sum(events), sum(totals))``.
    """
    x, n = _check_events_totals(events, totals)
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
