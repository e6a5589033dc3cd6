"""Raw source documents: the manifest, hash checks, readers per kind, quote location, numbers.

Every extracted value carries a verbatim quote that must be found in its source. The readers turn
each raw file into normalised, quotable evidence text (``SourceDocument.text``) and keep what was
cut as non-evidence (reader comments, comment forms, aggregator lines) in ``excluded``.

Normalisation choices (``normalise_text``), applied to documents and quotes alike:

* non-breaking and other unicode spaces -> space; ligatures (ﬁ ﬂ ...) -> letters; soft hyphens and
  zero-width characters dropped; U+2212 minus and U+2010/U+2011 hyphens -> ``-``; ``+/-`` -> ``±``.
* en/em dashes are kept as written: in these sources they mean a range (``2–12``), a minus
  (``kg—10``) or a parenthesis, and only the reader can tell which. The quote key treats every dash
  variant as ``-``, so a quote locates whichever dash it uses.
* ``× 10`` followed by one glued digit 1-9 is a PDF-flattened power of ten: ``×  106 cells`` ->
  ``×10^6 cells``. Nothing else after ``×`` is touched (``× 30 mL``, ``× 7 mL``, ``× 100``).
* line-break hyphenation (a letter, ``-`` at the very end of a line, a lowercase letter on the next
  line) is joined without the hyphen (``cystomanom-\\netry`` -> ``cystomanometry``), unless the
  hyphenated word occurs unbroken elsewhere in the same text (``follow-up``, ``marrow-derived``),
  which proves the hyphen is real. Quotes match either way (the key ignores hyphens between
  letters).
* runs of spaces/tabs -> one space, lines stripped, three or more newlines -> a blank line.
  Full texts (PDF) are also unwrapped: single line breaks become spaces, blank lines stay.

Quote matching uses a comparison key that drops all whitespace (PDF spacing such as
``clini caltr ials`` or ``cm  H2O``), maps dash/minus and quote-mark variants to one character and
drops hyphens between two letters. It is case-sensitive: quotes are copied, so no source needs
case folding, and folding would only add ways to match the wrong place.
A match must start and end on word boundaries of the text, so ``7 patients`` never matches inside
``17 patients``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.input_files import MAX_DOCUMENT_BYTES, read_regular_file
from helpers.evidence.safe_yaml import read_yaml

# Kinds of report, most complete first. A study's value comes from its most complete report
# that gives it (Cochrane Handbook 5.2: a study is the unit, reports are where its data come
# from); an erratum corrects its article, so it ranks first. Kinds on one line rank equal.
KINDS = (
    "erratum",
    "full_text",
    "abstract",
    "bibliographic_record",
    "registry_record",
    "press_report",
)
COMPLETENESS = {
    "erratum": 0,
    "full_text": 1,
    "abstract": 2,
    "bibliographic_record": 2,
    "registry_record": 3,
    "press_report": 4,
}
KIND_LABELS = {
    "erratum": "erratum",
    "full_text": "full-text article",
    "abstract": "abstract",
    "bibliographic_record": "abstract (bibliographic record)",
    "registry_record": "trial registry record",
    "press_report": "press report",
}
_REQUIRED_KEYS = ("file", "sha256", "kind", "citation", "doi", "registry_id")
_MARKER_KEYS = ("evidence_starts_at", "evidence_ends_before", "results_sections")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOI = re.compile(r"10\.\d{4,9}/\S+")


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class SourceRecord:
    """One entry of ``data/raw/sources.yaml``."""

    file: str
    sha256: str
    kind: str
    citation: str
    doi: str | None
    registry_id: str | None
    evidence_starts_at: str | None = None  # verbatim marker: text before it is not evidence
    evidence_ends_before: str | None = None  # verbatim marker: text from it on is not evidence
    # Where the trial's own results are, as (start, end) verbatim markers: the coverage check
    # lists numbers there that no sheet captured. None = the whole evidence text.
    results_sections: tuple[tuple[str, str], ...] | None = None


def load_manifest(path: Path | None = None) -> dict[str, SourceRecord]:
    """Read and validate the sources manifest; returns records keyed by file name, in file order.

    Raises ``EvidenceInputError`` naming the manifest and the field path (``sources[2].kind``) for
    unknown keys, missing fields, a bad kind, a sha256 that is not 64 lowercase hex characters,
    duplicate files and values of the wrong type.
    """
    path = Path(path) if path is not None else paths.sources_manifest()
    where = str(path)
    if not path.exists():
        raise EvidenceInputError(where, "(file)", "an existing sources manifest")
    data = read_yaml(path)  # a regular file, size, nesting and alias limits, safe tags only

    if not isinstance(data, dict):
        raise EvidenceInputError(where, "(top level)", "a mapping with key 'sources'", got=data)
    for key in data:
        if key != "sources":
            raise EvidenceInputError(where, str(key), "only the top-level key 'sources'", got=key)
    entries = data.get("sources")
    if not isinstance(entries, list) or not entries:
        raise EvidenceInputError(where, "sources", "a non-empty list of entries", got=entries)

    records: dict[str, SourceRecord] = {}
    for index, entry in enumerate(entries):
        record = _validate_entry(where, f"sources[{index}]", entry)
        if record.file in records:
            raise EvidenceInputError(
                where, f"sources[{index}].file", "a file listed only once", got=record.file
            )
        records[record.file] = record
    return records


def _validate_entry(where: str, prefix: str, entry: object) -> SourceRecord:
    if not isinstance(entry, dict):
        raise EvidenceInputError(where, prefix, "a mapping of source fields", got=entry)
    known = _REQUIRED_KEYS + _MARKER_KEYS
    for key in entry:
        if key not in known:
            raise EvidenceInputError(
                where, f"{prefix}.{key}", f"a known key ({', '.join(known)})", got=key
            )
    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise EvidenceInputError(where, f"{prefix}.{key}", "a value (required field)")

    def text(key: str, *, nullable: bool = False) -> str | None:
        value = entry.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            expected = "a non-empty string" + (" or null" if nullable else "")
            raise EvidenceInputError(where, f"{prefix}.{key}", expected, got=value)
        return value

    file = text("file")
    if "/" in file or "\\" in file or file.startswith("."):
        raise EvidenceInputError(
            where, f"{prefix}.file", "a plain file name inside data/raw/", got=file
        )
    sha256 = entry["sha256"]
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise EvidenceInputError(
            where, f"{prefix}.sha256", "64 lowercase hexadecimal characters", got=sha256
        )
    kind = entry["kind"]
    if kind not in KINDS:
        raise EvidenceInputError(where, f"{prefix}.kind", f"one of {', '.join(KINDS)}", got=kind)
    doi = text("doi", nullable=True)
    if doi is not None and not _DOI.fullmatch(doi):
        raise EvidenceInputError(where, f"{prefix}.doi", "a DOI such as 10.1234/abc", got=doi)
    return SourceRecord(
        file=file,
        sha256=sha256,
        kind=kind,
        citation=text("citation"),
        doi=doi,
        registry_id=text("registry_id", nullable=True),
        evidence_starts_at=text("evidence_starts_at", nullable=True),
        evidence_ends_before=text("evidence_ends_before", nullable=True),
        results_sections=_sections(where, f"{prefix}.results_sections", entry),
    )


def _sections(where: str, field: str, entry: dict) -> tuple[tuple[str, str], ...] | None:
    sections = entry.get("results_sections")
    if sections is None:
        return None
    valid = (
        isinstance(sections, list)
        and sections
        and all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(m, str) and m for m in pair)
            for pair in sections
        )
    )
    if not valid:
        raise EvidenceInputError(
            where, field, "a list of [start marker, end marker] pairs of verbatim text", sections
        )
    return tuple((start, end) for start, end in sections)


# --------------------------------------------------------------------------- raw bytes


def verify_hashes(manifest: Mapping[str, SourceRecord], raw_dir: Path | None = None) -> None:
    """Check every manifest file exists, is non-empty, has its recorded sha256 and is UTF-8.

    Raises ``EvidenceInputError`` naming the raw file: field ``sha256`` (expected the manifest
    hash, got the actual one), ``file`` (missing), ``size`` (0 bytes), ``<file>`` (not a regular
    file, or over ``MAX_DOCUMENT_BYTES``) or ``encoding`` (with the byte offset of the first
    invalid byte).
    """
    directory = Path(raw_dir) if raw_dir is not None else paths.raw_dir()
    for record in manifest.values():
        path = directory / record.file
        data = _read_bytes(path)
        actual = hashlib.sha256(data).hexdigest()
        if actual != record.sha256:
            raise EvidenceInputError(str(path), "sha256", record.sha256, got=actual)
        _decode_utf8(path, data)


def _read_bytes(path: Path) -> bytes:
    """A raw document's bytes: a regular file within the size limit (``input_files``)."""
    try:
        data = read_regular_file(path, MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        raise EvidenceInputError(
            str(path), "file", "an existing file listed in sources.yaml"
        ) from None
    if not data:
        raise EvidenceInputError(str(path), "size", "a non-empty file", got="0 bytes")
    return data


def _decode_utf8(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise EvidenceInputError(
            str(path),
            "encoding",
            "UTF-8 text",
            got=f"invalid byte 0x{bad:02x} at byte offset {exc.start}",
        ) from None
    return text.removeprefix("\ufeff")


# --------------------------------------------------------------------------- normalisation

_CHARACTER_MAP = str.maketrans(
    {
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\u2002": " ",
        "\u2003": " ",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
        "\u2212": "-",  # minus sign
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\t": " ",
        "\f": " ",
        "\v": " ",
    }
)
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_PLUS_MINUS = re.compile(r"\+\s*/\s*-")
# "×  106" is ×10^6 flattened by PDF extraction; only a single exponent digit 1-9 is safe.
_FLATTENED_POWER = re.compile(r"×\s*10([1-9])(?!\d)")
_SUPERSCRIPT_POWER = re.compile(r"10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_LINE_BREAK_HYPHEN = re.compile(r"([^\W\d_]+)-\n[ ]*([^\W\d_]+)")
_LINE_BREAK_DASH = re.compile(r"(\w[–—])[ ]*\n[ ]*(?=\w)")


def normalise_text(text: str) -> str:
    """Normalise raw or quoted text to the project's evidence form (see the module docstring).

    Idempotent; keeps line structure (newlines) except where a hyphenated word is joined.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHARACTER_MAP)
    text = _PLUS_MINUS.sub("±", text)
    text = _SUPERSCRIPT_POWER.sub(lambda m: "10^" + m.group(1).translate(_SUPERSCRIPT_DIGITS), text)
    text = _FLATTENED_POWER.sub(r"×10^\1", text)
    text = re.sub(r" +\n", "\n", text)
    text = _join_hyphenated_words(text)
    text = _LINE_BREAK_DASH.sub(r"\1", text)  # "chitosan–\ngelatin" -> "chitosan–gelatin"
    text = re.sub(r" {2,}", " ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# Quotes and sheet values are normalised again and again (for their key, for their numbers);
# documents are normalised once each and not cached (they can be large).
_normalised_quote = functools.lru_cache(maxsize=8192)(normalise_text)


def _join_hyphenated_words(text: str) -> str:
    lowered = text.lower()

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not right[0].islower() or f"{left}-{right}".lower() in lowered:
            return f"{left}-{right}"  # a real hyphen: kept, line break removed
        return left + right

    return _LINE_BREAK_HYPHEN.sub(join, text)


def _unwrap_lines(text: str) -> str:
    """Turn PDF soft line breaks into spaces; blank lines (paragraphs) stay."""
    return re.sub(r" {2,}", " ", re.sub(r"(?<!\n)\n(?!\n)", " ", text))


# --------------------------------------------------------------------------- readers


@dataclass(frozen=True)
class SourceDocument:
    """A source as evidence: normalised quotable ``text`` and the ``excluded`` non-evidence."""

    file: str
    kind: str
    text: str
    metadata: Mapping[str, object] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    excluded: str = ""


def read_source(record: SourceRecord, raw_dir: Path | None = None) -> SourceDocument:
    """Read one raw file with the reader for its kind.

    * full_text: normalised and unwrapped into paragraphs.
    * abstract: normalised; keywords, publication types and MeSH terms stay quotable (they are
      bibliographic facts about the record, not about the trial's patients).
    * bibliographic_record: the leading JSON object is parsed into ``metadata``; the quotable
      text is its title, its abstract with HTML tags stripped (block tags become line breaks,
      ``<sup>`` becomes ``^``) and the plain text that follows the JSON.
    * press_report: reader comments and comment forms are cut into ``excluded``, at the manifest
      marker ``evidence_ends_before`` or where generic detection finds them first (see
      ``_comment_section_start``).
    * registry_record, erratum: read like an abstract (normalised, line structure kept).

    Manifest markers that are not found raise ``EvidenceInputError``. Hashes are checked by
    ``verify_hashes``, not here.
    """
    directory = Path(raw_dir) if raw_dir is not None else paths.raw_dir()
    path = directory / record.file
    raw = _decode_utf8(path, _read_bytes(path))
    metadata: Mapping[str, object] = MappingProxyType({})
    heading_parts: list[str] = []
    body = raw
    if record.kind == "bibliographic_record":
        json_record, body = _split_json_record(path, raw)
        metadata = MappingProxyType(json_record)
        heading_parts = [json_record["title"], _html_to_text(json_record.get("abstract") or "")]

    evidence, excluded_parts = _cut_non_evidence(record, path, body)
    text = normalise_text("\n\n".join(part for part in [*heading_parts, evidence] if part.strip()))
    if record.kind == "full_text":
        text = _unwrap_lines(text)
    excluded = "\n\n".join(normalise_text(part) for part in excluded_parts if part.strip())
    return SourceDocument(
        file=record.file, kind=record.kind, text=text, metadata=metadata, excluded=excluded
    )


def _split_json_record(path: Path, raw: str) -> tuple[dict[str, object], str]:
    stripped = raw.lstrip()
    try:
        json_record, end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise EvidenceInputError(
            str(path), "(json)", "a JSON object at the start of the file", got=str(exc)
        ) from None
    if not isinstance(json_record, dict):
        raise EvidenceInputError(str(path), "(json)", "a JSON object", got=type(json_record))
    title = json_record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EvidenceInputError(str(path), "title", "a non-empty JSON string", got=title)
    abstract = json_record.get("abstract")
    if abstract is not None and not isinstance(abstract, str):
        raise EvidenceInputError(str(path), "abstract", "a JSON string or null", got=abstract)
    return json_record, stripped[end:]


class _HtmlText(HTMLParser):
    _BLOCK_TAGS = frozenset(
        "div p br li ul ol h1 h2 h3 h4 h5 h6 section article table tr blockquote".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # unescapes &amp; &lt; etc. in data
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "sup":
            self.parts.append("^")  # 10<sup>6</sup> -> 10^6

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s*\n\s*", "\n", "".join(parser.parts)).strip()


_SAYS_LINE = re.compile(
    r"^[ \t]*(?:(?P<number>\d+)\.[ \t]+|[•*][ \t]+)?(?P<name>[^\n]{1,60}?)[ \t]+says:[ \t]*$",
    re.MULTILINE,
)
_COMMENT_FORM = re.compile(
    r"^[ \t]*(?:Leave a (?:Comment|Reply)|Please enter your (?:comment|name)"
    r"|Your email address will not be published|\d+ (?:Comments|Responses)\b)",
    re.MULTILINE | re.IGNORECASE,
)


def _comment_section_start(text: str) -> int | None:
    """Offset where reader comments or a comment form begin, by generic detection.

    Signals: a short "<name> says:" line (at most five words, optionally numbered or bulleted) or
    a comment-form phrase ("Leave a Comment/Reply", "Please enter your comment", ...). When the
    first "says:" line is item N > 1 of a numbered list, the cut moves back to item "1." because
    the first comment often has no author line. A press article that introduces a quotation with
    a bare "Dr X says:" line would be cut too; quotes then fail loudly rather than silently.
    """
    starts = []
    for match in _SAYS_LINE.finditer(text):
        if len(match.group("name").split()) > 5:
            continue
        start = match.start()
        if match.group("number") and int(match.group("number")) > 1:
            first_items = list(re.finditer(r"^[ \t]*1\.[ \t]", text[:start], re.MULTILINE))
            if first_items:
                start = first_items[-1].start()
        starts.append(start)
        break
    form = _COMMENT_FORM.search(text)
    if form:
        starts.append(form.start())
    return min(starts) if starts else None


def _cut_non_evidence(record: SourceRecord, path: Path, body: str) -> tuple[str, list[str]]:
    excluded: list[str] = []
    if record.evidence_starts_at is not None:
        start = body.find(record.evidence_starts_at)
        if start < 0:
            raise EvidenceInputError(
                str(path),
                "evidence_starts_at",
                "the marker text to occur in the file",
                got=record.evidence_starts_at,
            )
        excluded.append(body[:start])
        body = body[start:]
    cuts = []
    if record.evidence_ends_before is not None:
        end = body.find(record.evidence_ends_before)
        if end < 0:
            raise EvidenceInputError(
                str(path),
                "evidence_ends_before",
                "the marker text to occur in the file",
                got=record.evidence_ends_before,
            )
        cuts.append(end)
    if record.kind == "press_report":
        detected = _comment_section_start(body)
        if detected is not None:
            cuts.append(detected)
    if cuts:
        end = min(cuts)
        excluded.append(body[end:])
        body = body[:end]
    return body, excluded


# --------------------------------------------------------------------------- quotes

_KEY_CHARACTERS = {
    **dict.fromkeys("-‐‑‒–—―−", "-"),
    **dict.fromkeys("'’‘‚‛′`´", "'"),
    **dict.fromkeys('"“”„‟″', '"'),
}


@dataclass(frozen=True)
class QuoteLocation:
    """Where a quote was found: ``document.text[start:end] == matched``."""

    start: int
    end: int
    matched: str


_KEY_TABLE = str.maketrans(_KEY_CHARACTERS)
_WHITESPACE_RUN = re.compile(r"\s+")  # \s is str.isspace, as str.split() splits on


def _comparison_key(text: str) -> tuple[str, tuple[int, ...]]:
    """The text's matching key and, per key character, its offset in ``text``."""
    # Offsets of the characters that are not whitespace, one run between two gaps at a time.
    offsets: list[int] = []
    run_start = 0
    for gap in _WHITESPACE_RUN.finditer(text):
        offsets.extend(range(run_start, gap.start()))
        run_start = gap.end()
    offsets.extend(range(run_start, len(text)))
    characters = "".join(text.split()).translate(_KEY_TABLE)
    # Hyphens between two letters are dropped: "follow-up" == "followup" == "follow- up".
    last = len(characters) - 1
    dropped = [
        i
        for i in _positions_of_hyphens(characters)
        if 0 < i < last and characters[i - 1].isalpha() and characters[i + 1].isalpha()
    ]
    if not dropped:
        return characters, tuple(offsets)
    for i in reversed(dropped):
        del offsets[i]
    bounds = zip([-1, *dropped], [*dropped, len(characters)], strict=True)
    return "".join(characters[after + 1 : before] for after, before in bounds), tuple(offsets)


def _positions_of_hyphens(characters: str) -> list[int]:
    return [match.start() for match in re.finditer("-", characters)]


# Documents are keyed once, in a cache of their own: quotes never evict a document's key.
_document_key = functools.lru_cache(maxsize=32)(_comparison_key)


@functools.lru_cache(maxsize=4096)
def _quote_key(quote: str) -> str:
    """A quote's matching key: one quote is looked for in several reports and rows."""
    return _comparison_key(_normalised_quote(quote))[0]


def _find_on_word_boundaries(quote_key: str, text: str) -> QuoteLocation | None:
    key, offsets = _document_key(text)
    position = key.find(quote_key)
    while position >= 0:
        start, end = offsets[position], offsets[position + len(quote_key) - 1] + 1
        starts_mid_word = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
        ends_mid_word = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
        if not starts_mid_word and not ends_mid_word:
            return QuoteLocation(start, end, text[start:end])
        position = key.find(quote_key, position + 1)
    return None


def locate_quote(
    quote: str, document: SourceDocument, *, field: str = "quote", sheet: str = "?"
) -> QuoteLocation:
    """Find ``quote`` in the document's evidence text (first occurrence) and return its offsets.

    Matching is insensitive to whitespace, line-break hyphenation, dash/minus and quote-mark
    variants (see the module docstring). Raises ``EvidenceInputError(sheet, field, ...)`` when the
    quote is empty or not found; when it is found only in the excluded text the message says so.
    """
    expected = f"a verbatim quote found in {document.file}"
    if not isinstance(quote, str) or not quote.strip():
        raise EvidenceInputError(sheet, field, expected, got=quote)
    quote_key = _quote_key(quote)
    location = _find_on_word_boundaries(quote_key, document.text)
    if location is not None:
        return location
    if document.excluded and _find_on_word_boundaries(quote_key, document.excluded):
        what = "reader comments" if document.kind == "press_report" else "text cut as non-evidence"
        expected += f" (found only in {what}, which are not evidence)"
    raise EvidenceInputError(sheet, field, expected, got=quote)


# --------------------------------------------------------------------------- numbers

# A sign counts only when it does not follow a word, bracket or number ("2-12" is a range).
_NUMBER_TOKEN = re.compile(
    r"(?P<sign>(?<![\w)\].%])[-\u2212])?"
    r"(?<![\w.^])"
    r"(?P<number>10\^-?\d+|\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?|\.\d+)"
)
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_VALUES = {word: value for value, word in enumerate(_UNITS)} | {
    word: 20 + 10 * i for i, word in enumerate(_TENS)
}
_SPELLED_NUMBER = re.compile(
    rf"\b(?P<tens>{'|'.join(_TENS)})[- ](?P<unit>{'|'.join(_UNITS[1:10])})\b"
    rf"|\b(?P<word>{'|'.join(_UNITS + _TENS)}|none|nil|no(?!\.\s*\d))\b",
    re.IGNORECASE,
)


def number_tokens(text: str) -> list[tuple[str, int]]:
    """Numeric tokens of ``text`` as written, with their offsets; the text is not normalised.

    Thousands separators are dropped and a U+2212 minus is written ``-`` in the token.

    Digits glued to a letter on their left are identifiers, not numbers (``H2O``, ``CD34``,
    ``NCT05472428``) and are skipped.
    """
    return [
        (
            ("-" if match.group("sign") else "") + match.group("number").replace(",", ""),
            match.start(),
        )
        for match in _NUMBER_TOKEN.finditer(text)
    ]


def numbers_in(text: str) -> list[str]:
    """Numeric tokens in ``text`` after normalisation, as written.

    ``"−1.3 ± 8.4"`` -> ``["-1.3", "8.4"]``; ``"427,616"`` -> ``["427616"]``; ``"18.75%"`` ->
    ``["18.75"]``; ``"×  106 cells"`` -> ``["10^6"]``; ``"2–12"`` -> ``["2", "12"]`` (a dash after
    a digit is a range, not a sign).
    """
    return list(_numbers_in(text))


@functools.lru_cache(maxsize=4096)
def _numbers_in(text: str) -> tuple[str, ...]:
    return tuple(token for token, _ in number_tokens(_normalised_quote(text)))


def number_value(value: str | int | float) -> Fraction:
    """Exact value of a number as written: ``"10^6"``, ``"427,616"``, ``"−1.3"``, ``"18.75%"``.

    Floats are taken at their shortest repr (``127.7`` -> 1277/10), never their binary value.
    """
    if isinstance(value, bool):
        raise EvidenceInputError("value", "value", "a number", got=value)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    if not isinstance(value, str):
        raise EvidenceInputError("value", "value", "a number or numeric string", got=value)
    return _string_value(value)


@functools.lru_cache(maxsize=8192)
def _string_value(value: str) -> Fraction:
    """:func:`number_value` of a string: the same tokens recur across a sheet's checks."""
    token = value.strip().replace("\u2212", "-").replace(",", "").removesuffix("%").strip()
    power = re.fullmatch(r"(-?)10\^(-?\d+)", token)
    if power:
        magnitude = Fraction(10) ** int(power.group(2))
        return -magnitude if power.group(1) else magnitude
    try:
        return Fraction(Decimal(token))
    except (InvalidOperation, ValueError):
        raise EvidenceInputError(
            "value", "value", "a number or numeric string", got=value
        ) from None


def _spelled_numbers(text: str) -> list[int]:
    values = []
    for match in _SPELLED_NUMBER.finditer(text):
        if match.group("tens"):
            values.append(
                _WORD_VALUES[match.group("tens").lower()]
                + _WORD_VALUES[match.group("unit").lower()]
            )
        else:
            word = match.group("word").lower()
            values.append(0 if word in ("none", "nil", "no") else _WORD_VALUES[word])
    return values


def quote_contains_number(quote: str, value: float | int | str) -> bool:
    """True if ``value`` is one of the numbers written in ``quote``.

    Comparison is exact on the value as written: 127.7 matches ``127.7`` (and ``127.70``) but not
    ``127.75`` or ``128``; 45.45 does not match ``45.4``; signs count (1.3 does not match
    ``−1.3``); ``10^6`` matches 1000000. Spelled-out numbers zero to ninety-nine count
    ("Eleven children" = 11, "twenty-one" = 21), and so do "none", "nil" and "no" as 0 — zero
    counts are almost always written "there was no serious AE" and would otherwise be
    unverifiable; "No." before a number (an abbreviation) is not 0. Percent values are compared as
    written (18.75 matches ``18.75%``; the proportion 0.1875 does not).
    """
    target = number_value(value)
    written, spelled = _numbers_written(quote)
    return target in written or target in spelled


@functools.lru_cache(maxsize=4096)
def _numbers_written(quote: str) -> tuple[frozenset[Fraction], frozenset[int]]:
    """The values of a quote's numbers and of its spelled-out numbers (each quote holds several)."""
    normalised = _normalised_quote(quote)
    written = frozenset(number_value(token) for token in numbers_in(normalised))
    return written, frozenset(_spelled_numbers(normalised))
