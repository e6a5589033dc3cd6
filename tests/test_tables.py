"""Publication tables: caption, notes, escaping, no pandas artefacts, numbers, lifted sentences."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter
from markupsafe import Markup

from helpers import paths
from helpers.pages import tables
from helpers.pages.tables import Table


def rows(html: str) -> list[list[str]]:
    """Cell texts per row (header row first), tags stripped."""
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    ]


def test_caption_notes_and_source_are_rendered_and_escaped():
    html = Table(
        pd.DataFrame({"a": [1]}),
        caption="Doses <b>per</b> trial",
        notes=["n & N differ"],
        source="the sheets",
    ).to_html()
    assert "<caption>Doses &lt;b&gt;per&lt;/b&gt; trial</caption>" in html
    assert '<div class="table-notes"><p>n &amp; N differ</p></div>' in html
    assert '<p class="table-source">Source: the sheets</p>' in html


@pytest.mark.parametrize("caption", ["", "   ", None])
def test_a_table_needs_a_caption(caption):
    with pytest.raises(ValueError, match="caption"):
        Table(pd.DataFrame({"a": [1]}), caption=caption)


def test_cell_text_is_escaped_but_links_are_kept():
    frame = pd.DataFrame(
        {"title": ["<script>alert(1)</script>"], "page": [tables.link("trials/a.html", "A & B")]}
    )
    html = Table(frame, caption="c").to_html()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="trials/a.html">A &amp; B</a>' in html


def test_link_escapes_its_address_and_text():
    assert tables.link('x.html?a="1"', "<i>") == Markup(
        '<a href="x.html?a=&#34;1&#34;">&lt;i&gt;</a>'
    )


def test_default_index_is_dropped_and_no_empty_header_row_appears():
    html = Table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), caption="c").to_html()
    assert rows(html) == [["a", "b"], ["1", "x"], ["2", "y"]]
    assert html.count("<tr>") == 3  # one header row, no index-name row


def test_named_index_levels_become_row_headers():
    frame = pd.DataFrame(
        {"domain": ["motor", "motor"], "outcome": ["GMFM", "MAS"], "n": [16, 16]}
    ).set_index(["domain", "outcome"])
    html = Table(frame, caption="c").to_html()
    assert rows(html) == [
        ["domain", "outcome", "n"],
        ["motor", "GMFM", "16"],
        ["motor", "MAS", "16"],
    ]
    assert '<th scope="row">motor</th><th scope="row">GMFM</th>' in html


def test_index_named_like_a_column_does_not_collide():
    frame = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="x"))
    assert rows(Table(frame, caption="c").to_html())[0] == ["x", "x"]


def test_multiindex_columns_are_joined_into_one_header_row():
    frame = pd.DataFrame(
        [[1, 2]], columns=pd.MultiIndex.from_tuples([("SMCR", "low"), ("SMCR", "high")])
    )
    assert rows(Table(frame, caption="c").to_html())[0] == ["SMCR · low", "SMCR · high"]


def test_numbers_are_right_aligned_and_text_is_not():
    frame = pd.DataFrame(
        {"n": [11, 7], "share": ["62.5%", "−3.0"], "term": ["fever", "rash"], "flag": [True, False]}
    )
    html = Table(frame, caption="c").to_html()
    header = re.search(r"<thead>(.*?)</thead>", html).group(1)
    assert '<th scope="col" class="num">n</th>' in header
    assert '<th scope="col" class="num">share</th>' in header
    assert '<th scope="col">term</th>' in header and '<th scope="col">flag</th>' in header
    assert '<td class="num">11</td>' in html and "<td>yes</td>" in html


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (12.0, "12"),
        (127.66, "127.7"),
        (-0.0078125, "−0.007812"),
        (123456.0, "123456"),
        (0.00001234, "0.00001234"),
        (np.int64(-3), "−3"),
        (float("inf"), "∞"),
    ],
)
def test_format_number(value, shown):
    assert tables.format_number(value) == shown


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, np.nan, "—"])
def test_missing_values_show_as_a_dash(missing):
    frame = pd.DataFrame({"a": ["x", missing]}, dtype=object)
    html = Table(frame, caption="c").to_html()
    assert '<td class="missing">—</td>' in html


def test_a_column_repeating_one_sentence_becomes_a_note():
    sentence = "Counted per patient over the whole follow-up"
    frame = pd.DataFrame(
        {"term": ["fever", "rash", "pain"], "basis": [sentence] * 3, "n": [1, 2, 3]}
    )
    html = Table(frame, caption="c", notes=["Other note."]).to_html()
    assert rows(html)[0] == ["term", "n"]
    assert html.index(f"basis (every row): {sentence}") < html.index("Other note.")
    kept = Table(frame, caption="c", lift_repeated=False).to_html()
    assert rows(kept)[0] == ["term", "basis", "n"]


def test_columns_sharing_a_name_are_told_apart_by_position():
    sentence = "Counted per patient over the whole follow-up"
    frame = pd.DataFrame([["fever", sentence, 1], ["rash", sentence, 22]], columns=["x", "x", "n"])
    html = Table(frame, caption="c").to_html()
    assert rows(html) == [["x", "n"], ["fever", "1"], ["rash", "22"]]
    assert f"x (every row): {sentence}" in html
    assert '<td class="num">22</td>' in html  # the numeric column is still the third


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"term": ["fever", "rash"], "serious": ["no", "no"]}),  # short, not prose
        pd.DataFrame({"term": ["fever"], "basis": ["Counted per patient over follow-up"]}),
        pd.DataFrame({"basis": ["Counted per patient, whole follow-up"] * 2}),  # the only column
        pd.DataFrame({"term": ["a", "b"], "basis": ["Counted per patient, whole follow-up", None]}),
    ],
)
def test_columns_that_are_not_a_repeated_sentence_stay(frame):
    notes = tables.lift_repeated_sentences(frame)[1]
    assert notes == []


def test_repeated_sentences_in_row_headers_stay():
    frame = pd.DataFrame({"group": ["All patients in the safety set"] * 2, "n": [1, 2]})
    assert tables.lift_repeated_sentences(frame, keep=1)[1] == []


def test_long_text_columns_get_room_and_tables_scroll_in_their_box():
    frame = pd.DataFrame({"quote": ["a long verbatim quote " * 5, "another " * 12], "n": [1, 2]})
    html = Table(frame, caption="Quotes").to_html()
    assert '<div class="table-box" role="region" tabindex="0" aria-label="Quotes">' in html
    assert '<td class="long">' in html


def test_multiline_cells_keep_their_lines():
    html = Table(pd.DataFrame({"a": ["one\n<two>"]}), caption="c").to_html()
    assert "one<br>&lt;two&gt;" in html


def test_empty_table_says_so():
    html = Table(pd.DataFrame({"a": [], "b": []}), caption="Nothing yet").to_html()
    assert '<td colspan="2" class="missing">No rows.</td>' in html


def test_series_render_as_a_one_column_table():
    series = pd.Series([1, 2], index=pd.Index(["a", "b"], name="k"), name="v")
    assert rows(Table(series, caption="c").to_html()) == [["k", "v"], ["a", "1"], ["b", "2"]]


def test_captioned_frames_carry_their_caption_through_display():
    frame = tables.captioned(pd.DataFrame({"a": [1]}), "Counts", notes=["n"], source="s")
    assert frame.attrs == {"caption": "Counts", "notes": ("n",), "source": "s"}
    assert Table.from_frame(frame).to_html() == tables.frame_html(frame)
    assert "<caption>Counts</caption>" in tables.frame_html(frame)


@pytest.mark.parametrize("index", [None, "trial"])
def test_rendering_leaves_the_callers_caption_and_copies_it_nowhere(index):
    frame = pd.DataFrame({"trial": ["A", "B"], "n": [12, 30]})
    frame = frame.set_index(index) if index else frame
    frame = tables.captioned(frame, "Patients", notes=["counted once"])
    body, _ = tables._with_index_as_columns(frame)
    assert body.attrs == {}  # pandas would deep-copy it into every column taken from the body
    assert frame.attrs["caption"] == "Patients"
    assert list(body.iloc[:, -1]) == [12, 30]
    assert "<caption>Patients</caption>" in tables.frame_html(frame)


def test_a_frame_without_caption_renders_without_one():
    html = tables.frame_html(pd.DataFrame({"a": [1]}))
    assert "<caption>" not in html and "aria-label" not in html


def test_with_caption_captions_frames_and_passes_other_results():
    @tables.with_caption(lambda kind: f"Rows of {kind}")
    def build(kind: str):
        return pd.DataFrame({"a": [1]}) if kind == "frame" else "nothing to show"

    assert build("frame").attrs["caption"] == "Rows of frame"
    assert build("text") == "nothing to show"
    assert build.__name__ == "build"


class FakeShell:
    def __init__(self) -> None:
        self.display_formatter = DisplayFormatter()


def test_install_renders_every_frame_through_table():
    shell = FakeShell()
    tables.install(shell)
    frame = tables.captioned(pd.DataFrame({"a": [1]}), "Counts")
    data, _ = shell.display_formatter.format(frame)
    assert data["text/html"] == tables.frame_html(frame)
    data, _ = shell.display_formatter.format(pd.Series([1], name="s"))
    assert 'class="table-block"' in data["text/html"]


def test_repr_names_the_table():
    assert repr(Table(pd.DataFrame({"a": [1, 2]}), caption="Counts")) == (
        "<Table 'Counts': 2 rows × 1 columns>"
    )


def test_the_plain_text_stand_in_is_a_short_preview_with_the_caption():
    shell = FakeShell()
    tables.install(shell)
    frame = tables.captioned(pd.DataFrame({"a": range(100), "b": ["x" * 60] * 100}), "Counts")
    data, _ = shell.display_formatter.format(frame)
    assert data["text/plain"] == tables.frame_preview(frame)
    lines = data["text/plain"].splitlines()
    assert lines[0] == "Counts" and lines[-1] == "[100 rows x 2 columns]"
    assert len(lines) < 20 and max(map(len, lines)) < 60


def test_page_kernels_show_a_tables_caption_and_size_as_its_plain_text(monkeypatch):
    # The pipeline's kernels set the variable: their notebooks only become pages.
    monkeypatch.setenv(paths.PAGES_ONLY_ENV_VAR, "1")
    shell = FakeShell()
    tables.install(shell)
    frame = tables.captioned(pd.DataFrame({"a": range(100), "b": ["x"] * 100}), "Counts")
    data, _ = shell.display_formatter.format(frame)
    assert data["text/plain"] == "Counts\n[100 rows x 2 columns]"
    assert data["text/html"] == tables.frame_html(frame)
    data, _ = shell.display_formatter.format(pd.Series([1, 2, 3]))
    assert data["text/plain"] == "[3 rows x 1 columns]"
