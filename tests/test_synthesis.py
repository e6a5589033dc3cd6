"""The synthesis: its figures checked against independent computations from the processed CSVs,
its refusals to pool, and the rendered page (papermill + the reviewer template)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats
from support import on_fixture_root, raw_table

from helpers import data, paths
from helpers.errors import EvidenceInputError
from helpers.pages import report, site
from helpers.stats import meta, synthesis

NOTEBOOK = "03_synthesis.ipynb"
NOTEBOOK_PATH = paths.notebooks_dir() / NOTEBOOK


@pytest.fixture(scope="module")
def tables(fixture_tables) -> dict[str, pd.DataFrame]:
    return fixture_tables


@pytest.fixture(scope="module")
def result(tables) -> synthesis.Synthesis:
    return synthesis.run(tables)


raw = raw_table  # a fixture processed table read with plain pandas, not through the helpers


# --------------------------------------------------------------------------- independent figures


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


def independent_votes() -> tuple[int, int, int, int]:
    """SWiM votes recomputed from the CSVs: (outcomes improved, worsened, trials up, trials down).

    Numbers first (latest vs baseline: mean, else median, else events/total, times the
    direction of benefit); a follow-up-only count of improved patients counts as improved when
    more than half improved; then the narrative direction. No agreed direction, single-patient
    outcomes and rows marked "not an independent outcome" do not vote.
    """
    outcomes, narratives = raw("outcomes"), raw("outcome_narratives")
    votes: list[tuple[str, str]] = []
    for (trial, outcome), rows in outcomes.groupby(["trial_id", "outcome_id"], sort=False):
        rows = rows.sort_values("timepoint_months")
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
            votes.append((trial, vote))
    known = set(zip(outcomes["trial_id"], outcomes["outcome_id"], strict=True))
    for row in narratives.itertuples():
        if (row.trial_id, row.outcome_id) in known or pd.notna(row.not_independent):
            continue
        votes.append(
            (row.trial_id, {"improved": "up", "worsened": "down"}.get(row.direction, "tie"))
        )
    frame = pd.DataFrame(votes, columns=["trial", "vote"])
    per_trial = frame.groupby("trial")["vote"].agg(
        lambda v: np.sign((v == "up").sum() - (v == "down").sum())
    )
    return (
        int((frame["vote"] == "up").sum()),
        int((frame["vote"] == "down").sum()),
        int((per_trial > 0).sum()),
        int((per_trial < 0).sum()),
    )


def test_serious_event_total_and_exact_bound_match_an_independent_count(result):
    denominators = serious_denominators()
    total = int(denominators.sum())
    assert result.serious.trials == len(denominators)
    assert (result.serious.events, result.serious.patients) == (0, total)
    assert result.serious.upper_bound == pytest.approx(1 - 0.05 ** (1 / total), rel=1e-12)
    two_sided_high = 1 - 0.025 ** (1 / total)
    assert result.serious.ci_high == pytest.approx(two_sided_high, rel=1e-9)


def test_all_zero_serious_events_are_not_pooled_and_the_reason_says_why(result):
    assert not result.serious.pooled and result.serious.glmm is None
    assert "no maximum" in result.serious.reason
    with pytest.raises(ValueError, match="no maximum"):
        meta.rma_glmm_proportions(
            result.serious.per_trial["patients with event"], result.serious.per_trial["patients"]
        )


def test_sign_tests_match_scipy_on_an_independent_vote_count(result):
    up, down, trials_up, trials_down = independent_votes()
    d = result.direction
    assert (d.improved, d.worsened) == (up, down)
    assert (d.trials_improved, d.trials_worsened) == (trials_up, trials_down)
    assert d.sign_test_p == pytest.approx(stats.binomtest(up, up + down, 0.5).pvalue)
    assert d.trial_sign_test_p == pytest.approx(
        stats.binomtest(trials_up, trials_up + trials_down, 0.5).pvalue
    )
    assert any("size and precision" in limit for limit in d.limits)


def test_key_findings_state_the_computed_figures(result):
    total = int(serious_denominators().sum())
    bound = 1 - 0.05 ** (1 / total)
    text = " ".join(synthesis.key_findings(result))
    assert f"0 of {total} patients" in text
    assert f"{100 * bound:.1f}%" in text
    assert f"{len(raw('trials'))} trials" in text
    _, _, trials_up, trials_down = independent_votes()
    p = stats.binomtest(trials_up, trials_up + trials_down, 0.5).pvalue
    assert f"p = {p:.3g}" in text


# --------------------------------------------------------------------------- pooling decisions


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


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("mild fever", "fever"),
        ("Fever", "fever"),
        ("intermittent vomiting", "vomiting"),
        ("headache", "headache"),
        ("nausea", "nausea"),
        ("fatigue", "fatigue"),
        ("transient increase in muscle tension", "increased muscle tension"),
        ("swelling at the bone marrow extraction site", "bone-marrow harvest-site swelling"),
        ("something new", "something new"),
    ],
)
def test_adverse_event_terms_are_harmonised(term, expected):
    assert synthesis.harmonise_term(term) == expected


def test_per_patient_rates_are_never_mixed_with_events_or_administrations(result):
    events = raw("adverse_events")
    per_patient = result.by_term.per_patient
    # fever: only the trial that counted patients; the event count and the unknown-denominator
    # percentage are listed apart
    fever = per_patient[per_patient["term"] == "fever"]
    assert fever[["trial", "patients with event", "patients"]].values.tolist() == [
        ["cp_nguyen2017", 12, 40]
    ]
    apart = result.by_term.other_bases
    assert set(apart.loc[apart["term"] == "fever", "trial"]) == {"sb_nguyen2023", "sci_yang2021"}
    counted_as_events = events[events["count_unit"].isin(["events", "cases"])]
    for row in counted_as_events.itertuples():
        assert not (
            (per_patient["trial"] == row.trial_id) & (per_patient["as reported"] == row.term)
        ).any()
    assert not any(term.pooled for term in result.by_term.terms)  # one trial per term


def with_adverse_events(tables, rows: list[dict]) -> dict[str, pd.DataFrame]:
    added = pd.DataFrame(
        [
            {
                "serious": False,
                "count_unit": "patients",
                "denominator_unit": "patients",
                **row,
            }
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
            {"trial_id": "sb_nguyen2023", "term": "nausea", "count": 2, "denominator": 11},
            {"trial_id": "sci_yang2021", "term": "Nausea", "count": 10, "denominator": 102},
            # cases, not patients: must stay out of the per-patient pool
            {
                "trial_id": "sci_honmou2021",
                "term": "nausea",
                "count": 5,
                "denominator": 13,
                "count_unit": "cases",
            },
        ],
    )
    by_term = synthesis.safety_by_term(constructed, min_k=3)
    (nausea,) = [t for t in by_term.terms if t.term == "nausea"]
    assert nausea.pooled and set(nausea.trials) == {
        "cp_akhlaghpasand2025",
        "sb_nguyen2023",
        "sci_yang2021",
    }
    order = [
        nausea.trials.index(t) for t in ("cp_akhlaghpasand2025", "sb_nguyen2023", "sci_yang2021")
    ]
    x, n = np.array([3, 2, 10])[np.argsort(order)], np.array([16, 11, 102])[np.argsort(order)]
    expected = meta.rma_glmm_proportions(x, n)
    assert nausea.glmm.proportion == pytest.approx(expected.proportion)
    assert nausea.logit.model.startswith("normal-normal")
    assert "sci_honmou2021" in set(by_term.other_bases["trial"])
    figures = synthesis.safety_forests(by_term)
    diamonds = [a for a in figures[0].axes[1].get_children() if a.get_gid() == "pooled-diamond"]
    assert len(diamonds) == 1
    assert "yes" in set(by_term.pooling_table()["pooled"])


def changes_frame(rows: list[tuple[str, str, str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["trial_id", "condition", "domain", "n", "yi_benefit", "vi"]
    ).assign(usable=True)


def test_efficacy_pools_only_compatible_independent_estimates():
    three = changes_frame(
        [
            ("a", "cerebral_palsy", "motor", 16, 0.3, 0.05),
            ("b", "cerebral_palsy", "motor", 40, 0.5, 0.03),
            ("c", "cerebral_palsy", "motor", 20, 0.1, 0.06),
            ("d", "spina_bifida", "motor", 11, 0.9, 0.1),  # other condition: never pooled in
        ]
    )
    result = synthesis.efficacy_by_domain(three, min_k=3, method="REML", test="knha")
    pooled = result.pooled[("cerebral_palsy", "motor")]
    direct = meta.rma([0.3, 0.5, 0.1], [0.05, 0.03, 0.06], method="REML", test="knha")
    assert pooled.estimate == pytest.approx(direct.estimate)
    assert pooled.k == 3
    groups = result.groups.set_index(["condition", "domain"])
    assert groups.loc[("spina bifida", "motor"), "pooled"] == "no"
    assert "one trial" in groups.loc[("spina bifida", "motor"), "reason"]


def test_efficacy_refuses_several_outcomes_of_one_trial_and_too_few_trials():
    same_trial = changes_frame(
        [
            ("a", "spina_bifida", "bladder", 7, 0.4, 0.1),
            ("a", "spina_bifida", "bladder", 7, 0.5, 0.1),
        ]
    )
    groups = synthesis.efficacy_by_domain(same_trial, min_k=2).groups
    assert groups["pooled"].tolist() == ["no"] and "not independent" in groups["reason"].iloc[0]
    two = changes_frame(
        [
            ("a", "cerebral_palsy", "motor", 16, 0.3, 0.05),
            ("b", "cerebral_palsy", "motor", 9, 0.2, 0.1),
        ]
    )
    groups = synthesis.efficacy_by_domain(two, min_k=3).groups
    assert "fewer than the minimum of 3" in groups["reason"].iloc[0]


def test_real_efficacy_falls_back_to_side_by_side(result):
    assert result.efficacy.pooled == {}
    assert (result.efficacy.groups["pooled"] == "no").all()
    usable = result.efficacy.estimates[result.efficacy.estimates["usable"]]
    assert usable.groupby(["condition", "domain"])["trial_id"].nunique().max() == 1
    # outcomes without an agreed direction are listed but never synthesised
    anorectal = result.efficacy.estimates[
        result.efficacy.estimates["direction_of_benefit"] == "none"
    ]
    assert len(anorectal) and not anorectal["usable"].any()


def test_subgroup_table_names_the_missing_k(result):
    contrasts = result.subgroups.contrasts
    assert set(contrasts["moderator"]) == set(synthesis.MODERATORS.values())
    assert (contrasts["contrast possible"] == "no").all()
    assert contrasts["result"].str.len().min() > 10
    levels = result.subgroups.levels
    cell = levels[levels["moderator"] == synthesis.MODERATORS["cell_type"]]
    assert set(cell["level"]) == {"BMMNC", "MSC"}


def test_sensitivity_tables(result, tables):
    sources = result.source_sensitivity.set_index("sources")
    no_press = serious_denominators({"full_text", "bibliographic_record", "abstract"}).sum()
    assert sources.loc["without press reports", "serious events / patients"] == f"0/{no_press}"
    assert set(result.r_sensitivity.columns) >= {"95% CI, r = 0.3", "95% CI, r = 0.9"}
    recovered = result.r_sensitivity["r recovered from p"]
    assert recovered.str.contains("p reported as a bound").any()
    loo = result.leave_one_out
    assert len(loo[loo["analysis"].str.startswith("serious")]) == result.serious.trials
    estimators = result.estimators.set_index("analysis")
    assert estimators.loc["serious adverse events", "GLMM (ML)"].startswith("undefined")


def test_source_selection(tables):
    selected = synthesis.select_sources(tables, ["full_text", "abstract"])
    assert set(selected["trials"]["trial_id"]) == {"sb_nguyen2023", "sci_yang2021"}
    assert set(selected["outcomes"]["trial_id"]) <= {"sb_nguyen2023", "sci_yang2021"}
    with pytest.raises(ValueError, match="unknown source kinds"):
        synthesis.select_sources(tables, ["tweet"])


def test_run_rejects_bad_parameters(tables):
    with pytest.raises(ValueError, match="tau2_method"):
        synthesis.run(tables, tau2_method="XX")
    with pytest.raises(ValueError, match="test"):
        synthesis.run(tables, test="t")
    with pytest.raises(ValueError, match="min_k"):
        synthesis.run(tables, min_k=0)


def test_evidence_map_and_characteristics(tables):
    matrix = synthesis.evidence_map(tables)
    assert len(matrix) == len(tables["trials"]) and matrix.columns[0] == "safety"
    safety = matrix["safety"].to_numpy()
    assert sorted(safety) == sorted(serious_denominators().astype(float))
    marks = synthesis.evidence_basis(tables)
    assert marks.shape == matrix.shape and (marks["safety"] == "").all()
    assert (marks == synthesis.WORDS_ONLY_MARK).to_numpy().any()
    characteristics = synthesis.characteristics_table(tables)
    assert set(characteristics.index) == set(tables["trials"]["trial_id"])
    assert {"route", "dose", "administrations", "source kind"} <= set(characteristics.columns)


def test_grade_table_covers_safety_and_efficacy(result):
    sof = result.summary_of_findings
    assert sof["outcome"].iloc[0] == "serious adverse events"
    assert sof["publication bias"].eq("not assessable").all()
    assert set(sof["certainty"]) <= {"very low", "low"}
    judgments = result.grade_judgments
    assert len(judgments) == 5 * len(sof)
    assert judgments["reason"].str.len().min() > 10
    assert "reasons" not in result.summary_of_findings_table().columns


def test_generated_text_is_escaped():
    shown = report.paragraphs(["<script>alert(1)</script>"]).data
    assert "<script>" not in shown and "&lt;script&gt;" in shown


# --------------------------------------------------------------------------- prior meta-analyses


def test_prior_meta_analyses_load_with_the_required_rows():
    prior = synthesis.load_prior_meta_analyses()
    shang = prior[prior["study"].str.startswith("Shang")]
    ais = shang[shang["outcome"].str.contains("ASIA")].iloc[0]
    assert (ais["estimate"], ais["ci_low"], ais["ci_high"], ais["k"]) == (48.9, 40.8, 56.9, 62)
    egg = prior[prior["study"].str.startswith("Eggenberger")].iloc[0]
    assert (egg["estimate"], egg["ci_low"], egg["ci_high"], egg["i2"]) == (0.95, 0.13, 1.76, 90.1)


def write_prior(tmp_path: Path, change) -> Path:
    frame = pd.read_csv(paths.context_dir() / "prior_meta_analyses.csv", dtype=str)
    frame = change(frame)
    path = tmp_path / "prior_meta_analyses.csv"
    frame.to_csv(path, index=False)
    return path


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
    path = write_prior(tmp_path, change)
    with pytest.raises(EvidenceInputError) as error:
        synthesis.load_prior_meta_analyses(path)
    assert str(path) in str(error.value) and fragment in str(error.value)


def test_missing_prior_file_is_an_input_error(tmp_path):
    with pytest.raises(EvidenceInputError, match="missing file"):
        synthesis.load_prior_meta_analyses(tmp_path / "nope.csv")


def test_context_places_our_estimate_beside_each_prior(result):
    context = result.context
    assert len(context) == len(result.prior)
    cp = context[context["prior meta-analysis"].str.startswith("Eggenberger")].iloc[0]
    assert "SMCR" in cp["this synthesis (same condition and domain)"]
    assert cp["estimate [95% CI]"] == "0.95 [0.13, 1.76]"


# --------------------------------------------------------------------------- the page


def execute(tmp_path: Path, name: str, parameters: dict) -> nbformat.NotebookNode:
    """Run the committed notebook with papermill on the fixture evidence base."""
    import papermill

    from helpers.run.kernel import KERNEL_ARGUMENTS, KERNEL_NAME, IPCKernelManager

    output = tmp_path / name
    with on_fixture_root():  # the kernel inherits the root
        papermill.execute_notebook(
            str(NOTEBOOK_PATH),
            str(output),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            kernel_manager_class=IPCKernelManager,
            extra_arguments=KERNEL_ARGUMENTS,
            cwd=str(NOTEBOOK_PATH.parent),
            progress_bar=False,
            log_output=False,
        )
    return nbformat.read(output, as_version=4)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("synthesis-pages")
    non_default = {
        "test": "z",
        "tau2_method": "DL",
        "source_kinds": ["full_text", "bibliographic_record", "abstract"],
        "assumed_r": 0.7,
        "min_k": 2,
    }
    return {
        "first": site.render_notebook(execute(folder, "first.ipynb", {})),
        "second": site.render_notebook(execute(folder, "second.ipynb", {})),
        "non-default": site.render_notebook(execute(folder, "other.ipynb", non_default)),
    }


def embedded_svgs(page: str) -> list[str]:
    """The page's figures: SVG documents embedded as base64 data URIs."""
    encoded = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    return [base64.b64decode(data).decode("utf-8") for data in encoded]


def test_page_shows_the_key_figures_as_computed_here(pages):
    total = int(serious_denominators().sum())
    page = pages["first"]
    assert f"0 of {total} patients" in page
    assert f"{100 * (1 - 0.05 ** (1 / total)):.1f}%" in page
    _, _, trials_up, trials_down = independent_votes()
    assert f"p = {stats.binomtest(trials_up, trials_up + trials_down, 0.5).pvalue:.3g}" in page
    for trial in raw("trials")["trial_id"]:
        assert trial in page
    figures = embedded_svgs(page)
    assert len(figures) >= 3
    # the all-zero serious-event summary is an interval bar, never a model diamond
    assert any('id="pooled-interval"' in svg for svg in figures)
    assert not any('id="pooled-diamond"' in svg for svg in figures)


def test_page_is_deterministic(pages):
    assert pages["first"] == pages["second"]


def test_page_runs_with_non_default_parameters(pages):
    page = pages["non-default"]
    no_press = int(serious_denominators({"full_text", "bibliographic_record", "abstract"}).sum())
    assert f"0 of {no_press} patients" in page
    assert "between-trial variance by DL, normal (z) intervals" in page
    assert "assumed r = 0.7" in page
    assert "sci_honmou2021" not in page.split("Sensitivity analyses")[0]  # a press report


def test_notebook_is_thin_and_well_formed():
    notebook = nbformat.read(paths.notebooks_dir() / NOTEBOOK, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "cell-evidence"
    ids = [cell.id for cell in notebook.cells]
    assert ids == [f"cell-{i:02d}" for i in range(len(ids))]
    (parameters,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    for name in ("tau2_method", "test", "assumed_r", "r_grid", "source_kinds", "min_k"):
        assert f"{name} = " in parameters.source
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert "$" not in cell.source  # pages load no MathJax
            body = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#"))
            assert not re.search(r"[0-9]", body), f"{cell.id}: a typed-in number"
        elif cell is not parameters:
            assert len(cell.source.splitlines()) <= 16, f"{cell.id} holds logic"
            assert "import " not in cell.source or cell.id == "cell-02"


def test_forest_helpers_on_real_results(result):
    figure = synthesis.serious_forest(result.serious)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert set(result.serious.per_trial["trial"]) <= set(labels)
    assert isinstance(figure, Figure)
    efficacy_figures = synthesis.efficacy_forest(result.efficacy)
    assert len(efficacy_figures) == 1  # nothing pooled: one side-by-side figure
