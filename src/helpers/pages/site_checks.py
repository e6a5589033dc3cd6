"""Checks of the built reviewer site as a reader sees it, in a real browser.

Each check takes a Playwright ``Page`` already showing one page of the site (or, for
:func:`code_identifiers` and :func:`contrast_ratio`, plain values) and returns a list of
problems, empty when the page passes. The browser tests (``tests/test_browser.py``) run them
on every page; anyone changing a page's contents can run them on a built site::

    python -m helpers.pages.site_checks            # checks reports/ (after make report)
    python -m helpers.pages.site_checks some/site  # any folder holding an index.html

Playwright (a development dependency) drives Debian's ``/usr/bin/chromium``; nothing is
downloaded. The checks follow WCAG 2.1 AA for contrast (4.5:1, 3:1 for large text) and print on
A4 with the margins of the site's stylesheet.
"""

from __future__ import annotations

import functools
import http.server
import re
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

PHONE_WIDTH = 390  # CSS px: a common phone in portrait
# A4 (210 × 297 mm) less the stylesheet's @page margins (12 mm sides, 14 + 16 mm top/bottom).
MM = 96 / 25.4
PRINT_WIDTH = round((210 - 2 * 12) * MM)
PRINT_HEIGHT = round((297 - 14 - 16) * MM)
SCREEN = {"width": 1280, "height": 900}

# --------------------------------------------------------------------------- text


# What must not reach a reader: names from the code and its folders.
CODE_PATTERNS = {
    "module name": re.compile(r"\bhelpers(?:\.[a-z_]\w*)+"),
    "project folder": re.compile(r"\b(?:data/(?:processed|raw|extraction|context)|src/helpers)\b"),
    "field path": re.compile(r"\b[a-z][a-z_]*(?:\.\d+)+(?:\.[a-z_]+(?:\.\d+)*)*\b"),
    "snake_case identifier": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
    "'(s)' plural": re.compile(r"\b\w+\((?:s|es)\)"),
}
# Addresses and file names are what they are (a sheet is named after its trial id).
_NOT_PROSE = re.compile(
    r"\b(?:https?://|www\.|doi:)\S+|\b10\.\d{4,9}/\S+"
    r"|\b[\w.-]+\.(?:yaml|csv|txt|pdf|json|ipynb|html|toml|xlsx)\b"
)


def code_identifiers(text: str) -> list[str]:
    """Code identifiers in reader-facing ``text``, as ``"kind: token"``, each once, in order.

    >>> code_identifiers("see helpers.stats.synthesis and outcomes.6.timepoints.1 (gmfm_total)")
    ['module name: helpers.stats.synthesis', 'field path: outcomes.6.timepoints.1', 'snake_case identifier: gmfm_total']
    >>> code_identifiers("the sheet sb_nguyen2023.yaml; https://doi.org/10.1186/s_1; 3 month(s)")
    ["'(s)' plural: month(s)"]
    """
    prose = _NOT_PROSE.sub(" ", text)
    found: dict[str, None] = {}
    claimed: list[tuple[int, int]] = []
    for kind, pattern in CODE_PATTERNS.items():
        for match in pattern.finditer(prose):
            if any(start <= match.start() < end for start, end in claimed):
                continue  # already reported as part of a longer identifier
            claimed.append(match.span())
            found[f"{kind}: {match.group()}"] = None
    return sorted(found, key=lambda item: prose.find(item.split(": ", 1)[1]))


def relative_luminance(rgb: Sequence[float]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour given as 0–255 channels."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: Sequence[float], background: Sequence[float]) -> float:
    """WCAG contrast ratio of two opaque sRGB colours (1 to 21).

    >>> round(contrast_ratio((255, 255, 255), (0, 0, 0)), 1)
    21.0
    """
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


# --------------------------------------------------------------------------- one page


def title(page) -> str:
    return page.title()


def header_problems(page) -> list[str]:
    """The shared header (site name linking home) and an inline favicon must be there."""
    found = page.evaluate(
        """() => ({
          header: !!document.querySelector('header.site-header a.site-name[href$="index.html"]'),
          nav: document.querySelectorAll('header.site-header nav a').length,
          icon: (document.querySelector('link[rel~="icon"]') || {}).href || ''
        })"""
    )
    problems = []
    if not found["header"]:
        problems.append("no shared header with the site name linking to the index")
    if found["nav"] == 0:
        problems.append("the shared header links no section")
    if not found["icon"].startswith("data:"):
        problems.append(f"no inline favicon (found {found['icon'] or 'none'})")
    return problems


def tables_without_caption(page) -> list[str]:
    """Tables with no (or an empty) caption, named by their first header cells."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('table'))
          .filter(t => !(t.caption && t.caption.textContent.trim()))
          .map(t => 'table starting "' + (t.innerText || '').trim().slice(0, 60) + '"')"""
    )


def figure_alt_problems(page) -> list[str]:
    """Figures without alt text, and alt texts that two figures on the page share."""
    figures = page.evaluate(
        """() => Array.from(document.querySelectorAll('img, svg'))
          .filter(e => !(e.parentElement && e.parentElement.closest('svg')))
          .map(e => ({tag: e.tagName.toLowerCase(),
                      alt: (e.tagName.toLowerCase() === 'img' ? e.getAttribute('alt')
                            : e.getAttribute('aria-label')) || ''}))"""
    )
    problems = []
    seen: dict[str, int] = {}
    for number, figure in enumerate(figures, start=1):
        alt = " ".join(figure["alt"].split())
        if not alt:
            problems.append(f"figure {number} ({figure['tag']}) has no alt text")
        elif alt in seen:
            problems.append(f"figures {seen[alt]} and {number} share the alt text {alt[:80]!r}")
        else:
            seen[alt] = number
    return problems


_CONTRAST_JS = """() => {
  const parse = c => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3]));
  const background = element => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) layers.push(c);
      if (c && c[3] >= 1) break;
    }
    let colour = [255, 255, 255];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  const found = [];
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!element || seen.has(element) || !walker.currentNode.textContent.trim()) continue;
    seen.add(element);
    if (element.closest('svg')) continue;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (style.visibility !== 'visible' || box.width === 0 || box.height === 0) continue;
    const back = background(element);
    const text = over(parse(style.color), back);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    found.push({text: walker.currentNode.textContent.trim().slice(0, 50), foreground: text,
                background: back, large: large});
  }
  return found;
}"""


def low_contrast(page) -> list[str]:
    """Text whose contrast with its background is below WCAG AA (4.5:1; 3:1 for large text)."""
    problems = []
    for sample in page.evaluate(_CONTRAST_JS):
        needed = 3.0 if sample["large"] else 4.5
        ratio = contrast_ratio(sample["foreground"], sample["background"])
        if ratio < needed:
            problems.append(
                f"{ratio:.2f}:1 < {needed}:1 for {sample['text']!r} "
                f"(rgb{tuple(round(c) for c in sample['foreground'])} on "
                f"rgb{tuple(round(c) for c in sample['background'])})"
            )
    return problems


# Outermost elements that stick out of the page's width, ignoring those inside a box that
# scrolls sideways (a wide table in its own scroll box is the intended behaviour on screen).
_OVERFLOW_JS = """([width, allowScrollBoxes]) => {
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const clips = e => { const s = getComputedStyle(e);
    return [s.overflowX, s.overflowY].some(v => ['hidden', 'clip', 'auto', 'scroll'].includes(v)); };
  const name = e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string'
      ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
      ' "' + (e.innerText || e.getAttribute('alt') || '').trim().slice(0, 40) + '"';
  const found = [];
  const reported = new Set();
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) found.push('the page is ' + page + ' px wide, more than ' + width + ' px');
  for (const e of document.body.querySelectorAll('*')) {
    if (getComputedStyle(e).display === 'none') continue;
    let ancestor = e.parentElement, inside = false;
    for (; ancestor && ancestor !== document.body; ancestor = ancestor.parentElement) {
      if (reported.has(ancestor) || (allowScrollBoxes && scrolls(ancestor))) { inside = true; break; }
    }
    if (inside) continue;
    const box = e.getBoundingClientRect();
    if (box.right > width + 1) {
      found.push(name(e) + ' reaches ' + Math.round(box.right) + ' px');
      reported.add(e);
    } else if (!allowScrollBoxes && clips(e) &&
               (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)) {
      found.push(name(e) + ' cuts off its content (' + e.scrollWidth + ' × ' + e.scrollHeight +
                 ' px shown in ' + e.clientWidth + ' × ' + e.clientHeight + ')');
      reported.add(e);
    }
  }
  return found;
}"""

_TALL_FIGURES_JS = """(height) => Array.from(document.querySelectorAll('img'))
  .filter(e => e.getBoundingClientRect().height > height + 1)
  .map(e => 'figure "' + (e.getAttribute('alt') || '').slice(0, 40) + '" is ' +
            Math.round(e.getBoundingClientRect().height) + ' px tall, a page holds ' + height)"""


def sideways_scroll(page, width: int = PHONE_WIDTH) -> list[str]:
    """At a phone's width, what makes the page scroll sideways (scroll boxes are fine)."""
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": 844})
    try:
        return page.evaluate(_OVERFLOW_JS, [width, True])
    finally:
        page.set_viewport_size(original)


def print_clipping(page, width: int = PRINT_WIDTH, height: int = PRINT_HEIGHT) -> list[str]:
    """What an A4 print would cut: content wider than the page, boxes clipping their content,
    figures taller than a page."""
    original = page.viewport_size
    page.emulate_media(media="print")
    page.set_viewport_size({"width": width, "height": height})
    try:
        return page.evaluate(_OVERFLOW_JS, [width, False]) + page.evaluate(_TALL_FIGURES_JS, height)
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size(original)


def links_and_anchors(page) -> tuple[list[str], list[str]]:
    """Every link's absolute address, and every id a link's #fragment could point to."""
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    anchors = page.eval_on_selector_all("[id], a[name]", "els => els.map(e => e.id || e.name)")
    return links, anchors


# --------------------------------------------------------------------------- the site


@dataclass
class PageReport:
    """What the checks found on one page."""

    title: str = ""
    text: str = ""
    links: list[str] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)


def check_page(page) -> PageReport:
    """Run every single-page check on the page the browser shows."""
    links, anchors = links_and_anchors(page)
    text = page.inner_text("body")
    return PageReport(
        title=title(page),
        text=text,
        links=links,
        anchors=anchors,
        problems={
            "shared header and favicon": header_problems(page),
            "table captions": tables_without_caption(page),
            "figure alt texts": figure_alt_problems(page),
            "contrast": low_contrast(page),
            "sideways scroll on a phone": sideways_scroll(page),
            "A4 print clipping": print_clipping(page),
            "code identifiers in text": code_identifiers(text),
        },
    )


def duplicate_titles(reports: Mapping[str, PageReport]) -> list[str]:
    """Pages sharing a title, and pages without one."""
    by_title: dict[str, list[str]] = {}
    for name, report in sorted(reports.items()):
        by_title.setdefault(report.title.strip(), []).append(name)
    problems = [
        f"{', '.join(names)} share the title {t!r}"
        for t, names in by_title.items()
        if len(names) > 1 and t
    ]
    problems += [f"{name} has no title" for name in by_title.get("", [])]
    return problems


def broken_links(
    reports: Mapping[str, PageReport], base: str, files: Collection[str] = ()
) -> dict[str, list[str]]:
    """Per page, links into the site that lead nowhere: a missing page or a missing #anchor.

    ``reports`` must hold every page reachable from the index (a crawl); ``base`` is the
    site's root address; ``files`` are the site's other files (paths under its root, such as
    ``changes.json``), which pages may link for download. Links leaving the site are not
    followed (nothing leaves the machine).
    """
    problems: dict[str, list[str]] = {}
    for name, report in reports.items():
        for link in report.links:
            target, fragment = urldefrag(link)
            if not target.startswith(base):
                continue
            path = urlsplit(target).path.removeprefix(urlsplit(base).path)
            if path in files and not fragment:
                continue
            if path not in reports:
                problems.setdefault(name, []).append(f"{link}: no such page")
            elif fragment and fragment not in reports[path].anchors:
                problems.setdefault(name, []).append(f"{link}: no #{fragment} on {path}")
    return problems


# --------------------------------------------------------------------------- the browser

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
NAVIGATION_TIMEOUT_MS = 30_000


def browser_problems() -> list[str]:
    """Why the headless browser cannot run here (empty when it can), with the fix."""
    problems = []
    if not CHROMIUM.is_file():
        problems.append(
            f"Chromium is not installed ({CHROMIUM} missing): "
            "`apt-get install --no-install-recommends chromium` (Debian's package)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append(
            "the playwright package is not installed: `make .venv/.installed` installs the "
            "development tools"
        )
    return problems


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the checks report problems; an access log would only bury them


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``http://127.0.0.1:<free port>/`` serving ``directory`` from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextmanager
def browser(playwright) -> Iterator:
    """A fresh headless Chromium context (own profile), closed afterwards."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_FLAGS,
            viewport=SCREEN,
            service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()


def page_name(url: str, base: str) -> str:
    """A page's path under the site's root (``trials/x.html``)."""
    return urlsplit(url).path.removeprefix(urlsplit(base).path)


def crawl(page, base: str, visit: Callable, *, before: Callable | None = None) -> dict:
    """Visit ``base``index.html and every site page linked from it, each once, breadth first.

    ``before(name)`` is called before each navigation (to attribute browser events to the
    page); ``visit(page, name, response)`` after it loaded, and its result is kept under the
    page's name. A page that fails to load gets ``visit(page, name, None)``.
    """
    from playwright.sync_api import Error as PlaywrightError

    results: dict = {}
    queue = deque([urljoin(base, "index.html")])
    while queue:
        url = queue.popleft()
        name = page_name(url, base)
        if name in results:
            continue
        if before is not None:
            before(name)
        try:
            # "load" waits for every image; the pages load nothing else (no scripts).
            response = page.goto(url, wait_until="load")
        except PlaywrightError:
            response = None
        results[name] = visit(page, name, response)
        if response is None:
            continue
        for link in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target, _ = urldefrag(link)
            if target.startswith(base) and urlsplit(target).path.endswith(".html"):
                queue.append(target)
    return results


def site_files(directory: Path) -> set[str]:
    """Every file of the site in ``directory`` that is not a page (paths under it)."""
    return {
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and path.suffix != ".html"
    }


def check_site(directory: Path) -> tuple[dict[str, PageReport], dict[str, list[str]]]:
    """Every check on every page of the site in ``directory``.

    Returns the per-page reports and the site-wide problems (titles shared between pages,
    links leading nowhere, pages that did not load).
    """
    from playwright.sync_api import sync_playwright

    with serve(directory) as base, sync_playwright() as playwright, browser(playwright) as ctx:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)

        def visit(page, name: str, response) -> PageReport | None:
            if response is None or response.status != 200:
                return None
            return check_page(page)

        visited = crawl(page, base, visit)
        reports = {name: report for name, report in visited.items() if report is not None}
        site = {
            "pages that did not load": sorted(n for n, r in visited.items() if r is None),
            "titles": duplicate_titles(reports),
            "links": [
                f"{name}: {problem}"
                for name, problems in sorted(
                    broken_links(reports, base, site_files(directory)).items()
                )
                for problem in problems
            ],
        }
    return reports, site


def main(argv: Sequence[str] | None = None) -> int:
    """Print every problem of a built site; exit 1 when there is one, 2 without a browser."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    from helpers import paths

    directory = Path(arguments[0]) if arguments else paths.reports_dir()
    if not (directory / "index.html").is_file():
        print(f"no site in {directory} (no index.html): run make report first", file=sys.stderr)
        return 2
    missing = browser_problems()
    if missing:
        print("the site checks need a browser: " + "; ".join(missing), file=sys.stderr)
        return 2
    reports, site = check_site(directory)
    count = 0
    for check, problems in site.items():
        for problem in problems:
            print(f"site · {check}: {problem}")
            count += 1
    for name, report in sorted(reports.items()):
        for check, problems in report.problems.items():
            for problem in problems:
                print(f"{name} · {check}: {problem}")
                count += 1
    print(f"{len(reports)} pages checked, {count} problems", file=sys.stderr)
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(main())
