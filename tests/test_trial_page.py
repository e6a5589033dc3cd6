"""Trial-page sections (helpers.pages.trial), rendered from the processed and result tables, and
the rendered page of every trial (papermill + the reviewer template)."""

from __future__ import annotations

import html as html_module
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.display import HTML
from matplotlib.figure import Figure
from papermill.exceptions import PapermillExecutionError
from support import FIXTURE_TRIALS, fixture_processed, on_fixture_root

from helpers import data, paths
from helpers.pages import site, trial
from helpers.pages.site_checks import code_identifiers
from helpers.pages.tables import frame_html
from helpers.pages.trial import common
from helpers.run.kernel import KERNEL_ARGUMENTS, IPCKernelManager
from helpers.stats import analysis

TRIAL_IDS = FIXTURE_TRIALS
NOTEBOOK = paths.notebooks_dir() / "02_trial_summary.ipynb"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def tables(fixture_tables) -> dict[str, pd.DataFrame]:
    """Processed and result tables, as the notebook holds them."""
    return {**fixture_tables, **analysis.compute(fixture_tables)}


def _html(section: object) -> str:
    """What a notebook shows for a section's return value."""
    if isinstance(section, HTML):
        return section.data
    if isinstance(section, pd.DataFrame):
        return frame_html(section)
    raise TypeError(type(section))


def _text(markup: str) -> str:
    """The words a reader sees in some HTML."""
    return html_module.unescape(re.sub(r"<[^>]+>", " ", markup))


SECTIONS = (
    trial.header,
    trial.at_a_glance,
    trial.pico,
    trial.baseline,
    trial.outcome_table,
    trial.score_changes,
    trial.count_changes,
    trial.r_sensitivity_table,
    trial.narratives,
    trial.serious_adverse_events,
    trial.safety,
    trial.appraisal,
    trial.limitations,
    trial.flags,
    trial.uncaptured,
    trial.report_versions,
    trial.provenance,
)


def _page(trial_id: str, tables) -> str:
    return "".join(_html(section(trial_id, tables)) for section in SECTIONS)


# ------------------------------------------------------------------ parameters


def test_fixture_trials_are_all_processed(tables):
    assert sorted(tables["trials"]["trial_id"]) == TRIAL_IDS


def test_unknown_trial_id_and_bad_settings_are_named_together(tables):
    with pytest.raises(ValueError) as caught:
        trial.check_parameters(tables["trials"], "nope", assumed_r=1.5, r_grid=0.5)
    message = str(caught.value)
    assert "unknown trial_id 'nope'" in message
    assert all(trial_id in message for trial_id in TRIAL_IDS)
    assert "assumed_r: expected a correlation" in message and "r_grid: expected a list" in message
    trial_id, settings = trial.check_parameters(
        tables["trials"], "sb_nguyen2023", assumed_r=0.5, r_grid="[0.2, 0.8]"
    )
    assert trial_id == "sb_nguyen2023"
    assert settings == analysis.Settings(assumed_r=0.5, r_grid=(0.2, 0.8))
    with pytest.raises(ValueError, match="valid ids"):
        trial.header("nope", tables)


# ------------------------------------------------------------------ header


def test_header_names_the_study_links_and_cautions(tables):
    sb = trial.header("sb_nguyen2023", tables).data
    assert "<strong>Nguyen 2023</strong>" in sb
    assert '<a href="https://doi.org/10.1186/s13287-023-03349-w">' in sb
    assert '<a href="https://clinicaltrials.gov/study/NCT05472428">NCT05472428</a>' in sb
    assert '<a href="../synthesis.html">back to the synthesis of all studies</a>' in sb
    assert "2016-07 to 2020-12" in sb and "phase I" in sb
    assert "<caption>" in sb and "Caution" not in sb  # full text
    assert "sb_nguyen2023" not in _text(sb)
    expected = {
        "cp_nguyen2017": "Caution: secondary source (press report)",
        "sci_honmou2021": "Caution: secondary source (press report)",
        "sci_yang2021": "Caution: abstract only",
        "cp_akhlaghpasand2025": "Caution: bibliographic record only",
    }
    for trial_id, caution in expected.items():
        assert caution in trial.header(trial_id, tables).data
    assert "no registry identifier reported" in trial.header("sci_yang2021", tables).data


def test_header_gives_funding_and_conflicts_of_interest_or_why_not(tables):
    for trial_id in TRIAL_IDS:
        shown = _text(trial.header(trial_id, tables).data)
        assert "Funding" in shown and "Conflicts of interest" in shown
        facts = tables["trials"].set_index("trial_id").loc[trial_id]
        for column in ("funding", "conflicts_of_interest"):
            value = facts[column]
            assert (value if pd.notna(value) else "not reported") in shown


def test_header_escapes_every_value_from_data(tables):
    hostile = {**tables, "trials": tables["trials"].copy()}
    row = hostile["trials"]["trial_id"] == "sb_nguyen2023"
    for column in ("title", "citation", "setting", "label", "funding"):
        hostile["trials"].loc[row, column] = HOSTILE
    hostile["trials"].loc[row, "doi"] = '10.1/x"><script>alert(1)</script>'
    hostile["trials"].loc[row, "registry_id"] = HOSTILE
    page = trial.header("sb_nguyen2023", hostile).data
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://doi.org/10.1/x%22%3E%3Cscript%3Ealert' in page


def test_the_page_says_which_settings_it_used(tables):
    primary = _text(trial.settings_used(analysis.Settings()).data)
    assert "r = 0.7, the review's primary value" in primary
    assert "6.5.2.8" in primary and "Phys Ther 2000;80:873" in primary
    assert "r = 0.3, 0.5, 0.7, 0.9" in primary
    changed = _text(trial.settings_used(analysis.Settings(assumed_r=0.5, r_grid=(0.4,))).data)
    assert "r = 0.5, changed from the review's primary value 0.7" in changed
    assert "Sensitivity analysis: r = 0.4" in changed


# ------------------------------------------------------------------ at a glance


def test_at_a_glance_reads_the_result_tables(tables):
    glance = _text(trial.at_a_glance("cp_akhlaghpasand2025", tables).data)
    assert "of 6 independent outcomes compared with baseline" in glance
    assert "95% intervals, r = 0.7" in glance
    assert "the report's own tests, which it does not describe, give p < 0.05 for 6" in glance
    assert "cannot be attributed to the cells" in glance  # the report says: no control group
    # Readings come from the stored results, not from a recomputation.
    changed = {**tables, "trial_changes": tables["trial_changes"].assign(reading="worsened")}
    assert "0 improved and 5 worsened" in trial.at_a_glance("cp_akhlaghpasand2025", changed).data


def test_no_control_group_only_when_the_report_says_so(tables):
    unknown = {**tables, "trials": tables["trials"].copy()}
    unknown["trials"]["control"] = pd.NA
    glance = trial.at_a_glance("cp_akhlaghpasand2025", unknown).data
    assert "whether there was a control group is not reported" in glance
    assert "no control group" not in glance and "attributed to the cells" not in glance
    limitations = trial.limitations("cp_akhlaghpasand2025", unknown)
    assert not any(text.startswith("No control group") for text in limitations.index)
    assert (
        "no control group (as the report states)" in trial.at_a_glance("sb_nguyen2023", tables).data
    )


def test_at_a_glance_keeps_adverse_event_units_apart(tables):
    sb = trial.at_a_glance("sb_nguyen2023", tables).data
    assert "headache 3 events among 11 patients" in sb
    assert "one-sided 95% upper bound 23.8%" in sb
    assert "2 intrathecal administrations" in sb and "(s)" not in sb
    akhlaghpasand = trial.at_a_glance("cp_akhlaghpasand2025", tables).data
    assert "nausea 3 of 16 patients (from 18.75%)" in akhlaghpasand
    assert "4 intrathecal administrations" in akhlaghpasand and "1 month apart" in akhlaghpasand
    yang = trial.at_a_glance("sci_yang2021", tables).data
    assert "fever 14.1% (denominator not stated)" in yang
    assert "102 in the safety analysis, 41 in the efficacy analysis" in yang


# ------------------------------------------------------------------ PICO and baseline


def test_pico_uses_words_for_codes(tables):
    table = trial.pico("sb_nguyen2023", tables)
    shown = table["as reported"]
    assert shown[("Population", "condition")] == "spina bifida"
    assert shown[("Comparison", "control group")] == "no control group (as the report states)"
    assert shown[("Comparison", "blinding")] == "open label"
    assert shown[("Time", "follow-up, as the report states it")].endswith("months")
    assert "_" not in " ".join(shown)


def test_every_dose_of_every_administration_is_listed(tables):
    doses = tables["doses"]
    for trial_id in TRIAL_IDS:
        text = trial.dose_text(trial_id, tables)
        assert text.count(";") + bool(text) == int((doses["trial_id"] == trial_id).sum())


def test_statistics_text_formats():
    row = pd.Series
    assert trial.statistics_text(row({"mean": 127.7, "sd": 59.2})) == "127.7 ± 59.2"
    assert trial.statistics_text(row({"mean": 839.0, "se": 86.37})) == "839 ± 86.37 (SE)"
    assert (
        trial.statistics_text(row({"median": 78.4, "low": 46.3, "high": 95.8}))
        == "median 78.4 (range 46.3 to 95.8)"
    )
    assert trial.statistics_text(row({"events": 6, "total": 11})) == "6/11 (54.5%)"
    assert (
        trial.statistics_text(row({"events": 7, "total": 16, "percent_reported": "43.75"}))
        == "7/16 (43.75% reported)"
    )
    assert trial.statistics_text(row({"low": 95.0})) == "at least 95"
    assert trial.statistics_text(row({"low": 8.0, "high": 8.0})) == "8"  # never "8 to 8"
    assert trial.statistics_text(row({})) == "described in words only"


# ------------------------------------------------------------------ outcomes


def test_outcome_table_shows_reported_values(tables):
    table = trial.outcome_table("sb_nguyen2023", tables)
    capacity = table.xs("Bladder capacity [7 of 11 with cystomanometry]", level=1)
    assert capacity["as reported"].tolist() == ["127.7 ± 59.2", "136.3 ± 54.8", "158.3 ± 56.2"]
    assert capacity["patients"].tolist() == ["7", "7", "7"]
    assert capacity["months since first administration"].tolist() == ["0", "6", "12"]
    urge = table.xs("Feels the urge to defecate [children aged 3 and over (7 of 11)]", level=1)
    assert urge["as reported"].iloc[2] == "6/7 (85.7%)"
    assert urge["exact 95% CI"].iloc[2] == "42.1% to 99.6%"
    sources = str(capacity["sources"].iloc[0])
    assert re.fullmatch(r'(\[<a href="#(q\d+)">\2</a>\] ?)+', sources)


def test_p_only_rows_say_what_is_missing(tables):
    table = trial.outcome_table("cp_akhlaghpasand2025", tables)
    lying = table[table["p versus baseline, as reported"] == "0.002"].iloc[0]
    assert lying["as reported"].startswith("not reported")


def test_sections_escape_data_in_tables(tables):
    hostile = {**tables, "outcomes": tables["outcomes"].copy()}
    hostile["outcomes"]["outcome"] = HOSTILE
    rendered = _html(trial.outcome_table("sb_nguyen2023", hostile))
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered


def test_score_changes_are_oriented_to_benefit(tables):
    scores = trial.score_changes("sb_nguyen2023", tables)
    column = "SMCR, positive = benefit (95% CI, r = 0.7)"
    assert column in scores.columns
    pdet = scores.loc[("Maximum detrusor pressure [7 of 11 with cystomanometry]",
                       "baseline → after 2nd infusion")]  # fmt: skip
    assert pdet["change as measured"] == "−10.5 cmH2O"  # it fell ...
    assert pdet[column].startswith("0.41 (")  # ... and lower is better: a benefit
    assert scores.attrs["caption"].endswith("positive = benefit")


def test_the_reasons_show_where_the_numbers_are(tables):
    sb = trial.score_changes("sb_nguyen2023", tables).reset_index()
    cough = sb[sb["outcome"].str.startswith("Rectal pressure on cough")].iloc[0]
    assert cough["SMCR, positive = benefit (95% CI, r = 0.7)"] == "not estimable"
    assert "follow-up SD is reported as 0" in cough["why"]
    rair = sb[sb["outcome"].str.startswith("RAIR threshold volume")].iloc[0]
    assert rair["reading"] == "not judged" and "assumed by the extractor" in rair["why"]
    assert (
        "as measured (no established better direction)"
        in rair["SMCR, positive = benefit (95% CI, r = 0.7)"]
    )

    cp = trial.score_changes("cp_akhlaghpasand2025", tables)
    notes = " ".join(cp.attrs["notes"])
    assert "only restates that p-value" in notes
    assert "Berg Balance Scale, 12 months post-treatment: skewed scores" in notes
    assert "Altman & Bland 1996" in notes
    assert "the r implied by the reported p-value is implausible" in notes
    assert "Modified Ashworth Scale, 12 months post-treatment: ordinal scale" in notes
    gmfm = cp.reset_index().set_index("outcome").loc["GMFM total"]
    assert gmfm["reported p and the r it implies"] == (
        "p < 0.001 implies r ≈ 0.94; at that r the interval is 0.14 to 0.54"
    )
    bbs = cp.reset_index().set_index("outcome").loc["Berg Balance Scale"]
    assert bbs["reported p and the r it implies"].endswith("(implausible, see note)")
    assert "skewed scores" in bbs["why"]


def test_count_changes_show_exact_intervals_and_the_pairing_range(tables):
    counts = trial.count_changes("sb_nguyen2023", tables).reset_index()
    last = "baseline → after 2nd infusion"
    bristol = counts[
        (counts["outcome"] == "Bristol type 1 stools") & (counts["comparison"] == last)
    ]
    bristol = bristol.iloc[0]
    assert bristol["baseline (exact 95% CI)"] == "10/11 = 90.9% (58.7% to 99.8%)"
    assert bristol["change, positive = benefit"] == "+72.7 percentage points"
    assert bristol["exact McNemar test over the possible pairings"] == "p = 0.0078 to 0.021"
    assert bristol["reading"] == "improved"
    leakage = counts[counts["outcome"] == "Urine leakage"].iloc[0]
    assert leakage["reading"] == "not judged" and "totals differ" in leakage["why"]
    cp = trial.count_changes("cp_akhlaghpasand2025", tables)
    assert any("below every exact McNemar p" in note for note in cp.attrs["notes"])


def test_sensitivity_table_has_one_column_per_r_of_the_results(tables):
    settings = analysis.Settings.from_parameters(r_grid=[0.3, 0.9])
    narrow = {**tables, **analysis.compute(tables, settings)}
    table = trial.r_sensitivity_table("cp_akhlaghpasand2025", narrow)
    assert [c for c in table.columns if c.startswith("95% CI")] == [
        "95% CI at r = 0.3",
        "95% CI at r = 0.9",
    ]
    bbs = table.xs("Berg Balance Scale", level=0).iloc[0]
    assert bbs["at the r the reported p implies"].startswith("r ≈ 0.99: ")
    mas = table.xs("Modified Ashworth Scale", level=0).iloc[0]
    assert mas["SMCR, positive = benefit"] == "0.51"  # it fell, and lower is better
    assert any("only restates" in note for note in table.attrs["notes"])


@pytest.mark.parametrize("trial_id", ["cp_nguyen2017", "sci_yang2021"])
def test_words_only_studies_say_so(tables, trial_id):
    section = trial.outcome_table(trial_id, tables)
    assert isinstance(section, HTML)
    assert section.data.startswith(
        "<p>The reports give no numeric outcomes; they describe them in words:</p><ul>"
    )
    assert (
        section.data.count("<li>") == (tables["outcome_narratives"]["trial_id"] == trial_id).sum()
    )
    for builder in (trial.score_changes, trial.count_changes, trial.r_sensitivity_table):
        assert isinstance(builder(trial_id, tables), HTML)
    assert isinstance(trial.outcomes_figure(trial_id, tables), HTML)


def test_narratives_use_words(tables):
    table = trial.narratives("cp_akhlaghpasand2025", tables).reset_index()
    assert set(table["domain"]) == {"motor function"}
    assert set(table["direction, as the report states it"]) == {"improved"}


def test_figures_are_figures(tables):
    assert isinstance(trial.timeline_figure("sb_nguyen2023", tables), Figure)
    assert isinstance(trial.outcomes_figure("sb_nguyen2023", tables), Figure)


# ------------------------------------------------------------------ safety


def test_safety_keeps_units_apart(tables):
    sb = trial.safety("sb_nguyen2023", tables)
    assert sb.index[0].startswith("serious adverse events")  # serious first
    events = sb[sb["rate basis"] == "events (not patients)"]
    assert len(events) == 6
    assert (events["incidence per patient (exact 95% CI)"] == "—").all()
    assert sb.loc["headache", "reported as"] == "3 events"
    assert sb.loc["vomiting", "reported as"] == "1 event"
    assert sb.iloc[0]["upper bound when none occurred (one-sided 95%)"] == "23.8%"
    akhlaghpasand = trial.safety("cp_akhlaghpasand2025", tables)
    assert akhlaghpasand.loc["nausea", "reported as"] == "3 patients (from 18.75% of 16)"
    # 18.75% = 3/16 patients = 12/64 administrations: no per-patient incidence
    nausea = akhlaghpasand.loc["nausea"]
    assert nausea["rate basis"] == "patients or administrations (not stated)"
    assert nausea["incidence per patient (exact 95% CI)"] == "—"
    yang = trial.safety("sci_yang2021", tables)
    assert yang.loc["fever", "rate basis"] == "unknown denominator"
    assert yang.loc["fever", "reported as"] == "14.1% (no count)"


def test_serious_events_in_words(tables):
    text = trial.serious_adverse_events("sb_nguyen2023", tables).data
    assert "0/11 patients" in text and "up to 23.8% (about 1 in 4)" in text
    assert "No event in 11 patients" in text
    assert re.search(r'\[<a href="#q\d+">q\d+</a>\]', text)


# ------------------------------------------------------------------ appraisal, limitations


def test_jbi_items_cannot_be_mistaken_for_quote_marks(tables):
    table = trial.appraisal("cp_akhlaghpasand2025", tables)
    assert list(table.index) == [f"JBI item {i}" for i in range(1, 11)]
    assert not table["question"].str.contains(r"\(s\)").any()
    assert "presenting sites or clinics" in " ".join(table["question"])


def test_limitations_combine_stated_and_derived(tables):
    sb = trial.limitations("sb_nguyen2023", tables)
    bases = sb["basis"].tolist()
    assert bases.count("stated by the report") == 6
    assert "the report states there was no control group" in bases
    assert "the report states open-label treatment" in bases
    assert "fewer than 20 patients" in bases
    yang = trial.limitations("sci_yang2021", tables)
    assert "fewer than 20 patients" not in yang["basis"].tolist()  # 102 patients
    assert any(text.startswith("Efficacy analysed in 41 of 102") for text in yang.index)
    assert any(text.startswith("The most complete report is the abstract") for text in yang.index)
    assert "Blinding not reported" in yang.index
    honmou = trial.limitations("sci_honmou2021", tables)
    assert any("the press report, not the full article" in text for text in honmou.index)


# ------------------------------------------------------------------ flags and provenance


def test_flags_show_warnings_and_count_the_notes(tables):
    flags = trial.flags("sb_nguyen2023", tables)
    checks = tables["checks"]
    warnings = checks[(checks["trial_id"] == "sb_nguyen2023") & (checks["severity"] == "warning")]
    assert len(flags) == len(warnings) and list(flags.index) == list(range(1, len(flags) + 1))
    assert "contradiction in the report" in set(flags["check"])
    assert any("notes on subgroup measured" in note for note in flags.attrs["notes"])


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_every_quote_mark_links_to_its_quote(tables, trial_id):
    page = _page(trial_id, tables)
    targets = set(re.findall(r'<span id="(q\d+)">', page))
    links = set(re.findall(r'href="#(q\d+)"', page))
    assert links and links <= targets
    provenance = trial.provenance(trial_id, tables)
    assert "not found in the reports" not in provenance["verbatim quote"].tolist()
    assert not provenance["cited for"].str.contains(r"\.\d|_").any()  # no field paths


def test_provenance_quotes_are_verbatim(tables):
    provenance = trial.provenance("sb_nguyen2023", tables)
    quote = "Bladder capacity, mean(ml) 127.7 ± 59.2 136.3 ± 54.8 158.3 ± 56.2"
    source = tables["provenance"].set_index("quote")
    mark = source.loc[quote, "quote_id"].rsplit("-", 1)[1]
    row = provenance[[mark in str(index) for index in provenance.index]].iloc[0]
    assert row["verbatim quote"] == quote
    assert row["cited for"] == "Bladder capacity [7 of 11 with cystomanometry], baseline"


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_sections_show_no_code_identifiers(tables, trial_id):
    assert code_identifiers(_text(_page(trial_id, tables))) == []


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_a_page_from_the_studys_rows_is_the_page_from_every_row(tables, trial_id):
    own = trial.of_trial(trial_id, tables)
    for name, frame in own.items():
        if "trial_id" in frame.columns:
            assert set(frame["trial_id"]) <= {trial_id}, name
            assert len(frame) == (tables[name]["trial_id"] == trial_id).sum(), name
        else:
            assert frame is tables[name]
    assert _page(trial_id, own) == _page(trial_id, tables)


def test_rows_of_cut_tables_are_filtered_again_only_when_they_must_be(tables):
    trial_id, other = TRIAL_IDS[0], TRIAL_IDS[1]
    own = trial.of_trial(trial_id, tables)
    outcomes = common.rows(own, "outcomes", trial_id)
    pd.testing.assert_frame_equal(outcomes, own["outcomes"])
    outcomes.loc[:, "measure"] = "changed by a section"
    assert not own["outcomes"]["measure"].eq("changed by a section").any()
    assert common.rows(own, "outcomes", other).empty  # another study: not in these rows
    own["outcomes"] = tables["outcomes"]  # a table put back whole is cut again
    replaced = common.rows(own, "outcomes", trial_id)
    assert set(replaced["trial_id"]) == {trial_id}
    assert len(replaced) == (tables["outcomes"]["trial_id"] == trial_id).sum()


@given(
    ids=st.lists(st.sampled_from(["a", "b", "c", None]), max_size=12),
    wanted=st.sampled_from(["a", "b", "z"]),
)
def test_a_studys_rows_are_those_with_its_id_in_table_order(ids, wanted):
    # Rows together (a slice) or apart (taken one by one), missing ids, no rows at all.
    frame = pd.DataFrame(
        {
            "trial_id": pd.Series(ids, dtype="string"),
            "row": pd.Series(range(len(ids)), dtype="Int64"),
        }
    )
    expected = frame[frame["trial_id"] == wanted].reset_index(drop=True)
    pd.testing.assert_frame_equal(common.rows({"t": frame}, "t", wanted), expected)


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_the_studys_row_and_facts_are_looked_up_once_and_stay_the_tables(tables, trial_id):
    own = trial.of_trial(trial_id, tables)
    built = []
    first = own.derived("trials", trial_id, "probe", lambda frame: built.append(1) or len(frame))
    again = own.derived("trials", trial_id, "probe", lambda frame: built.append(1) or len(frame))
    assert (first, again, len(built)) == (1, 1, 1)
    row = common.trial_row(trial_id, own)
    pd.testing.assert_series_equal(row, common.trial_row(trial_id, tables))
    row["title"] = "changed by a section"
    assert common.trial_row(trial_id, own)["title"] != "changed by a section"
    for field in tables["trial_facts"]["field"].dropna().unique():
        assert common.fact(trial_id, own, field) == common.fact(trial_id, tables, field), field
    assert common.fact(trial_id, own, "no such field") == ("", common.MISSING)
    own["trials"] = tables["trials"].assign(title="a table put back whole")  # looked up again
    assert common.trial_row(trial_id, own)["title"] == "a table put back whole"
    with pytest.raises(ValueError, match="unknown trial_id"):
        common.trial_row("no_such_trial", own)


def test_sections_without_data_return_a_sentence(tables):
    assert "give no baseline" in trial.baseline("cp_nguyen2017", tables).data
    assert "Every number" in trial.uncaptured("cp_nguyen2017", tables).data
    empty = {**tables, "trial_adverse_events": data.empty_frame("trial_adverse_events")}
    assert "give no adverse events" in trial.safety("sb_nguyen2023", empty).data
    assert "say nothing about serious" in trial.serious_adverse_events("sb_nguyen2023", empty).data


def test_values_from_other_reports_are_shown_with_their_report(tables):
    assert "No value is given by more than one report" in _html(
        trial.report_versions("cp_nguyen2017", tables)
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
    shown = trial.report_versions("cp_nguyen2017", grown)
    row = shown.loc["patients enrolled"]
    assert row["value used"] == "42 (abstract)"
    assert row["other report's value"] == "40 (press report)"
    assert row["the reports"] == "disagree"


# ------------------------------------------------------------------ rendered pages


def _render(trial_id: str, out_dir: Path, root: Path | None = None, **parameters) -> str:
    """Run the notebook with papermill for ``trial_id`` and render it as the pipeline does."""
    executed = out_dir / f"{trial_id}.ipynb"
    with on_fixture_root(root):  # the kernel inherits the root
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(executed),
            parameters={"trial_id": trial_id, **parameters},
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


def _without_figures(page: str) -> str:
    """The page without embedded figures (their base64 could match anything)."""
    return re.sub(r'src="data:[^"]*"', "", page)


KEY_NUMBERS = {
    "sb_nguyen2023": [
        "127.7 ± 59.2",
        "158.3 ± 56.2",
        "0/11 patients",
        "one-sided 95% upper bound 23.8%",
        "7 events among 11 patients",
        "104 ± 0",
        "not estimable",
    ],
    "cp_akhlaghpasand2025": [
        "47.01 ± 21.45",
        "54.69 ± 22.62",
        "Caution: bibliographic record only",
        "3 patients (from 18.75% of 16)",
        "p &lt; 0.001 implies r ≈ 0.94",
    ],
    "cp_nguyen2017": [
        "Caution: secondary source (press report)",
        "The reports give no numeric outcomes; they describe them in words",
        "mild fever 12 of 40 patients",
        "9 cases among 40 patients",
    ],
    "sci_honmou2021": [
        "Caution: secondary source (press report)",
        "12/13 (92.3%)",
        "serious adverse events not reported on",
        "abnormal cell growth 0 of 13 patients",
    ],
    "sci_yang2021": [
        "Caution: abstract only",
        "14.1% (no count)",
        "0/102 patients",
        "Efficacy analysed in 41 of 102",
    ],
}


@pytest.mark.parametrize("trial_id", TRIAL_IDS)
def test_rendered_page_shows_key_numbers(pages, trial_id):
    page = pages[trial_id]
    text = _without_figures(page)
    for expected in KEY_NUMBERS[trial_id]:
        assert expected in text, expected
    for heading in ("1. The study", "2. Who was treated", "3. Intervention timeline",
                    "4. Outcomes and effects", "5. Safety", "6. Appraisal",
                    "7. Data quality and provenance", "Settings used"):  # fmt: skip
        assert heading in text
    assert "r = 0.7, the review's primary value" in text
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page  # no error, no warning
    assert "<script" not in page  # no scripts at all: reviewer template and escaped data
    figures = 1 if trial_id in ("cp_nguyen2017", "sci_yang2021") else 2  # + small multiples
    assert page.count('src="data:image/svg+xml;base64,') == figures  # each shown exactly once
    body = re.sub(r"<(style|head)\b.*?</\1>", "", text, flags=re.S)
    assert code_identifiers(_text(body)) == []


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


def test_a_changed_setting_is_said_and_used(tmp_path):
    page = _render("cp_akhlaghpasand2025", tmp_path, assumed_r=0.5)
    assert "changed from the review's primary value 0.7" in page
    assert "SMCR, positive = benefit (95% CI, r = 0.5)" in page


def test_hostile_title_renders_as_text(tmp_path):
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
