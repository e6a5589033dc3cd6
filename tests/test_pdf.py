"""The journal supplement: which pages it joins, how their links and ids are kept apart, and what
`make pdf` says without a browser. (Printing itself is tested in tests/test_browser.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.pages import pdf, site, site_checks


def write_site(root: Path) -> Path:
    pages = {
        "index.html": ("Overview", '<h1 id="top">Home</h1>'),
        "ingest.html": ("Data quality", "<h1>Data</h1>"),
        "synthesis.html": (
            "Synthesis",
            '<h1 id="top">Synthesis</h1><p><a href="trials/b.html#flags">b flags</a> '
            '<a href="index.html">home</a> <a href="#top">up</a> '
            '<a href="https://doi.org/10.1/x">doi</a></p>',
        ),
        "trials/a.html": ("Trial A", '<h1 id="top">A</h1><a href="../synthesis.html">back</a>'),
        "trials/b.html": ("Trial B", '<h1 id="top">B</h1><h2 id="flags">Flags</h2>'),
    }
    for page, (title, body) in pages.items():
        path = root / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(site.page_html(title, body, page=page), encoding="utf-8")
    return root


def test_the_supplement_holds_the_synthesis_then_each_trial(tmp_path):
    reports = write_site(tmp_path)
    assert pdf.supplement_pages(reports) == ["synthesis.html", "trials/a.html", "trials/b.html"]
    document = pdf.supplement_html(reports)
    starts = [document.index(f'<section class="supplement-page" id="{s}">') for s in
              ("synthesis", "trials-a", "trials-b")]  # fmt: skip
    assert starts == sorted(starts)
    assert "<h1>Data</h1>" not in document and '<h1 id="top">Home</h1>' not in document
    assert '<li><a href="#trials-a">Trial A</a></li>' in document
    assert document.count("<title>") == 1 and document.count("<main>") == 1


def test_links_point_inside_the_document_and_ids_stay_unique(tmp_path):
    document = pdf.supplement_html(write_site(tmp_path))
    assert '<a href="#trials-b--flags">b flags</a>' in document
    assert '<a href="#synthesis">back</a>' in document
    assert '<a href="#synthesis--top">up</a>' in document
    assert "<span>home</span>" in document  # the index is not in the supplement
    assert '<a href="https://doi.org/10.1/x">doi</a>' in document
    for slug in ("synthesis", "trials-a", "trials-b"):
        assert document.count(f'id="{slug}--top"') == 1


def test_without_pages_there_is_nothing_to_print(tmp_path):
    with pytest.raises(FileNotFoundError, match="make report"):
        pdf.supplement_html(tmp_path)


def test_make_pdf_says_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(site_checks, "CHROMIUM", tmp_path / "no-chromium")
    assert (
        pdf.main(["--reports", str(write_site(tmp_path)), "--output", str(tmp_path / "x.pdf")]) == 2
    )
    message = capsys.readouterr().err
    assert "make pdf prints through headless Chromium" in message
    assert "apt-get install --no-install-recommends chromium" in message
    assert not (tmp_path / "x.pdf").exists()


def test_make_pdf_without_a_site_says_to_build_it(tmp_path, capsys):
    if site_checks.browser_problems():
        pytest.skip("the message about the site comes after the browser check")
    assert pdf.main(["--reports", str(tmp_path), "--output", str(tmp_path / "x.pdf")]) == 2
    assert "run `make report` first" in capsys.readouterr().err
