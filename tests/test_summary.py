"""Trial-page sections, and the rendered page of every trial (papermill + the reviewer template)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from IPython.display import HTML
from papermill.exceptions import PapermillExecutionError
from support import FIXTURE_TRIALS, fixture_processed, on_fixture_root

from helpers import data, paths
from helpers.pages import site, summary
from helpers.run.kernel import KERNEL_ARGUMENTS, IPCKernelManager

TRIAL_IDS = FIXTURE_TRIALS
NOTEBOOK = paths.notebooks_dir() / "02_trial_summary.ipynb"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def tables(fixture_tables) -> dict[str, pd.DataFrame]:
    return fixture_tables


def _html(section: object) -> str:
    """What a notebook would show for a section's return value."""
    if isinstance(section, HTML):
        return section.data
    if isinstance(section, pd.DataFrame):
        return section._repr_html_()
    raise TypeError(type(section))


def _refs(frame: pd.DataFrame) -> set[str]:
    return set(re.findall(r"\[(q\d+)\]", " ".join(frame.astype(str).to_numpy().ravel())))


# ------------------------------------------------------------------ sections


def test_fixture_trials_are_all_processed(tables):
    assert sorted(tables["trials"]["trial_id"]) == TRIAL_IDS


def test_unknown_trial_id_lists_the_valid_ones(tables):
    with pytest.raises(ValueError, match="unknown trial_id 'nope'") as caught:
        summary.require_trial("nope", tables["trials"])
    assert all(trial_id in str(caught.value) for trial_id in TRIAL_IDS)
    with pytest.raises(ValueError, match="valid ids"):
        summary.require_trial(None, tables["trials"])
    with pytest.raises(ValueError, match="valid ids"):
        summary.header("nope", tables)
    assert summary.require_trial("sb_nguyen2023", tables["trials"]) == "sb_nguyen2023"


def test_header_links_and_caution(tables):
    sb = summary.header("sb_nguyen2023", tables).data
    assert '<a href="https://doi.org/10.1186/s13287-023-03349-w">' in sb
    assert '<a href="https://clinicaltrials.gov/study/NCT05472428">NCT05472428</a>' in sb
    assert "2016-07 to 2020-12" in sb and "phase I" in sb
    assert "Caution" not in sb  # full text
    expected = {
        "cp_nguyen2017": "Caution: secondary source (press report)",
        "sci_honmou2021": "Caution: secondary source (press report)",
        "sci_yang2021": "Caution: abstract only",
        "cp_akhlaghpasand2025": "Caution: bibliographic record only",
    }
    for trial_id, caution in expected.items():
        assert caution in summary.header(trial_id, tables).data
    assert "no registry identifier reported" in summary.header("sci_yang2021", tables).data


def test_header_escapes_every_value_from_data(tables):
    hostile = {**tables, "trials": tables["trials"].copy()}
    row = hostile["trials"]["trial_id"] == "sb_nguyen2023"
    for column in ("title", "citation", "setting"):
        hostile["trials"].loc[row, column] = HOSTILE
    hostile["trials"].loc[row, "doi"] = '10.1/x"><script>alert(1)</script>'
    hostile["trials"].loc[row, "registry_id"] = HOSTILE
    page = summary.header("sb_nguyen2023", hostile).data
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://doi.org/10.1/x%22%3E%3Cscript%3Ealert' in page


def test_sections_escape_data_in_tables(tables):
    hostile = {**tables, "outcomes": tables["outcomes"].copy()}
    hostile["outcomes"]["measure"] = HOSTILE
    rendered = _html(summary.outcome_table("sb_nguyen2023", hostile))
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered


def test_statistics_text_formats():
    row = pd.Series
    assert summary.statistics_text(row({"mean": 127.7, "sd": 59.2})) == "127.7 ± 59.2"
    assert summary.statistics_text(row({"mean": 104.0, "sd": 0.0})) == "104.0 ± 0.0"
    assert summary.statistics_text(row({"mean": 839.0, "se": 86.37})) == "839.0 ± 86.37 (SE)"
    assert (
        summary.statistics_text(row({"median": 78.4, "low": 46.3, "high": 95.8}))
        == "median 78.4 (range 46.3–95.8)"
    )
    assert summary.statistics_text(row({"events": 6, "total": 11})) == "6/11 (54.5%)"
    assert (
        summary.statistics_text(row({"events": 7, "total": 16, "percent_reported": "43.75"}))
        == "7/16 (43.75% reported)"
    )
    assert summary.statistics_text(row({"low": 95.0})) == "lower bound 95.0"
    assert summary.statistics_text(row({"low": 8.0, "high": 8.0})) == "8.0"
    assert summary.statistics_text(row({})) == "described in words only"


def test_outcome_table_shows_reported_values_changes_and_effects(tables):
    table = summary.outcome_table("sb_nguyen2023", tables)
    capacity = table.xs("Cystometric bladder capacity [7 of 11 with cystomanometry]", level=1)
    values = capacity["mean ± SD / median (range) / events/total"].tolist()
    assert values == ["127.7 ± 59.2", "136.3 ± 54.8", "158.3 ± 56.2"]
    assert capacity["n"].tolist() == ["7", "7", "7"]
    assert capacity["change from baseline"].tolist() == ["baseline", "+8.6 mL", "+30.6 mL"]
    assert capacity["effect (95% CI)"].iloc[2].startswith("SMCR 0.45 (")
    outcomes = tables["outcomes"]
    baseline_row = outcomes[
        (outcomes["trial_id"] == "sb_nguyen2023")
        & (outcomes["outcome_id"] == "bladder_capacity")
        & (outcomes["timepoint_months"] == 0)
    ]
    quote_ids = baseline_row["quote_id"].iloc[0].split(";")
    expected = " ".join(f"[{quote_id.rsplit('-', 1)[1]}]" for quote_id in quote_ids)
    assert capacity["sources"].iloc[0] == expected
    urge = table.xs("Patients able to feel the urge to defecate [children aged 3 and over (7 of 11)]",
                    level=1)  # fmt: skip
    assert urge["mean ± SD / median (range) / events/total"].iloc[2] == (
        "6/7 (85.7%); exact 95% CI 42.1%–99.6%"
    )
    assert "pairing unknown" in urge["effect (95% CI)"].iloc[2]


def test_p_only_and_baseline_free_rows_say_what_is_missing(tables):
    akhlaghpasand = summary.outcome_table("cp_akhlaghpasand2025", tables)
    lying = akhlaghpasand[akhlaghpasand["p (as reported)"] == "0.002"].iloc[0]
    assert lying["mean ± SD / median (range) / events/total"].startswith("not reported")
    honmou = summary.outcome_table("sci_honmou2021", tables).iloc[0]
    assert honmou["change from baseline"] == "no baseline reported"
    assert honmou["mean ± SD / median (range) / events/total"].startswith("12/13 (92.3%)")


@pytest.mark.parametrize("trial_id", ["cp_nguyen2017", "sci_yang2021"])
def test_words_only_sources_say_so(tables, trial_id):
    section = summary.outcome_table(trial_id, tables)
    assert isinstance(section, HTML)
    assert section.data.startswith(
        "<p>This source reports no numeric outcomes; it describes them in words:</p><ul>"
    )
    assert (
        section.data.count("<li>") == (tables["outcome_narratives"]["trial_id"] == trial_id).sum()
    )
    assert isinstance(summary.effect_table(trial_id, tables), HTML)
    assert isinstance(summary.outcomes_figure(trial_id, tables), HTML)
    assert isinstance(summary.r_sensitivity_table(trial_id, tables), HTML)


def test_effect_table_readings(tables):
    effects = summary.effect_table("sb_nguyen2023", tables).reset_index()
    reading = effects.set_index(["outcome", "comparison"])["reading"]
    last = "baseline → after 2nd infusion (month 12)"
    assert reading[("Patients with Bristol stool scale type I stools", last)] == "improved"
    # 9 of 10 assessed at baseline, 3 of 11 after: too few pairings give p < 0.05 to call it.
    assert reading[("Patients with urine leakage", last)] == "uncertain"
    assert reading[("Cystometric bladder capacity", last)] == "uncertain"
    rest = "Anorectal manometry: rectal pressure at rest"
    assert reading[(rest, last)] == "no agreed direction"
    # Domains stay together in the outcomes table's order.
    assert effects["domain"].tolist() == sorted(
        effects["domain"], key=["bowel", "bladder", "motor"].index
    )


def test_effect_table_shows_assumed_and_recovered_r(tables):
    effects = summary.effect_table("cp_akhlaghpasand2025", tables, r=0.5).reset_index()
    gmfm = effects[effects["outcome"] == "Gross Motor Function Measure, total score"].iloc[0]
    assert gmfm["assumption / paired test"].startswith(
        "r = 0.5 assumed; r recovered from p < 0.001"
    )
    gmfcs = effects[effects["outcome"].str.startswith("Gross Motor Function Classification")]
    assert "below every exact McNemar p" in gmfcs.iloc[0]["note"]
    glance = summary.at_a_glance("cp_akhlaghpasand2025", tables, r=0.5).data
    assert "with r recovered from the reported p-values, 5 improved" in glance


def test_sensitivity_table_has_one_column_per_r(tables):
    table = summary.r_sensitivity_table("cp_akhlaghpasand2025", tables, [0.3, 0.9])
    assert [c for c in table.columns if c.startswith("95% CI")] == [
        "95% CI, r = 0.3",
        "95% CI, r = 0.9",
        "95% CI, r recovered from p",
    ]
    assert table.loc["Berg Balance Scale, total score", "95% CI, r recovered from p"].startswith(
        "r = 0.99:"
    )


def test_safety_keeps_units_apart(tables):
    sb = summary.safety("sb_nguyen2023", tables)
    assert sb.index[0].startswith("serious adverse events")  # serious first
    events = sb[sb["rate basis"] == "events (not patients)"]
    assert len(events) == 6
    assert (events["incidence per patient (exact 95% CI)"] == "—").all()
    assert sb.loc["headache", "count (unit)"] == "3 events"
    assert sb.loc["vomiting", "count (unit)"] == "1 event"
    assert sb.iloc[0]["one-sided 95% upper bound (zero events)"] == "23.8%"
    akhlaghpasand = summary.safety("cp_akhlaghpasand2025", tables)
    assert akhlaghpasand.loc["nausea", "count (unit)"] == "3 patients (derived: 18.75% × 16)"
    assert akhlaghpasand.loc["nausea", "incidence per patient (exact 95% CI)"] == (
        "18.8% (4.0%–45.6%)"
    )
    yang = summary.safety("sci_yang2021", tables)
    assert yang.loc["fever", "rate basis"] == "unknown denominator"
    assert yang.loc["fever", "percent (as reported)"] == "14.1%"


def test_at_a_glance_keeps_adverse_event_units_apart(tables):
    sb = summary.at_a_glance("sb_nguyen2023", tables).data
    assert "headache 3 events among 11 patients" in sb
    assert "one-sided 95% upper bound 23.8%" in sb
    akhlaghpasand = summary.at_a_glance("cp_akhlaghpasand2025", tables).data
    assert "nausea 3 of 16 patients (from 18.75%)" in akhlaghpasand
    yang = summary.at_a_glance("sci_yang2021", tables).data
    assert "fever 14.1% (denominator not stated)" in yang
    assert "102 in the safety analysis, 41 in the efficacy analysis" in yang


def test_serious_events_in_words(tables):
    text = summary.serious_adverse_events("sb_nguyen2023", tables).data
    assert "0/11 patients" in text and "up to 23.8% (about 1 in 4)" in text


def test_limitations_combine_stated_and_derived(tables):
    sb = summary.limitations("sb_nguyen2023", tables)
    bases = sb["basis"].tolist()
    assert bases.count("stated by the source") == 6
    assert "derived from the data: control = none" in bases
    assert "derived from the data: blinding = open_label" in bases
    assert "derived from the data: n < 20" in bases
    yang = summary.limitations("sci_yang2021", tables)
    assert "derived from the data: n < 20" not in yang["basis"].tolist()  # 102 patients
    assert any(text.startswith("Efficacy analysed in 41 of 102") for text in yang.index)
    assert "derived from the data: source kind = abstract" in yang["basis"].tolist()
    assert "derived from the data: blinding not stated" in yang["basis"].tolist()
    honmou = summary.limitations("sci_honmou2021", tables)
    assert "derived from the data: source kind = press_report" in honmou["basis"].tolist()


def test_flags_put_warnings_first(tables):
    flags = summary.flags("sb_nguyen2023", tables)
    severities = flags["severity"].tolist()
    assert severities == sorted(severities, key=["warning", "info"].index)
    assert flags.index[0] == 1


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_every_mark_on_the_page_has_its_verbatim_quote(tables, trial_id):
    provenance = summary.provenance(trial_id, tables)
    assert "NOT FOUND in provenance.csv" not in provenance["verbatim quote"].tolist()
    listed = set(provenance.index)
    for section in (
        summary.pico,
        summary.baseline,
        summary.outcome_table,
        summary.effect_table,
        summary.narratives,
        summary.safety,
        summary.limitations,
    ):
        shown = section(trial_id, tables)
        if isinstance(shown, pd.DataFrame):
            assert _refs(shown) <= listed, section.__name__
    shown = summary.outcome_table(trial_id, tables)
    if isinstance(shown, HTML):
        assert set(re.findall(r"\[(q\d+)\]", shown.data)) <= listed


def test_provenance_quotes_are_verbatim(tables):
    provenance = summary.provenance("sb_nguyen2023", tables)
    quote = "Bladder capacity, mean(ml) 127.7 ± 59.2 136.3 ± 54.8 158.3 ± 56.2"
    source = tables["provenance"].set_index("quote")
    mark = source.loc[quote, "quote_id"].rsplit("-", 1)[1]
    assert provenance.loc[mark, "verbatim quote"] == quote


def test_sections_without_data_return_a_sentence(tables):
    assert "reports no baseline" in summary.baseline("cp_nguyen2017", tables).data
    assert "Every number" in summary.uncaptured("cp_nguyen2017", tables).data
    empty = {**tables, "adverse_events": data.empty_frame("adverse_events")}
    assert "reports no adverse events" in summary.safety("sb_nguyen2023", empty).data
    assert (
        "does not report on serious" in summary.serious_adverse_events("sb_nguyen2023", empty).data
    )


# ------------------------------------------------------------------ rendered pages


def _render(trial_id: str, out_dir: Path, root: Path | None = None) -> str:
    """Run the notebook with papermill for ``trial_id`` and render it as the pipeline does."""
    executed = out_dir / f"{trial_id}.ipynb"
    with on_fixture_root(root):  # the kernel inherits the root
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(executed),
            parameters={"trial_id": trial_id},
            kernel_name=paths.KERNEL_NAME,
            kernel_manager_class=IPCKernelManager,  # own sockets: no port collisions
            extra_arguments=KERNEL_ARGUMENTS,
            cwd=str(NOTEBOOK.parent),
            progress_bar=False,
            log_output=False,
        )
    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill's id is random (the pipeline does this)
    return site.render_notebook(notebook, depth=1)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """Rendered pages, each built once for all the tests that read it."""
    out_dir = tmp_path_factory.mktemp("pages")

    class Pages(dict):
        def __missing__(self, trial_id: str) -> str:
            self[trial_id] = _render(trial_id, out_dir)
            return self[trial_id]

    return Pages()


def _text(page: str) -> str:
    """The page without embedded figures (their base64 could match anything)."""
    return re.sub(r'src="data:[^"]*"', "", page)


KEY_NUMBERS = {
    "sb_nguyen2023": [
        "127.7 ± 59.2",
        "158.3 ± 56.2",
        "0/11 patients",
        "one-sided 95% upper bound 23.8%",
        "7 events among 11 patients",
        "104.0 ± 0.0",
    ],
    "cp_akhlaghpasand2025": [
        "47.01 ± 21.45",
        "54.69 ± 22.62",
        "Caution: bibliographic record only",
        "3/16 patients",
        "r recovered from p &lt; 0.001",
    ],
    "cp_nguyen2017": [
        "Caution: secondary source (press report)",
        "This source reports no numeric outcomes; it describes them in words",
        "12/40 patients",
        "9 cases among 40 patients",
    ],
    "sci_honmou2021": [
        "Caution: secondary source (press report)",
        "12/13 (92.3%)",
        "0/13 patients",
    ],
    "sci_yang2021": [
        "Caution: abstract only",
        "14.1% as reported",
        "0/102 patients",
        "Efficacy analysed in 41 of 102",
    ],
}


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_rendered_page_shows_key_numbers(pages, trial_id):
    page = pages[trial_id]
    text = _text(page)
    for expected in KEY_NUMBERS[trial_id]:
        assert expected in text, expected
    for heading in ("1. Header", "2. Who was treated", "3. Intervention timeline", "4. Outcomes",
                    "5. Safety", "6. Appraisal", "7. Data-quality flags"):  # fmt: skip
        assert heading in text
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page  # no error, no warning
    assert "<script" not in page  # no scripts at all: reviewer template and escaped data
    figures = 1 if trial_id in ("cp_nguyen2017", "sci_yang2021") else 2  # + small multiples
    assert page.count('src="data:image/svg+xml;base64,') == figures  # each shown exactly once


def test_spina_bifida_page_shows_n_next_to_the_capacity(pages):
    rows = re.findall(r"<tr>.*?</tr>", pages["sb_nguyen2023"], flags=re.S)
    capacity = [row for row in rows if "127.7 ± 59.2" in row]
    n_cell = re.compile(r"<td[^>]*>7</td>")  # a number cell (right-aligned by its class)
    assert capacity and n_cell.search(capacity[0])
    assert any("158.3 ± 56.2" in row and n_cell.search(row) for row in rows)


def test_page_output_is_deterministic(pages, tmp_path):
    assert _render("cp_nguyen2017", tmp_path) == pages["cp_nguyen2017"]


def test_unknown_trial_stops_the_notebook_listing_valid_ids(tmp_path):
    with pytest.raises(PapermillExecutionError) as caught:
        _render("no_such_trial", tmp_path)
    assert caught.value.ename == "ValueError"
    assert all(trial_id in caught.value.evalue for trial_id in TRIAL_IDS)


def test_hostile_title_renders_as_text(tmp_path, monkeypatch):
    root = tmp_path / "root"
    processed = root / "data" / "processed"
    shutil.copytree(fixture_processed(), processed)
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    trials = data.load("trials", processed)
    trials.loc[trials["trial_id"] == "cp_nguyen2017", "title"] = f"Cells {HOSTILE} for CP"
    trials.to_csv(processed / "trials.csv", index=False)
    events = data.load("adverse_events", processed)
    events.loc[events["trial_id"] == "cp_nguyen2017", "term"] = HOSTILE
    events.to_csv(processed / "adverse_events.csv", index=False)

    page = _render("cp_nguyen2017", tmp_path, root)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "Cells &lt;script&gt;" in page  # the title itself, as text


def test_values_from_other_reports_are_shown_with_their_report(tables):
    assert "No value is given by more than one report" in _html(
        summary.report_versions("cp_nguyen2017", tables)
    )
    grown = dict(tables)
    reports = tables["reports"]
    press = reports.loc[reports["trial_id"] == "cp_nguyen2017", "report"].iloc[0]
    grown["reports"] = pd.concat(
        [
            reports,
            reports[reports["report"] == press].assign(report="abstract.txt", kind="abstract"),
        ]
    )
    grown["superseded"] = pd.DataFrame(
        {
            "trial_id": ["cp_nguyen2017"],
            "item": ["patients enrolled"],
            "field": ["trial.n_enrolled.0"],
            "value": ["40"],
            "report": [press],
            "used_value": ["42"],
            "used_report": ["abstract.txt"],
            "agrees": [False],
            "quote_id": ["cp_nguyen2017-q001"],
        }
    )
    shown = summary.report_versions("cp_nguyen2017", grown)
    row = shown.loc["patients enrolled"]
    assert row["value used"] == "42 (abstract)"
    assert row["other report's value"] == "40 (press report)"
    assert row["the reports"] == "disagree"
