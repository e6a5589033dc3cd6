"""Commands for the evidence team: start a study, add a report to a known study, check a sheet.

``python -m helpers.evidence.tools <command>`` (or the make targets named in the README):

* ``new-trial`` — copy a raw file into ``data/raw/`` under the project's name for it, hash it,
  register it in ``data/raw/sources.yaml`` and create ``data/extraction/<trial_id>.yaml`` from
  the template with the study's id, label and report filled in;
* ``add-report`` — register another report of a study that already has a sheet and list it
  under the sheet's ``reports:`` (nothing already extracted changes);
* ``check`` — every problem of one or more sheets at once, each with its YAML line: schema
  rules, quotes not found in the reports, numbers not found in their quotes, one study per
  sheet.

Raw files are named ``<NNN>_<first 16 hex digits of the SHA-256>.txt``: a running number, then
the start of the content hash, so a name never collides and never says more than the bytes.
Every command refuses a file whose bytes are already registered, names the entry that holds
them, and writes nothing on error (exit 2).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence import sources
from helpers.evidence.located import locate_sheet, one_sheet_per_study
from helpers.evidence.safe_yaml import read_yaml
from helpers.evidence.schema import (
    SLUG,
    Problem,
    line_of,
    sheet_paths,
    sheet_problems,
    yaml_lines,
)

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 2, 4
_RAW_NAME = re.compile(r"^(\d{3,})_[0-9a-f]{16}\.txt$")


# --------------------------------------------------------------------------- raw files


def raw_name(data: bytes, raw_dir: Path) -> str:
    """``<next running number>_<sha256[:16]>.txt`` for new bytes in ``raw_dir``."""
    numbers = [
        int(match.group(1))
        for path in raw_dir.glob("*.txt")
        if (match := _RAW_NAME.match(path.name))
    ]
    return f"{max(numbers, default=-1) + 1:03d}_{hashlib.sha256(data).hexdigest()[:16]}.txt"


def _entry_text(entry: dict[str, object]) -> str:
    """One manifest entry as YAML text (values quoted safely), to append to sources.yaml."""
    lines = []
    for index, (key, value) in enumerate(entry.items()):
        dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        dumped = dumped.removesuffix("\n...").strip()
        lines.append(f"{'  - ' if index == 0 else '    '}{key}: {dumped}")
    return "\n".join(lines) + "\n"


def register_raw_file(
    source: Path,
    *,
    kind: str,
    citation: str,
    doi: str | None,
    registry_id: str | None,
    evidence_starts_at: str | None = None,
    evidence_ends_before: str | None = None,
    raw_dir: Path | None = None,
) -> sources.SourceRecord:
    """Copy ``source`` into data/raw/, append its manifest entry; return the new record.

    The manifest is validated with the new entry (and the file read with its reader, so a
    missing marker is caught) before anything is written.
    """
    raw_dir = raw_dir or paths.raw_dir()
    manifest_path = raw_dir / "sources.yaml"
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise EvidenceInputError(source, "<file>", "a readable file", str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()
    manifest = sources.load_manifest(manifest_path)
    for record in manifest.values():
        if record.sha256 == digest:
            raise EvidenceInputError(
                source, "<file>", f"new bytes (already registered as {record.file})"
            )
    name = raw_name(data, raw_dir)
    entry: dict[str, object] = {
        "file": name,
        "sha256": digest,
        "kind": kind,
        "citation": citation,
        "doi": doi,
        "registry_id": registry_id,
    }
    if evidence_starts_at:
        entry["evidence_starts_at"] = evidence_starts_at
    if evidence_ends_before:
        entry["evidence_ends_before"] = evidence_ends_before
    text = manifest_path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + _entry_text(entry)
    with tempfile.TemporaryDirectory() as scratch:
        trial_raw = Path(scratch)
        (trial_raw / "sources.yaml").write_text(text, encoding="utf-8")
        shutil.copyfile(source, trial_raw / name)
        record = sources.load_manifest(trial_raw / "sources.yaml")[name]
        sources.verify_hashes({name: record}, trial_raw)
        sources.read_source(record, trial_raw)
    shutil.copyfile(source, raw_dir / name)
    _write_atomically(manifest_path, text)
    return record


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- sheets


def sheet_from_template(trial_id: str, label: str, report_id: str, file: str) -> str:
    """The template with the study's id, label and first report filled in."""
    template = (paths.extraction_dir() / "_template.yaml").read_text(encoding="utf-8")
    header_end = template.index("trial_id:")
    text = template[header_end:]
    text = re.sub(r"^trial_id: .*$", f"trial_id: {trial_id}", text, count=1, flags=re.M)
    text = re.sub(r"^label: .*$", f"label: {_quoted(label)}", text, count=1, flags=re.M)
    text = re.sub(
        r"^  - \{id: article, file: [^}]*\}$",
        f"  - {{id: {report_id}, file: {file}}}",
        text,
        count=1,
        flags=re.M,
    )
    intro = (
        f"# {label}: extraction sheet created from data/extraction/_template.yaml.\n"
        '# Replace every example value with what the reports say (or {not_reported: "<why>"}),\n'
        f"# then run `make check SHEET={trial_id}.yaml` until it reports no problem.\n"
    )
    return intro + text


def _quoted(text: str) -> str:
    return yaml.safe_dump(text, default_style='"').strip()


def new_trial(
    source: Path,
    *,
    trial_id: str,
    label: str,
    kind: str,
    citation: str,
    doi: str | None = None,
    registry_id: str | None = None,
    report_id: str = "article",
    evidence_starts_at: str | None = None,
    evidence_ends_before: str | None = None,
) -> Path:
    """Register ``source`` as the first report of a new study and create its sheet."""
    sheet_path = paths.extraction_dir() / f"{trial_id}.yaml"
    if not SLUG.fullmatch(trial_id):
        raise EvidenceInputError(sheet_path, "trial_id", "a lowercase slug such as cp_smith2026")
    if not SLUG.fullmatch(report_id):
        raise EvidenceInputError(sheet_path, "report id", "a lowercase slug such as article")
    if sheet_path.exists():
        raise EvidenceInputError(sheet_path, "trial_id", "a trial id without a sheet yet")
    _refuse_known_study(sheet_path, doi, registry_id)
    record = register_raw_file(
        source,
        kind=kind,
        citation=citation,
        doi=doi,
        registry_id=registry_id,
        evidence_starts_at=evidence_starts_at,
        evidence_ends_before=evidence_ends_before,
    )
    _write_atomically(sheet_path, sheet_from_template(trial_id, label, report_id, record.file))
    return sheet_path


def _refuse_known_study(sheet_path: Path, doi: str | None, registry_id: str | None) -> None:
    """A DOI or registry id that a sheet's report already has means a known study."""
    manifest = sources.load_manifest(paths.sources_manifest())
    for path in sheet_paths(paths.extraction_dir()):
        for file in _report_files(path):
            record = manifest.get(file)
            if record is None:
                continue
            for what, value, theirs in (
                ("DOI", doi, record.doi),
                ("registry id", registry_id, record.registry_id),
            ):
                if value and value == theirs:
                    raise EvidenceInputError(
                        sheet_path,
                        what,
                        f"a new study: {path.name} already covers {what} {value} (add this "
                        f"file to it with `make add-report TRIAL={path.stem} ...`)",
                    )


def _report_files(sheet: Path) -> list[str]:
    """The report files a sheet lists, read even from a sheet still being filled in."""
    data = read_yaml(sheet)
    reports = data.get("reports") if isinstance(data, dict) else None
    if not isinstance(reports, list):
        return []
    return [str(r["file"]) for r in reports if isinstance(r, dict) and "file" in r]


def add_report(
    trial_id: str,
    source: Path,
    *,
    kind: str,
    citation: str,
    doi: str | None = None,
    registry_id: str | None = None,
    report_id: str,
    evidence_starts_at: str | None = None,
    evidence_ends_before: str | None = None,
) -> sources.SourceRecord:
    """Register ``source`` and list it under the ``reports:`` of an existing sheet."""
    sheet_path = paths.extraction_dir() / f"{trial_id}.yaml"
    if not sheet_path.is_file():
        raise EvidenceInputError(sheet_path, "trial_id", "an existing sheet (make trial first)")
    if not SLUG.fullmatch(report_id):
        raise EvidenceInputError(sheet_path, "report id", "a lowercase slug such as abstract")
    text = sheet_path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "reports:")
    except StopIteration:
        raise EvidenceInputError(sheet_path, "reports", "a `reports:` list") from None
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    if re.search(rf"\bid: *{re.escape(report_id)}\b", "".join(lines[start:end])):
        raise EvidenceInputError(sheet_path, "reports", "a report id not used yet", report_id)
    record = register_raw_file(
        source,
        kind=kind,
        citation=citation,
        doi=doi,
        registry_id=registry_id,
        evidence_starts_at=evidence_starts_at,
        evidence_ends_before=evidence_ends_before,
    )
    lines.insert(end, f"  - {{id: {report_id}, file: {record.file}}}\n")
    _write_atomically(sheet_path, "".join(lines))
    return record


# --------------------------------------------------------------------------- checking


def check_sheets(sheets: Sequence[Path]) -> dict[Path, list[Problem]]:
    """Every problem of each sheet: schema, quotes, numbers, one study per sheet."""
    raw_dir = paths.raw_dir()
    manifest = sources.load_manifest(raw_dir / "sources.yaml")
    sources.verify_hashes(manifest, raw_dir)
    found: dict[Path, list[Problem]] = {}
    located = []
    for path in sheets:
        sheet, problems = sheet_problems(path)
        if sheet is not None:
            try:
                located.append(locate_sheet(sheet, path, manifest, raw_dir, problems))
            except EvidenceInputError as exc:  # a report that is not registered
                problems.append(Problem(exc.field, exc.expected, exc.got))
        else:
            problems += _quote_problems(path, manifest, raw_dir)
        found[path] = problems
    others = [
        path
        for path in sheet_paths(paths.extraction_dir())
        if path.resolve() not in {p.resolve() for p in sheets}
    ]
    for path in others:  # the rest of the evidence base, for the one-study-per-sheet rule
        sheet, problems = sheet_problems(path)
        if sheet is not None and not problems:
            located.append(locate_sheet(sheet, path, manifest, raw_dir, []))
    try:
        one_sheet_per_study(located)
    except EvidenceInputError as exc:
        found.setdefault(Path(exc.file), []).append(Problem(exc.field, exc.expected, exc.got))
    return found


def _quote_problems(
    path: Path, manifest: dict[str, sources.SourceRecord], raw_dir: Path
) -> list[Problem]:
    """Quotes not found in their reports, read from a sheet that fails the schema (so that
    one pass lists both kinds of problem)."""
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
        return []
    documents = {}
    for ref in data["reports"]:
        if isinstance(ref, dict) and ref.get("file") in manifest:
            record = manifest[ref["file"]]
            documents[str(ref.get("id"))] = sources.read_source(record, raw_dir)
    lines = yaml_lines(path.read_text(encoding="utf-8"))
    problems = []
    for field, entry in _quoted_entries(data):
        quotes = entry["quote"] if isinstance(entry["quote"], list) else [entry["quote"]]
        named = entry.get("report")
        candidates = [documents[named]] if named in documents else list(documents.values())
        for index, quote in enumerate(quotes):
            if not isinstance(quote, str) or not candidates:
                continue
            suffix = f".quote.{index}" if isinstance(entry["quote"], list) else ".quote"
            if not any(_found(quote, document) for document in candidates):
                files = ", ".join(document.file for document in candidates)
                problems.append(
                    Problem(
                        field + suffix,
                        f"a verbatim quote found in {files}",
                        quote,
                        line_of(field + suffix, lines),
                    )
                )
    return problems


def _quoted_entries(node: object, path: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        if "quote" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _quoted_entries(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _quoted_entries(value, f"{path}.{index}")
    return found


def _found(quote: str, document: sources.SourceDocument) -> bool:
    try:
        sources.locate_quote(quote, document)
    except EvidenceInputError:
        return False
    return True


# --------------------------------------------------------------------------- command line


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", required=True, type=Path, help="the report as a text file")
    parser.add_argument("--kind", required=True, choices=sources.KINDS, help="kind of report")
    parser.add_argument("--citation", required=True, help="full reference of the report")
    parser.add_argument(
        "--doi", default=None, help="DOI of the study (press reports: of the study they report on)"
    )
    parser.add_argument("--registry-id", default=None, help="trial registry number, e.g. NCT...")
    parser.add_argument(
        "--evidence-starts-at", default=None, help="verbatim marker: text before it is not evidence"
    )
    parser.add_argument(
        "--evidence-ends-before",
        default=None,
        help="verbatim marker: text from it on is not evidence (reader comments)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.evidence.tools",
        description="Start a study, add a report to a known study, or check sheets.",
        epilog="exit codes: 0 ok, 2 problems found (listed), 4 bad usage",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    trial = commands.add_parser("new-trial", help="register a raw file and start a sheet")
    trial.add_argument("--trial-id", required=True, help="e.g. cp_smith2026")
    trial.add_argument("--label", required=True, help="how pages name it, e.g. 'Smith 2026'")
    trial.add_argument("--report-id", default="article", help="short name of the report")
    _report_arguments(trial)
    report = commands.add_parser("add-report", help="add a report to a study's sheet")
    report.add_argument("--trial-id", required=True, help="the study's id (its sheet's stem)")
    report.add_argument("--report-id", required=True, help="short name, e.g. abstract")
    _report_arguments(report)
    check = commands.add_parser("check", help="list every problem of sheets")
    check.add_argument("sheets", nargs="*", help="sheet files or names (default: every sheet)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        if args.command == "check":
            return _check(args.sheets)
        common = {
            "kind": args.kind,
            "citation": args.citation,
            "doi": args.doi,
            "registry_id": args.registry_id,
            "report_id": args.report_id,
            "evidence_starts_at": args.evidence_starts_at,
            "evidence_ends_before": args.evidence_ends_before,
        }
        if args.command == "new-trial":
            sheet = new_trial(args.file, trial_id=args.trial_id, label=args.label, **common)
            print(f"created {sheet}; fill it in, then `make check SHEET={sheet.name}`")
        else:
            record = add_report(args.trial_id, args.file, **common)
            print(
                f"registered {record.file} and listed it in {args.trial_id}.yaml; add its values "
                f"(with `report: {args.report_id}`), then `make check SHEET={args.trial_id}.yaml`"
            )
    except EvidenceInputError as exc:
        print(f"{args.command} failed: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _check(names: Sequence[str]) -> int:
    directory = paths.extraction_dir()
    sheets = [
        Path(name) if Path(name).is_file() else directory / Path(name).name for name in names
    ] or sheet_paths(directory)
    missing = [str(path) for path in sheets if not path.is_file()]
    if missing:
        print(f"no such sheet: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        found = check_sheets(sheets)
    except EvidenceInputError as exc:
        print(f"check failed: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    total = 0
    for path, problems in found.items():
        if not problems:
            print(f"{path.name}: no problems")
            continue
        total += len(problems)
        print(f"{path.name}: {len(problems)} problem{'s' if len(problems) > 1 else ''}")
        for problem in problems:
            print(f"  {problem.message()}")
    return EXIT_PROBLEMS if total else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
