"""Fitting the (mixed-effects) meta-regression model as metafor ``rma.uni``: tau^2 estimators,
weighted least squares, Q, I^2, H^2, the likelihood and the fit statistics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

from helpers.stats.effects.checks import _alpha

METHODS = ("REML", "ML", "DL", "PM", "EE")
TESTS = ("z", "knha")

# tau^2 iterations stop when a step is below _TAU2_RTOL x (tau^2 + mean vi): relative to the
# data's scale (metafor's default threshold is an absolute 1e-5)
_TAU2_RTOL = 1e-10
_ROOT_RTOL = 1e-14  # root finders' absolute tolerance, as a multiple of mean vi
_MAX_ITER = 1000


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


@lru_cache(maxsize=4096)
def _critical_value(level: float, ddf: int | None) -> float:
    """z (``ddf`` None) or t quantile of a two-sided interval at ``level`` (remembered)."""
    tail = _alpha(level) / 2
    return float(stats.norm.isf(tail) if ddf is None else stats.t.isf(tail, ddf))


def _p_value(statistic: float, ddf: int | None) -> float:
    if ddf is None:
        return float(2 * stats.norm.sf(abs(statistic)))
    return float(2 * stats.t.sf(abs(statistic), ddf))


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
