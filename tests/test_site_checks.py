"""The site checks' pure parts: code identifiers in text, contrast, titles, links.

The checks that need a browser are exercised on pages built to fail them in
tests/test_browser.py (``test_the_site_checks_see_what_they_must_refuse``)."""

from __future__ import annotations

import pytest

from helpers.pages import site_checks
from helpers.pages.site_checks import PageReport


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("computed by helpers.stats.synthesis", ["module name: helpers.stats.synthesis"]),
        ("tables in data/processed/ and data/context", ["project folder: data/processed",
                                                         "project folder: data/context"]),
        ("field outcomes.6.timepoints.1 and baseline.0", ["field path: outcomes.6.timepoints.1",
                                                          "field path: baseline.0"]),
        ("GMFM (gmfm_total) in sb_nguyen2023", ["snake_case identifier: gmfm_total",
                                                "snake_case identifier: sb_nguyen2023"]),
        ("after 3 month(s) in 1 trial(es)", ["'(s)' plural: month(s)", "'(s)' plural: trial(es)"]),
        ("trial.n_safety", ["snake_case identifier: n_safety"]),
    ],
)  # fmt: skip
def test_code_identifiers_are_found(text, found):
    assert site_checks.code_identifiers(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "GMFM total improved from 47.0 to 54.7 (p < 0.001) in 16 children aged 2–12 years.",
        "Python 3.11; numpy 2.4.6; see Fig. 3 and Table 2, e.g. the i.e. case.",
        "the sheet sb_nguyen2023.yaml and the file data_dictionary.csv",
        "https://clinicaltrials.gov/study/NCT05472428 and doi:10.1186/s13287_023",
        "10.1016/j.jcyt.2020.09.012",
        "Akhlaghpasand 2025 · GMFM-88 · ISCSCI-92 · well-being",
    ],
)
def test_prose_numbers_addresses_and_file_names_are_not_code(text):
    assert site_checks.code_identifiers(text) == []


def test_each_identifier_is_reported_once():
    assert site_checks.code_identifiers("pdet_max, pdet_max and pdet_max") == [
        "snake_case identifier: pdet_max"
    ]


@pytest.mark.parametrize(
    ("foreground", "background", "ratio"),
    [
        ((0, 0, 0), (255, 255, 255), 21.0),
        ((255, 255, 255), (255, 255, 255), 1.0),
        ((118, 118, 118), (255, 255, 255), 4.54),  # the lightest grey passing AA on white
        ((255, 255, 255), (91, 163, 208), 2.77),  # seaborn's white on mid-blue
    ],
)
def test_contrast_ratio_follows_wcag(foreground, background, ratio):
    assert site_checks.contrast_ratio(foreground, background) == pytest.approx(ratio, abs=0.01)


def report(title: str = "", links=(), anchors=()) -> PageReport:
    return PageReport(title=title, links=list(links), anchors=list(anchors))


def test_duplicate_and_missing_titles():
    reports = {
        "a.html": report("A"),
        "b.html": report("A"),
        "c.html": report("C"),
        "d.html": report(),
    }
    assert site_checks.duplicate_titles(reports) == [
        "a.html, b.html share the title 'A'",
        "d.html has no title",
    ]


def test_broken_links_name_missing_pages_and_anchors():
    base = "http://127.0.0.1:8000/"
    reports = {
        "index.html": report(
            links=[
                base + "trials/a.html#q1",
                base + "trials/a.html#q9",
                base + "gone.html",
                "https://doi.org/10.1/x",
                base + "index.html",
            ],
            anchors=["top"],
        ),
        "trials/a.html": report(
            links=[base + "index.html#top", base + "data/x.csv", base + "data/gone.csv"],
            anchors=["q1"],
        ),
    }
    assert site_checks.broken_links(reports, base, files={"data/x.csv"}) == {
        "index.html": [
            f"{base}trials/a.html#q9: no #q9 on trials/a.html",
            f"{base}gone.html: no such page",
        ],
        "trials/a.html": [f"{base}data/gone.csv: no such page"],
    }


def test_print_and_phone_sizes():
    assert site_checks.PHONE_WIDTH == 390
    assert site_checks.PRINT_WIDTH == 703  # 186 mm at 96 px per inch
    assert site_checks.PRINT_HEIGHT == 1009  # 267 mm
