"""Tests of helpers.stats.meta against metafor reference values (cited per literal) and identities."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from helpers.stats.effects import EffectSizes, MissingValuesOmitted, escalc, logit_proportion, smcr
from helpers.stats.meta import (
    Leave1outResult,
    leave1out,
    moderator_test,
    rma,
    rma_glmm_proportions,
    rma_logit_proportions,
)
from helpers.stats.meta.estimation import _fit, _loglik
from helpers.stats.meta.proportions import _glmm_loglik, _log_binomial

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

# dat.bcg (Colditz et al. 1994, JAMA 271:698), 13 BCG vaccine trials, as stored in
# wviechtb/metadat data-raw/dat.colditz1994.txt (same as metafor's dat.bcg).
BCG = pd.DataFrame(
    {
        "tpos": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
        "tneg": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
        "cpos": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
        "cneg": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
        "ablat": [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
        "year": [1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976],
        "alloc": ["random"] * 4 + ["alternate"] * 2 + ["random"] * 3 + ["systematic"] * 4,
    }
)
# metafor escalc(measure="RR"): log risk ratio and its large-sample variance
N1 = BCG.tpos + BCG.tneg
N2 = BCG.cpos + BCG.cneg
YI = np.log((BCG.tpos / N1) / (BCG.cpos / N2)).to_numpy()
VI = (1 / BCG.tpos - 1 / N1 + 1 / BCG.cpos - 1 / N2).to_numpy()

# dat.nielweise2007 (Niel-Weise et al. 2007; Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046),
# wviechtb/metadat data-raw/dat.nielweise2007.txt: ai/n1i anti-infective, ci/n2i standard arm
NIELWEISE_AI = [0, 1, 2, 0, 5, 1, 1, 1, 1, 1, 0, 0, 3, 6, 0, 0, 1, 4]
NIELWEISE_N1I = [116, 44, 208, 130, 151, 98, 174, 74, 97, 113, 66, 70, 188, 187, 118, 252, 345, 64]
NIELWEISE_CI = [3, 3, 9, 7, 6, 4, 3, 2, 19, 2, 7, 1, 5, 11, 0, 1, 3, 1]
NIELWEISE_N2I = [
    117,
    35,
    195,
    136,
    157,
    139,
    177,
    39,
    103,
    122,
    64,
    58,
    175,
    180,
    105,
    262,
    362,
    69,
]


def test_bcg_log_risk_ratios_match_metafor_escalc() -> None:
    # metafor-project.org "tips:testing_factors_lincoms": escalc(measure="RR", ..., data=dat.bcg)
    np.testing.assert_array_equal(
        np.round(YI, 4),
        [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209,
         0.0120, -0.4694, -1.3713, -0.3394, 0.4459, -0.0173],
    )  # fmt: skip
    np.testing.assert_array_equal(
        np.round(VI, 4),
        [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230,
         0.0040, 0.0564, 0.0730, 0.0124, 0.5325, 0.0714],
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# rma on dat.bcg
# ---------------------------------------------------------------------------------------------


def test_reml_matches_metafor() -> None:
    # metafor rma(yi, vi, data=dat, method="REML") and predict(res) (values from the issue)
    res = rma(YI, VI, method="REML")
    assert res.estimate == pytest.approx(-0.714532, abs=1e-6)
    assert res.se == pytest.approx(0.179782, abs=1e-6)
    assert res.ci_low == pytest.approx(-1.066898, abs=1e-6)
    assert res.ci_high == pytest.approx(-0.362167, abs=1e-6)
    assert res.tau2 == pytest.approx(0.313243, abs=1e-6)
    assert res.i2 == pytest.approx(92.2214, abs=1e-4)
    assert res.h2 == pytest.approx(12.8558, abs=1e-4)
    assert res.q == pytest.approx(152.2330, abs=1e-4)
    assert res.q_df == 12 and res.k == 13
    assert res.pi_low == pytest.approx(-1.866692, abs=1e-6)
    assert res.pi_high == pytest.approx(0.437628, abs=1e-6)
    assert res.zval is not None and res.tval is None and res.df is None
    # z-based CI and PI (metafor predict() with test="z")
    z = stats.norm.isf(0.025)
    assert res.pi_high - res.estimate == pytest.approx(z * math.sqrt(res.tau2 + res.se**2))


def test_reml_tau2_solves_the_reml_score_equation() -> None:
    # Viechtbauer (2005): d l_R / d tau^2 = 1/2 [sum w^2 (y - mu)^2 - tr P] = 0 at the estimate
    res = rma(YI, VI, method="REML")
    w = 1 / (VI + res.tau2)
    trace_p = w.sum() - (w**2).sum() / w.sum()
    assert np.sum(w**2 * (YI - res.estimate) ** 2) - trace_p == pytest.approx(0, abs=1e-8)
    # and it maximises metafor's REML log-likelihood
    x = np.ones((13, 1))
    best = _loglik(YI, VI, x, res.tau2, reml=True)
    for delta in (-1e-3, 1e-3):
        assert _loglik(YI, VI, x, res.tau2 + delta, reml=True) < best


def test_dl_matches_metafor() -> None:
    # values from the issue; I^2, H^2: metafor tests/testthat/test_misc_confint.r
    res = rma(YI, VI, method="DL")
    assert res.tau2 == pytest.approx(0.308760, abs=1e-6)
    assert res.estimate == pytest.approx(-0.714117, abs=1e-6)
    assert res.i2 == pytest.approx(92.1173, abs=1e-4)
    assert res.h2 == pytest.approx(12.6861, abs=1e-4)
    # metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r (Stata metan, 4 decimals)
    assert res.ci_low == pytest.approx(-1.0644, abs=5e-5)
    assert res.ci_high == pytest.approx(-0.3638, abs=5e-5)
    assert res.zval == pytest.approx(-3.9952, abs=5e-5)


def test_equal_effect_matches_metafor() -> None:
    # metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r, method="FE"
    res = rma(YI, VI, method="EE")
    assert res.estimate == pytest.approx(-0.4303, abs=5e-5)
    assert res.ci_low == pytest.approx(-0.5097, abs=5e-5)
    assert res.ci_high == pytest.approx(-0.3509, abs=5e-5)
    assert res.zval == pytest.approx(-10.6247, abs=5e-5)
    assert res.q == pytest.approx(152.2330, abs=5e-5)
    assert res.tau2 == 0 and res.tau2_se is None
    assert res.i2 == pytest.approx(100 * (res.q - 12) / res.q)
    assert res.h2 == pytest.approx(res.q / 12)


def test_knapp_hartung_matches_metafor() -> None:
    # metafor rma(yi, vi, method="REML", test="knha") (values from the issue)
    res = rma(YI, VI, method="REML", test="knha")
    assert res.ci_low == pytest.approx(-1.108444, abs=1e-6)
    assert res.ci_high == pytest.approx(-0.320621, abs=1e-6)
    assert res.tval is not None and res.zval is None and res.df == 12
    # PI uses t(k - 1) with the adjusted se (metafor predict(): crit = qt(.975, df = k - p))
    crit = stats.t.isf(0.025, 12)
    assert res.pi_high - res.estimate == pytest.approx(crit * math.sqrt(res.tau2 + res.se**2))


def test_knapp_hartung_scale_is_not_truncated_at_one() -> None:
    # nearly homogeneous estimates: the scale factor is < 1, so the knha se is smaller (metafor)
    yi = np.array([0.10, 0.11, 0.09, 0.10, 0.105])
    vi = np.array([0.01, 0.02, 0.015, 0.01, 0.03])
    z_fit, t_fit = rma(yi, vi, test="z"), rma(yi, vi, test="knha")
    w = 1 / (vi + z_fit.tau2)
    scale = np.sum(w * (yi - z_fit.estimate) ** 2) / 4
    assert scale < 1
    assert t_fit.se == pytest.approx(z_fit.se * math.sqrt(scale), rel=1e-12)


def test_leave1out_matches_metafor_for_trial_1() -> None:
    # metafor leave1out(rma(yi, vi, data=dat)), row 1 (values from the issue)
    table = leave1out(YI, VI, labels=[f"trial {i}" for i in range(1, 14)])
    assert len(table) == 13
    first = table.iloc[0]
    assert first["omitted"] == "trial 1"
    assert first["estimate"] == pytest.approx(-0.707084, abs=1e-6)
    assert first["ci_low"] == pytest.approx(-1.079401, abs=1e-6)
    assert first["ci_high"] == pytest.approx(-0.334767, abs=1e-6)
    assert first["tau2"] == pytest.approx(0.336157, abs=1e-6)
    assert table.iloc[7]["estimate"] == pytest.approx(
        rma(np.delete(YI, 7), np.delete(VI, 7)).estimate
    )


def test_paule_mandel_solves_its_estimating_equation() -> None:
    res = rma(YI, VI, method="PM")
    w = 1 / (VI + res.tau2)
    mu = np.sum(w * YI) / w.sum()
    assert np.sum(w * (YI - mu) ** 2) == pytest.approx(12, abs=1e-9)  # generalised Q = k - 1
    # metafor tests/testthat/test_misc_rma_uni.r: method="DLIT" and "SJIT" give tau^2 = 0.3181;
    # iterated DL converges to the PM solution (comment on "DLIT" in metafor R/rma.uni.r)
    assert round(res.tau2, 4) == 0.3181


def test_ml_matches_metafor_loglik_and_solves_the_score_equation() -> None:
    res = rma(YI, VI, method="ML")
    # metafor tests/testthat/test_misc_fitstats.r: logLik(rma(yi, vi, method="ML")) = -12.6651
    assert res.loglik == pytest.approx(-12.6651, abs=5e-5)
    w = 1 / (VI + res.tau2)
    # ML score: 1/2 [sum w^2 (y - mu)^2 - sum w] = 0
    assert np.sum(w**2 * (YI - res.estimate) ** 2) - w.sum() == pytest.approx(0, abs=1e-8)
    assert res.tau2_se == pytest.approx(math.sqrt(2 / np.sum(w**2)))


def test_smcr_pooling_matches_metafor() -> None:
    # metafor tests/testthat/test_misc_rma_uni.r: rma() on the Morris (2008) SMCR: tau^2 = 0.3164
    effect = smcr(
        pre_mean=[30.6, 23.5, 0.5, 53.4, 35.6],
        post_mean=[38.5, 26.8, 0.7, 75.9, 36.0],
        pre_sd=[15.0, 3.1, 0.1, 14.5, 4.7],
        n=[20, 50, 9, 10, 14],
        r=[0.47, 0.64, 0.77, 0.89, 0.44],
    )
    assert round(rma(*effect).tau2, 4) == 0.3164


def test_level_as_fraction_or_percent() -> None:
    ninety = rma(YI, VI, level=90)
    assert ninety.ci_high - ninety.estimate == pytest.approx(stats.norm.isf(0.05) * ninety.se)
    assert rma(YI, VI, level=0.90).ci_low == ninety.ci_low


# ---------------------------------------------------------------------------------------------
# k = 1 and invalid input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["REML", "ML", "DL", "PM", "EE"])
def test_single_study_is_returned_as_is_with_metafor_conventions(method: str) -> None:
    res = rma([0.4], [0.09], method=method)
    assert res.estimate == 0.4 and res.se == pytest.approx(0.3)
    assert res.tau2 == 0.0 and res.q == 0.0 and res.q_df == 0 and res.q_pvalue == 1.0
    assert res.i2 == 0.0 and res.h2 == 1.0  # metafor: QE = 0, QEp = 1, I2 = 0, H2 = 1 if k = p
    if method == "EE":
        assert res.pi_low is None and res.pi_high is None
    else:  # metafor predict() on a one-study RE model: the PI is the CI
        assert (res.pi_low, res.pi_high) == (res.ci_low, res.ci_high)
    assert any("k = 1" in note for note in res.notes)
    assert not any(np.isnan(v) for v in (res.ci_low, res.ci_high, res.pval))


def test_knapp_hartung_with_one_study_raises() -> None:
    with pytest.raises(ValueError, match="knha"):
        rma([0.4], [0.09], test="knha")


@pytest.mark.parametrize(
    ("yi", "vi", "kwargs", "message"),
    [
        ([0.1, 0.2], [0.1, -0.2], {}, "vi must be > 0"),
        ([0.1, 0.2], [0.1, 0.0], {}, "vi must be > 0"),
        ([0.1, 0.2, 0.3], [0.1, 0.2], {}, "lengths differ"),
        ([0.1, np.nan], [0.1, 0.2], {}, r"missing values in 'yi' at row\(s\) 1\."),
        ([0.1, np.inf], [0.1, 0.2], {}, "yi contains non-finite"),
        ([0.1, 0.2], [0.1, np.inf], {}, "vi contains non-finite"),
        ([], [], {}, "yi is empty"),
        ([0.1, 0.2], None, {}, "vi .* is missing"),
        ([0.1, 0.2], [0.1, 0.2], {"na_action": "drop"}, "na_action"),
        ([0.1, 0.2], [0.1, 0.2], {"slab": ["a"]}, "slab has 1 labels for 2 studies"),
        ([0.1, 0.2], [0.1, 0.2], {"method": "HS"}, "method"),
        ([0.1, 0.2], [0.1, 0.2], {"test": "t"}, "test"),
        ([0.1, 0.2], [0.1, 0.2], {"level": 0}, "level"),
    ],
)
def test_invalid_input_raises(yi, vi, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rma(yi, vi, **kwargs)


# ---------------------------------------------------------------------------------------------
# Meta-regression engine and the categorical moderator test
# ---------------------------------------------------------------------------------------------


def _alloc_dummies() -> np.ndarray:
    alloc = BCG.alloc.to_numpy()
    return np.column_stack([alloc == "random", alloc == "systematic"]).astype(float)


@pytest.mark.parametrize(("test", "qm", "qm_p"), [("z", 1.2850, 0.5260), ("knha", 0.6007, 0.5690)])
def test_engine_matches_metafor_anova_for_alloc_given_ablat(test: str, qm: float, qm_p: float):
    # metafor tests/testthat/test_misc_anova.r: rma(yi, vi, mods = ~ ablat + alloc) then
    # anova(res, btt=3:4): QM = 1.2850 (p .5260); with test="knha": F = 0.6007 (p .5690)
    x = np.column_stack([np.ones(13), BCG.ablat, _alloc_dummies()])
    fit = _fit(YI, VI, x, "REML", test)
    b, v = fit.beta[2:], fit.vb[2:, 2:]
    wald = float(b @ np.linalg.solve(v, b))
    if test == "z":
        assert wald == pytest.approx(qm, abs=5e-5)
        assert stats.chi2.sf(wald, 2) == pytest.approx(qm_p, abs=5e-5)
    else:
        assert wald / 2 == pytest.approx(qm, abs=5e-5)
        assert stats.f.sf(wald / 2, 2, 9) == pytest.approx(qm_p, abs=5e-5)


def test_engine_matches_metafor_factor_year_ablat_model() -> None:
    # metafor-project.org "tips:testing_factors_lincoms": rma(yi, vi, mods = ~ factor(alloc) +
    # year + ablat) with year - 1948, ablat - 13: tau^2 = 0.1796 (SE = 0.1425), I^2 = 73.09%,
    # H^2 = 3.72
    x = np.column_stack([np.ones(13), _alloc_dummies(), BCG.year - 1948, BCG.ablat - 13])
    fit = _fit(YI, VI, x, "REML", "z")
    assert fit.tau2 == pytest.approx(0.1796, abs=5e-5)
    assert fit.tau2_se == pytest.approx(0.1425, abs=5e-5)
    assert fit.i2 == pytest.approx(73.09, abs=5e-3)
    assert fit.h2 == pytest.approx(3.72, abs=5e-3)


def test_moderator_test_alloc() -> None:
    res = moderator_test(YI, VI, BCG.alloc, method="REML")
    assert res.levels == ("alternate", "random", "systematic")  # R factor order
    assert res.qm_df == 2 and res.qm_df_den is None and res.qe_df == 10 and res.k == 13
    assert res.qm_pvalue == pytest.approx(stats.chi2.sf(res.qm, 2))
    # REML score equation with the design matrix (log|X'WX| term included): flat at tau^2-hat
    x = np.column_stack([np.ones(13), _alloc_dummies()])

    def restricted(t2: float) -> float:
        return _loglik(YI, VI, x, t2, reml=True)

    h = 1e-6
    slope = (restricted(res.tau2 + h) - restricted(res.tau2 - h)) / (2 * h)
    assert slope == pytest.approx(0, abs=1e-6)
    # the residual Q of a factor model is the sum of the within-level Q statistics
    within_q = sum(
        rma(YI[(BCG.alloc == g).to_numpy()], VI[(BCG.alloc == g).to_numpy()], method="EE").q
        for g in res.levels
    )
    assert res.qe == pytest.approx(within_q, rel=1e-10)
    # level means: intercept (reference) plus the dummy coefficients; k per level
    subgroups = res.subgroups.set_index("group")
    assert list(subgroups["k"]) == [2, 7, 4]
    coefficients = res.coefficients["estimate"].to_numpy()
    assert subgroups.loc["random", "estimate"] == pytest.approx(coefficients[0] + coefficients[1])
    assert subgroups.loc["alternate", "separate_tau2"] == pytest.approx(rma(YI[4:6], VI[4:6]).tau2)
    assert res.to_frame().shape[0] == 1


def test_moderator_test_with_two_groups_is_the_squared_z_of_the_difference() -> None:
    groups = np.where(BCG.ablat > 30, "far", "near")
    res = moderator_test(YI, VI, groups)
    difference = res.coefficients.iloc[1]
    assert res.qm == pytest.approx((difference["estimate"] / difference["se"]) ** 2, rel=1e-12)
    assert res.qm_pvalue == pytest.approx(difference["pval"], rel=1e-10)
    knha = moderator_test(YI, VI, groups, test="knha")
    assert knha.qm_df_den == 11
    assert knha.qm == pytest.approx(knha.coefficients.iloc[1]["statistic"] ** 2, rel=1e-12)


def test_moderator_test_rejects_degenerate_groupings() -> None:
    with pytest.raises(ValueError, match="single level"):
        moderator_test(YI, VI, ["a"] * 13)
    with pytest.raises(ValueError, match="entries"):
        moderator_test(YI, VI, ["a", "b"])
    with pytest.raises(ValueError, match="cannot estimate"):
        moderator_test(YI[:3], VI[:3], ["a", "b", "c"])


# ---------------------------------------------------------------------------------------------
# Pooled proportions (Stijnen et al. 2010, dat.nielweise2007)
# ---------------------------------------------------------------------------------------------


def test_glmm_matches_metafor_rma_glmm_treatment_arm() -> None:
    # metafor rma.glmm(measure="PLO", xi=ai, ni=n1i, data=dat.nielweise2007) (values from the
    # issue; metafor tests/testthat/test_analysis_example_stijnen2010.r: -4.81, se 0.36,
    # tau^2 0.83, 0.008 [0.004, 0.016])
    res = rma_glmm_proportions(NIELWEISE_AI, NIELWEISE_N1I)
    assert res.logit_estimate == pytest.approx(-4.8121, abs=1e-4)
    assert res.tau2 == pytest.approx(0.8265, abs=1e-4)
    assert round(res.logit_se, 2) == 0.36
    assert res.proportion == pytest.approx(0.0081, abs=5e-5)
    assert res.ci_low == pytest.approx(0.0040, abs=5e-5)
    assert res.ci_high == pytest.approx(0.0161, abs=5e-5)
    assert res.n_nodes == 7 and res.model == "binomial-normal GLMM"
    assert res.pi_low < res.ci_low < res.proportion < res.ci_high < res.pi_high


def test_glmm_matches_metafor_rma_glmm_control_arm() -> None:
    # metafor tests/testthat/test_analysis_example_stijnen2010.r, xi=ci, ni=n2i
    res = rma_glmm_proportions(NIELWEISE_CI, NIELWEISE_N2I)
    assert round(res.logit_estimate, 2) == -3.50
    assert round(res.logit_se, 2) == 0.26
    assert round(res.tau2, 2) == 0.81
    assert (round(res.proportion, 3), round(res.ci_low, 3), round(res.ci_high, 3)) == (
        0.029,
        0.018,
        0.048,
    )


def test_glmm_adaptive_quadrature_matches_direct_integration() -> None:
    # the AGQ marginal likelihood equals the integral computed by scipy's adaptive quadrature
    x = np.array(NIELWEISE_AI, dtype=float)
    n = np.array(NIELWEISE_N1I, dtype=float)
    mu, tau = -4.5, 1.1
    nodes, weights = np.polynomial.hermite.hermgauss(30)
    agq = _glmm_loglik(mu, tau, x, n, nodes, np.log(weights), _log_binomial(x, n))
    direct = 0.0
    for xi, ni in zip(x, n, strict=True):
        value, _ = integrate.quad(
            lambda u, xi=xi, ni=ni: (
                stats.binom.pmf(xi, ni, special.expit(mu + tau * u)) * stats.norm.pdf(u)
            ),
            -12,
            12,
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        direct += math.log(value)
    assert agq == pytest.approx(direct, abs=1e-8)


def test_glmm_with_more_nodes_converges_to_the_exact_likelihood_fit() -> None:
    fine = rma_glmm_proportions(NIELWEISE_AI, NIELWEISE_N1I, n_nodes=31)
    finer = rma_glmm_proportions(NIELWEISE_AI, NIELWEISE_N1I, n_nodes=51)
    assert fine.logit_estimate == pytest.approx(finer.logit_estimate, abs=1e-7)
    assert fine.tau2 == pytest.approx(finer.tau2, abs=1e-7)
    # metafor's 7-point rule differs from the exact fit in the 4th decimal of tau^2
    assert abs(rma_glmm_proportions(NIELWEISE_AI, NIELWEISE_N1I).tau2 - fine.tau2) > 5e-4


def test_glmm_homogeneous_data_reduces_to_logistic_regression() -> None:
    res = rma_glmm_proportions([5, 5, 5, 5], [100, 100, 100, 100])
    assert res.tau2 == 0.0
    assert res.logit_estimate == pytest.approx(special.logit(0.05), abs=1e-7)
    assert res.logit_se == pytest.approx(1 / math.sqrt(400 * 0.05 * 0.95), rel=1e-5)
    assert any("tau^2 estimated at 0" in note for note in res.notes)


def test_glmm_all_zero_events_raises_with_the_alternative() -> None:
    with pytest.raises(ValueError, match=r"no maximum.*clopper_pearson_ci\(0, 30\)"):
        rma_glmm_proportions([0, 0, 0], [10, 10, 10])
    with pytest.raises(ValueError, match="events = totals"):
        rma_glmm_proportions([10, 5], [10, 5])


def test_glmm_needs_two_studies_and_valid_counts() -> None:
    with pytest.raises(ValueError, match="k >= 2"):
        rma_glmm_proportions([3], [10])
    with pytest.raises(ValueError, match="events must be <= totals"):
        rma_glmm_proportions([3, 12], [10, 10])
    with pytest.raises(ValueError, match="lengths differ"):
        rma_glmm_proportions([3, 2], [10, 10, 10])
    with pytest.raises(ValueError, match="n_nodes"):
        rma_glmm_proportions([3, 2], [10, 10], n_nodes=0)


def test_logit_reml_matches_metafor_treatment_arm() -> None:
    # values from the issue; metafor tests/testthat/test_analysis_example_stijnen2010.r:
    # rma(measure="PLO", xi=ai, ni=n1i): -4.26, se 0.26, tau^2 0.393, 0.014 [0.008, 0.023]
    res = rma_logit_proportions(NIELWEISE_AI, NIELWEISE_N1I)
    assert res.logit_estimate == pytest.approx(-4.2604, abs=1e-4)
    assert res.tau2 == pytest.approx(0.3928, abs=1e-4)
    assert round(res.logit_se, 2) == 0.26
    assert (round(res.proportion, 3), round(res.ci_low, 3), round(res.ci_high, 3)) == (
        0.014,
        0.008,
        0.023,
    )
    effect = logit_proportion(NIELWEISE_AI, NIELWEISE_N1I)
    assert res.logit_estimate == pytest.approx(rma(*effect).estimate, abs=1e-15)


def test_logit_reml_matches_metafor_control_arm() -> None:
    # metafor tests/testthat/test_analysis_example_stijnen2010.r: rma(measure="PLO", xi=ci,
    # ni=n2i): -3.30, se 0.24, tau^2 0.663, 0.036 [0.023, 0.055]
    res = rma_logit_proportions(NIELWEISE_CI, NIELWEISE_N2I)
    assert round(res.logit_estimate, 2) == -3.30
    assert round(res.logit_se, 2) == 0.24
    assert round(res.tau2, 3) == 0.663
    assert (round(res.proportion, 3), round(res.ci_low, 3), round(res.ci_high, 3)) == (
        0.036,
        0.023,
        0.055,
    )
    assert res.to_frame().shape == (1, len(res.__dataclass_fields__))
    # an equal-effects model has no prediction interval, on either scale
    equal = rma_logit_proportions(NIELWEISE_CI, NIELWEISE_N2I, method="EE")
    assert equal.pi_low is None and equal.pi_high is None


def test_ml_returns_the_global_maximum_of_a_bimodal_likelihood() -> None:
    # one very precise study (v = 0.004) makes the ML likelihood bimodal: a local maximum at
    # tau^2 = 0 (negative score there) and the global one near 0.06; Fisher scoring alone can
    # stop at the wrong one
    yi = np.array([1.082, -0.875, 0.547, -0.026, -0.206, 0.022, -0.367, 0.49, 0.62, 0.112, 0.639,
                   -0.863, 0.665])  # fmt: skip
    vi = np.array([0.866, 0.368, 0.726, 0.375, 0.492, 0.331, 0.618, 0.004, 0.569, 0.372, 0.83,
                   0.379, 0.897])  # fmt: skip
    w = 1 / vi
    mu_fixed = np.sum(w * yi) / w.sum()
    assert np.sum(w**2 * (yi - mu_fixed) ** 2) - w.sum() < 0  # tau^2 = 0 is a local maximum
    x = np.ones((13, 1))
    grid = np.linspace(0, 0.5, 5001)
    brute = grid[np.argmax([_loglik(yi, vi, x, t2, reml=False) for t2 in grid])]
    res = rma(yi, vi, method="ML")
    assert res.tau2 == pytest.approx(brute, abs=1e-4)
    assert res.tau2 > 0.05
    assert res.loglik > _loglik(yi, vi, x, 0.0, reml=False) + 0.1
    assert any("multimodal" in note for note in res.notes)  # metafor would report tau^2 = 0
    assert not any("multimodal" in note for note in rma(YI, VI, method="ML").notes)


# ---------------------------------------------------------------------------------------------
# Against metafor fixtures (tests/fixtures/metafor, made by generate.R there)
# ---------------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "metafor"
RMA_REFERENCE = pd.read_csv(FIXTURES / "rma.csv")
DAT_BCG = pd.read_csv(FIXTURES / "dat_bcg.csv")
DAT_NORMAND = pd.read_csv(FIXTURES / "dat_normand1999.csv")


def escalc_output(name: str) -> EffectSizes:
    """The effect sizes generate.R pools, computed here by escalc from the same data."""
    dataset, measure = name.split("_")[:2]
    if dataset == "bcg":
        return escalc(measure, ai=DAT_BCG.tpos, bi=DAT_BCG.tneg, ci=DAT_BCG.cpos, di=DAT_BCG.cneg)
    d = DAT_NORMAND
    return escalc(measure, m1i=d.m1i, sd1i=d.sd1i, n1i=d.n1i, m2i=d.m2i, sd2i=d.sd2i, n2i=d.n2i)


def console(name: str) -> list[str]:
    """metafor's console output: lines without trailing blanks, without blank first/last lines."""
    lines = [line.rstrip() for line in (FIXTURES / name).read_text("utf-8").splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def close(ours: float | None, reference: float) -> bool:
    if pd.isna(reference):
        return ours is None
    if math.isinf(reference):
        return ours == reference
    # relative agreement; an absolute margin only where metafor's value is 0 up to rounding
    return ours == pytest.approx(reference, rel=1e-9, abs=1e-12 if abs(reference) < 1e-12 else 0)


@pytest.mark.parametrize(
    "row",
    [row for _, row in RMA_REFERENCE.iterrows()],
    ids=lambda r: f"{r.effects}-{r.method}-{r.test}",
)
def test_rma_on_escalc_output_matches_metafor(row: pd.Series) -> None:
    effects = escalc_output(row.effects)
    if row.effects.endswith("study1"):
        effects = EffectSizes(effects.yi[:1], effects.vi[:1], effects.measure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = rma(effects, method=row.method, test=row.test)
    statistic = res.zval if row.test == "z" else res.tval
    ours = {
        "k": res.k, "estimate": res.estimate, "se": res.se, "zval": statistic, "pval": res.pval,
        "ci_lb": res.ci_low, "ci_ub": res.ci_high, "pi_lb": res.pi_low, "pi_ub": res.pi_high,
        "tau2": res.tau2, "se_tau2": res.tau2_se, "I2": res.i2, "H2": res.h2, "QE": res.q,
        "QEp": res.q_pvalue, "logLik": res.loglik, "deviance": res.deviance, "AIC": res.aic,
        "BIC": res.bic, "AICc": res.aicc,
    }  # fmt: skip
    wrong = {key: (value, row[key]) for key, value in ours.items() if not close(value, row[key])}
    assert not wrong
    assert res.measure == row.effects.split("_")[1]


def test_equal_effects_model_has_no_prediction_interval() -> None:
    # metafor: predict(rma(..., method="EE")) has no pi.lb / pi.ub (NA in the fixture)
    reference = RMA_REFERENCE[RMA_REFERENCE["method"] == "EE"]
    assert reference["pi_lb"].isna().all() and reference["pi_ub"].isna().all()
    res = rma(escalc_output("bcg_RR"), method="EE")
    assert res.pi_low is None and res.pi_high is None
    assert list(res.predict().columns) == ["pred", "se", "ci_low", "ci_high"]
    assert "pi_low" not in set(res.to_frame()["quantity"])
    assert "pi.lb" not in str(res)


@pytest.mark.parametrize(
    "row",
    [row for _, row in pd.read_csv(FIXTURES / "rma_rescaled_bcg_rr.csv").iterrows()],
    ids=lambda r: f"{r.method}-scale{r.scale:g}",
)
def test_tau2_converges_relative_to_the_data_scale(row: pd.Series) -> None:
    # the same log risk ratios in other units: yi * s, vi * s^2 (every vi ~ 1e-12 for s = 1e-5);
    # an absolute 1e-10 tolerance stops REML near its start value there
    reference = pd.read_csv(FIXTURES / "escalc.csv").query("dataset == 'bcg' and measure == 'RR'")
    yi, vi = reference["yi"].to_numpy(), reference["vi"].to_numpy()
    res = rma(yi * row.scale, vi * row.scale**2, method=row.method)
    assert res.tau2 == pytest.approx(row.tau2, rel=1e-8, abs=0)  # (pytest's abs default: 1e-12)
    assert res.estimate == pytest.approx(row.estimate, rel=1e-9, abs=0)
    assert res.se == pytest.approx(row.se, rel=1e-9, abs=0)
    assert res.i2 == pytest.approx(row.I2, rel=1e-9)


def test_print_reads_like_metafor_print_and_predict() -> None:
    for test, suffix in (("z", ""), ("knha", "_knha")):
        lines = str(rma(escalc_output("bcg_RR"), test=test)).splitlines()
        printed = console(f"print_bcg_rr_reml{suffix}.txt")
        assert lines[: len(printed)] == printed
        predicted = console(f"predict_bcg_rr_reml{suffix}.txt")
        assert lines[-len(predicted) :] == predicted
        assert lines[len(printed) : -len(predicted)] == ["", "Prediction (predict):", ""]


def test_print_of_equal_effects_and_single_study_models_as_metafor() -> None:
    effects = escalc_output("bcg_RR")
    assert str(rma(effects, method="EE")).splitlines() == console("print_bcg_rr_ee.txt")
    single = str(rma(effects.yi[:1], effects.vi[:1])).splitlines()
    printed = console("print_bcg_rr_study1.txt")
    assert single[: len(printed)] == printed
    assert "Notes:" in single  # k = 1 conventions are explained


@pytest.mark.parametrize(
    ("effects", "method", "fixture"),
    [
        ("bcg_RR", "REML", "summary_bcg_rr_reml.txt"),
        ("bcg_RR", "EE", "summary_bcg_rr_ee.txt"),
        ("normand1999_SMD", "DL", "summary_normand1999_smd_dl.txt"),
    ],
)
def test_summary_adds_metafors_fit_statistics(effects: str, method: str, fixture: str) -> None:
    summary = rma(escalc_output(effects), method=method).summary()
    expected = console(fixture)
    assert str(summary).splitlines()[: len(expected)] == expected
    assert repr(summary) == str(summary)
    assert list(summary.fit_statistics.columns) == ["logLik", "deviance", "AIC", "BIC", "AICc"]
    assert "logLik" in summary._repr_html_()


def test_to_frame_is_one_row_per_quantity() -> None:
    res = rma(escalc_output("bcg_RR"), test="knha")
    frame = res.to_frame()
    assert list(frame.columns) == ["quantity", "value", "description"]
    assert frame["quantity"].is_unique and len(frame) > 15
    values = frame.set_index("quantity")["value"]
    for name in ("estimate", "se", "tval", "pval", "ci_low", "pi_high", "tau2", "i2", "q", "aicc"):
        assert values[name] == getattr(res, name)
    assert values["df"] == 12 and values["tau"] == res.tau
    assert frame.attrs["method"] == "REML" and frame.attrs["measure"] == "RR"


def test_notebook_display_is_escaped_html_with_the_printed_numbers() -> None:
    res = rma(escalc_output("bcg_RR"))
    page = res._repr_html_()
    assert page.startswith('<div class="rma-result">') and "<table>" in page
    assert "p-val &lt; .0001" in page and "<.0001" not in page
    for number in ("-0.7145", "0.1798", "0.3132", "92.22%", "-1.8667", "0.4376"):
        assert number in page


def test_reprs_are_one_informative_line() -> None:
    effects = escalc_output("bcg_RR")
    res = rma(effects)
    texts = {
        repr(effects): "EffectSizes(measure='RR', k=13",
        repr(res): "RmaResult(REML, z; k = 13: estimate -0.7145 [-1.0669, -0.3622]",
        repr(moderator_test(YI, VI, BCG.alloc)): "ModeratorTestResult(REML, z; k = 13",
        repr(rma_logit_proportions(NIELWEISE_CI, NIELWEISE_N2I)): "PooledProportionResult(",
    }
    for text, start in texts.items():
        assert text.startswith(start) and "\n" not in text and len(text) < 250


def test_weights_match_metafor() -> None:
    reference = pd.read_csv(FIXTURES / "weights_bcg_rr.csv")
    effects = escalc_output("bcg_RR")
    np.testing.assert_allclose(rma(effects).weights, reference["REML"], rtol=1e-9)
    np.testing.assert_allclose(rma(effects, method="EE").weights, reference["EE"], rtol=1e-12)


def test_predict_with_a_back_transformation() -> None:
    res = rma(escalc_output("bcg_RR"))
    ratio = res.predict(transf=np.exp)
    assert list(ratio.columns) == ["pred", "ci_low", "ci_high", "pi_low", "pi_high"]
    np.testing.assert_allclose(
        ratio.iloc[0], np.exp([res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high])
    )


def test_rma_takes_escalc_output_as_effect_sizes_or_data_frame() -> None:
    effects = escalc_output("bcg_RR")
    frame = escalc("RR", ai="tpos", bi="tneg", ci="cpos", di="cneg", data=DAT_BCG)
    from_arrays = rma(effects.yi, effects.vi)
    for res in (rma(effects), rma(frame, slab="author")):
        assert res.estimate == from_arrays.estimate and res.tau2 == from_arrays.tau2
        assert res.measure == "RR"
    assert rma(frame, slab="author").labels[0] == "Aronson"
    assert rma(effects).labels[-1] == "Study 13"
    np.testing.assert_array_equal(rma(effects).ni, (DAT_BCG.tpos + DAT_BCG.tneg + DAT_BCG.cpos
                                                    + DAT_BCG.cneg))  # fmt: skip
    with pytest.raises(ValueError, match="not both"):
        rma(effects, effects.vi)
    with pytest.raises(ValueError, match="lacks"):
        rma(DAT_BCG)


def test_leave1out_matches_metafor_and_takes_the_fitted_model() -> None:
    reference = pd.read_csv(FIXTURES / "leave1out_bcg_rr.csv")
    res = rma(escalc_output("bcg_RR"))
    table = leave1out(res)
    assert isinstance(table, Leave1outResult)
    assert list(table["omitted"]) == [f"Study {i}" for i in reference["omitted"]]
    for ours, theirs in (
        ("estimate", "estimate"), ("se", "se"), ("statistic", "zval"), ("pval", "pval"),
        ("ci_low", "ci.lb"), ("ci_high", "ci.ub"), ("q", "Q"), ("q_pvalue", "Qp"),
        ("tau2", "tau2"), ("i2", "I2"), ("h2", "H2"),
    ):  # fmt: skip
        np.testing.assert_allclose(table[ours], reference[theirs], rtol=1e-9, atol=1e-300)
    pd.testing.assert_frame_equal(
        pd.DataFrame(table), pd.DataFrame(leave1out(res.yi, res.vi)), check_exact=True
    )
    text = repr(table)
    assert text.startswith("Leave-one-out (REML, z): 13 fits") and "-0.7071" in text
    assert type(table[table["estimate"] < 0]) is pd.DataFrame  # derived tables are plain
    assert "<table" in table._repr_html_()
    with pytest.raises(ValueError, match="own studies"):
        leave1out(res, method="DL")
    equal = leave1out(res.yi, res.vi, method="EE")
    assert equal["pi_low"].isna().all()


# ---------------------------------------------------------------------------------------------
# Missing values (metafor's na.action): strict by default, "omit" drops with a warning
# ---------------------------------------------------------------------------------------------


def test_rma_refuses_missing_values_naming_the_rows() -> None:
    yi, vi = YI.copy(), VI.copy()
    yi[2], vi[7] = np.nan, np.nan
    with pytest.raises(
        ValueError, match=r"missing values in 'yi' at row\(s\) 2; 'vi' at row\(s\) 7"
    ):
        rma(yi, vi)
    frame = pd.DataFrame({"yi": yi, "vi": vi}, index=[f"trial {i}" for i in range(1, 14)])
    with pytest.raises(ValueError, match="'yi' at row\\(s\\) trial 3"):
        rma(frame)


def test_rma_omits_incomplete_rows_with_a_warning_listing_them() -> None:
    yi, vi = YI.copy(), VI.copy()
    yi[2], vi[7] = np.nan, np.nan
    with pytest.warns(
        MissingValuesOmitted, match=r"omitted 2 of 13 rows .*: 2 \('yi'\), 7 \('vi'\)"
    ):
        res = rma(yi, vi, na_action="omit")
    complete = np.setdiff1d(np.arange(13), [2, 7])
    expected = rma(YI[complete], VI[complete])
    assert res.k == 11 and res.estimate == expected.estimate and res.tau2 == expected.tau2
    assert res.labels[:3] == ("Study 1", "Study 2", "Study 4")  # each keeps its own number
    with pytest.raises(ValueError, match="every row has a missing value"):
        rma([np.nan], [0.1], na_action="omit")


def test_missing_value_policy_in_the_other_pooling_functions() -> None:
    groups = list(BCG.alloc)
    groups[4] = None
    with pytest.raises(ValueError, match=r"missing values in 'groups' at row\(s\) 4"):
        moderator_test(YI, VI, groups)
    with pytest.warns(MissingValuesOmitted, match="4"):
        fit = moderator_test(YI, VI, groups, na_action="omit")
    assert fit.k == 12 and fit.subgroups["k"].tolist() == [1, 7, 4]
    events = np.array(NIELWEISE_AI, dtype=float)
    events[0] = np.nan
    with pytest.raises(ValueError, match=r"'events' at row\(s\) 0"):
        rma_logit_proportions(events, NIELWEISE_N1I)
    with pytest.warns(MissingValuesOmitted):
        pooled = rma_glmm_proportions(events, NIELWEISE_N1I, na_action="omit")
    assert pooled.k == 17
    with pytest.warns(MissingValuesOmitted):
        assert leave1out(YI[:3].tolist() + [np.nan], VI[:4], na_action="omit").shape[0] == 3


def test_categorical_groups_keep_their_level_order() -> None:
    order = ["systematic", "random", "alternate"]
    res = moderator_test(YI, VI, pd.Categorical(BCG.alloc, categories=order))
    assert res.levels == tuple(order)


def test_fixture_readme_shows_the_r_code_that_made_the_fixtures() -> None:
    readme = (FIXTURES / "README.md").read_text("utf-8")
    script = (FIXTURES / "generate.R").read_text("utf-8")
    assert f"```r\n{script}```" in readme
    assert "metafor 3.8-1" in readme and "R 4.2.2" in readme
