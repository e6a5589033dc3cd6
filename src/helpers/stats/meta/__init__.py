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

One module per concern: ``model`` (``rma`` and its result, ``RmaResult``), ``estimation`` (tau^2
estimators, weighted least squares, likelihood), ``studies`` (inputs), ``printing`` (metafor's
layout), ``influence`` (``leave1out``), ``moderators`` (``moderator_test``) and ``proportions``
(logit and GLMM pooling of proportions). Import the public names from ``helpers.stats.meta``.
"""

from __future__ import annotations

from helpers.stats.meta.estimation import METHODS, TESTS
from helpers.stats.meta.influence import Leave1outResult, leave1out
from helpers.stats.meta.model import RmaResult, RmaSummary, rma
from helpers.stats.meta.moderators import ModeratorTestResult, moderator_test
from helpers.stats.meta.proportions import (
    PooledProportionResult,
    rma_glmm_proportions,
    rma_logit_proportions,
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
