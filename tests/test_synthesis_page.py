"""The synthesis page: key messages, summaries of findings, the reason beside each number,
human labels and links, settings checked first and said when they changed nothing, and a page
that stays bounded as the evidence grows (issue 12 items 1, 2, 4; 13; 14 item 6; 15 item 6)."""

from __future__ import annotations

import base64
import html
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from support import on_fixture_root, raw_table, run_notebook_here, scratch_project

from helpers import data, paths
from helpers.evidence import ingest
from helpers.pages import site, site_checks
from helpers.pages import synthesis as page
from helpers.pages.synthesis import findings, key_messages
from helpers.pages.synthesis.inputs import FIGURE_ROWS, ROWS_SHOWN
from helpers.stats import analysis
from helpers.stats.analysis import Settings

NOTEBOOK = "03_synthesis.ipynb"
NOTEBOOK_PATH = paths.notebooks_dir() / NOTEBOOK
raw = raw_table


@pytest.fixture(scope="module")
def inputs() -> page.Inputs:
    with on_fixture_root():
        return page.load(Settings())


def visible_text(document: str) -> str:
    """What a reader sees: the page without tags, styles or link targets."""
    body = document.split("<main>", 1)[-1]
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# --------------------------------------------------------------------------- key messages


def test_key_messages_give_safety_efficacy_and_certainty_per_condition(inputs):
    messages = key_messages.key_messages(inputs.results)
    conditions = sorted(set(raw("trials")["condition"]))
    assert [(m.condition, m.topic) for m in messages] == [
        (c, t) for c in conditions for t in key_messages.TOPICS
    ]
    for message in messages:
        assert message.text and message.anchor
    certainty = inputs["synthesis_certainty"]
    assert set(certainty["certainty"]) == {"very low"}  # the fixture: GRADE's wording follows
    assert all(
        "We are very uncertain whether" in m.text for m in messages if m.topic != "certainty"
    )


def test_key_messages_use_the_plain_language_of_each_certainty_level(inputs):
    results = dict(inputs.results)
    certainty = results["synthesis_certainty"].copy()
    certainty["certainty"] = "low"
    results["synthesis_certainty"] = certainty
    efficacy = key_messages.efficacy_message("cerebral_palsy", results)
    assert "Cell therapy may improve motor function" in efficacy
    assert "Serious adverse events may be uncommon" in key_messages.safety_message(
        "cerebral_palsy", results
    )
    certainty["certainty"] = "moderate"
    assert "probably improves" in key_messages.efficacy_message("cerebral_palsy", results)


def test_key_messages_state_the_safety_numbers_and_who_gives_no_data(inputs):
    text = key_messages.safety_message("spinal_cord_injury", inputs.results)
    row = inputs["synthesis_serious_pooled"].set_index("scope").loc["spinal_cord_injury"]
    assert f"{int(row['patients'])} patients" in text
    assert f"{100 * row['upper_bound']:.1f}%" in text
    assert "1 more trial does not report serious events per patient" in text


def test_key_messages_html_links_to_the_synthesis_from_the_index(inputs):
    shown = key_messages.key_messages_html(inputs.results, page="synthesis.html")
    assert 'href="synthesis.html#serious-events"' in shown
    assert 'href="synthesis.html#findings-spina-bifida"' in shown
    assert "<script>" not in key_messages.key_messages_html(inputs.results)


# --------------------------------------------------------------------------- summary of findings


def test_a_summary_of_findings_per_condition_ranks_at_most_seven_outcomes(inputs):
    for condition in inputs.conditions:
        shown = findings.summary_of_findings(inputs, condition).data
        assert f'id="{key_messages.findings_anchor(condition)}"' in shown
        rows = re.findall(r"<tr>(.*?)</tr>", shown.split("<tbody>")[1])
        assert 1 <= len(rows) <= findings.MAX_OUTCOMES
        assert "Serious adverse events" in rows[0] or "Serious" not in shown
        assert re.search(r"\d+ \(\d+ stud(y|ies)\)", shown)  # participants (studies)
        assert "⊕" in shown and re.search(r"<p>a\. ", shown)  # certainty, footnoted reasons


def test_impact_is_in_words_with_numbers_and_units(inputs):
    certainty = inputs["synthesis_certainty"].set_index("outcome_key")
    motor = findings.impact(certainty.loc["cerebral_palsy:motor"], inputs)
    assert "GMFM total" in motor and "(scale 0 to 100)" in motor and "16 patients" in motor
    assert "positive values favour benefit" in motor
    bowel = findings.impact(certainty.loc["spina_bifida:bowel"], inputs)
    assert "at baseline" in bowel and "Exact McNemar" in bowel
    serious = findings.impact(certainty.loc["spinal_cord_injury:serious"], inputs)
    assert "Not reported per patient by Honmou 2021" in serious


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


def embedded_svgs(document: str) -> list[str]:
    encoded = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', document)
    return [base64.b64decode(data).decode("utf-8") for data in encoded]


def serious_total(kinds: set[str] | None = None) -> int:
    events = raw("adverse_events")
    trials = raw("trials").set_index("trial_id")
    serious = events[
        (events["serious"].astype(str) == "True") & (events["count_unit"] == "patients")
    ]
    if kinds is not None:
        serious = serious[serious["trial_id"].map(trials["source_kind"]).isin(kinds)]
    return int(serious.groupby("trial_id")["denominator"].max().sum())


def test_page_shows_the_key_figures_with_human_labels_and_links(pages):
    document = pages["first"]
    text = visible_text(document)
    total = serious_total()
    assert f"0 of {total} patients" in text
    assert f"{100 * (1 - 0.05 ** (1 / total)):.1f}%" in text
    trials = raw("trials")
    for row in trials.itertuples():
        assert row.label in text
        assert f'href="trials/{row.trial_id}.html"' in document
        assert row.trial_id not in text  # identifiers only in link targets
    assert site_checks.code_identifiers(text) == []
    assert "(s)" not in text


def test_every_link_on_the_page_points_at_an_anchor_it_has(pages):
    document = pages["first"]
    anchors = set(re.findall(r'id="([^"]+)"', document))
    for target in re.findall(r'href="#([^"]+)"', document):
        assert target in anchors, target


def test_no_settings_jargon_before_the_findings_when_nothing_was_pooled(pages):
    text = visible_text(pages["first"])
    top = text.split("Summary of findings")[0]
    for jargon in ("REML", "Hartung", "restricted maximum likelihood", "tau"):
        assert jargon not in top
    assert "Nothing was pooled, so the between-trial variance estimator" in text


def test_the_trial_level_vote_comes_before_the_dependent_counts(pages):
    text = visible_text(pages["first"])
    trial_level = text.index("Trial level (one vote per trial)")
    assert trial_level < text.index("Outcome domains (one vote per outcome domain per trial")
    assert trial_level < text.index("Outcomes (one vote per outcome; not independent")


def test_reasons_are_shown_where_the_numbers_are(pages):
    text = visible_text(pages["first"])
    assert "3 of 16 patients or 12 of 64 administrations" in text  # unit unknown, listed apart
    assert "the estimate reflects the correction, not the data" in text  # logit withheld
    assert "which assumes one common rate" in text  # beside the summed serious count
    assert "Not in this count, because they give no serious-event data per patient: Honmou" in text


def test_forest_plots_and_the_evidence_map_use_human_labels(pages):
    svgs = embedded_svgs(pages["first"])
    assert len(svgs) >= 3
    outcome_ids = set(raw("outcomes")["outcome_id"]) | set(raw("trials")["trial_id"])
    for svg in svgs:
        words = set(re.findall(r"[a-z][a-z0-9_]+", svg))
        assert not ({i for i in outcome_ids if "_" in i} & words)
    assert any('id="pooled-interval"' in svg for svg in svgs)  # summed counts: a bar
    assert not any('id="pooled-diamond"' in svg for svg in svgs)


def test_methods_register_every_report_and_each_study_funding(pages):
    text = visible_text(pages["first"])
    methods = text.split("Review question and eligibility", 1)[1].split("Settings ¶")[0]
    for citation in raw("reports")["citation"]:
        assert " ".join(citation.split()) in methods
    for row in raw("trials").itertuples():
        assert row.label in methods.split("Funding and conflicts of interest", 1)[1]
    assert "Flow of reports and studies through selection" in methods
    assert "Restricted maximum likelihood" in methods or "restricted maximum likelihood" in methods
    other = visible_text(pages["non-default"])
    assert "DerSimonian R, Laird N" in other and "DerSimonian R, Laird N" not in text
    assert "left out of this page's analyses by the analysis settings" in other


def test_page_is_deterministic(pages):
    assert pages["first"] == pages["second"]


def test_page_runs_with_non_default_parameters_and_says_what_had_no_effect(pages):
    text = visible_text(pages["non-default"])
    total = serious_total({"full_text", "bibliographic_record", "abstract"})
    assert f"0 of {total} patients" in text
    assert "the DerSimonian-Laird method (DL), normal (z) intervals" in text
    assert "r = 0.7" in text
    assert "settings that differ from the review's protocol" in text
    assert "changed no number on this page" in text
    assert "Honmou 2021" not in text.split("Sensitivity analyses")[0]  # a press report


def test_bad_parameters_stop_in_the_first_code_cell_before_anything_renders():
    shown: list[dict] = []
    with on_fixture_root(), pytest.raises(ValueError) as caught:
        shown = run_notebook_here(NOTEBOOK_PATH, {"assumed_r": 1.5, "r_grid": 0.5, "test": "t"})
    message = str(caught.value)
    assert "assumed_r" in message and "r_grid" in message and "test" in message
    assert shown == []


def test_notebook_is_thin_and_well_formed():
    notebook = nbformat.read(NOTEBOOK_PATH, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "cell-evidence"
    ids = [cell.id for cell in notebook.cells]
    assert ids == [f"cell-{i:02d}" for i in range(len(ids))]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    parameters, first = code[0], code[1]
    assert "parameters" in parameters.metadata.get("tags", [])
    assert "analysis.Settings.from_parameters(" in first.source
    for name in ("tau2_method", "test", "assumed_r", "r_grid", "source_kinds", "min_k"):
        assert f"{name} = " in parameters.source and f"{name}={name}" in first.source
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert "$" not in cell.source  # pages load no MathJax
            body = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#"))
            assert not re.search(r"[0-9]", body), f"{cell.id}: a typed-in number"
            assert site_checks.code_identifiers(body) == [], cell.id
        elif cell not in (parameters, first):
            assert len(cell.source.splitlines()) <= 3, f"{cell.id} holds logic"
            assert "import " not in cell.source


def test_the_notebook_defaults_are_the_protocol_settings():
    """Without parameters the page is computed with the protocol's settings (the trial pages
    use them too), so the settings section has nothing to declare."""
    notebook = nbformat.read(NOTEBOOK_PATH, as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    values: dict[str, object] = {}
    exec(parameters.source, {}, values)  # the cell holds literals only
    assert Settings.from_parameters(**values) == Settings()


# --------------------------------------------------------------------------- a growing evidence base


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> Path:
    """The fixture evidence base grown with synthetic trials past the page's row limits."""
    sys.path.insert(0, str(paths.project_root() / "benchmarks"))
    import synthetic

    root = scratch_project(tmp_path_factory.mktemp("grown") / "project")
    synthetic.generate(root, FIGURE_ROWS + 5)
    with on_fixture_root(root):
        ingest.run()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_page_stays_bounded_as_the_evidence_grows(grown):
    with on_fixture_root(grown):
        outputs = run_notebook_here(grown / "notebooks" / NOTEBOOK)
        results = analysis.compute(data.load_all())
    shown = "".join(output.get("text/html", "") for output in outputs)
    for table in re.findall(r"<tbody>(.*?)</tbody>", shown, flags=re.S):
        assert table.count("<tr>") <= ROWS_SHOWN
    assert len(results["synthesis_votes"]) > ROWS_SHOWN  # so some table was cut ...
    assert "every row is in the analysis results (file synthesis_votes.csv)" in shown  # ... said
    svgs = [o["image/svg+xml"] for o in outputs if "image/svg+xml" in o]
    for svg in svgs:
        assert svg.count("<text") < 20 * FIGURE_ROWS  # figures drawn for at most their rows
