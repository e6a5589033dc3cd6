"""The site's frame: one page shell, the shared header, titles, the stylesheet, notebook pages."""

from __future__ import annotations

import base64
import html
import re

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from support import on_fixture_root

from helpers.pages import site

STYLESHEET_LIMIT_BYTES = 40 * 1024


def test_the_stylesheet_is_small_and_loads_nothing():
    css = site.stylesheet()
    assert len(css.encode()) <= STYLESHEET_LIMIT_BYTES
    assert "@import" not in css and not re.search(r"url\(\s*['\"]?(?!data:)", css)
    assert "@media print" in css and "@page" in css and "max-width: 40rem" in css


def test_page_html_is_a_complete_self_contained_page():
    page = site.page_html("Methods & sources", "<p>body</p>", page="methods.html")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "<title>Methods &amp; sources · Cell therapy evidence</title>" in page
    assert f'<link rel="icon" href="{site.FAVICON}">' in page
    assert site.FAVICON.startswith("data:image/svg+xml;base64,")
    assert site.stylesheet() in page
    assert "<main>\n<p>body</p>\n</main>" in page
    assert "<script" not in page and "http" not in page.split("<body>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )


def header_links(header: str) -> dict[str, str]:
    return dict(
        (text, href)
        for href, text in re.findall(r'<li><a href="([^"]+)"[^>]*>([^<]+)</a></li>', header)
    )


def test_the_header_links_only_published_sections():
    header = site.header_html("index.html", pages=["index.html", "ingest.html"])
    assert header_links(header) == {
        "Overview": "index.html",
        "Trials": "index.html#trials",
        "Data-quality report": "ingest.html",
    }
    every = header_links(site.header_html("index.html", pages=None))
    assert list(every) == [
        "Overview",
        "Synthesis",
        "Methods",
        "Trials",
        "Data-quality report",
        "What changed",
    ]
    with_changes = header_links(site.header_html("index.html", pages=["changes.html"]))
    assert with_changes["What changed"] == "changes.html"
    with_synthesis = header_links(site.header_html("trials/x.html", pages=["synthesis.html"]))
    assert with_synthesis["Methods"] == "../synthesis.html#Methods"  # a section of the synthesis


def test_the_header_links_relative_to_the_page_and_marks_the_current_one():
    header = site.header_html("trials/a.html", pages=["synthesis.html"])
    assert '<a class="site-name" href="../index.html">' in header
    assert header_links(header)["Synthesis"] == "../synthesis.html"
    current = site.header_html("synthesis.html", pages=["synthesis.html"])
    assert '<a href="synthesis.html" aria-current="page">Synthesis</a>' in current


def notebook(*cells, parameters=None):
    book = new_notebook(cells=list(cells))
    if parameters is not None:
        book.metadata["papermill"] = {"parameters": parameters}
    return book


def html_output(markup: str):
    return new_output("display_data", data={"text/html": markup, "text/plain": "x"})


def test_the_title_is_the_first_heading():
    book = notebook(new_markdown_cell("Intro\n\n# The *synthesis*: what `k` says\n\n## Part"))
    assert site.page_title(book) == "The synthesis: what k says"
    assert site.page_title(notebook(new_markdown_cell("no heading"))) == site.SITE_NAME


def test_a_parameterised_page_is_named_by_its_first_generated_heading():
    cell = new_code_cell("summary.header(trial_id, tables)")
    cell.outputs = [html_output("<h2>Stem cells &amp; <em>spina bifida</em></h2><p>x</p>")]
    book = notebook(new_markdown_cell("# Trial summary"), cell, parameters={"trial_id": "t1"})
    assert site.page_title(book) == "Stem cells & spina bifida · Trial summary"
    unparameterised = notebook(new_markdown_cell("# Synthesis"), cell, parameters={})
    assert site.page_title(unparameterised) == "Synthesis"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (
            "<p>the review&#x27;s &quot;primary&quot; value</p>",
            '<p>the review\'s "primary" value</p>',
        ),
        ('<h1>Title<a href="#t">&#182;</a></h1>', '<h1>Title<a href="#t">¶</a></h1>'),
        ("<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>", "<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>"),
        (
            '<img alt="Counts &quot;before&quot; &#x27;&amp;&#39; after">',
            "<img alt=\"Counts &quot;before&quot; '&amp;' after\">",
        ),
        ("<!DOCTYPE html><p>&#x27;</p>", "<!DOCTYPE html><p>'</p>"),
    ],
)
def test_minimal_escapes_keep_what_a_browser_shows(markup, expected):
    assert site.minimal_escapes(markup) == expected
    assert site.minimal_escapes(expected) == expected


def _minimal_escapes_part_by_part(markup: str) -> str:
    """The definition: every text part and attribute value unescaped, then minimally escaped."""

    def attribute(match):
        value = html.escape(html.unescape(match.group(1)), quote=False)
        return '="' + value.replace('"', "&quot;") + '"'

    parts = re.split(r"(<[^>]*>)", markup)
    return "".join(
        (part if part.startswith(("<!", "<?")) else re.sub(r'="([^"]*)"', attribute, part))
        if index % 2
        else html.escape(html.unescape(part), quote=False)
        for index, part in enumerate(parts)
    )


@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                '<a title="',
                '">',
                "x",
                " ",
                "&amp;",
                "&#39;",
                "&quot;",
                "<",
                ">",
                "&",
                '"',
                "'",
                "¶",
                "&#182;",
                "<!-- c -->",
                "<br/>",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_minimal_escapes_change_only_parts_that_need_it(markup):
    # Parts without &, < or > are passed through untouched; the result is the definition's.
    assert site.minimal_escapes(markup) == _minimal_escapes_part_by_part(markup)


def test_render_notebook_shows_markdown_and_outputs_without_code():
    code = new_code_cell("secret_code_here = 1\nsecret_code_here")
    code.outputs = [
        html_output("<p>an escaped table</p>"),
        new_output("stream", name="stdout", text="printed <b>\n"),
        new_output("stream", name="stderr", text="a warning for maintainers\n"),
        new_output("execute_result", data={"text/plain": "'plain <text>'"}, execution_count=1),
    ]
    book = notebook(new_markdown_cell("# Page\n\nSome *text*."), code)
    page = site.render_notebook(book, page="trials/x.html", pages=["synthesis.html"])
    assert "secret_code_here" not in page
    assert "In&nbsp;[" not in page and "Out[" not in page and "<script" not in page
    assert "<em>text</em>" in page and "<p>an escaped table</p>" in page
    assert "printed &lt;b&gt;" in page and "'plain &lt;text&gt;'" in page
    assert "a warning for maintainers" not in page
    assert '<a class="site-name" href="../index.html">' in page
    assert "<title>Page · Cell therapy evidence</title>" in page


def test_render_notebook_embeds_figures_with_their_alt_text():
    from helpers.pages import figures, plots

    plots.setup()
    figure = plots.new_figure(figsize=(3, 2))
    figure.add_subplot().plot([0, 1])
    svg = figures.svg(figure)
    cell = new_code_cell("figure")
    cell.outputs = [
        new_output(
            "display_data",
            data={"image/svg+xml": svg, "image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
            metadata={"image/svg+xml": {"alt": "A rising line"}},
        )
    ]
    page = site.render_notebook(notebook(new_markdown_cell("# Figures"), cell))
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == 1  # the SVG, not the PNG beside it
    assert 'alt="A rising line"' in images[0]
    assert f'src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}"' in images[0]


def test_rendering_is_deterministic():
    book = notebook(new_markdown_cell("# Same"), new_code_cell("1"))
    assert site.render_notebook(book) == site.render_notebook(nbformat.from_dict(book))


@pytest.fixture(scope="module")
def index_page() -> str:
    with on_fixture_root():
        return site.index_page(
            ["index.html", "synthesis.html", "ingest.html", "trials/sb_nguyen2023.html"]
        )


def test_the_index_links_the_pages_and_calls_ingestion_the_data_quality_report(index_page):
    assert '<a href="synthesis.html">Cross-trial synthesis</a>' in index_page
    assert '<a href="ingest.html">Data-quality report (for maintainers)</a>' in index_page
    assert '<a href="synthesis.html#Methods">Methods</a>' in index_page  # a synthesis section
    assert '<h2 id="trials">Trials</h2>' in index_page
    assert 'href="changes.html"' not in index_page  # not among the pages given


def test_the_index_opens_with_the_key_messages_of_each_condition(index_page):
    messages = index_page.split('<h2 id="key-messages">', 1)[1].split("<h2", 1)[0]
    assert index_page.index('id="key-messages"') < index_page.index('id="trials"')
    for condition in ("Cerebral palsy", "Spina bifida", "Spinal cord injury"):
        assert f"<h3>{condition}</h3>" in messages
    for topic in ("Safety", "Efficacy", "Certainty"):
        assert messages.count(f"<strong>{topic}.</strong>") == 3
    assert 'href="synthesis.html#serious-events"' in messages
    assert 'href="synthesis.html#findings-spina-bifida"' in messages


def test_the_index_trials_table_is_captioned_and_links_published_trial_pages(index_page):
    assert "<caption>The trials: condition, cells, route, patients treated and kind" in index_page
    links = re.findall(r'<a href="(trials/[^"]+)">', index_page)
    assert links == ["trials/sb_nguyen2023.html"]
    assert "spina_bifida" not in index_page and "spina bifida" in index_page


def test_markdown_renders_as_nbconvert_renders_it_and_each_text_once():
    from nbconvert import HTMLExporter

    source = "# A heading\n\nSome *text*, $x^2$ and a [link](https://doi.org/10.1/x)."
    context = {"cell": {}, "resources": {"metadata": {"path": ""}}}
    exporter = site._exporter()
    first = exporter.markdown2html(context, source)
    assert first == HTMLExporter().markdown2html(context, source)
    assert exporter.markdown2html(context, source) is first  # parsed once
    attached = {"cell": {"attachments": {"a.png": {"image/png": "iVBORw0KGgo="}}}}
    assert exporter.markdown2html(attached, "![a](attachment:a.png)") is not None
