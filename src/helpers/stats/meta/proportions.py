"""Pooled single-arm proportions: inverse-variance logits and the binomial-normal GLMM
(metafor ``rma(measure="PLO")`` and ``rma.glmm``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from helpers.stats.effects.checks import ArrayLike, _alpha, _as_float_array, _check_counts
from helpers.stats.effects.missing import _complete_rows, _float_column
from helpers.stats.effects.proportions import logit_proportion
from helpers.stats.effects.sizes import _fixed
from helpers.stats.meta.estimation import (
    _critical_value,
    _p_value,
)
from helpers.stats.meta.model import rma


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


def _log_binomial(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """log C(n, x), the constant of each study's binomial likelihood."""
    return special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)


def _glmm_loglik(
    mu: float,
    tau: float,
    x: np.ndarray,
    n: np.ndarray,
    nodes: np.ndarray,
    log_weights: np.ndarray,
    log_binom: np.ndarray,
) -> float:
    """Marginal log-likelihood of the random-intercept logistic model by adaptive GHQ.

    ``L_i = int Bin(x_i | n_i, expit(mu + tau u)) phi(u) du``; the integrand is centred at its
    mode u_i and scaled by ``s_i = (1 + tau^2 n_i p_i (1 - p_i))^(-1/2)`` (Liu & Pierce 1994,
    Biometrika 81:624; lme4's nAGQ > 1 uses the same rule). ``tau`` may be negative: the model is
    symmetric in tau. ``log_binom`` is :func:`_log_binomial` of the data (computed once per fit).
    """
    # conditional modes by Newton's method (the integrand is strictly log-concave)
    u = np.zeros_like(x)
    current = _log_integrand(u, mu, tau, x, n)
    for _ in range(200):
        prob = special.expit(mu + tau * u)
        gradient = tau * (x - n * prob) - u
        curvature = 1 + tau**2 * n * prob * (1 - prob)
        step = gradient / curvature
        for _ in range(60):  # halve steps that would decrease the log-integrand
            candidate: np.ndarray | None = _log_integrand(u + step, mu, tau, x, n)
            worse = candidate < current - 1e-12
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        else:
            candidate = None  # the last halved step was not evaluated
        u = u + step
        if np.max(np.abs(step)) < 1e-12:
            break
        # the log-integrand at the new u: the accepted candidate's (same array, same value)
        current = candidate if candidate is not None else _log_integrand(u, mu, tau, x, n)
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

    log_binom = _log_binomial(x, n)

    def objective(theta: np.ndarray) -> float:
        return -_glmm_loglik(theta[0], theta[1], x, n, nodes, log_weights, log_binom)

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
