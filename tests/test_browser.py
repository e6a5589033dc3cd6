"""The reviewer site in a real browser: headless Debian Chromium driven over the DevTools protocol.

The site is built once, by the pipeline, on a scratch copy of the project, and served from
127.0.0.1 by a background ``http.server``. Playwright (its Python driver only: no browser is
downloaded; it launches ``/usr/bin/chromium``) opens ``index.html``, follows every link to a
local page and records, per page, console errors, failed requests, every request URL, the
rendered size of every figure, and the findings of every check in
:mod:`helpers.pages.site_checks` (titles, captions, alt texts, contrast, phone width, A4 print,
links, header and favicon, code identifiers in the text). Each page gets a full-page screenshot
(JPEG) in ``build/screenshots/`` for a person to look at.

Every check holds on every kind of page (index, trial pages, synthesis, data quality).

Without Chromium the tests fail in CI (``CI`` set; ``.ci/run`` installs Debian's package) and
are skipped elsewhere with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from support import scratch_project

from helpers import paths
from helpers.pages import pdf, site_checks
from helpers.pages.site_checks import PageReport, serve
from helpers.run import pipeline

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
# A one-pixel white PNG: an image that loads, for pages built to fail the alt-text check.
PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
# Numbers a reviewer must see on a page, written as the page shows them.
HEADLINES = {
    "trials/sb_nguyen2023.html": ["127.7 ± 59.2", "158.3 ± 56.2"],
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Fail in CI, skip elsewhere, when Chromium or its driver is missing."""
    problems = site_checks.browser_problems()
    if problems:
        message = "browser tests need a browser: " + "; ".join(problems)
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


# --------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    require_browser()  # before the build: no point building a site nobody can look at
    # The fixture evidence base (tests/fixtures), with the committed notebooks and pins.
    root = scratch_project(tmp_path_factory.mktemp("browser") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.ROOT_ENV_VAR, str(root))
        assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    return root


# --------------------------------------------------------------------------- the crawl


@dataclass
class Visit:
    """What the browser saw on one page."""

    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert(), confirm(): script ran
    figures: list[dict] = field(default_factory=list)
    checks: PageReport = field(default_factory=PageReport)
    screenshot: Path | None = None

    @property
    def text(self) -> str:
        return self.checks.text

    @property
    def links(self) -> list[str]:
        return self.checks.links


# Top-level <img> and <svg> elements (an <svg> inside another is part of that figure).
FIGURES_JS = """() => Array.from(document.querySelectorAll('img, svg'))
  .filter(e => !(e.parentElement && e.parentElement.closest('svg')))
  .map(e => {
    const box = e.getBoundingClientRect();
    return {tag: e.tagName.toLowerCase(), width: box.width, height: box.height,
            natural: e.tagName.toLowerCase() === 'img' ? e.naturalWidth : null,
            what: (e.getAttribute('src') || e.getAttribute('id') || '').slice(0, 60)};
  })"""


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


def screenshot_name(page: str) -> str:
    return page.replace("/", "__").removesuffix(".html") + ".jpg"


def crawl_site(base: str, screenshots: Path) -> dict[str, Visit]:
    """Open ``base``index.html, follow every local link breadth-first, record each page once."""
    from playwright.sync_api import sync_playwright

    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)
    current = [Visit()]  # the page being visited receives the browser's events

    def route(route_, request) -> None:
        # Nothing may leave the machine: the attempt is recorded (request event), then refused.
        if is_local(request.url):
            route_.continue_()
        else:
            route_.abort("blockedbyclient")

    def on_response(response) -> None:
        if response.status >= 400:
            current[0].failed_requests.append(f"HTTP {response.status} {response.url}")

    def on_dialog(dialog) -> None:
        current[0].dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message) -> None:
        if message.type == "error":
            current[0].console_errors.append(f"{message.text} ({message.location})")

    def before(name: str) -> None:
        current[0] = Visit()

    def visit(page, name: str, response) -> Visit:
        record = current[0]
        if response is None:
            record.failed_requests.append(f"navigation to {name} failed")
            return record
        record.status = response.status
        record.figures = page.evaluate(FIGURES_JS)
        record.screenshot = screenshots / screenshot_name(name)
        # JPEG: a full trial page is ~30,000 px tall; PNG takes twice as long to encode.
        page.screenshot(path=str(record.screenshot), full_page=True, quality=85)
        if response.status == 200:
            record.checks = site_checks.check_page(page)
        return record

    with sync_playwright() as playwright, site_checks.browser(playwright) as context:
        context.route("**/*", route)
        context.on("request", lambda r: current[0].requests.append(r.url))
        context.on(
            "requestfailed",
            lambda r: current[0].failed_requests.append(f"{r.failure} {r.url}"),
        )
        context.on("response", on_response)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(site_checks.NAVIGATION_TIMEOUT_MS)
        page.on("console", on_console)
        page.on("pageerror", lambda e: current[0].console_errors.append(f"page error: {e}"))
        page.on("dialog", on_dialog)
        return site_checks.crawl(page, base, visit, before=before)


@pytest.fixture(scope="module")
def site(project) -> tuple[str, dict[str, Visit]]:
    """The site's root address while it was crawled, and what each page showed."""
    with serve(project / "reports") as base:
        return base, crawl_site(base, SCREENSHOTS)


@pytest.fixture(scope="module")
def crawl(site) -> dict[str, Visit]:
    return site[1]


def loaded(visits: dict[str, Visit]) -> dict[str, PageReport]:
    """The site checks' reports of the pages that loaded (HTTP 200)."""
    return {name: visit.checks for name, visit in visits.items() if visit.status == 200}


def problems(visit: Visit) -> dict[str, list]:
    """Everything the tests below refuse, for one page."""
    return {
        "dialogs": visit.dialogs,
        "console errors": visit.console_errors,
        "failed requests": visit.failed_requests,
        "remote requests": [url for url in visit.requests if not is_local(url)],
        "empty figures": [
            f for f in visit.figures if f["width"] <= 0 or f["height"] <= 0 or f["natural"] == 0
        ],
    }


def test_the_crawler_sees_what_it_must_refuse(tmp_path):
    """Self-check of the detectors on a deliberately broken two-page site."""
    require_browser()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        '<!DOCTYPE html><html><body><a href="broken.html#top">broken</a>'
        '<a href="https://example.org/not-followed.html">remote link</a></body></html>',
        encoding="utf-8",
    )
    (site / "broken.html").write_text(
        "<!DOCTYPE html><html><body><p>broken</p>"
        '<img src="missing.png" alt="missing">'
        '<img src="http://remote.invalid/remote.png" alt="remote">'
        "<script>console.error('deliberate'); alert('deliberate')</script></body></html>",
        encoding="utf-8",
    )
    with serve(site) as base:
        visits = crawl_site(base, tmp_path / "shots")
    assert set(visits) == {"index.html", "broken.html"}
    assert not any(problems(visits["index.html"]).values())
    found = problems(visits["broken.html"])
    assert any("deliberate" in message for message in found["console errors"])
    assert found["dialogs"] == ["deliberate"]
    assert any(
        "404" in failure and "missing.png" in failure for failure in found["failed requests"]
    )
    assert found["remote requests"] == ["http://remote.invalid/remote.png"]
    assert len(found["empty figures"]) == 2


def test_the_site_checks_see_what_they_must_refuse(tmp_path):
    """Self-check of every site check on pages made to fail each one, and one made to pass."""
    require_browser()
    from helpers.pages import figures, plots, site, tables

    plots.setup()
    drawing = plots.new_figure(figsize=(3, 2))
    drawing.add_subplot().plot([0, 1])
    good_body = (
        '<h1 id="top">Good</h1><p>Plain words.</p><h2 id="trials">Trials</h2>'
        + tables.Table(pd.DataFrame({"term": ["fever"], "n": [3]}), caption="Terms").to_html()
        + figures.figure_html(figures.svg(drawing), "A rising line")
        + '<p><a href="index.html#top">home</a></p>'
    )
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text(
        site.page_html("Good", good_body, page="index.html", pages=[]), encoding="utf-8"
    )
    (folder / "twin.html").write_text(
        site.page_html("Twin", "<p>Also fine.</p>", page="twin.html", pages=[]), encoding="utf-8"
    )
    (folder / "bad.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        "<title>Twin · Cell therapy evidence</title></head><body>"
        '<p style="color:#aaaaaa">pale text</p>'
        "<table><tr><td>no caption</td></tr></table>"
        + f'<img src="{PIXEL}" alt="same">' * 2
        + f'<img src="{PIXEL}">'
        + '<div style="width:900px">a wide block</div>'
        '<div style="overflow:hidden;height:20px">clipped<br>clipped<br>clipped</div>'
        "<p>computed by helpers.stats.synthesis from data/processed for gmfm_total at "
        "outcomes.6.timepoints.1 over 3 month(s)</p>"
        '<a href="missing.html">gone</a> <a href="index.html#nowhere">no anchor</a>'
        "</body></html>",
        encoding="utf-8",
    )
    (folder / "index.html").write_text(
        (folder / "index.html")
        .read_text(encoding="utf-8")
        .replace(
            "Plain words.", 'Plain words. <a href="bad.html">bad</a> <a href="twin.html">twin</a>'
        ),
        encoding="utf-8",
    )
    with serve(folder) as base:
        visits = crawl_site(base, tmp_path / "shots")
        reports = loaded(visits)
        links = site_checks.broken_links(reports, base)
    assert not any(reports["index.html"].problems.values()), reports["index.html"].problems
    bad = reports["bad.html"].problems
    assert len(bad["shared header and favicon"]) == 3
    assert len(bad["table captions"]) == 1
    assert len(bad["figure alt texts"]) == 2  # a shared alt text, a missing one
    assert any("pale text" in problem for problem in bad["contrast"])
    assert any("a wide block" in problem for problem in bad["sideways scroll on a phone"])
    assert any("clipped" in problem for problem in bad["A4 print clipping"])
    assert any("a wide block" in problem for problem in bad["A4 print clipping"])
    assert [problem.split(":")[0] for problem in bad["code identifiers in text"]] == [
        "module name",
        "project folder",
        "snake_case identifier",
        "field path",
        "'(s)' plural",
    ]
    assert site_checks.duplicate_titles(reports) == [
        "bad.html, twin.html share the title 'Twin · Cell therapy evidence'"
    ]
    assert sorted(problem.split(": ")[1] for problem in links["bad.html"]) == [
        "no #nowhere on index.html",
        "no such page",
    ]
    assert "index.html" not in links


# --------------------------------------------------------------------------- expectations


def trial_ids(project: Path) -> list[str]:
    return sorted(pd.read_csv(project / "data" / "processed" / "trials.csv")["trial_id"])


def expected_pages(project: Path) -> set[str]:
    pages = {"index.html", "ingest.html", "changes.html"}
    if (project / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pages |= {f"trials/{trial}.html" for trial in trial_ids(project)}
    if (project / "notebooks" / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pages.add("synthesis.html")
    return pages


def test_every_page_is_reachable_from_the_index(project, crawl):
    assert set(crawl) == expected_pages(project)
    for name, visit in crawl.items():
        assert visit.status == 200, f"{name}: HTTP {visit.status}"
        assert visit.screenshot is not None and visit.screenshot.stat().st_size > 0, name


@pytest.mark.parametrize(
    "kind", ["dialogs", "console errors", "failed requests", "remote requests", "empty figures"]
)
def test_no_page_has(crawl, kind):
    found = {name: problems(visit)[kind] for name, visit in crawl.items()}
    assert not {name: items for name, items in found.items() if items}, kind


def test_requests_were_recorded(crawl):
    # Guards the test above: every page at least requested its own document.
    for name, visit in crawl.items():
        assert any(urlsplit(url).path == f"/{name}" for url in visit.requests), name


def test_result_pages_show_figures(project, crawl):
    for name in expected_pages(project) - {"index.html", "ingest.html", "changes.html"}:
        assert crawl[name].figures, f"{name} shows no figure"


def test_the_changes_page_says_a_first_build_has_nothing_to_compare_with(crawl):
    assert "First build: nothing to compare with." in crawl["changes.html"].text


def test_index_lists_every_trial(project, crawl):
    text = crawl["index.html"].text
    trials = pd.read_csv(project / "data" / "processed" / "trials.csv")
    assert f"{len(trials)} sources" in text
    for title in trials["title"]:
        assert title in text, f"index does not name the trial {title!r}"
    links = {urlsplit(link).path.lstrip("/") for link in crawl["index.html"].links}
    assert expected_pages(project) - {"index.html"} <= links


def test_index_links_the_data_quality_report(crawl):
    assert "Data-quality report (for maintainers)" in crawl["index.html"].text


def test_every_page_links_home(crawl):
    for name, visit in crawl.items():
        if name != "index.html":
            home = [link for link in visit.links if urlsplit(link).path == "/index.html"]
            assert home, f"{name} has no link back to the index"


def shows_number(text: str, number: object) -> bool:
    """``number`` written as a whole token of ``text`` (11 is not found in 110 or 1.11)."""
    return re.search(rf"(?<![\d.]){re.escape(str(number))}(?![\d]|\.\d)", text) is not None


def test_trial_pages_show_their_headline_numbers(project, crawl):
    if not (project / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pytest.skip(f"{pipeline.TRIAL_NOTEBOOK} does not exist yet")
    trials = pd.read_csv(project / "data" / "processed" / "trials.csv").set_index("trial_id")
    for trial, row in trials.iterrows():
        page = f"trials/{trial}.html"
        text = crawl[page].text
        assert row["label"] in text and row["title"] in text, f"{page} does not name its trial"
        # Who was treated: the enrolment, else the safety population, as a number on the page.
        n = row["n_enrolled"] if pd.notna(row["n_enrolled"]) else row["n_safety"]
        assert shows_number(text, int(n)), f"{page} does not show n = {int(n)}"
    for page, numbers in HEADLINES.items():
        for number in numbers:
            assert number in crawl[page].text, f"{page} does not show {number}"


def test_synthesis_page_shows_its_headline_numbers(project, crawl):
    if not (project / "notebooks" / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pytest.skip(f"{pipeline.SYNTHESIS_NOTEBOOK} does not exist yet")
    text = crawl["synthesis.html"].text
    trials = pd.read_csv(project / "data" / "processed" / "trials.csv")
    missing = [label for label in trials["label"] if label not in text]
    assert not missing, f"synthesis.html does not name {missing}"
    links = {
        link.rsplit("/", 2)[-2] + "/" + link.rsplit("/", 1)[-1]
        for link in crawl["synthesis.html"].links
        if "/trials/" in link
    }
    unlinked = [t for t in trials["trial_id"] if f"trials/{t}.html" not in links]
    assert not unlinked, f"synthesis.html does not link the trial pages of {unlinked}"
    # How many trials and treated patients the synthesis rests on.
    patients = int(trials["n_safety"].fillna(trials["n_enrolled"]).sum())
    assert f"{len(trials)} trials" in text
    assert shows_number(text, patients), f"synthesis.html does not show {patients} patients"


# --------------------------------------------------------------------------- the site checks


def page_kind(name: str) -> str:
    if name.startswith("trials/"):
        return "trial pages"
    return {"index.html": "index", "ingest.html": "data-quality report"}.get(
        name, name.removesuffix(".html")
    )


KINDS = ("index", "data-quality report", "synthesis", "trial pages")
PAGE_CHECKS = (
    "shared header and favicon",
    "table captions",
    "figure alt texts",
    "contrast",
    "sideways scroll on a phone",
    "A4 print clipping",
    "code identifiers in text",
)


def check_cases():
    for check in PAGE_CHECKS:
        for kind in KINDS:
            yield pytest.param(check, kind, id=f"{check}-{kind}")


@pytest.mark.parametrize(("check", "kind"), list(check_cases()))
def test_every_page_passes(crawl, check, kind):
    pages = {name: visit for name, visit in crawl.items() if page_kind(name) == kind}
    if not pages:
        pytest.skip(f"the site has no {kind}")
    found = {name: visit.checks.problems[check] for name, visit in pages.items()}
    assert not {name: problems for name, problems in found.items() if problems}, check


def test_every_page_has_its_own_title(crawl):
    assert site_checks.duplicate_titles(loaded(crawl)) == []


def test_every_link_resolves(project, site):
    base, crawl = site
    downloads = site_checks.site_files(project / "reports")
    assert {"changes.json", "data/results/results_dictionary.csv"} <= downloads
    assert site_checks.broken_links(loaded(crawl), base, downloads) == {}


def test_the_supplement_pdf_holds_the_synthesis_and_every_trial_page(project, tmp_path):
    reports = project / "reports"
    output = pdf.write_pdf(pdf.supplement_html(reports), tmp_path / "supplement.pdf")
    content = output.read_bytes()
    assert content.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", content))
    assert pages > len(pdf.supplement_pages(reports))  # each page of the site starts a new one
    assert not (tmp_path / "supplement.pdf.partial").exists()
