"""A PDF of the synthesis and the trial pages, for a journal's supplementary material.

``make pdf`` (``python -m helpers.pages.pdf``) joins the built pages of ``reports/`` into one
document — a contents list, the synthesis, then each trial page, each starting on a new A4
page — and prints it with the same headless Chromium the browser tests use, through the
site's own print stylesheet. Links between the included pages become links inside the PDF;
links to pages left out (the index, the data-quality report) become plain text.

The PDF is written next to a temporary name and renamed when complete, so an interrupted
run never leaves half a file. Exit codes: 0 written, 2 nothing to print or no browser.
"""

from __future__ import annotations

import argparse
import html
import posixpath
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers import paths
from helpers.pages import site, site_checks

TITLE = "Supplementary material: cross-trial synthesis and trial summaries"
SYNTHESIS = "synthesis.html"
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#545454">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
_MAIN = re.compile(r"<main>\s*(.*?)\s*</main>", re.DOTALL)
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
_LINK = re.compile(r'<a href="([^"]*)"([^>]*)>(.*?)</a>', re.DOTALL)
_ID = re.compile(r'\sid="([^"]*)"')


def default_output() -> Path:
    return paths.build_dir() / "supplement.pdf"


def supplement_pages(reports: Path) -> list[str]:
    """The pages to print, in order: the synthesis, then every trial page."""
    pages = [SYNTHESIS] if (reports / SYNTHESIS).is_file() else []
    return pages + sorted(f"trials/{p.name}" for p in (reports / "trials").glob("*.html"))


def _slug(page: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", page.removesuffix(".html")).strip("-")


def _page_title(document: str) -> str:
    found = _TITLE.search(document)
    text = html.unescape(found.group(1)) if found else ""
    return text.removesuffix(f" · {site.SITE_NAME}").strip()


def _section(page: str, document: str, included: set[str]) -> str:
    """One page's body with ids made unique and links pointing inside the document."""
    found = _MAIN.search(document)
    if found is None:
        raise ValueError(f"{page} has no <main> element: not a page of this site")
    body = found.group(1)
    slug = _slug(page)
    body = _ID.sub(lambda m: f' id="{slug}--{m.group(1)}"', body)

    def relink(match: re.Match) -> str:
        href, rest, text = match.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:", href):  # https:, mailto:, data: stay as they are
            return match.group()
        target, _, fragment = href.partition("#")
        resolved = (
            posixpath.normpath(posixpath.join(posixpath.dirname(page), target)) if target else page
        )
        if resolved not in included:
            return f"<span>{text}</span>"
        anchor = f"{_slug(resolved)}--{fragment}" if fragment else _slug(resolved)
        return f'<a href="#{html.escape(anchor)}"{rest}>{text}</a>'

    return f'<section class="supplement-page" id="{slug}">\n{_LINK.sub(relink, body)}\n</section>'


def supplement_html(reports: Path) -> str:
    """The supplement as one self-contained HTML document (the site's look, print styles)."""
    pages = supplement_pages(reports)
    if not pages:
        raise FileNotFoundError(
            f"no synthesis or trial pages in {reports}: run `make report` first"
        )
    documents = {page: (reports / page).read_text(encoding="utf-8") for page in pages}
    contents = "".join(
        f'<li><a href="#{_slug(page)}">{html.escape(_page_title(document) or page)}</a></li>'
        for page, document in documents.items()
    )
    sections = "\n".join(
        _section(page, document, set(pages)) for page, document in documents.items()
    )
    body = (
        f"<h1>{html.escape(TITLE)}</h1>\n<h2>Contents</h2>\n<ol>{contents}</ol>\n"
        "<style>.supplement-page { break-before: page; page-break-before: always; }</style>\n"
        f"{sections}"
    )
    return site.page_html(TITLE, body, page="supplement.html", pages=[])


def write_pdf(document: str, output: Path) -> Path:
    """Print ``document`` (HTML) to ``output`` as A4 with page numbers, via headless Chromium."""
    from playwright.sync_api import sync_playwright

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with sync_playwright() as playwright, site_checks.browser(playwright) as context:
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(site_checks.NAVIGATION_TIMEOUT_MS * 4)
        page.set_content(document, wait_until="load")
        page.pdf(
            path=str(partial),
            format="A4",
            print_background=True,
            prefer_css_page_size=True,
            display_header_footer=True,
            header_template="<span></span>",
            footer_template=FOOTER,
            margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
        )
    partial.replace(output)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pages.pdf",
        description="Print the synthesis and trial pages of reports/ to one PDF (A4).",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write it (default build/supplement.pdf)"
    )
    parser.add_argument("--reports", type=Path, default=None, help="the built site (reports/)")
    args = parser.parse_args(argv)
    reports = args.reports or paths.reports_dir()
    output = args.output or default_output()
    missing = site_checks.browser_problems()
    if missing:
        print("make pdf prints through headless Chromium: " + "; ".join(missing), file=sys.stderr)
        return 2
    try:
        document = supplement_html(reports)
    except (FileNotFoundError, ValueError) as problem:
        print(f"no PDF written: {problem}", file=sys.stderr)
        return 2
    write_pdf(document, output)
    print(f"wrote {output} ({len(supplement_pages(reports))} pages of the site)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
