"""Tests for helpers.evidence.sources on the fixture raw documents and on edited copies."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from support import FIXTURE_DATA

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.sources import (
    QuoteLocation,
    SourceDocument,
    SourceRecord,
    load_manifest,
    locate_quote,
    normalise_text,
    numbers_in,
    quote_contains_number,
    read_source,
    verify_hashes,
)

# The sha256 list of /work/shared/sources/README.md: the raw files must be these bytes.
README_SHA256 = {
    "000_db9ca307f0dc700e.txt": "e37fd9705b0abf5657c12ce17e3704d6d88722ce3df5f7d1aa38eeab94274f19",
    "001_6b8ad4c13486addf.txt": "20ddf522d26eb349c27645201d731bbe19027735ba87aab847a257e7a6e446df",
    "002_0c24e89f936fef74.txt": "918d5e2382742a3ead9b7fecf7a2a374fbd13385f19aaeea9f07e8339955d097",
    "003_497558fd85834040.txt": "4896f5ad04bb87cb06639a1eddfc67ac4497a9df21578642b40a4c9651da6883",
    "004_87a12e4119554b9e.txt": "59a8b165301c8de34b6f405c687f7250416a202f89a7e3e4991549f6ba5c8663",
}
ARTICLE, RECORD, ABSTRACT, PRESS_SCI, PRESS_CP = sorted(README_SHA256)


RAW = FIXTURE_DATA / "raw"


@pytest.fixture(scope="module")
def manifest() -> dict[str, SourceRecord]:
    return load_manifest(RAW / "sources.yaml")


@pytest.fixture(scope="module")
def docs(manifest: dict[str, SourceRecord]) -> dict[str, SourceDocument]:
    return {name: read_source(record, RAW) for name, record in manifest.items()}


def _raw_entries() -> list[dict[str, object]]:
    return yaml.safe_load((RAW / "sources.yaml").read_text(encoding="utf-8"))["sources"]


def _write_manifest(tmp_path: Path, entries: list[dict[str, object]], **top: object) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries, **top}, allow_unicode=True), "utf-8")
    return path


# --------------------------------------------------------------------------- manifest and hashes


def test_manifest_lists_the_original_files_with_readme_hashes_and_kinds(manifest):
    assert {name: record.sha256 for name, record in manifest.items()} == README_SHA256
    assert [record.kind for record in manifest.values()] == [
        "full_text",
        "bibliographic_record",
        "abstract",
        "press_report",
        "press_report",
    ]
    assert manifest[ARTICLE].registry_id == "NCT05472428"
    assert manifest[PRESS_CP].registry_id == "NCT02569775"
    assert manifest[ABSTRACT].registry_id is None
    assert manifest[RECORD].doi == "10.1016/j.jnrt.2025.100207"
    assert all(record.citation.strip() for record in manifest.values())


def test_raw_files_are_unchanged(manifest):
    verify_hashes(manifest, RAW)
    for name, digest in README_SHA256.items():
        assert hashlib.sha256((RAW / name).read_bytes()).hexdigest() == digest


def test_the_projects_original_sources_are_registered_unchanged():
    """The live evidence base may grow, but the files it started from never change."""
    live = load_manifest()
    verify_hashes(live)
    for name, digest in README_SHA256.items():
        assert live[name].sha256 == digest
        assert hashlib.sha256((paths.raw_dir() / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda e: e[0].update(colour="red"), "sources[0].colour"),
        (lambda e: e[1].pop("citation"), "sources[1].citation"),
        (lambda e: e[2].update(kind="preprint"), "sources[2].kind"),
        (lambda e: e[3].update(sha256="abc123"), "sources[3].sha256"),
        (lambda e: e[3].update(sha256=e[3]["sha256"].upper()), "sources[3].sha256"),
        (lambda e: e[4].update(file=e[0]["file"]), "sources[4].file"),
        (lambda e: e[0].update(doi="not-a-doi"), "sources[0].doi"),
        (lambda e: e[0].update(file="../000.txt"), "sources[0].file"),
    ],
)
def test_manifest_errors_name_the_field_path(tmp_path, edit, field):
    entries = _raw_entries()
    edit(entries)
    with pytest.raises(EvidenceInputError) as caught:
        load_manifest(_write_manifest(tmp_path, entries))
    assert caught.value.field == field
    assert caught.value.file.endswith("sources.yaml")


def test_manifest_rejects_unknown_top_level_key_and_bad_yaml(tmp_path):
    with pytest.raises(EvidenceInputError, match="extra"):
        load_manifest(_write_manifest(tmp_path, _raw_entries(), extra=1))
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n", encoding="utf-8")
    with pytest.raises(EvidenceInputError, match="well-formed YAML"):
        load_manifest(bad)


@pytest.fixture
def raw_copy(tmp_path: Path, manifest: dict[str, SourceRecord]) -> Path:
    directory = tmp_path / "raw"
    directory.mkdir()
    for name in manifest:
        shutil.copyfile(RAW / name, directory / name)
    return directory


def test_changed_raw_file_is_detected(raw_copy, manifest):
    path = raw_copy / ARTICLE
    path.write_text(path.read_text("utf-8").replace("127.7", "127.8", 1), "utf-8")
    with pytest.raises(EvidenceInputError) as caught:
        verify_hashes(manifest, raw_copy)
    error = caught.value
    assert (Path(error.file).name, error.field) == (ARTICLE, "sha256")
    assert error.expected == README_SHA256[ARTICLE]
    assert error.got == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_and_empty_raw_files_are_detected(raw_copy, manifest):
    (raw_copy / ABSTRACT).write_bytes(b"")
    with pytest.raises(EvidenceInputError, match="non-empty") as caught:
        verify_hashes(manifest, raw_copy)
    assert caught.value.field == "size"
    (raw_copy / ABSTRACT).unlink()
    with pytest.raises(EvidenceInputError) as caught:
        verify_hashes(manifest, raw_copy)
    assert caught.value.field == "file"


def test_non_utf8_bytes_are_reported_with_their_offset(tmp_path):
    data = b"Eleven children\xff rest"
    (tmp_path / "x.txt").write_bytes(data)
    record = SourceRecord(
        "x.txt", hashlib.sha256(data).hexdigest(), "abstract", "c", None, None
    )  # a manifest made from the bad file: the hash matches, the encoding does not
    with pytest.raises(EvidenceInputError, match="byte offset 15") as caught:
        verify_hashes({"x.txt": record}, tmp_path)
    assert caught.value.field == "encoding"
    with pytest.raises(EvidenceInputError, match="0xff"):
        read_source(record, tmp_path)


# --------------------------------------------------------------------------- full text reader


def test_full_text_joins_line_break_hyphenation(docs):
    text = docs[ARTICLE].text
    assert "cystomanometry and rectomanometry" in text
    assert "cystomanom-" not in text
    # A real hyphen survives when the same word occurs unbroken elsewhere in the text.
    assert "long-term follow-up" in text
    assert "marrow-derived mesenchymal" in text


@pytest.mark.parametrize(
    "quote",
    [
        "The measurements of outcomes included clinical assessments, cystomanometry and "
        "rectomanometry.",
        # as copied from the raw PDF text, line break and hyphen included
        "The measurements of outcomes included clinical assessments, cystomanom-\netry and "
        "rectomanometry.",
    ],
)
def test_quote_spanning_a_hyphenated_line_break_locates(docs, quote):
    location = locate_quote(quote, docs[ARTICLE])
    assert location.matched.endswith("cystomanometry and rectomanometry.")
    assert docs[ARTICLE].text[location.start : location.end] == location.matched


def test_broken_spacing_and_unicode_minus(docs):
    document = docs[ARTICLE]
    location = locate_quote("decreased from 32.4 ± 22.0 cm H2O at baseline", document)
    assert "cm H2O" in location.matched
    assert locate_quote("32.4 ± 22.0 cmH2O", document).matched == "32.4 ± 22.0 cm H2O"
    assert locate_quote("https://www.clinicaltrials.gov/ct2/show/NCT05472428", document)
    minus = locate_quote("cough, and strain was \u22121.3 ± 8.4", document)
    assert minus.matched.endswith("-1.3 ± 8.4")
    assert "\u2212" not in document.text and "\u00a0" not in document.text


def test_flattened_powers_of_ten_only(docs):
    text = docs[ARTICLE].text
    assert "(839 ± 86.37) ×10^6 cells and (959.41 ± 121.55) ×10^6 cells" in text
    assert "×  106" not in text
    # multiplications by ordinary numbers are left alone
    assert "(age + 1) × 30 mL" in text
    assert "(body weight in kg—10) × 7 mL" in text
    assert locate_quote("(65.96 ± 5.61) ×  106 cells", docs[ARTICLE])


def test_quote_mark_and_dash_variants_locate(docs):
    assert locate_quote("parents' psychological well-being", docs[ARTICLE])
    assert locate_quote("16 children aged 2-12 years", docs[RECORD]).matched == (
        "16 children aged 2–12 years"
    )


def test_quote_must_start_on_a_word_boundary(docs):
    assert locate_quote("seven AEs were confirmed", docs[ARTICLE])
    with pytest.raises(EvidenceInputError):
        locate_quote("even AEs were confirmed", docs[ARTICLE])


def test_quote_not_found_names_sheet_field_and_document(docs):
    with pytest.raises(EvidenceInputError) as caught:
        locate_quote("Twelve children with SB", docs[ARTICLE], field="arms[0].n", sheet="sb.yaml")
    error = caught.value
    assert (error.file, error.field) == ("sb.yaml", "arms[0].n")
    assert error.expected == f"a verbatim quote found in {ARTICLE}"
    assert error.got == "Twelve children with SB"
    with pytest.raises(EvidenceInputError):
        locate_quote("   ", docs[ARTICLE])


def test_normalise_text_is_idempotent(docs):
    for document in docs.values():
        assert normalise_text(document.text) == document.text


# --------------------------------------------------------------------------- other readers


def test_bibliographic_record_title_and_abstract_without_html(docs):
    document = docs[RECORD]
    assert document.metadata["doi"] == "10.1016/j.jnrt.2025.100207"
    assert document.metadata["journal"]["name"] == "Journal of Neurorestoratology"
    assert "<em>" not in document.text and "<div>" not in document.text
    title = locate_quote(
        "Repeated intrathecal injections of autologous bone marrow-derived mesenchymal stem "
        "cells for spastic cerebral palsy: Single-arm safety and preliminary efficacy clinical "
        "trial",
        document,
    )
    assert title.start == 0
    # this sentence had <em>p</em> tags in the JSON abstract; the first hit is that abstract
    hit = locate_quote("decreasing from 62.5% to 43.75% (p = 0.0047)", document)
    assert hit.start < document.text.index("Conclusion")
    # the aggregator's "citation count: 0" line is not evidence
    assert "引用次数" in document.excluded and "引用次数" not in document.text


def test_abstract_page_keeps_keywords_and_mesh(docs):
    document = docs[ABSTRACT]
    assert locate_quote("subarachnoid transplantations of hUC-MSCs (1 × 106 cells/kg)", document)
    assert "(1 ×10^6 cells/kg)" in document.text
    assert locate_quote("Aged, 80 and over", document)
    assert document.excluded == ""


def test_press_report_comments_are_not_quotable(docs):
    document = docs[PRESS_CP]
    assert locate_quote("Twelve patients developed mild fevers", document)
    for quote in ("I am so interested in this study", "Sandra ablahad says:", "Leave a Comment"):
        with pytest.raises(EvidenceInputError, match="found only in reader comments"):
            locate_quote(quote, document)
    assert "Hariprasad says:" in document.excluded
    assert document.text.endswith("ideally in double-blind controlled trials.”")


def test_press_report_comment_form_is_not_quotable(docs):
    document = docs[PRESS_SCI]
    assert document.text.endswith("doi:10.1016/j.clineuro.2021.106565")
    with pytest.raises(EvidenceInputError, match="reader comments"):
        locate_quote("Please enter your comment!", document)


def test_generic_comment_detection_without_a_marker(manifest, docs):
    record = manifest[PRESS_CP]
    unmarked = SourceRecord(**{**record.__dict__, "evidence_ends_before": None})
    # "2. Sandra ablahad says:" is found and the cut moves back to comment "1."
    assert read_source(unmarked).text == docs[PRESS_CP].text


def test_new_press_report_with_reply_form(tmp_path):
    article = "Trial news.\n\nNine of ten patients improved.\n\n"
    comments = "Jo Smith says:\nGreat news, my son is 7.\n\nLeave a Reply\nName *\n"
    (tmp_path / "new.txt").write_text(article + comments, encoding="utf-8")
    record = SourceRecord("new.txt", "0" * 64, "press_report", "c", None, None)
    document = read_source(record, tmp_path)
    assert document.text == "Trial news.\n\nNine of ten patients improved."
    assert document.excluded.startswith("Jo Smith says:")


def test_missing_marker_is_an_error(manifest, tmp_path):
    record = SourceRecord(
        **{**manifest[PRESS_SCI].__dict__, "evidence_ends_before": "No such marker"}
    )
    with pytest.raises(EvidenceInputError) as caught:
        read_source(record)
    assert caught.value.field == "evidence_ends_before"


# --------------------------------------------------------------------------- numbers


def test_numbers_in_real_snippets():
    assert numbers_in(
        "The rectal pressure at rest, squeeze, cough, and \nstrain was \u22121.3 ± 8.4, 22.5 ± 15.7"
    ) == ["-1.3", "8.4", "22.5", "15.7"]
    assert numbers_in("Among 427,616 spina bifida hospital admissions") == ["427616"]
    assert numbers_in("(959.41 ± 121.55) ×  106 cells") == ["959.41", "121.55", "10^6"]
    assert numbers_in("0.083% ± 0.02% (all, mean ± SEM, n = 11)") == ["0.083", "0.02", "11"]
    assert numbers_in("nausea (18.75%), fatigue (12.5%)") == ["18.75", "12.5"]
    assert numbers_in("16 children aged 2–12 years") == ["16", "2", "12"]
    assert numbers_in("64.1 (51.1–97.6) (%)") == ["64.1", "51.1", "97.6"]
    # identifiers glued to letters are not numbers
    assert numbers_in("32.4 cm H2O; CD34+ cells; NCT05472428") == ["32.4"]


@pytest.mark.parametrize(
    ("quote", "value", "expected"),
    [
        ("The mean bladder capacity increased from 127.7 ± 59.2 ml", 127.7, True),
        ("The mean bladder capacity increased from 127.7 ± 59.2 ml", "127.7", True),
        ("The mean bladder capacity increased from 127.7 ± 59.2 ml", 127, False),
        ("a sex ratio of 45.4% vs. 54.5%", 45.4, True),
        ("a sex ratio of 45.4% vs. 54.5%", 45.45, False),
        ("strain was −1.3 ± 8.4", -1.3, True),
        ("strain was −1.3 ± 8.4", 1.3, False),
        ("Among 427,616 spina bifida hospital admissions", 427616, True),
        ("(65.96 ± 5.61) ×  106 cells", 1_000_000, True),
        ("Eleven children with SB underwent autologous BMMNC infusions", 11, True),
        ("including headache (three events)", 3, True),
        ("there were nine cases of intermittent vomiting", 9, True),
        ("Twelve patients developed mild fevers", 12, True),
        ("the number of patients increased from none at baseline to 5", 0, True),
        ("All eleven patients required completed support", 11, True),
        ("There was no serious AE.", 0, True),
        ("Decision of the Ministry of Health No. 612/QD-BYT", 0, False),
        ("Eleven children with SB", 12, False),
    ],
)
def test_quote_contains_number(quote, value, expected):
    assert quote_contains_number(quote, value) is expected


def test_quote_location_is_a_frozen_offset_triple(docs):
    location = locate_quote("Eleven children with SB", docs[ARTICLE])
    assert isinstance(location, QuoteLocation)
    with pytest.raises(AttributeError):
        location.start = 0  # type: ignore[misc]
