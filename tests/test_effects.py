"""Tests of helpers.stats.effects against published (metafor) values and independent computations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from helpers.stats.effects import (
    EffectSizes,
    MissingValuesOmitted,
    before_after_unknown_pairing,
    clopper_pearson_ci,
    clopper_pearson_interval,
    escalc,
    exact_mcnemar_range,
    exact_upper_bound,
    logit_proportion,
    mean_change,
    parse_p_value,
    recover_change_sd,
    sd_change,
    small_sample_correction,
    smcc,
    smcr,
    smcr_sensitivity,
    wilson_ci,
    zero_event_upper_bound,
)

# Morris (2008, Organ Res Methods 11:364) pre-post data, as in metafor's test suite:
# wviechtb/metafor tests/testthat/test_analysis_example_morris2008.r
MORRIS_TREATMENT = {
    "pre_mean": [30.6, 23.5, 0.5, 53.4, 35.6],
    "post_mean": [38.5, 26.8, 0.7, 75.9, 36.0],
    "pre_sd": [15.0, 3.1, 0.1, 14.5, 4.7],
    "post_sd": [11.6, 4.1, 0.1, 4.4, 4.6],
    "n": [20, 50, 9, 10, 14],
    "r": [0.47, 0.64, 0.77, 0.89, 0.44],
}
MORRIS_CONTROL = {
    "pre_mean": [23.1, 24.9, 0.6, 55.7, 34.8],
    "post_mean": [19.7, 25.3, 0.6, 60.7, 33.4],
    "pre_sd": [13.8, 4.1, 0.2, 17.3, 3.1],
    "post_sd": [14.8, 3.3, 0.2, 17.9, 6.9],
    "n": [20, 42, 9, 11, 14],
    "r": [0.47, 0.64, 0.77, 0.89, 0.44],
}


def _without_post_sd(data: dict[str, list[float]]) -> dict[str, list[float]]:
    return {key: value for key, value in data.items() if key != "post_sd"}


# ---------------------------------------------------------------------------------------------
# Pre-post effect sizes
# ---------------------------------------------------------------------------------------------


def test_smcr_reproduces_metafor_morris2008_to_4_decimals() -> None:
    # metafor: escalc(measure="SMCR", m1i=m_post, m2i=m_pre, sd1i=sd_pre, ni=ni, ri=ri)
    treatment = smcr(**_without_post_sd(MORRIS_TREATMENT))
    np.testing.assert_array_equal(
        np.round(treatment.yi, 4), [0.5056, 1.0481, 1.8054, 1.4181, 0.0801]
    )
    np.testing.assert_array_equal(
        np.round(treatment.vi, 4), [0.0594, 0.0254, 0.2322, 0.1225, 0.0802]
    )
    control = smcr(**_without_post_sd(MORRIS_CONTROL))
    np.testing.assert_array_equal(
        np.round(control.yi, 4), [-0.2365, 0.0958, 0.0000, 0.2667, -0.4250]
    )
    np.testing.assert_array_equal(np.round(control.vi, 4), [0.0544, 0.0173, 0.0511, 0.0232, 0.0864])
    # metafor: difference treatment - control, page 368 (Table 1) of Morris (2008)
    np.testing.assert_array_equal(
        np.round(treatment.yi - control.yi, 2), [0.74, 0.95, 1.81, 1.15, 0.51]
    )


def test_smcc_reproduces_metafor_morris2008_to_4_decimals() -> None:
    # metafor: escalc(measure="SMCC", m1i=m_post, m2i=m_pre, sd1i=sd_post, sd2i=sd_pre, ...)
    treatment = smcc(**MORRIS_TREATMENT)
    np.testing.assert_array_equal(
        np.round(treatment.yi, 4), [0.5417, 1.0198, 2.6619, 1.9088, 0.0765]
    )
    np.testing.assert_array_equal(
        np.round(treatment.vi, 4), [0.0573, 0.0304, 0.5048, 0.2822, 0.0716]
    )
    control = smcc(**MORRIS_CONTROL)
    np.testing.assert_array_equal(
        np.round(control.yi, 4), [-0.2213, 0.1219, 0.0000, 0.5575, -0.2126]
    )
    np.testing.assert_array_equal(np.round(control.vi, 4), [0.0512, 0.0240, 0.1111, 0.1050, 0.0730])


def test_mean_change_first_morris_study_by_hand() -> None:
    # sd_change = sqrt(15^2 + 11.6^2 - 2 * .47 * 15 * 11.6) = sqrt(196) = 14 exactly
    effect = mean_change(pre_mean=30.6, post_mean=38.5, pre_sd=15.0, post_sd=11.6, n=20, r=0.47)
    assert effect.measure == "MC"
    assert effect.yi[0] == pytest.approx(7.9, abs=1e-12)
    assert effect.vi[0] == pytest.approx(196 / 20, abs=1e-12)
    assert sd_change(15.0, 11.6, 0.47)[0] == pytest.approx(14.0, abs=1e-12)


def test_change_is_post_minus_pre_so_a_decrease_is_negative() -> None:
    effect = smcr(pre_mean=20.0, post_mean=15.0, pre_sd=5.0, n=30, r=0.5)
    assert effect.yi[0] < 0
    yi, vi = effect  # unpacks like metafor's yi/vi pair
    assert yi[0] == effect.yi[0] and vi[0] == effect.vi[0]


def test_small_sample_correction_is_the_exact_gamma_ratio() -> None:
    for m in (2.0, 5.0, 19.0, 100.0):
        exact = math.gamma(m / 2) / (math.sqrt(m / 2) * math.gamma((m - 1) / 2))
        assert small_sample_correction(m)[0] == pytest.approx(exact, rel=1e-12)
    # Hedges' approximation 1 - 3/(4m - 1) is close but not identical for small m
    assert small_sample_correction(9.0)[0] == pytest.approx(1 - 3 / 35, abs=5e-4)
    assert small_sample_correction(9.0)[0] != pytest.approx(1 - 3 / 35, abs=1e-6)


def test_effect_size_ci_is_wald() -> None:
    effect = smcr(**_without_post_sd(MORRIS_TREATMENT))
    low, high = effect.ci(95)
    np.testing.assert_allclose(high - effect.yi, 1.959963984540054 * np.sqrt(effect.vi))
    frame = effect.to_frame(0.95)
    np.testing.assert_allclose(frame["ci_low"], low)
    assert list(frame.columns) == ["study", "measure", "yi", "vi", "sei", "ci_low", "ci_high"]
    assert list(frame["study"]) == [f"Study {i}" for i in range(1, 6)]


# ---------------------------------------------------------------------------------------------
# Recovering SD of change and r from a paired test
# ---------------------------------------------------------------------------------------------


def _simulated_report(r: float) -> dict[str, float]:
    pre_sd, post_sd, n, pre_mean, post_mean = 4.0, 5.5, 23, 30.0, 32.7
    change_sd = math.sqrt(pre_sd**2 + post_sd**2 - 2 * r * pre_sd * post_sd)
    t = abs(post_mean - pre_mean) / (change_sd / math.sqrt(n))
    return {
        "pre_mean": pre_mean,
        "post_mean": post_mean,
        "pre_sd": pre_sd,
        "post_sd": post_sd,
        "n": n,
        "t": t,
        "p": 2 * stats.t.sf(t, n - 1),
        "change_sd": change_sd,
    }


@pytest.mark.parametrize("true_r", [-0.2, 0.0, 0.35, 0.8, 0.95])
def test_r_recovery_round_trip_from_t_and_from_p(true_r: float) -> None:
    report = _simulated_report(true_r)
    summaries = {key: report[key] for key in ("pre_mean", "post_mean", "pre_sd", "post_sd", "n")}
    from_t = recover_change_sd(**summaries, t_value=report["t"])
    assert from_t.r == pytest.approx(true_r, abs=1e-12)
    assert from_t.sd_change == pytest.approx(report["change_sd"], rel=1e-12)
    assert from_t.p_used is None and not from_t.p_is_bound and not from_t.r_clipped
    from_p = recover_change_sd(**summaries, p_value=float(report["p"]))
    assert from_p.r == pytest.approx(true_r, abs=1e-8)
    assert from_p.t == pytest.approx(report["t"], rel=1e-9)
    assert from_p.df == 22


def test_p_bound_is_used_as_p_and_is_conservative() -> None:
    report = _simulated_report(0.6)  # true p is about 0.008
    summaries = {key: report[key] for key in ("pre_mean", "post_mean", "pre_sd", "post_sd", "n")}
    assert 0.001 < report["p"] < 0.01
    bound = recover_change_sd(**summaries, p_value="<0.01")
    assert bound.p_used == 0.01 and bound.p_is_bound
    assert "bound" in bound.note
    exact = recover_change_sd(**summaries, p_value=float(report["p"]))
    assert bound.sd_change > exact.sd_change  # larger SD of change ...
    assert bound.r < exact.r  # ... hence smaller r: the conservative direction


def test_inconsistent_report_clips_r_and_says_so() -> None:
    # a huge t implies an SD of change near 0, impossible with SDs 1 and 3 (|r| would exceed 1)
    result = recover_change_sd(
        pre_mean=0.0, post_mean=1.0, pre_sd=1.0, post_sd=3.0, n=10, t_value=500.0
    )
    assert result.r_clipped and result.r == 1.0 and result.r_unclipped > 1
    assert "clipped" in result.note


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.004", (0.004, False)),
        ("= 0.0047", (0.0047, False)),
        ("p = .03", (0.03, False)),
        ("<0.001", (0.001, True)),
        ("p < .05", (0.05, True)),
        ("P≤0.01", (0.01, True)),
        (0.2, (0.2, False)),
    ],
)
def test_parse_p_value(text: str | float, expected: tuple[float, bool]) -> None:
    assert parse_p_value(text) == expected


@pytest.mark.parametrize("text", ["> 0.05", "n.s.", "1.2", "0", "", True])
def test_parse_p_value_rejects_unusable_reports(text: object) -> None:
    with pytest.raises(ValueError, match="p_value"):
        parse_p_value(text)  # type: ignore[arg-type]


def test_recover_needs_exactly_one_statistic() -> None:
    summaries = {"pre_mean": 1.0, "post_mean": 2.0, "pre_sd": 1.0, "post_sd": 1.0, "n": 10}
    with pytest.raises(ValueError, match="exactly one"):
        recover_change_sd(**summaries)
    with pytest.raises(ValueError, match="exactly one"):
        recover_change_sd(**summaries, p_value=0.01, t_value=3.0)


def test_smcr_sensitivity_grid_plus_recovered_row() -> None:
    report = _simulated_report(0.55)
    summaries = {key: report[key] for key in ("pre_mean", "post_mean", "pre_sd", "post_sd", "n")}
    table = smcr_sensitivity(**summaries, p_value=f"= {report['p']:.12f}")
    assert list(table["r_source"]) == ["assumed"] * 4 + ["recovered"]
    np.testing.assert_allclose(table["r"], [0.3, 0.5, 0.7, 0.9, 0.55], atol=1e-8)
    assert table["yi"].nunique() == 1  # raw-score SMC does not depend on r
    assert table["vi"].iloc[:4].is_monotonic_decreasing  # higher r -> smaller variance
    direct = smcr(
        pre_mean=report["pre_mean"],
        post_mean=report["post_mean"],
        pre_sd=report["pre_sd"],
        n=report["n"],
        r=table["r"].iloc[4],
    )
    assert table["vi"].iloc[4] == pytest.approx(direct.vi[0], rel=1e-12)
    assert list(table.columns) == ["r_source", "r", "yi", "vi", "se", "ci_low", "ci_high"]
    bound_table = smcr_sensitivity(**summaries, r_values=(0.5,), p_value="<0.05")
    assert list(bound_table["r_source"]) == ["assumed", "recovered (p bound)"]


# ---------------------------------------------------------------------------------------------
# Single proportions
# ---------------------------------------------------------------------------------------------

GRID = [(0, 11), (3, 11), (11, 11), (1, 2), (7, 50), (49, 50), (0, 1), (1, 1), (150, 1000)]


@pytest.mark.parametrize(("events", "total"), GRID)
def test_clopper_pearson_matches_scipy_binomtest(events: int, total: int) -> None:
    low, high = clopper_pearson_ci(events, total)
    reference = stats.binomtest(events, total).proportion_ci(0.95, method="exact")
    assert low[0] == pytest.approx(reference.low, abs=1e-12)
    assert high[0] == pytest.approx(reference.high, abs=1e-12)


@pytest.mark.parametrize(("events", "total"), GRID)
def test_wilson_matches_the_closed_form(events: int, total: int) -> None:
    # Wilson (1927): (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    z, p = stats.norm.isf(0.025), events / total
    centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / (1 + z**2 / total)
    low, high = wilson_ci(events, total, level=95)
    assert low[0] == pytest.approx(centre - half, abs=1e-12)
    assert high[0] == pytest.approx(centre + half, abs=1e-12)


def test_intervals_are_vectorised() -> None:
    events, totals = [x for x, _ in GRID], [n for _, n in GRID]
    low, high = clopper_pearson_ci(events, totals)
    assert low.shape == high.shape == (len(GRID),)
    assert np.all(low <= np.array(events) / np.array(totals))


def test_zero_event_one_sided_upper_bound_0_of_11() -> None:
    expected = 1 - 0.05 ** (1 / 11)
    assert round(expected, 4) == 0.2384
    assert zero_event_upper_bound(11)[0] == pytest.approx(expected, abs=1e-15)
    assert exact_upper_bound(0, 11)[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("events", "total"), [(1, 11), (3, 11), (10, 11), (11, 11)])
def test_one_sided_upper_bound_matches_scipy(events: int, total: int) -> None:
    reference = stats.binomtest(events, total, alternative="less").proportion_ci(0.95)
    assert exact_upper_bound(events, total)[0] == pytest.approx(reference.high, abs=1e-12)


def test_logit_proportion_only0_correction_as_metafor_plo() -> None:
    effect = logit_proportion([0, 5, 20], [118, 100, 20])
    # metafor escalc("PLO", add=1/2, to="only0"): 0/n and n/n get 0.5 in both cells
    np.testing.assert_allclose(
        effect.yi, [math.log(0.5 / 118.5), math.log(5 / 95), math.log(20.5 / 0.5)]
    )
    np.testing.assert_allclose(effect.vi, [1 / 0.5 + 1 / 118.5, 1 / 5 + 1 / 95, 1 / 20.5 + 1 / 0.5])
    assert special.expit(effect.yi[0]) == pytest.approx(0.5 / 119)
    with pytest.raises(ValueError, match="zero cell"):
        logit_proportion([0, 5], [10, 10], to="none")


# ---------------------------------------------------------------------------------------------
# Before/after counts with unknown pairing
# ---------------------------------------------------------------------------------------------


def test_mcnemar_range_11_of_11_to_3_of_11() -> None:
    result = before_after_unknown_pairing(before_events=11, before_n=11, after_events=3, after_n=11)
    # everyone had the event before, so the 3 after must be among them: one feasible table
    assert len(result.tables) == 1
    assert result.table_at_p_min == {"both": 3, "before_only": 8, "after_only": 0, "neither": 0}
    assert result.p_value_min == result.p_value_max == pytest.approx(2 * 0.5**8)
    assert result.before_proportion == 1.0 and result.after_proportion == pytest.approx(3 / 11)
    reference = stats.binomtest(3, 11).proportion_ci(0.95, method="exact")
    assert result.after_ci == pytest.approx((reference.low, reference.high), abs=1e-12)
    assert result.before_ci[1] == 1.0
    assert not result.pairing_known and "unknown" in result.note.lower()


def test_the_remembered_exact_interval_is_the_exact_interval() -> None:
    for events, total in ((0, 7), (3, 16), (16, 16)):
        low, high = clopper_pearson_ci(events, total)
        assert clopper_pearson_interval(events, total) == (float(low[0]), float(high[0]))


def test_mcnemar_range_ties_name_the_first_table_and_tables_are_not_shared() -> None:
    first = before_after_unknown_pairing(before_events=2, before_n=4, after_events=2, after_n=4)
    assert list(first.tables["p_value"]) == [1.0, 1.0, 1.0]
    assert first.table_at_p_min["both"] == first.table_at_p_max["both"] == 0
    first.tables.loc[0, "p_value"] = 0.5
    again = before_after_unknown_pairing(before_events=2, before_n=4, after_events=2, after_n=4)
    assert again.tables.loc[0, "p_value"] == 1.0


@pytest.mark.parametrize("x1, x2, n", [(6, 3, 12), (11, 3, 11), (0, 0, 5), (4, 9, 10)])
def test_the_mcnemar_range_alone_is_the_full_comparisons_range(x1, x2, n) -> None:
    full = before_after_unknown_pairing(before_events=x1, before_n=n, after_events=x2, after_n=n)
    expected = (full.p_value_min, full.p_value_max, len(full.tables))
    assert exact_mcnemar_range(x1, x2, n) == expected


def test_mcnemar_range_enumerates_every_feasible_table() -> None:
    result = before_after_unknown_pairing(before_events=6, before_n=12, after_events=3, after_n=12)
    assert list(result.tables["both"]) == [0, 1, 2, 3]

    def exact_mcnemar(b: int, c: int) -> float:  # two-sided: doubled smaller tail, capped at 1
        tail = sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
        return min(1.0, 2 * tail)

    expected = [exact_mcnemar(6 - a, 3 - a) for a in range(4)]
    np.testing.assert_allclose(result.tables["p_value"], expected, rtol=1e-12)
    assert result.p_value_min == pytest.approx(min(expected))
    assert result.p_value_max == pytest.approx(max(expected))
    assert result.table_at_p_max["before_only"] == 6  # most discordance -> largest p here
    assert result.table_at_p_min["before_only"] == 3


def test_mcnemar_range_rejects_unequal_n() -> None:
    with pytest.raises(ValueError, match="before_n .* after_n"):
        before_after_unknown_pairing(before_events=5, before_n=11, after_events=3, after_n=10)


# ---------------------------------------------------------------------------------------------
# Invalid input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: smcr(pre_mean=1, post_mean=2, pre_sd=-1, n=10, r=0.5), "pre_sd"),
        (lambda: smcr(pre_mean=1, post_mean=2, pre_sd=1, n=10, r=1.5), "r must"),
        (lambda: smcr(pre_mean=1, post_mean=2, pre_sd=1, n=2, r=0.5), "n must"),
        (lambda: smcr(pre_mean=[1, 2], post_mean=[2, 3, 4], pre_sd=1, n=10, r=0.5), "lengths"),
        (lambda: smcr(pre_mean=np.nan, post_mean=2, pre_sd=1, n=10, r=0.5), "pre_mean"),
        (lambda: smcr(pre_mean="a", post_mean=2, pre_sd=1, n=10, r=0.5), "pre_mean"),
        (lambda: clopper_pearson_ci(5, 4), "events must be <= totals"),
        (lambda: clopper_pearson_ci(1, 0), "totals must be > 0"),
        (lambda: clopper_pearson_ci(-1, 4), "events must be >= 0"),
        (lambda: wilson_ci(1.5, 4), "whole numbers"),
        (lambda: wilson_ci(1, 4, level=120), "level"),
        (lambda: zero_event_upper_bound(0), "totals"),
    ],
)
def test_invalid_input_raises_naming_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# escalc against metafor (tests/fixtures/metafor, made by generate.R there)
# ---------------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "metafor"
ESCALC = pd.read_csv(FIXTURES / "escalc.csv")
DAT_BCG = pd.read_csv(FIXTURES / "dat_bcg.csv")
DAT_NIELWEISE = pd.read_csv(FIXTURES / "dat_nielweise2007.csv")
DAT_NORMAND = pd.read_csv(FIXTURES / "dat_normand1999.csv")
MORRIS = pd.read_csv(FIXTURES / "morris2008.csv")


def reference(dataset: str, measure: str, options: str = "default") -> pd.DataFrame:
    rows = ESCALC.query("dataset == @dataset and measure == @measure and options == @options")
    assert len(rows) > 0
    return rows.reset_index(drop=True)


def assert_metafor(yi: np.ndarray, vi: np.ndarray, expected: pd.DataFrame) -> None:
    np.testing.assert_allclose(yi, expected["yi"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(vi, expected["vi"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_escalc_two_by_two_matches_metafor_on_dat_bcg(measure: str) -> None:
    expected = reference("bcg", measure)
    with_data = escalc(measure, ai="tpos", bi="tneg", ci="cpos", di="cneg", data=DAT_BCG)
    assert_metafor(with_data["yi"], with_data["vi"], expected)
    d = DAT_BCG
    by_totals = escalc(measure, ai=d.tpos, n1i=d.tpos + d.tneg, ci=d.cpos, n2i=d.cpos + d.cneg)
    assert isinstance(by_totals, EffectSizes) and by_totals.measure == measure
    assert_metafor(by_totals.yi, by_totals.vi, expected)
    np.testing.assert_array_equal(by_totals.ni, d.tpos + d.tneg + d.cpos + d.cneg)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
@pytest.mark.parametrize(
    ("options", "kwargs"),
    [
        ("default", {}),
        ("to=all", {"to": "all"}),
        ("to=if0all", {"to": "if0all"}),
        ("add=1", {"add": 1}),
        ("drop00=TRUE", {"drop00": True}),
        ("to=none", {"to": "none"}),
    ],
)
def test_escalc_zero_cells_as_metafor(measure: str, options: str, kwargs: dict) -> None:
    # dat.nielweise2007: zero events in one arm (rows 0, 3, 10, 11, 15) and in both (row 14)
    expected = reference("nielweise2007", measure, options)
    d = DAT_NIELWEISE

    def compute() -> EffectSizes:
        return escalc(measure, ai=d.ai, n1i=d.n1i, ci=d.ci, n2i=d.n2i, **kwargs)

    if options == "to=none" and expected["yi"].isna().any():
        # metafor turns the infinite log ratios into NA; here that is an error naming the rows
        rows = ", ".join(str(i) for i in np.flatnonzero(expected["yi"].isna()))
        with pytest.raises(ValueError, match=f"not finite at row\\(s\\) {rows} .*zero cell"):
            compute()
        return
    effects = compute()
    np.testing.assert_array_equal(np.isnan(effects.yi), expected["yi"].isna())
    assert_metafor(
        np.nan_to_num(effects.yi), np.nan_to_num(effects.vi), expected.fillna(0.0)
    )  # drop00 leaves the double-zero study missing (NaN), as metafor


@pytest.mark.parametrize("measure", ["MD", "SMD", "ROM"])
def test_escalc_two_group_means_match_metafor_on_dat_normand1999(measure: str) -> None:
    effects = escalc(
        measure, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i",
        data=DAT_NORMAND,
    )  # fmt: skip
    assert_metafor(effects["yi"], effects["vi"], reference("normand1999", measure))


@pytest.mark.parametrize(
    ("measure", "arguments"),
    [
        ("MC", {"m1i": "m_post", "m2i": "m_pre", "sd1i": "sd_post", "sd2i": "sd_pre"}),
        ("SMCC", {"m1i": "m_post", "m2i": "m_pre", "sd1i": "sd_post", "sd2i": "sd_pre"}),
        ("SMCR", {"m1i": "m_post", "m2i": "m_pre", "sd1i": "sd_pre"}),
    ],
)
def test_escalc_pre_post_measures_use_metafors_argument_mapping(measure: str, arguments) -> None:
    # metafor: m1i/sd1i = later time point, m2i/sd2i = earlier; SMCR standardises by sd1i
    effects = escalc(measure, **arguments, ni="ni", ri="ri", data=MORRIS)
    assert_metafor(effects["yi"], effects["vi"], reference("morris2008", measure))


def test_escalc_plo_is_logit_proportion() -> None:
    effects = escalc("PLO", xi=[0, 5, 20], ni=[118, 100, 20])
    expected = logit_proportion([0, 5, 20], [118, 100, 20])
    np.testing.assert_array_equal(effects.yi, expected.yi)
    np.testing.assert_array_equal(effects.vi, expected.vi)


def test_escalc_with_data_appends_yi_and_vi_to_a_copy() -> None:
    data = DAT_BCG.assign(yi=0.0)
    out = escalc("OR", ai="tpos", bi="tneg", ci="cpos", di="cneg", data=data)
    assert list(out.columns) == [*DAT_BCG.columns, "yi", "vi"]  # yi replaced, vi appended
    assert (data["yi"] == 0).all() and "vi" not in data.columns
    assert out.attrs["measure"] == "OR"
    pd.testing.assert_frame_equal(out[list(DAT_BCG.columns)], DAT_BCG)


def test_escalc_refuses_missing_values_naming_column_and_rows() -> None:
    data = DAT_NORMAND.astype({"sd1i": float, "n2i": float})
    data.loc[[2, 5], "sd1i"] = np.nan
    data.loc[5, "n2i"] = np.nan
    arguments = dict(m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    with pytest.raises(
        ValueError,
        match=r"missing values in column 'sd1i' \(sd1i\) at row\(s\) 2, 5; "
        r"column 'n2i' \(n2i\) at row\(s\) 5\..*na_action='omit'",
    ):
        escalc("SMD", **arguments, data=data)
    with pytest.raises(ValueError, match=r"missing values in 'm1i' at row\(s\) 1"):
        escalc("MD", m1i=[1.0, None], sd1i=1, n1i=10, m2i=0, sd2i=1, n2i=10)


def test_escalc_omits_incomplete_rows_with_a_warning_listing_them() -> None:
    data = DAT_NORMAND.astype({"sd1i": float})
    data.loc[[2, 5], "sd1i"] = np.nan
    arguments = dict(m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    with pytest.warns(
        MissingValuesOmitted, match=r"omitted 2 of 9 rows .*: 2 \(column 'sd1i'.*5 \(column"
    ):
        out = escalc("SMD", **arguments, data=data, na_action="omit")
    assert list(out.index) == [0, 1, 3, 4, 6, 7, 8]
    assert_metafor(out["yi"], out["vi"], reference("normand1999", "SMD").iloc[out.index])
    d = data
    with pytest.warns(MissingValuesOmitted):
        effects = escalc(
            "MD", m1i=d.m1i, sd1i=d.sd1i, n1i=d.n1i, m2i=d.m2i, sd2i=d.sd2i, n2i=d.n2i,
            na_action="omit",
        )  # fmt: skip
    assert effects.labels[:3] == ("Study 1", "Study 2", "Study 4")  # each keeps its number
    assert len(effects.ni) == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measure": "HR", "ai": 1}, "measure must be one of"),
        ({"measure": "RR", "ai": 1, "bi": 2, "ci": 1}, "needs di or n2i"),
        (
            {"measure": "RR", "ai": 1, "bi": 2, "ci": 1, "di": 2, "m1i": 3},
            r"does not use \['m1i'\]",
        ),
        ({"measure": "RR", "ai": 1, "bi": 2, "ci": 1, "di": 2, "to": "some"}, "to must be"),
        ({"measure": "RR", "ai": 1, "bi": 2, "ci": 1, "di": 2, "add": -1}, "add must be"),
        ({"measure": "RR", "ai": 1, "bi": 2, "ci": 1, "di": 2, "na_action": "pass"}, "na_action"),
        ({"measure": "RR", "ai": 1, "bi": 2, "n1i": 4, "ci": 1, "di": 2}, "n1i must equal ai"),
        ({"measure": "OR", "ai": -1, "bi": 2, "ci": 1, "di": 2}, "ai must be >= 0"),
        ({"measure": "RD", "ai": 5, "n1i": 4, "ci": 1, "n2i": 2}, "ai must be <= n1i"),
        ({"measure": "RR", "ai": "tpos", "bi": 2, "ci": 1, "di": 2}, "names a column"),
        ({"measure": "RR", "ai": [1, 2], "bi": [2, 2, 2], "ci": 1, "di": 2}, "2 values for 3"),
        (
            {"measure": "ROM", "m1i": -1, "sd1i": 1, "n1i": 5, "m2i": 2, "sd2i": 1, "n2i": 5},
            "same sign",
        ),
        (
            {"measure": "SMD", "m1i": 1, "sd1i": 0, "n1i": 5, "m2i": 2, "sd2i": 0, "n2i": 5},
            "both SDs are 0",
        ),
        (
            {"measure": "SMCR", "m1i": 1, "m2i": 2, "sd1i": 0, "ni": 5, "ri": 0.5},
            r"pre_sd must be > 0.*pre_sd = sd1i",
        ),
    ],
)
def test_escalc_invalid_input_raises_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        escalc(**kwargs)


def test_escalc_data_errors_name_the_column() -> None:
    with pytest.raises(ValueError, match="no column 'events'"):
        escalc("RR", ai="events", bi="tneg", ci="cpos", di="cneg", data=DAT_BCG)
    with pytest.raises(ValueError, match="slab"):
        escalc("RR", ai="tpos", bi="tneg", ci="cpos", di="cneg", data=DAT_BCG, slab=DAT_BCG.author)


def test_effect_sizes_repr_and_print() -> None:
    d = DAT_BCG
    effects = escalc("RR", ai=d.tpos, bi=d.tneg, ci=d.cpos, di=d.cneg, slab=d.author)
    expected = reference("bcg", "RR")
    text = repr(effects)
    assert text.startswith("EffectSizes(measure='RR', k=13; yi from ") and "\n" not in text
    assert f"{expected['yi'].min():.4f}" in text and f"{expected['yi'].max():.4f}" in text
    lines = str(effects).splitlines()
    assert len(lines) == 14 and lines[1].split()[0] == "Aronson"
    assert lines[1].split()[-2:] == [f"{expected['yi'][0]:.4f}", f"{expected['vi'][0]:.4f}"]
    assert effects.to_frame()["study"][0] == "Aronson"


def test_reprs_are_short_and_informative() -> None:
    comparison = before_after_unknown_pairing(
        before_events=11, before_n=11, after_events=3, after_n=11
    )
    text = repr(comparison)
    assert text.startswith("UnknownPairingComparison(n = 11: before 11/11, after 3/11")
    assert "both" not in text and "\n" not in text  # the table of pairings is not dumped
    recovered = recover_change_sd(
        pre_mean=10, post_mean=14, pre_sd=5, post_sd=5, n=20, p_value="<0.001"
    )
    text = repr(recovered)
    assert text.startswith("ChangeSdRecovery(from p < 0.001 with 19 df: sd_change = ")
    assert f"r = {recovered.r:.4f}" in text and len(text) < 120
