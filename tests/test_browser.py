"""The reviewer site in a real browser: headless Debian Chromium driven over the DevTools protocol.

The site is built once, by the pipeline, on a scratch copy of the project, and served from
127.0.0.1 by a background ``http.server``. Playwright (its Python driver only: no browser is
downloaded; it launches ``/usr/bin/chromium``) opens ``index.html``, follows every link to a
local page and records, per page, console errors, failed requests, every request URL and the
rendered size of every figure. Each page gets a full-page screenshot (JPEG) in
``build/screenshots/`` for a person to look at.

Without Chromium the tests fail in CI (``CI`` set; ``.ci/run`` installs Debian's package) and
are skipped elsewhere with the command that installs it.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pandas as pd
import pytest

from helpers import paths
from helpers.run import pipeline

CHROMIUM = Path("/usr/bin/chromium")
# As root in a container, and quiet: no sandbox, no GPU, and none of Chromium's own traffic
# (component updates, sync, QUIC probes) that a closed network would refuse.
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
# Numbers a reviewer must see on a page, written as the page shows them.
HEADLINES = {
    "trials/sb_nguyen2023.html": ["127.7 ± 59.2", "158.3 ± 56.2"],
}
NAVIGATION_TIMEOUT_MS = 30_000


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Fail in CI, skip elsewhere, when Chromium or its driver is missing."""
    problems = []
    if not CHROMIUM.is_file():
        problems.append(
            f"Chromium is not installed ({CHROMIUM} missing): "
            "`apt-get install --no-install-recommends chromium` (Debian's package)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed: `make clean test` reinstalls")
    if problems:
        message = "browser tests need a browser: " + "; ".join(problems)
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


# --------------------------------------------------------------------------- the site


def scratch_project(root: Path) -> Path:
    """A copy of the inputs the pipeline reads (data, notebooks, pins) to build a site into."""
    shutil.copytree(paths.data_dir(), root / "data")
    (root / "notebooks").mkdir()
    for notebook in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    shutil.copy2(paths.project_root() / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    require_browser()  # before the build: no point building a site nobody can look at
    root = scratch_project(tmp_path_factory.mktemp("browser") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.ROOT_ENV_VAR, str(root))
        assert pipeline.run(quiet=True) == pipeline.EXIT_OK
    return root


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # pytest shows failures; the access log would only bury them


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``http://127.0.0.1:<free port>/`` serving ``directory`` from a background thread."""
    handler = partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="reports-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


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
    links: list[str] = field(default_factory=list)
    text: str = ""
    screenshot: Path | None = None


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
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)
    visits: dict[str, Visit] = {}
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

    with (
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_FLAGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        try:
            context.route("**/*", route)
            context.on("request", lambda r: current[0].requests.append(r.url))
            context.on(
                "requestfailed",
                lambda r: current[0].failed_requests.append(f"{r.failure} {r.url}"),
            )
            context.on("response", on_response)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
            page.on("console", on_console)
            page.on("pageerror", lambda e: current[0].console_errors.append(f"page error: {e}"))
            page.on("dialog", on_dialog)

            queue = deque([base + "index.html"])
            while queue:
                url = queue.popleft()
                name = urlsplit(url).path.lstrip("/")
                if name in visits:
                    continue
                visit = visits[name] = current[0] = Visit()
                try:
                    # "load" waits for every image; the pages load nothing else (no scripts).
                    response = page.goto(url, wait_until="load")
                except PlaywrightError as exc:
                    visit.failed_requests.append(f"navigation failed: {exc}")
                    continue
                visit.status = response.status if response else None
                visit.figures = page.evaluate(FIGURES_JS)
                visit.text = page.inner_text("body")
                visit.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                visit.screenshot = screenshots / screenshot_name(name)
                # JPEG: a full trial page is ~30,000 px tall; PNG takes twice as long to encode.
                page.screenshot(path=str(visit.screenshot), full_page=True, quality=85)
                for link in visit.links:
                    target, _ = urldefrag(link)
                    if target.startswith(base) and urlsplit(target).path.endswith(".html"):
                        queue.append(target)
        finally:
            context.close()
    return visits


@pytest.fixture(scope="module")
def crawl(project) -> dict[str, Visit]:
    with serve(project / "reports") as base:
        return crawl_site(base, SCREENSHOTS)


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


# --------------------------------------------------------------------------- expectations


def trial_ids(project: Path) -> list[str]:
    return sorted(pd.read_csv(project / "data" / "processed" / "trials.csv")["trial_id"])


def expected_pages(project: Path) -> set[str]:
    pages = {"index.html", "ingest.html"}
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
    for name in expected_pages(project) - {"index.html", "ingest.html"}:
        assert crawl[name].figures, f"{name} shows no figure"


def test_index_lists_every_trial(project, crawl):
    text = crawl["index.html"].text
    trials = trial_ids(project)
    assert f"{len(trials)} sources" in text
    for trial in trials:
        assert trial in text, f"index does not list {trial}"
    links = {urlsplit(link).path.lstrip("/") for link in crawl["index.html"].links}
    assert expected_pages(project) - {"index.html"} <= links


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
        assert trial in text and row["title"] in text, f"{page} does not name its trial"
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
    missing = [trial for trial in trials["trial_id"] if trial not in text]
    assert not missing, f"synthesis.html does not mention {missing}"
    # How many trials and treated patients the synthesis rests on.
    patients = int(trials["n_safety"].fillna(trials["n_enrolled"]).sum())
    assert f"{len(trials)} trials" in text
    assert shows_number(text, patients), f"synthesis.html does not show {patients} patients"
