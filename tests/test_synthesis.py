"""The synthesis result tables: figures checked against independent computations from the
processed CSVs, the pooling rules on constructed data, and the methodological rules of issue 13
(one vote per outcome domain per trial, no estimate driven by the 0.5 correction, serious
events per definition and follow-up, percentages of unknown unit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support import raw_table

from helpers import data, paths
from helpers.errors import EvidenceInputError
from helpers.stats import analysis, estimates, meta, synthesis
from helpers.stats.analysis import Settings
from helpers.stats.synthesis import ALL, efficacy, safety, votes
from helpers.stats.synthesis.context import load_prior_meta_analyses

raw = raw_table  # a fixture processed table read with plain pandas, not through the helpers


@pytest.fixture(scope="module")
def tables(fixture_tables) -> dict[str, pd.DataFrame]:
    return fixture_tables


@pytest.fixture(scope="module")
def results(tables) -> dict[str, pd.DataFrame]:
    return analysis.compute(tables, Settings())


def scope_row(frame: pd.DataFrame, scope: str = ALL, **where) -> pd.Series:
    frame = frame[frame["scope"] == scope]
    for column, value in where.items():
        frame = frame[frame[column] == value]
    (index,) = frame.index
    return frame.loc[index]


# --------------------------------------------------------------------------- result tables


def test_every_synthesis_table_is_declared_and_documented(results):
    names = {name for name in data.RESULTS if name.startswith("synthesis_")}
    assert names == {name for name in results if name.startswith("synthesis_")}
    dictionary = data.results_dictionary()
    described = dictionary[dictionary["table"].isin(names)]
    assert described["description"].str.len().min() > 5
    for name in names:
        assert list(results[name].columns) == [c.name for c in data.RESULTS[name]]


def test_results_are_deterministic(tables, results):
    again = analysis.compute(tables, Settings())
    for name, frame in results.items():
        pd.testing.assert_frame_equal(frame, again[name], obj=name)


def test_the_synthesis_is_registered_after_any_per_trial_computation():
    assert analysis.COMPUTATIONS[-1] is synthesis.compute


# --------------------------------------------------------------------------- safety


def serious_denominators(kinds: set[str] | None = None) -> pd.Series:
    """Per trial, the per-patient denominator of its serious-event rows (largest if several)."""
    events = raw("adverse_events")
    trials = raw("trials").set_index("trial_id")
    serious = events[
        (events["serious"].astype(str) == "True")
        & (events["count_unit"] == "patients")
        & (events["denominator_unit"] == "patients")
    ]
    if kinds is not None:
        serious = serious[serious["trial_id"].map(trials["source_kind"]).isin(kinds)]
    assert (serious["count"] == 0).all(), "these checks assume no serious event was reported"
    return serious.groupby("trial_id")["denominator"].max().astype(int)


def test_serious_event_sum_and_exact_bound_match_an_independent_count(results):
    denominators = serious_denominators()
    total = int(denominators.sum())
    row = scope_row(results["synthesis_serious_pooled"])
    assert (row["trials"], row["events"], row["patients"]) == (len(denominators), 0, total)
    assert row["upper_bound"] == pytest.approx(1 - 0.05 ** (1 / total), rel=1e-12)
    assert row["ci_high"] == pytest.approx(1 - 0.025 ** (1 / total), rel=1e-9)
    assert not row["pooled"] and "no maximum" in row["reason"]


def test_serious_only_where_a_source_says_serious_or_severe(tables):
    """Every adverse event recorded as serious cites a quote that says serious or severe (the
    SCI press report names 'adverse events such as abnormal cell growth or neurological
    deterioration', never serious)."""
    events = tables["adverse_events"]
    quotes = tables["provenance"].set_index("quote_id")["quote"]
    for row in events[events["serious"].fillna(False)].itertuples():
        cited = " ".join(quotes[q] for q in str(row.quote_id).split(";")).lower()
        assert "serious" in cited or "severe" in cited, (row.trial_id, row.term)


def test_trials_without_serious_data_are_named_beside_every_sum(results, tables):
    per_trial = results["synthesis_serious_events"]
    assert set(per_trial["trial_id"]) == set(tables["trials"]["trial_id"])
    missing = per_trial[~per_trial["reported"]]
    assert set(missing["trial_id"]) == {"sci_honmou2021"}
    assert missing["why_no_data"].str.len().min() > 10
    overall = scope_row(results["synthesis_serious_pooled"])
    assert overall["trials_without_data"] == "sci_honmou2021"
    sci = scope_row(results["synthesis_serious_pooled"], "spinal_cord_injury")
    assert (sci["trials"], sci["trials_without_data"]) == (1, "sci_honmou2021")


def test_serious_events_keep_each_definition_and_follow_up_and_the_sum_states_its_assumption(
    results,
):
    per_trial = results["synthesis_serious_events"]
    counted = per_trial[per_trial["reported"]]
    assert counted["definition"].str.len().min() > 5
    trials = raw("trials").set_index("trial_id")
    for row in counted.itertuples():
        expected = trials.loc[row.trial_id, "follow_up_months"]
        assert (pd.isna(expected) and pd.isna(row.follow_up_months)) or (
            row.follow_up_months == expected
        )
    overall = scope_row(results["synthesis_serious_pooled"])
    definitions = counted["definition"].str.lower().nunique()
    assert overall["definitions"] == definitions
    assert "one common rate" in overall["assumption"]
    assert f"in {definitions} ways" in overall["assumption"]
    assert (overall["follow_up_min"], overall["follow_up_max"]) == (
        counted["follow_up_months"].min(),
        counted["follow_up_months"].max(),
    )


def test_no_logit_estimate_driven_by_the_correction_is_presented(results):
    """With zero events everywhere the 0.5-corrected logit estimate lies above the exact upper
    bound; it must not be shown, and the reason must say why."""
    estimators = results["synthesis_sensitivity_estimators"]
    serious = estimators[estimators["analysis"] == "serious events"].set_index("estimator")
    bound = scope_row(results["synthesis_serious_pooled"])["upper_bound"]
    for name in ("logit REML", "logit DL"):
        assert not serious.loc[name, "shown"]
        assert pd.isna(serious.loc[name, "estimate"])
        assert "correction" in serious.loc[name, "note"]
    shown = estimators[estimators["shown"]]
    assert not (shown["estimate"] > bound).any()
    # The case, 0 events in 182 patients: the 0.5-corrected logit estimate (1.9%) lies
    # above the exact one-sided 95% bound (1.6%).
    x, n = np.zeros(5, dtype=int), np.array([16, 40, 11, 13, 102])
    corrected = meta.rma_logit_proportions(x, n)
    assert corrected.proportion > float(stats.beta.isf(0.05, 1, 182))
    assert "every one of the 5 trials" in safety.logit_withheld(x, n, corrected)


def test_logit_above_the_exact_bound_is_withheld_even_when_some_trials_have_events():
    x, n = np.array([0, 0, 0, 1]), np.array([5, 5, 5, 400])
    fit = meta.rma_logit_proportions(x, n)
    bound = float(stats.beta.isf(0.05, 2, 414))  # exact one-sided 95% bound of 1/415
    assert fit.proportion > bound
    assert "above the exact upper bound" in safety.logit_withheld(x, n, fit)


def test_a_percentage_that_fits_patients_and_administrations_is_of_unknown_unit(results):
    events = results["synthesis_adverse_events"]
    nausea = events[(events["trial_id"] == "cp_akhlaghpasand2025") & (events["term"] == "nausea")]
    (row,) = nausea.itertuples()
    assert row.basis == "unknown unit" and pd.isna(row.incidence)
    assert "3 of 16 patients or 12 of 64 administrations" in row.what_was_reported
    terms = results["synthesis_adverse_event_terms"]
    assert "nausea" not in set(terms["term"])  # never pooled or summed per patient
    flags = results["synthesis_flags"]
    assert ((flags["subject"] == "adverse event: nausea") & (flags["severity"] == "warning")).any()


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("mild fever", "fever"),
        ("Fever", "fever"),
        ("intermittent vomiting", "vomiting"),
        ("transient increase in muscle tension", "increased muscle tension"),
        ("swelling at the bone marrow extraction site", "bone-marrow harvest-site swelling"),
        ("something new", "something new"),
    ],
)
def test_adverse_event_terms_are_harmonised(term, expected):
    assert safety.harmonise_term(term) == expected


def test_per_patient_rates_are_never_mixed_with_events_or_administrations(results):
    events = results["synthesis_adverse_events"]
    terms = results["synthesis_adverse_event_terms"]
    fever = scope_row(terms, term="fever")
    assert (fever["trial_ids"], fever["events"], fever["patients"]) == ("cp_nguyen2017", 12, 40)
    assert fever["other_basis_trial_ids"] == "sb_nguyen2023;sci_yang2021"
    other = events[events["basis"] != "per patient"]
    assert other["incidence"].isna().all()
    assert not terms["pooled"].any()  # one trial per term


def with_adverse_events(tables, rows: list[dict]) -> dict[str, pd.DataFrame]:
    added = pd.DataFrame(
        [
            {"serious": False, "count_unit": "patients", "denominator_unit": "patients", **row}
            for row in rows
        ]
    )
    frame = pd.concat([tables["adverse_events"], added], ignore_index=True)
    frame = frame.reindex(columns=tables["adverse_events"].columns)
    return {**tables, "adverse_events": data.conform("adverse_events", frame)}


def test_a_term_reported_per_patient_by_enough_trials_is_pooled_with_the_glmm(tables):
    constructed = with_adverse_events(
        tables,
        [
            {
                "trial_id": "cp_akhlaghpasand2025",
                "term": "dizziness",
                "count": 3,
                "denominator": 16,
            },
            {"trial_id": "sb_nguyen2023", "term": "dizziness", "count": 2, "denominator": 11},
            {"trial_id": "sci_yang2021", "term": "Dizziness", "count": 10, "denominator": 102},
            # cases, not patients: must stay out of the per-patient pool
            {
                "trial_id": "sci_honmou2021",
                "term": "dizziness",
                "count": 5,
                "denominator": 13,
                "count_unit": "cases",
            },
        ],
    )
    found = analysis.compute(constructed, Settings())
    row = scope_row(found["synthesis_adverse_event_terms"], term="dizziness")
    assert row["pooled"] and row["trial_ids"] == "cp_akhlaghpasand2025;sb_nguyen2023;sci_yang2021"
    expected = meta.rma_glmm_proportions([3, 2, 10], [16, 11, 102])
    assert row["glmm_proportion"] == pytest.approx(expected.proportion)
    assert row["logit_proportion"] == pytest.approx(
        meta.rma_logit_proportions([3, 2, 10], [16, 11, 102]).proportion
    )
    assert "sci_honmou2021" in row["other_basis_trial_ids"]
    heterogeneity = found["synthesis_heterogeneity"]
    assert heterogeneity[heterogeneity["subject"] == "dizziness"]["pooled"].any()


# --------------------------------------------------------------------------- pooling rules


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((0, 3), {}, "no estimate"),
        ((1, 1), {}, "one trial"),
        ((2, 3), {}, "fewer than the minimum of 3"),
        ((3, 3), {"n_trials": 1}, "not independent"),
        ((4, 3), {"all_zero": True}, "no maximum"),
        ((4, 3), {"all_full": True}, "GLMM is undefined"),
    ],
)
def test_should_pool_refuses_with_a_reason(args, kwargs, fragment):
    ok, reason = synthesis.should_pool(*args, **kwargs)
    assert not ok and fragment in reason


def test_should_pool_accepts_enough_independent_trials():
    assert synthesis.should_pool(3, 3, n_trials=3) == (True, "3 trials, at least the minimum of 3")


def estimates_frame(rows: list[tuple[str, str, str, int, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["trial_id", "condition", "domain", "n", "smcr", "vi"])
    return frame.assign(usable=True, chosen=~frame.duplicated(["trial_id", "condition", "domain"]))


def test_efficacy_pools_only_compatible_independent_estimates():
    three = estimates_frame(
        [
            ("a", "cerebral_palsy", "motor", 16, 0.3, 0.05),
            ("b", "cerebral_palsy", "motor", 40, 0.5, 0.03),
            ("c", "cerebral_palsy", "motor", 20, 0.1, 0.06),
            ("d", "spina_bifida", "motor", 11, 0.9, 0.1),  # other condition: never pooled in
        ]
    )
    groups, fits = efficacy.efficacy_groups(three, min_k=3, method="REML", test="knha")
    direct = meta.rma([0.3, 0.5, 0.1], [0.05, 0.03, 0.06], method="REML", test="knha")
    assert fits[("cerebral_palsy", "motor")].estimate == pytest.approx(direct.estimate)
    indexed = groups.set_index(["condition", "domain"])
    assert indexed.loc[("cerebral_palsy", "motor"), "estimate"] == pytest.approx(direct.estimate)
    assert not indexed.loc[("spina_bifida", "motor"), "pooled"]
    assert "one trial" in indexed.loc[("spina_bifida", "motor"), "reason"]


def test_efficacy_refuses_several_outcomes_of_one_trial_and_too_few_trials():
    same_trial = estimates_frame(
        [
            ("a", "spina_bifida", "bladder", 7, 0.4, 0.1),
            ("a", "spina_bifida", "bladder", 7, 0.5, 0.1),
        ]
    )
    groups, _ = efficacy.efficacy_groups(same_trial, min_k=2, method="REML", test="knha")
    assert not groups["pooled"].iloc[0] and "not independent" in groups["reason"].iloc[0]
    two = estimates_frame(
        [
            ("a", "cerebral_palsy", "motor", 16, 0.3, 0.05),
            ("b", "cerebral_palsy", "motor", 9, 0.2, 0.1),
        ]
    )
    groups, _ = efficacy.efficacy_groups(two, min_k=3, method="REML", test="knha")
    assert "fewer than the minimum of 3" in groups["reason"].iloc[0]


def test_real_efficacy_falls_back_to_side_by_side(results):
    groups = results["synthesis_efficacy_groups"]
    assert not groups["pooled"].any() and (groups["trials"] <= 1).all()
    estimates = results["synthesis_efficacy_estimates"]
    usable = estimates[estimates["usable"]]
    assert usable["chosen"].sum() == len(
        usable.drop_duplicates(["trial_id", "condition", "domain"])
    )
    outcomes = raw("outcomes")
    no_direction = outcomes[outcomes["direction_of_benefit"] == "none"]["outcome_id"].unique()
    listed = estimates[estimates["outcome_id"].isin(no_direction)]
    assert len(listed) and not listed["usable"].any()


def test_smcr_is_oriented_so_that_positive_is_benefit(results):
    estimates = results["synthesis_efficacy_estimates"].set_index("outcome_id")
    mas = estimates.loc["mas"]  # Modified Ashworth: lower is better, 2.25 -> 1.62
    assert mas["post_mean"] < mas["pre_mean"] and mas["smcr"] > 0
    assert mas["ci_low"] < mas["smcr"] < mas["ci_high"]


# --------------------------------------------------------------------------- votes (issue 13.1)


def independent_domain_votes() -> pd.DataFrame:
    """SWiM votes recomputed from the CSVs: one per trial and outcome domain (majority of its
    outcomes), every outcome marked not independent left out, whatever its kind."""
    outcomes, narratives = raw("outcomes"), raw("outcome_narratives")
    votes: list[tuple[str, str, str]] = []
    for (trial, outcome), rows in outcomes.groupby(["trial_id", "outcome_id"], sort=False):
        rows = rows.sort_values("timepoint_months")
        if rows["not_independent"].notna().any():
            continue
        sign = {"higher": 1, "lower": -1}.get(rows["direction_of_benefit"].iloc[-1])
        if sign is None or (rows["n"].fillna(rows["total"]) == 1).all():
            continue
        base, later = rows[rows["timepoint_months"] == 0], rows[rows["timepoint_months"] > 0]
        vote = None
        if len(base) and len(later):
            before, after = base.iloc[0], later.iloc[-1]
            for column in ("mean", "median"):
                if pd.notna(before[column]) and pd.notna(after[column]):
                    change = after[column] - before[column]
                    break
            else:
                change = after["events"] / after["total"] - before["events"] / before["total"]
            vote = "up" if change * sign > 0 else "down" if change * sign < 0 else "tie"
        elif rows["kind"].iloc[-1] == "count":
            last = rows.iloc[-1]
            vote = "up" if last["events"] / last["total"] > 0.5 else "tie"
        else:
            match = narratives[(narratives.trial_id == trial) & (narratives.outcome_id == outcome)]
            if len(match):
                vote = {"improved": "up", "worsened": "down"}.get(match["direction"].iloc[0], "tie")
        if vote:
            votes.append((trial, rows["domain"].iloc[-1], vote))
    known = set(zip(outcomes["trial_id"], outcomes["outcome_id"], strict=True))
    for row in narratives.itertuples():
        if (row.trial_id, row.outcome_id) in known or pd.notna(row.not_independent):
            continue
        vote = {"improved": "up", "worsened": "down"}.get(row.direction, "tie")
        votes.append((row.trial_id, row.domain, vote))
    frame = pd.DataFrame(votes, columns=["trial_id", "domain", "vote"])
    return frame.groupby(["trial_id", "domain"])["vote"].agg(
        lambda v: np.sign((v == "up").sum() - (v == "down").sum())
    )


def test_one_vote_per_outcome_domain_per_trial_matches_an_independent_count(results):
    expected = independent_domain_votes()
    domains = results["synthesis_vote_domains"].set_index(["trial_id", "domain"])
    assert not domains.index.duplicated().any()
    found = domains["vote"].map({"improved": 1, "worsened": -1, "no clear direction": 0})
    assert {k: int(v) for k, v in found.items()} == {k: int(v) for k, v in expected.items()}
    per_trial = expected.groupby(level="trial_id").agg(
        lambda v: np.sign((v > 0).sum() - (v < 0).sum())
    )
    up, down = int((per_trial > 0).sum()), int((per_trial < 0).sum())
    trials = scope_row(results["synthesis_vote_tests"], level="trials")
    assert (trials["favour_benefit"], trials["favour_harm"]) == (up, down)
    assert trials["sign_test_p"] == pytest.approx(stats.binomtest(up, up + down, 0.5).pvalue)
    assert trials["independent"]


def test_components_and_subgroups_never_vote_whatever_their_kind(results):
    marked = pd.concat([raw("outcomes"), raw("outcome_narratives")], ignore_index=True).dropna(
        subset=["not_independent"]
    )
    keys = set(zip(marked["trial_id"], marked["outcome_id"], strict=True))
    assert any(k[1].startswith("gmfm_") for k in keys)  # numeric rows, not only narratives
    table = results["synthesis_votes"]
    left_out = table[[k in keys for k in zip(table["trial_id"], table["outcome_id"], strict=True)]]
    assert len(left_out) == len(keys)
    assert not left_out["counted"].any()
    assert left_out["not_counted_because"].str.startswith("not independent").all()


def test_a_numeric_outcome_marked_not_independent_is_not_counted(tables):
    outcomes = tables["outcomes"].copy()
    target = outcomes["outcome_id"] == "gmfm_total"
    outcomes.loc[target, "not_independent"] = "constructed: restates another outcome"
    found = votes.outcome_votes({**tables, "outcomes": outcomes}).set_index("outcome_id")
    assert found.loc["gmfm_total", "direction"] == "improved"
    assert not found.loc["gmfm_total", "counted"]


def test_outcome_level_votes_state_their_dependence(results):
    tests = results["synthesis_vote_tests"]
    overall = tests[tests["scope"] == ALL].set_index("level")
    assert list(overall.index) == ["trials", "domains", "outcomes"]  # trial level first
    assert not overall.loc["outcomes", "independent"]
    assert "not independent" in overall.loc["outcomes", "dependence"]
    assert overall.loc["outcomes", "favour_benefit"] >= overall.loc["domains", "favour_benefit"]


# --------------------------------------------------------------------------- other analyses


def test_subgroup_table_names_the_missing_k(results):
    contrasts = results["synthesis_subgroup_contrasts"]
    assert set(contrasts["moderator"]) == set(synthesis.heterogeneity.MODERATORS)
    assert not contrasts["possible"].any()
    assert contrasts["reason"].str.len().min() > 10
    levels = results["synthesis_subgroup_levels"]
    assert set(levels.loc[levels["moderator"] == "cell_type", "level"]) == {"BMMNC", "MSC"}


def test_sensitivity_tables(results):
    sources = results["synthesis_sensitivity_sources"].set_index("scenario")
    no_press = serious_denominators({"full_text", "bibliographic_record", "abstract"}).sum()
    assert sources.loc["without press reports", "serious_patients"] == no_press
    r = results["synthesis_sensitivity_r"]
    assert {0.3, 0.9} <= set(r.loc[r["r_source"] == "assumed", "r"])
    assert (r["r_source"] == "recovered from a bound").any()
    loo = results["synthesis_sensitivity_leave_one_out"]
    reported = results["synthesis_serious_events"]["reported"].sum()
    assert len(loo[loo["analysis"] == "serious events"]) == reported


def test_certainty_covers_safety_and_efficacy_per_condition(results):
    certainty = results["synthesis_certainty"]
    judgments = results["synthesis_certainty_judgments"]
    assert len(judgments) == 5 * len(certainty)
    assert judgments["reason"].str.len().min() > 10
    assert set(certainty["certainty"]) <= {"very low", "low"}
    for condition, own in certainty.groupby("condition"):
        assert list(own["rank"]) == list(range(1, len(own) + 1))
        first = own.sort_values("rank").iloc[0]
        assert (first["kind"], first["subject"]) == ("safety", "serious") or not (
            certainty[(certainty["condition"] == condition) & (certainty["subject"] == "serious")]
        ).shape[0]
    assert (certainty.loc[certainty["surrogate"], "importance"] == "limited").all()


def test_source_selection(tables):
    selected = synthesis.select_sources(tables, ["full_text", "abstract"])
    assert set(selected["trials"]["trial_id"]) == {"sb_nguyen2023", "sci_yang2021"}
    assert set(selected["outcomes"]["trial_id"]) <= {"sb_nguyen2023", "sci_yang2021"}
    with pytest.raises(ValueError, match="unknown source kinds"):
        synthesis.select_sources(tables, ["tweet"])


def test_settings_reach_the_computation(tables):
    found = analysis.compute(tables, Settings.from_parameters(source_kinds=["full_text"], min_k=2))
    assert set(found["synthesis_serious_events"]["trial_id"]) == {"sb_nguyen2023"}
    sources = found["synthesis_sensitivity_sources"].set_index("scenario")
    assert sources.loc["all sources", "trials"] == len(tables["trials"])  # always every trial


def test_evidence_map(results, tables):
    long = results["synthesis_evidence_map"]
    safety_rows = long[long["domain"] == "safety"]
    assert sorted(safety_rows["patients"]) == sorted(serious_denominators())
    assert long["words_only"].any() and not safety_rows["words_only"].any()


def test_results_do_not_depend_on_the_order_of_the_trials(tables, results):
    """Results do not depend on the order trials are listed in."""
    shuffled = {
        name: frame.iloc[::-1].reset_index(drop=True) if name == "trials" else frame
        for name, frame in tables.items()
    }
    again = analysis.compute(shuffled, Settings())
    pd.testing.assert_frame_equal(
        again["synthesis_serious_pooled"], results["synthesis_serious_pooled"]
    )


# --------------------------------------------------------------------------- prior meta-analyses


def test_prior_meta_analyses_load_with_the_required_rows():
    prior = load_prior_meta_analyses()
    shang = prior[prior["study"].str.startswith("Shang")]
    ais = shang[shang["outcome"].str.contains("ASIA")].iloc[0]
    assert (ais["estimate"], ais["ci_low"], ais["ci_high"], ais["k"]) == (48.9, 40.8, 56.9, 62)
    egg = prior[prior["study"].str.startswith("Eggenberger")].iloc[0]
    assert (egg["estimate"], egg["ci_low"], egg["ci_high"], egg["i2"]) == (0.95, 0.13, 1.76, 90.1)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda f: f.drop(columns="i2"), "(header)"),
        (lambda f: f.assign(extra="x"), "unknown ['extra']"),
        (lambda f: f.assign(estimate=["high"] + list(f["estimate"][1:])), "row 2.estimate"),
        (lambda f: f.assign(year=["2022.5"] + list(f["year"][1:])), "row 2.year"),
        (lambda f: f.assign(ci_low=["60"] + list(f["ci_low"][1:])), "ci_low <= estimate"),
        (lambda f: f.assign(condition=["autism"] + list(f["condition"][1:])), "row 2.condition"),
        (lambda f: f.assign(compare_with=["motor"] + list(f["compare_with"][1:])), "compare_with"),
        (lambda f: f.assign(study=[None] + list(f["study"][1:])), "row 2.study"),
    ],
)
def test_bad_prior_meta_analyses_name_the_file_and_the_field(tmp_path, change, fragment):
    frame = pd.read_csv(paths.context_dir() / "prior_meta_analyses.csv", dtype=str)
    path = tmp_path / "prior_meta_analyses.csv"
    change(frame).to_csv(path, index=False)
    with pytest.raises(EvidenceInputError) as error:
        load_prior_meta_analyses(path)
    assert str(path) in str(error.value) and fragment in str(error.value)


def test_missing_prior_file_is_an_input_error(tmp_path):
    with pytest.raises(EvidenceInputError, match="missing file"):
        load_prior_meta_analyses(tmp_path / "nope.csv")


def test_the_synthesis_reads_per_trial_changes_only_at_its_own_r(tables):
    other = estimates.trial_results(tables, Settings(assumed_r=0.5))
    with pytest.raises(ValueError, match=r"trial_changes were computed at r = \[0\.5\]"):
        synthesis.compute({**tables, **other}, Settings())
