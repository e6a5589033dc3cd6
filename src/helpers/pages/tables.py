"""Publication tables for the reviewer site: a caption, footnotes, a source line, no pandas noise.

A page shows a table in one of two ways, both rendered by :class:`Table`:

* return a ``Table(frame, caption=..., notes=..., source=...)`` from a helper; or
* return a DataFrame captioned with :func:`captioned` or :func:`with_caption` (the caption
  travels in ``frame.attrs``), which keeps helpers returning plain DataFrames for analysts and
  tests. :func:`install`
  (called by ``report.setup_display``) makes every DataFrame a notebook shows render through
  :class:`Table`; a frame without a caption renders without one, which the browser tests refuse.

What rendering does, so that content code does not have to:

* every cell is HTML-escaped, except :class:`markupsafe.Markup` values (use :func:`link`);
* the index becomes ordinary leading column(s) of row headers, and a default 0, 1, 2 … index is
  dropped: no empty header row, no row numbers;
* numbers are right-aligned with tabular figures and a true minus sign; missing values show
  as an em dash;
* a column whose cells all repeat one sentence is lifted out into a note under the table;
* the table sits in its own box that scrolls sideways when the table is wider than the page
  (in print it wraps instead; see ``style.css``).
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from helpers import paths

P = ParamSpec("P")
R = TypeVar("R")
MISSING = "—"
MINUS = "\N{MINUS SIGN}"
CAPTION, NOTES, SOURCE = "caption", "notes", "source"
# A cell that reads as a number (optionally signed, with a unit-free suffix like %).
_NUMBER_TEXT = re.compile(r"^[−\-+]?(?:\d[\d,]*)?\.?\d+(?:e[−\-+]?\d+)?\s*%?$")
# Lifted only when the repeated value is prose, not a short code such as "yes" or "mg".
_SENTENCE_MIN_WORDS = 4
_LONG_TEXT_CHARS = 60  # median cell length above which a column gets a minimum width


def link(href: str, text: str) -> Markup:
    """An escaped ``<a>`` for a table cell or note (the only way to put HTML in a cell)."""
    return Markup('<a href="{}">{}</a>').format(href, text)


def captioned(
    frame: pd.DataFrame,
    caption: str,
    *,
    notes: Iterable[str] = (),
    source: str | None = None,
) -> pd.DataFrame:
    """``frame`` with its caption, notes and source stored in ``frame.attrs``; returns ``frame``.

    >>> captioned(pd.DataFrame({"n": [1]}), "Patients per trial").attrs["caption"]
    'Patients per trial'
    """
    _require_caption(caption)
    frame.attrs[CAPTION] = caption
    frame.attrs[NOTES] = tuple(notes)
    if source is not None:
        frame.attrs[SOURCE] = source
    return frame


def with_caption(
    caption: str | Callable[..., str], *, notes: Iterable[str] = ()
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function returning a DataFrame so that its result carries ``caption``.

    ``caption`` is a string, or a function of the decorated function's arguments that returns
    one. Results that are not DataFrames (a sentence saying there is nothing to show) pass
    through untouched::

        @with_caption("Baseline characteristics of the patients")
        def baseline(trial_id, tables): ...
    """
    notes = tuple(notes)

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def captioning(*args: P.args, **kwargs: P.kwargs) -> R:
            result = function(*args, **kwargs)
            if isinstance(result, pd.DataFrame | pd.Series):
                text = caption(*args, **kwargs) if callable(caption) else caption
                captioned(result, text, notes=notes)
            return result

        return captioning

    return decorate


def _require_caption(caption: object) -> None:
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"a table needs a caption saying what it shows, got {caption!r}")


class Table:
    """A DataFrame as a captioned HTML table (displayed by notebooks and pages).

    >>> Table(pd.DataFrame({"trial": ["A"], "n": [12]}), caption="Patients").caption
    'Patients'

    ``notes`` are footnotes printed under the table (strings, or :class:`markupsafe.Markup`
    for links); ``source`` says where the numbers come from. ``lift_repeated=False`` keeps a
    column whose cells all repeat one sentence (by default it becomes a note).
    """

    def __init__(
        self,
        frame: pd.DataFrame | pd.Series,
        caption: str,
        *,
        notes: Iterable[str] = (),
        source: str | None = None,
        lift_repeated: bool = True,
    ) -> None:
        _require_caption(caption)
        self.frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
        self.caption = caption
        self.notes = tuple(notes)
        self.source = source
        self.lift_repeated = lift_repeated

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | pd.Series) -> Table:
        """The table a captioned frame describes (see :func:`captioned`)."""
        attrs = frame.attrs
        return cls(
            frame,
            attrs.get(CAPTION, ""),
            notes=attrs.get(NOTES, ()),
            source=attrs.get(SOURCE),
        )

    def to_html(self) -> str:
        return render(
            self.frame,
            self.caption,
            notes=self.notes,
            source=self.source,
            lift_repeated=self.lift_repeated,
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        rows, columns = self.frame.shape
        return f"<Table {self.caption!r}: {rows} rows × {columns} columns>"


# --------------------------------------------------------------------------- rendering


def render(
    frame: pd.DataFrame | pd.Series,
    caption: str | None,
    *,
    notes: Sequence[str] = (),
    source: str | None = None,
    lift_repeated: bool = True,
) -> str:
    """The HTML of one table block: scroll box, table with caption, notes, source."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    body, n_row_headers = _with_index_as_columns(frame)
    notes = list(notes)
    if lift_repeated:
        body, lifted = lift_repeated_sentences(body, keep=n_row_headers)
        notes = [*lifted, *notes]
    columns = [values for _, values in body.items()]  # by position: names may repeat
    numeric = [_is_numeric_column(values) for values in columns]
    long_text = [
        not numeric[i] and _median_length(values) > _LONG_TEXT_CHARS
        for i, values in enumerate(columns)
    ]
    parts = []
    label = f' aria-label="{escape(caption)}"' if caption else ""
    parts.append(
        f'<div class="table-block"><div class="table-box" role="region" tabindex="0"{label}>'
    )
    parts.append("<table>")
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    header = "".join(
        f'<th scope="col"{_class(numeric[i])}>{escape(_column_name(name))}</th>'
        for i, name in enumerate(body.columns)
    )
    parts.append(f"<thead><tr>{header}</tr></thead><tbody>")
    if body.empty:
        span = max(1, body.shape[1])
        parts.append(f'<tr><td colspan="{span}" class="missing">No rows.</td></tr>')
    for row in body.itertuples(index=False, name=None):
        cells = []
        for i, value in enumerate(row):
            text, missing = _cell(value)
            classes = [c for c, on in (("num", numeric[i]), ("long", long_text[i])) if on]
            classes += ["missing"] if missing else []
            attr = f' class="{" ".join(classes)}"' if classes else ""
            tag = "th" if i < n_row_headers else "td"
            scope = ' scope="row"' if tag == "th" else ""
            cells.append(f"<{tag}{scope}{attr}>{text}</{tag}>")
        parts.append(f"<tr>{''.join(cells)}</tr>")
    parts.append("</tbody></table></div>")
    if notes:
        parts.append(
            '<div class="table-notes">'
            + "".join(f"<p>{escape(note)}</p>" for note in notes)
            + "</div>"
        )
    if source:
        parts.append(f'<p class="table-source">Source: {escape(source)}</p>')
    parts.append("</div>")
    return "".join(parts)


def _class(numeric: bool) -> str:
    return ' class="num"' if numeric else ""


def _column_name(name: object) -> str:
    if isinstance(name, tuple):  # MultiIndex columns: one header, levels joined
        return " · ".join(str(part) for part in name if str(part).strip())
    return "" if name is None else str(name)


def _with_index_as_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The index as leading columns (row headers), or dropped when it is 0, 1, 2, …

    The result carries no ``attrs``: the caption and notes are the caller's, and pandas would
    deep-copy them into every column taken from the table (half of rendering a trial page's
    tables).
    """
    frame = frame.copy(deep=False)
    frame.attrs = {}
    index = frame.index
    default = (
        isinstance(index, pd.RangeIndex)
        and index.name is None
        and index.start == 0
        and index.step == 1
    )
    if default:
        return frame.reset_index(drop=True), 0
    names = [name if name is not None else "" for name in index.names]
    columns = [_column_name(c) for c in frame.columns]
    # Give the index levels names no data column has, so reset_index cannot collide.
    safe = [f"\0index{i}" for i in range(len(names))]
    body = frame.copy()
    body.columns = range(body.shape[1])
    body.index = body.index.set_names(safe)
    body = body.reset_index()
    body.columns = [*names, *columns]
    return body, len(names)


def lift_repeated_sentences(frame: pd.DataFrame, keep: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Columns whose every cell is the same sentence, dropped and returned as notes.

    The first ``keep`` columns (row headers) and tables of a single row are left alone; so is
    a column that would leave no other data column.
    """
    if len(frame) < 2:
        return frame, []
    notes, drop = [], []
    for position, (_, values) in enumerate(frame.items()):  # by position: names may repeat
        if position < keep or values.isna().any():
            continue
        distinct = {str(v) for v in values}
        if len(distinct) != 1:
            continue
        sentence = distinct.pop()
        if len(sentence.split()) < _SENTENCE_MIN_WORDS:
            continue
        name = _column_name(frame.columns[position])
        notes.append(f"{name} (every row): {sentence}" if name else sentence)
        drop.append(position)
    if len(drop) >= frame.shape[1] - keep:
        return frame, []
    kept = [i for i in range(frame.shape[1]) if i not in drop]
    return frame.iloc[:, kept], notes


def _is_numeric_column(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        return True
    present = [v for v in values if not _is_missing(v)]
    return bool(present) and all(
        not isinstance(v, bool)
        and (isinstance(v, numbers.Number) or _NUMBER_TEXT.match(str(v).strip()) is not None)
        for v in present
    )


def _median_length(values: pd.Series) -> float:
    lengths = [len(str(v)) for v in values if not _is_missing(v)]
    return float(np.median(lengths)) if lengths else 0.0


def _is_missing(value: object) -> bool:
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def format_number(value: float) -> str:
    """A number as a reader expects it: integers whole, others to 4 significant digits.

    Positional notation (never ``1.2e+04``) and a true minus sign.

    >>> format_number(-0.0078125), format_number(12.0), format_number(127.66)
    ('−0.007812', '12', '127.7')
    """
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif not math.isfinite(value):
        text = "∞" if value > 0 else ("-∞" if value < 0 else "not a number")
    elif float(value).is_integer() and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = np.format_float_positional(
            float(value), precision=4, unique=False, fractional=False, trim="-"
        )
    return text.replace("-", MINUS)


def _cell(value: object) -> tuple[Markup | str, bool]:
    """Escaped HTML of one cell and whether it stands for a missing value."""
    if isinstance(value, Markup):
        return value, False
    if _is_missing(value):
        return MISSING, True
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), False
    if isinstance(value, numbers.Number):
        return format_number(value), False
    text = str(value)
    if text.strip() == MISSING:
        return MISSING, True
    return Markup("<br>").join(escape(line) for line in text.split("\n")), False


# --------------------------------------------------------------------------- notebooks


def frame_html(frame: pd.DataFrame | pd.Series) -> str:
    """HTML of any frame a notebook displays: captioned when ``frame.attrs`` holds a caption."""
    attrs = frame.attrs
    return render(
        frame,
        attrs.get(CAPTION) or None,
        notes=attrs.get(NOTES, ()),
        source=attrs.get(SOURCE),
    )


PREVIEW_ROWS, PREVIEW_COLUMNS, PREVIEW_WIDTH = 10, 6, 24


def frame_preview(frame: pd.DataFrame | pd.Series) -> str:
    """The plain-text stand-in a notebook stores beside a table's HTML: caption and a preview.

    Readers see the HTML; the text only has to say what the table is (it keeps committed
    notebooks small).
    """
    caption = frame.attrs.get(CAPTION)
    text = frame.to_string(
        max_rows=PREVIEW_ROWS,
        max_cols=PREVIEW_COLUMNS,
        max_colwidth=PREVIEW_WIDTH,
        show_dimensions=True,
    )
    return f"{caption}\n{text}" if caption else text


def frame_size(frame: pd.DataFrame | pd.Series) -> str:
    """The plain-text stand-in of a table in a kernel whose notebooks only become pages
    (:func:`helpers.paths.pages_only`): caption and size, as pandas writes it.

    Pages show the HTML; a preview there cost ~15 ms a trial page at 1,000 trials.
    """
    caption = frame.attrs.get(CAPTION)
    rows, columns = (len(frame), 1) if frame.ndim == 1 else frame.shape
    size = f"[{rows} rows x {columns} columns]"
    return f"{caption}\n{size}" if caption else size


def install(shell=None) -> None:
    """Render every DataFrame and Series a notebook shows through :func:`frame_html`.

    Their plain-text form becomes :func:`frame_preview`, or :func:`frame_size` in a kernel
    whose notebooks only become pages.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # no IPython, no notebook display to configure
            return
        shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    plain = _pretty_size if paths.pages_only() else _pretty_preview
    for kind in (pd.DataFrame, pd.Series):
        formatters["text/html"].for_type(kind, frame_html)
        formatters["text/plain"].for_type(kind, plain)


def _pretty_preview(frame: pd.DataFrame | pd.Series, printer, cycle: bool) -> None:
    printer.text(frame_preview(frame))


def _pretty_size(frame: pd.DataFrame | pd.Series, printer, cycle: bool) -> None:
    printer.text(frame_size(frame))
