"""What a regeneration changed: the comparison of two sets of tables, its page, and the
pipeline publishing both on a scratch copy of the fixture project (issue 15's done-when: a
scripted edit of one sheet shows exactly that trial's changes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from support import fixture_tables, scratch_project

from helpers import paths
from helpers.data import changes
from helpers.pages import changes as changes_page
from helpers.pages import site_checks
from helpers.run import pipeline
from helpers.stats import analysis

EDITED_TRIAL, EDITED_OUTCOME = "sb_nguyen2023", "bladder_capacity"


@pytest.fixture(scope="module")
def before() -> dict[str, pd.DataFrame]:
    tables = fixture_tables()
    return {**tables, **analysis.compute(tables)}


def with_mean(tables: dict[str, pd.DataFrame], trial_id: str, outcome_id: str, months: float):
    """The processed tables with one outcome mean raised by 10, and their results."""
    processed = {name: frame.copy() for name, frame in tables.items() if name in fixture_tables()}
    outcomes = processed["outcomes"]
    row = (
        (outcomes["trial_id"] == trial_id)
        & (outcomes["outcome_id"] == outcome_id)
        & (outcomes["timepoint_months"] == months)
    )
    assert row.sum() == 1
    outcomes.loc[row, "mean"] = outcomes.loc[row, "mean"] + 10
    return {**processed, **analysis.compute(processed)}


def rows_about(found: dict[str, pd.DataFrame]) -> set[object]:
    """The trials the change rows are about (None: a row about several trials)."""
    about: set[object] = set()
    for frame in found.values():
        ids = frame["trial_id"] if "trial_id" in frame else pd.Series([None] * len(frame))
        about |= {None if pd.isna(t) else t for t in ids}
    return about


def test_a_first_build_has_nothing_to_compare_with(before):
    assert changes.compare(None, before) is None
    assert json.loads(changes.to_json(None)) == {"first_build": True}
    page = changes_page.changes_page(None)
    assert changes_page.FIRST_BUILD in page


def test_the_same_results_change_nothing(before):
    found = changes.compare(before, before)
    assert changes.nothing_changed(found)
    assert set(found) == set(changes.CHANGES)


def test_one_edited_mean_moves_exactly_that_trials_estimate(before):
    after = with_mean(before, EDITED_TRIAL, EDITED_OUTCOME, 12)
    found = changes.compare(before, after)
    assert rows_about(found) == {EDITED_TRIAL}
    (moved,) = found["changes_estimates"].to_dict("records")
    assert (moved["trial_id"], moved["subject"], moved["change"]) == (
        EDITED_TRIAL,
        EDITED_OUTCOME,
        "moved",
    )
    assert moved["new"] > moved["old"]  # a larger bladder capacity is a benefit
    assert moved["label"] == "Nguyen 2023"
    assert found["changes_trials"].empty and found["changes_certainty"].empty


def test_a_removed_trial_is_listed_once_not_its_estimates_or_flags(before):
    gone = "cp_nguyen2017"
    processed = {
        name: frame[frame["trial_id"] != gone] if "trial_id" in frame else frame
        for name, frame in before.items()
        if name in fixture_tables()
    }
    after = {**processed, **analysis.compute(processed)}
    found = changes.compare(before, after)
    assert found["changes_trials"][["trial_id", "change"]].values.tolist() == [[gone, "removed"]]
    for name in ("changes_reports", "changes_estimates", "changes_flags"):
        assert gone not in set(found[name]["trial_id"].dropna()), name
    added = changes.compare(after, before)
    assert added["changes_trials"][["trial_id", "change"]].values.tolist() == [[gone, "added"]]


def test_a_certainty_rating_that_changes_is_listed(before):
    after = {name: frame.copy() for name, frame in before.items()}
    certainty = after["synthesis_certainty"]
    certainty.loc[certainty.index[0], "certainty"] = "moderate"
    found = changes.compare(before, after)
    (row,) = found["changes_certainty"].to_dict("records")
    assert row["outcome_key"] == certainty.iloc[0]["outcome_key"]
    assert row["new"] == "moderate" and row["old"] != "moderate"


def test_a_vote_that_changes_is_listed_for_its_domain_or_trial(before):
    after = {name: frame.copy() for name, frame in before.items()}
    trials, domains = after["synthesis_vote_trials"], after["synthesis_vote_domains"]
    first_trial, first_domain = trials.index[0], domains.index[0]
    was = trials.at[first_trial, "vote"]
    trial_vote = "favours harm" if was != "favours harm" else "favours benefit"
    trials.at[first_trial, "vote"] = trial_vote
    domains.at[first_domain, "vote"] = None  # the domain no longer votes
    found = changes.compare(before, after)
    votes = found["changes_votes"].astype("object")
    votes = votes.where(votes.notna(), None).to_dict("records")
    expected = [
        (domains.at[first_domain, "trial_id"], domains.at[first_domain, "domain"], None),
        (trials.at[first_trial, "trial_id"], None, trial_vote),
    ]
    expected.sort(key=lambda v: (v[0], v[1] is None))  # a trial's domains, then its own vote
    assert [(v["trial_id"], v["domain"], v["new"]) for v in votes] == expected
    assert all(v["label"] for v in votes)
    text = re.sub(r"<[^>]+>", " ", changes_page.changes_page(found))
    assert "the whole trial" in text and "no vote" in text and trial_vote in text


def test_a_pooled_adverse_event_proportion_that_moves_is_listed(before):
    after = {name: frame.copy() for name, frame in before.items()}
    terms = after["synthesis_adverse_event_terms"]
    assert not terms.empty, "the fixture has adverse events reported per patient"
    first = terms["proportion"].astype(float).idxmax()
    terms.at[first, "proportion"] = terms.at[first, "proportion"] / 2
    found = changes.compare(before, after)
    (moved,) = found["changes_estimates"].to_dict("records")
    scope, term = terms.at[first, "scope"], terms.at[first, "term"]
    assert (moved["estimate"], moved["subject"], moved["change"]) == (
        "adverse events",
        f"{scope}:{term}",
        "moved",
    )
    assert pd.isna(moved["trial_id"])
    main = changes_page.changes_page(found).split("<main>", 1)[1]  # not the site's header
    text = re.sub(r"<[^>]+>", " ", main)
    assert f"patients with {term} (adverse event)" in text
    assert site_checks.code_identifiers(text) == []


def test_changes_stored_by_an_older_site_read_back_with_every_table(before, tmp_path):
    found = changes.compare(before, with_mean(before, EDITED_TRIAL, EDITED_OUTCOME, 12))
    for name, frame in found.items():
        if name == "changes_votes":
            continue  # an older site compared no votes
        if name == "changes_estimates":
            frame = frame.drop(columns=["new_ci_high"])  # nor stored this column
        frame.to_csv(tmp_path / f"{name}.csv", index=False, lineterminator="\n")
    stored = changes.read_changes(tmp_path)
    assert set(stored) == set(changes.CHANGES)
    assert stored["changes_votes"].empty
    assert stored["changes_estimates"]["new_ci_high"].isna().all()
    page = changes_page.changes_page(stored)
    assert "<h2" in page
    assert "Bladder capacity" in page and "No change." in page


def test_the_page_and_log_show_the_changes_in_words(before):
    after = with_mean(before, EDITED_TRIAL, EDITED_OUTCOME, 12)
    found = changes.compare(before, after)
    page = changes_page.changes_page(found)
    text = re.sub(r"<[^>]+>", " ", page.split("<main>", 1)[1])
    assert "Bladder capacity" in text and "Nguyen 2023" in text
    assert site_checks.code_identifiers(text) == []
    assert page.count("<table") == page.count("<caption>")
    log = json.loads(changes.to_json(found))
    assert log["first_build"] is False
    assert [(r["trial_id"], r["subject"]) for r in log["estimates"]] == [
        (EDITED_TRIAL, EDITED_OUTCOME)
    ]
    assert changes.to_json(found) == changes.to_json(changes.compare(before, after))


def test_change_tables_survive_a_round_trip_through_csv(before, tmp_path):
    found = changes.compare(before, with_mean(before, EDITED_TRIAL, EDITED_OUTCOME, 12))
    for name, frame in found.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False, lineterminator="\n")
    assert changes.to_json(changes.read_tables(tmp_path, changes.CHANGES)) == changes.to_json(found)


# --------------------------------------------------------------------------- the pipeline


def edit_mean(root: Path, old: str, new: str) -> None:
    sheet = root / "data" / "extraction" / f"{EDITED_TRIAL}.yaml"
    text = sheet.read_text(encoding="utf-8")
    assert text.count(f"mean: {old}\n") == 1
    sheet.write_text(text.replace(f"mean: {old}\n", f"mean: {new}\n"), encoding="utf-8")


def log_of(root: Path) -> dict:
    return json.loads((root / "reports" / "changes.json").read_text(encoding="utf-8"))


def test_the_pipeline_publishes_results_and_what_changed(tmp_path, monkeypatch):
    root = scratch_project(tmp_path / "project")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    reports = root / "reports"
    results = {p.name: p.read_bytes() for p in (root / "data" / "results").glob("*.csv")}
    assert {f"{name}.csv" for name in analysis.data.RESULTS} <= set(results)
    assert {"results_dictionary.csv", "settings.csv"} <= set(results)
    assert log_of(root) == {"first_build": True}
    assert changes_page.FIRST_BUILD in (reports / "changes.html").read_text(encoding="utf-8")
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="changes.html"' in index and 'class="key-messages"' in index
    assert (reports / "data" / "results" / "trial_changes.csv").read_bytes() == results[
        "trial_changes.csv"
    ]
    # Pages read the stored results: they are what the protocol's settings give.
    assert analysis.stored_settings() == analysis.Settings()

    assert pipeline.run(quiet=True, force=True) == pipeline.EXIT_OK
    again = {p.name: p.read_bytes() for p in (root / "data" / "results").glob("*.csv")}
    assert again == results  # byte-identical results from the same inputs
    assert log_of(root) == {"first_build": True}  # nothing changed: the last changes stay

    edit_mean(root, "158.3", "136.3")  # a number its quote also holds (a transcription slip)
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    log = log_of(root)
    assert log["first_build"] is False
    about = {row.get("trial_id") for table in log.values() if isinstance(table, list)
             for row in table}  # fmt: skip
    assert about == {EDITED_TRIAL}
    assert [(r["subject"], r["change"]) for r in log["estimates"]] == [(EDITED_OUTCOME, "moved")]
    assert not log["trials"] and not log["reports"] and not log["certainty"]
    page = (reports / "changes.html").read_text(encoding="utf-8")
    assert "Bladder capacity" in page and "Nguyen 2023" in page
    assert pipeline.run(quiet=True, force=True) == pipeline.EXIT_OK
    assert log_of(root) == log  # a rebuild that changes no result keeps the last changes
    assert (reports / "changes.html").read_text(encoding="utf-8") == page

    (root / "data" / "extraction" / f"{EDITED_TRIAL}.yaml").unlink()
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    log = log_of(root)
    assert [(r["trial_id"], r["change"]) for r in log["trials"]] == [(EDITED_TRIAL, "removed")]
    assert not (reports / "trials" / f"{EDITED_TRIAL}.html").exists()


def test_results_that_cannot_be_written_exit_5_and_keep_the_reports(tmp_path, monkeypatch):
    root = scratch_project(tmp_path / "project")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    for page_notebook in (pipeline.TRIAL_NOTEBOOK, pipeline.SYNTHESIS_NOTEBOOK):
        (root / "notebooks" / page_notebook).unlink()  # the ingestion is enough here
    assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    site = {p: p.read_bytes() for p in (root / "reports").rglob("*") if p.is_file()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(analysis.store, "write_atomically", full_disk)
    assert pipeline.run(quiet=True, force=True) == pipeline.EXIT_WRITE_FAILED
    assert {p: p.read_bytes() for p in (root / "reports").rglob("*") if p.is_file()} == site


def test_processed_tables_that_do_not_parse_exit_2(tmp_path, monkeypatch, capsys):
    root = scratch_project(tmp_path / "project")
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    processed = root / "data" / "processed"
    processed.mkdir()
    (processed / "trials.csv").write_text("not,the,columns\n1,2,3\n", encoding="utf-8")
    assert pipeline.run(quiet=True, only_stage="results") == pipeline.EXIT_BAD_INPUT
    assert "processed: <table>: expected" in capsys.readouterr().err
    assert not (root / "reports").exists()
