"""The reviewer site: one look for every page, notebook pages without code, and the index.

Every page is one self-contained HTML document built by :func:`page_html`: the project's own
stylesheet (``style.css``) inline, an inline favicon, a distinct ``<title>``, the shared header
linking the site's sections, and no script or network resource. Notebook pages get their body
from nbconvert's base templates through ``templates/reviewer`` (markdown and outputs only:
no code, no prompts); tables and figures arrive already rendered by
:mod:`helpers.pages.tables` and :mod:`helpers.pages.figures`. The index is built here from the
processed tables and the result tables (per condition, the key messages on safety, efficacy
and certainty) with every data value escaped. Nothing in a page depends on the clock, so
two regenerations from the same inputs are byte-identical.
"""

from __future__ import annotations

import base64
import functools
import html
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import nbformat
import pandas as pd
from markupsafe import Markup

from helpers import paths
from helpers.pages import tables

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = Path(__file__).parent / "style.css"
SITE_NAME = "Cell therapy evidence"
SITE_TITLE = (
    "Cell therapy for the neurological sequelae of spina bifida, cerebral palsy and spinal "
    "cord injury: what the published trials show"
)
PINNED_FOR_PROVENANCE = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "seaborn",
    "statsmodels",
    "papermill",
    "nbconvert",
)
INDEX = "index.html"


@dataclass(frozen=True)
class Section:
    """One link of the shared header: a page of the site (``#fragment`` allowed) and its name."""

    target: str
    name: str

    @property
    def page(self) -> str:
        return self.target.split("#", 1)[0]


# The shared header, in reading order. A section is linked only when its page is published.
SECTIONS = (
    Section(INDEX, "Overview"),
    Section("synthesis.html", "Synthesis"),
    Section("synthesis.html#Methods", "Methods"),
    Section(f"{INDEX}#trials", "Trials"),
    Section("ingest.html", "Data-quality report"),
    Section("changes.html", "What changed"),
)

# A small square with a dot: a cell under a lens, readable at 16 px.
FAVICON = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#0f3057"/>'
    b'<circle cx="8" cy="8" r="4.2" fill="none" stroke="#fff" stroke-width="1.8"/>'
    b'<circle cx="8" cy="8" r="1.4" fill="#fff"/></svg>'
).decode("ascii")


@functools.cache
def stylesheet() -> str:
    """The site's CSS (read once per process)."""
    return STYLESHEET.read_text(encoding="utf-8")


def _relative(target: str, page: str) -> str:
    return "../" * page.count("/") + target


def header_html(page: str = INDEX, pages: Iterable[str] | None = None) -> str:
    """The shared header for ``page`` (path under reports/), linking the published sections.

    ``pages`` lists the pages the site publishes; ``None`` links every section. The index is
    always linked: every page leads home.
    """
    published = None if pages is None else {INDEX, *pages}
    items = []
    for section in SECTIONS:
        if published is not None and section.page not in published:
            continue
        current = ' aria-current="page"' if section.target == page else ""
        href = html.escape(_relative(section.target, page))
        items.append(f'<li><a href="{href}"{current}>{html.escape(section.name)}</a></li>')
    home = html.escape(_relative(INDEX, page))
    return (
        '<header class="site-header"><div class="bar">'
        f'<a class="site-name" href="{home}">{html.escape(SITE_NAME)}</a>'
        f'<nav aria-label="Site sections"><ul>{"".join(items)}</ul></nav>'
        "</div></header>"
    )


def page_html(
    title: str, body: str, *, page: str = INDEX, pages: Iterable[str] | None = None
) -> str:
    """A complete page: head (title, favicon, stylesheet), shared header, ``body`` in <main>.

    ``body`` is trusted HTML (build it with escaped values); ``title`` is plain text.
    """
    full_title = title if title == SITE_NAME else f"{title} · {SITE_NAME}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(full_title)}</title>\n"
        f'<link rel="icon" href="{FAVICON}">\n'
        f"<style>\n{stylesheet()}</style>\n</head>\n<body>\n"
        f"{header_html(page, pages)}\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- notebook pages

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_HEADING = re.compile(r"<h([12])[^>]*>(.*?)</h\1>", re.DOTALL | re.IGNORECASE)


def _plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def _markdown_plain(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).split())


def page_title(notebook: nbformat.NotebookNode) -> str:
    """The page's title: its first heading.

    A notebook run with parameters makes one of several pages (one per trial): its title
    starts with the first heading its outputs generate from data (the trial's title), so that
    every page's title is distinct.
    """
    generic = next(
        (
            _markdown_plain(match.group(1))
            for cell in notebook.cells
            if cell.cell_type == "markdown"
            for match in [_MARKDOWN_HEADING.search(cell.source)]
            if match
        ),
        "",
    )
    parameters = notebook.metadata.get("papermill", {}).get("parameters") or {}
    specific = ""
    if parameters:
        specific = next(
            (
                _plain(match.group(2))
                for cell in notebook.cells
                if cell.cell_type == "code"
                for output in cell.get("outputs", [])
                for match in [_HTML_HEADING.search(output.get("data", {}).get("text/html", ""))]
                if match
            ),
            "",
        )
    parts = [part for part in (specific, generic) if part]
    return " · ".join(parts) or SITE_NAME


@functools.cache
def _exporter():
    """One exporter per process: building one (templates, filters) costs about 45 ms."""
    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.exporters import TemplateExporter

    from helpers.pages import figures  # matplotlib: imported only when a notebook is rendered

    class ReviewerExporter(HTMLExporter):
        """nbconvert's HTML exporter without the work the reviewer template makes moot.

        No preprocessors: every one nbconvert lists is disabled by default, yet each run
        validated the whole notebook once per preprocessor. And no BeautifulSoup pass over the
        finished page, which only adds ``alt`` to images without one and ``tabindex`` to
        JupyterLab's cell classes: the template writes every ``alt`` and uses none of those
        classes. Together these were two thirds of a trial page's rendering time.
        """

        def from_notebook_node(self, nb, resources=None, **kw):
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

        def _preprocess(self, nb, resources):
            # With no preprocessor there is nothing to protect the notebook from: nbconvert
            # would still copy the notebook it has just copied, and normalise it (~20% of
            # rendering a trial page).
            if self._preprocessors:
                return super()._preprocess(nb, resources)
            return nb, resources

        @jinja2.pass_context
        def markdown2html(self, context, source):
            # The same text gives the same HTML, and every trial page has the same narrative
            # cells: each is parsed once per process (~8% of the pipeline process's time).
            if context.get("cell", {}).get("attachments"):
                return super().markdown2html(context, source)
            path = context.get("resources", {}).get("metadata", {}).get("path", "")
            return markdown_html(self, source, path)

    @functools.lru_cache(maxsize=4096)
    def markdown_html(exporter: HTMLExporter, source: str, path: str) -> str:
        return HTMLExporter.markdown2html(
            exporter, {"resources": {"metadata": {"path": path}}}, source
        )

    exporter = ReviewerExporter(
        template_name="reviewer",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        default_preprocessors=[],
    )
    exporter.register_filter("site_figure", figures.figure_html)
    return exporter


def render_notebook(
    notebook: nbformat.NotebookNode,
    depth: int | None = None,
    *,
    page: str | None = None,
    pages: Iterable[str] | None = None,
) -> str:
    """The page of an executed notebook: its markdown and outputs, without code.

    ``page`` is the page's path under reports/ (for relative links and the header's current
    section); ``depth`` (folders below reports/) may stand in for it. ``pages`` lists the pages
    the site publishes, so that the header links only those (``None``: every section).
    """
    if page is None:
        page = "folder/" * (depth or 0) + "page.html"  # only its depth matters
    body, _ = _exporter().from_notebook_node(notebook)
    return page_html(page_title(notebook), minimal_escapes(body).strip(), page=page, pages=pages)


_MARKUP = re.compile(r"(<[^>]*>)")
_ATTRIBUTE_VALUE = re.compile(r'="([^"]*)"')
_ESCAPABLE = re.compile(r"[&<>]")


def minimal_escapes(markup: str) -> str:
    """``markup`` with only the escapes HTML needs: ``&``, ``<`` and ``>`` in text, and also
    ``"`` in attribute values (which are double-quoted).

    Markupsafe and mistune also escape quotes and write the headings' ¶ as ``&#182;``; as
    characters they read the same in a browser, and as text in the page's source.
    """

    def attribute(match: re.Match) -> str:
        value = html.escape(html.unescape(match.group(1)), quote=False)
        return '="' + value.replace('"', "&quot;") + '"'

    def tag(part: str) -> str:
        if part.startswith(("<!", "<?")) or not _ESCAPABLE.search(part, 1, len(part) - 1):
            return part  # nothing inside the brackets to escape or unescape
        return _ATTRIBUTE_VALUE.sub(attribute, part)

    def text(part: str) -> str:
        if not _ESCAPABLE.search(part):
            return part  # most of a page: figures' SVG, tables' plain words and numbers
        return html.escape(html.unescape(part), quote=False)

    parts = _MARKUP.split(markup)
    return "".join(tag(part) if index % 2 else text(part) for index, part in enumerate(parts))


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=paths.project_root(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "src",
                "notebooks",
                "data/raw",
                "data/extraction",
                "pyproject.toml",
            ],
            cwd=paths.project_root(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return commit + (" with uncommitted changes" if dirty else "")


def provenance_lines(input_digest: str) -> list[str]:
    versions = ", ".join(f"{name} {version(name)}" for name in PINNED_FOR_PROVENANCE)
    return [
        f"Code: commit {_git_commit()}.",
        f"Inputs: SHA-256 of the raw source documents and extraction sheets {input_digest[:16]}…",
        f"Environment: Python 3.11; {versions} (pinned in the project's pyproject.toml).",
        "Produced by make report: papermill runs each notebook on the project's kernel; "
        "nbconvert renders it without code.",
    ]


def _words(value: object) -> str:
    """A stored category as words ("spinal_cord_injury" -> "spinal cord injury")."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return tables.MISSING
    return str(value).replace("_", " ")


def trials_table(trials: pd.DataFrame, checks: pd.DataFrame, pages: Iterable[str]) -> tables.Table:
    """One row per trial, its title linking to its page: condition, cells, n, source, flags."""
    published = set(pages)
    warnings = checks[checks["severity"] == "warning"].groupby("trial_id").size()
    rows = []
    for trial in trials.sort_values(["condition", "trial_id"], kind="stable").itertuples():
        page = f"trials/{trial.trial_id}.html"
        title = str(trial.title)
        n = trial.n_enrolled if pd.notna(trial.n_enrolled) else trial.n_safety
        rows.append(
            {
                "trial": tables.link(page, title) if page in published else title,
                "condition": _words(trial.condition),
                "cells": f"{_words(trial.cell_type)}, {_words(trial.cell_source)}, "
                f"{_words(trial.tissue)}",
                "route × administrations": f"{_words(trial.route)} × "
                f"{_words(trial.n_administrations)}",
                "patients": n,
                "source": _words(trial.source_kind),
                "data-quality warnings": int(warnings.get(trial.trial_id, 0)),
            }
        )
    frame = pd.DataFrame(rows, columns=[
        "trial", "condition", "cells", "route × administrations", "patients", "source",
        "data-quality warnings",
    ])  # fmt: skip
    return tables.Table(
        frame,
        caption="The trials: condition, cells, route, patients treated and kind of source",
        notes=[
            "Patients: enrolled, or in the safety analysis where enrolment is not reported.",
            "Source: a press report or an abstract could not be checked against the full article.",
            Markup("Data-quality warnings: findings of the consistency checks, listed in the ")
            + tables.link("ingest.html", "data-quality report")
            + Markup("."),
        ],
        lift_repeated=False,
    )


def key_messages_html(tables: dict[str, pd.DataFrame]) -> str:
    """Per condition, the key messages on safety, efficacy and certainty, linking into the
    synthesis, from the stored results (computed now when there are none)."""
    from helpers.pages.synthesis.key_messages import key_messages_html as messages_html
    from helpers.stats import analysis

    results = analysis.load_or_compute(analysis.Settings(), tables)
    return messages_html(results, page="synthesis.html")


def index_page(pages: list[str], input_digest: str = "") -> str:
    """The entry page: the key messages, the site's pages, the trials with key facts and
    flags, provenance."""
    from helpers import data

    processed = data.load_all()
    trials, checks = processed["trials"], processed["checks"]
    published = set(pages)
    reports = [
        (
            "synthesis.html",
            "Cross-trial synthesis",
            "safety, efficacy, heterogeneity and certainty of the evidence across the trials",
        ),
        (
            "synthesis.html#Methods",
            "Methods",
            "review question, eligibility, the register of sources and how they were analysed",
        ),
        (
            "ingest.html",
            "Data-quality report (for maintainers)",
            "what was extracted from each source, how every quote was verified, and the "
            "consistency flags",
        ),
        (
            "changes.html",
            "What changed",
            "trials, estimates, certainty and flags that changed at the last update",
        ),
    ]
    links = "".join(
        f'<li><a href="{page}">{html.escape(name)}</a>: {html.escape(what)}</li>'
        for page, name, what in reports
        if page.split("#", 1)[0] in published
    )
    provenance = "".join(f"<li>{html.escape(line)}</li>" for line in provenance_lines(input_digest))
    key_messages_section = ""
    if "synthesis.html" in published:
        key_messages_section = (
            '<h2 id="key-messages">Key messages</h2>\n'
            "<p>For each condition: what the trials say on safety and efficacy, and how certain "
            "that is, in the plain-language wording of GRADE.</p>\n" + key_messages_html(processed)
        )
    body = f"""<h1>{html.escape(SITE_TITLE)}</h1>
<p>{len(trials)} sources, each number traced to a verbatim quote of its source document.</p>
{key_messages_section}
<h2 id="pages">Pages</h2>
<ul>{links}</ul>
<h2 id="trials">Trials</h2>
{trials_table(trials, checks, published).to_html()}
<h2 id="provenance">How this site was produced</h2>
<ul class="muted">{provenance}</ul>"""
    return page_html(SITE_NAME, body, page=INDEX, pages=published)
