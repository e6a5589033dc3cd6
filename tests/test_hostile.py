"""Hostile input, end to end through the command-line entry points, on scratch copies.

* Markup in data (a sheet title, an outcome, a citation...) is shown as text on every page.
* Trial ids are safe slugs: no sheet or ``--trial`` value can name a path outside reports/.
* YAML is loaded safely: a ``!!python/object`` tag is refused and nothing executes.
* Parameters reach notebooks as literals: a trial id that tries to break out of its string
  is refused and never runs.
* A table of bad inputs through ``python -m helpers.evidence.ingest`` and ``python -m helpers.run.pipeline``:
  each exits 2 with one message naming the file and the field, and leaves the previous tables
  and pages byte-identical. Among them, files that must never be read: a FIFO, links to
  ``/dev/zero``, a sparse terabyte, a sheet nested 50,000 brackets deep.
* The readers behind those refusals (:mod:`helpers.evidence.input_files`,
  :mod:`helpers.evidence.safe_yaml`), on each kind of file.

The schema's refusals are unit-tested in test_extraction.py and test_ingest.py; this module
checks the same refusals as a user or a scheduler meets them, and what they leave behind.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import scratch_project

from helpers import paths
from helpers.errors import EvidenceInputError
from helpers.evidence.input_files import MAX_SHEET_BYTES, open_regular, read_regular_file
from helpers.evidence.safe_yaml import MAX_EXPANDED_NODES, MAX_NESTING, read_yaml
from helpers.run import pipeline

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
HOSTILE_TRIAL = "sci_hostile2026"
HOSTILE_RAW = "005_hostile.txt"
HOSTILE_TITLE = f"Hostile title {PAYLOAD} of a case series"
BASE_TRIAL = "sci_honmou2021"  # a small sheet: its source is copied under the hostile title
SB_SHEET = "sb_nguyen2023.yaml"
SB_RAW = "000_db9ca307f0dc700e.txt"
CLI_TIMEOUT = 300


# --------------------------------------------------------------------------- helpers


def cli(root: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m <module> <args>`` on the scratch project ``root``, as cron would run it."""
    env = {**os.environ, paths.ROOT_ENV_VAR: str(root)}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def snapshot(*directories: Path) -> dict[str, bytes]:
    """Every file under the directories, by path: 'unchanged' means byte-identical."""
    return {
        str(path): path.read_bytes()
        for directory in directories
        if directory.is_dir()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def outputs(root: Path) -> dict[str, bytes]:
    return snapshot(root / "data" / "processed", root / "reports")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(path: Path, document: dict) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")


def edit_yaml(path: Path, change: Callable[[dict], object]) -> None:
    document = load(path)
    change(document)
    dump(path, document)


class LiveMarkup(HTMLParser):
    """Collects what a browser would execute: script elements, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")


def live_markup(page: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(page)
    parser.close()
    return parser.found


# --------------------------------------------------------------------------- (1) markup in data


def add_hostile_trial(root: Path) -> None:
    """A new trial whose title (quoted from its new raw document) and free text carry markup.

    The raw document is the base trial's press report with the hostile title prepended, so
    every other quote of the copied sheet is still found; the manifest gets its real sha256.
    """
    raw_dir = root / "data" / "raw"
    manifest = load(raw_dir / "sources.yaml")
    base_sheet = load(root / "data" / "extraction" / f"{BASE_TRIAL}.yaml")
    base_file = base_sheet["reports"][0]["file"]
    base_entry = next(e for e in manifest["sources"] if e["file"] == base_file)
    text = f"{HOSTILE_TITLE}\n\n" + (raw_dir / base_entry["file"]).read_text(encoding="utf-8")
    (raw_dir / HOSTILE_RAW).write_text(text, encoding="utf-8")
    manifest["sources"].append(
        {
            **base_entry,
            "file": HOSTILE_RAW,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "citation": f"Hostile citation {PAYLOAD}",
            "doi": '10.1234/x"><script>alert(1)</script>',
            "registry_id": PAYLOAD,
        }
    )
    dump(raw_dir / "sources.yaml", manifest)

    sheet = base_sheet
    sheet["trial_id"] = HOSTILE_TRIAL
    sheet["label"] = "<script>alert(1)</script> 2026"  # labels are short: a short payload
    sheet["reports"] = [{"id": "press", "file": HOSTILE_RAW}]
    sheet["extracted_by"] = f"reviewer {PAYLOAD}"
    sheet["trial"]["title"] = {"value": HOSTILE_TITLE, "quote": HOSTILE_TITLE}
    # Fields without a quote of their own, or whose words need not be quoted: markup anywhere.
    sheet["outcomes"][0]["measure"] = f"{PAYLOAD} measure"
    sheet["outcomes"][0]["label"] = "<script>alert(1)</script> score"
    sheet["adverse_events"][0]["term"] = f"{PAYLOAD} event"
    sheet["adverse_events"][0]["note"] = f"{PAYLOAD} note"
    sheet["limitations"][0]["value"] = f"{PAYLOAD} limitation"
    sheet["contradictions"][0]["description"] = f"{PAYLOAD} contradiction"
    sheet["baseline"][0]["label"] = f"{PAYLOAD} baseline"
    sheet["appraisal"]["q1"]["reason"] = f"{PAYLOAD} reason"
    dump(root / "data" / "extraction" / f"{HOSTILE_TRIAL}.yaml", sheet)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    root = scratch_project(tmp_path_factory.mktemp("hostile") / "project")
    add_hostile_trial(root)
    result = cli(root, "helpers.run.pipeline", "--quiet")
    assert result.returncode == 0, result.stderr
    return root


def hostile_pages(root: Path) -> list[str]:
    pages = ["index.html", "ingest.html"]
    if (root / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pages.append(f"trials/{HOSTILE_TRIAL}.html")
    if (root / "notebooks" / pipeline.SYNTHESIS_NOTEBOOK).is_file():
        pages.append("synthesis.html")
    return pages


def test_hostile_trial_is_ingested_verbatim(hostile_site):
    trials = (hostile_site / "data" / "processed" / "trials.csv").read_text(encoding="utf-8")
    assert HOSTILE_TITLE in trials  # data stays data: the tables keep the text as written


@pytest.mark.parametrize("page", ["index.html", "ingest.html", "trial", "synthesis.html"])
def test_markup_in_data_is_text_on_every_page(hostile_site, page):
    page = f"trials/{HOSTILE_TRIAL}.html" if page == "trial" else page
    if page not in hostile_pages(hostile_site):
        pytest.skip(f"{page}: its notebook does not exist yet")
    html = (hostile_site / "reports" / page).read_text(encoding="utf-8")
    assert live_markup(html) == [], f"{page} carries executable markup"
    assert "<script>alert" not in html and "<img src=x" not in html
    if page == "index.html":
        # The index shows no free text from the sheets (ids and vocabularies only) ...
        assert HOSTILE_TRIAL in html
    else:
        # ... every other page shows the hostile text, escaped.
        assert ESCAPED_SCRIPT in html, f"{page} does not show the hostile text as text"


def test_hostile_trial_page_shows_the_title_as_its_heading(hostile_site):
    if f"trials/{HOSTILE_TRIAL}.html" not in hostile_pages(hostile_site):
        pytest.skip(f"{pipeline.TRIAL_NOTEBOOK} does not exist yet")
    html = (hostile_site / "reports" / "trials" / f"{HOSTILE_TRIAL}.html").read_text("utf-8")
    assert "Hostile title &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x" in html
    assert "Hostile citation &lt;script&gt;" in html
    assert 'href="https://doi.org/10.1234/x%22%3E%3Cscript%3E' in html  # quoted, not raw


def test_hostile_site_runs_no_script_in_a_browser(hostile_site, tmp_path):
    """Chromium opens every page of the hostile site: no dialog, no error, nothing remote."""
    # The crawler lives with the browser tests (same folder: pytest puts it on sys.path).
    from test_browser import crawl_site, problems, require_browser, serve

    require_browser()
    with serve(hostile_site / "reports") as base:
        visits = crawl_site(base, tmp_path / "screenshots")
    assert set(hostile_pages(hostile_site)) <= set(visits)
    found = {
        name: {k: v for k, v in problems(visit).items() if v} for name, visit in visits.items()
    }
    assert not {name: kinds for name, kinds in found.items() if kinds}
    trial_page = visits.get(f"trials/{HOSTILE_TRIAL}.html")
    if trial_page is not None:
        assert HOSTILE_TITLE in trial_page.text  # what a reader sees: the markup, as text


NUMBER_WORDS = "two three four five six seven eight nine ten eleven twelve".split()


def test_an_added_trial_is_counted_on_every_page(hostile_site):
    """README: a new sheet needs no code change; every count on the pages must follow."""
    n = len(pd.read_csv(hostile_site / "data" / "processed" / "trials.csv"))
    index = (hostile_site / "reports" / "index.html").read_text(encoding="utf-8")
    assert f"{n} sources" in index
    if "synthesis.html" not in hostile_pages(hostile_site):
        pytest.skip(f"{pipeline.SYNTHESIS_NOTEBOOK} does not exist yet")
    synthesis = (hostile_site / "reports" / "synthesis.html").read_text(encoding="utf-8")
    heading = synthesis.split("<h1", 1)[1].split("</h1>", 1)[0]
    title = re.sub(r"<[^>]*>|^[^>]*>|¶", "", heading).strip().lower()
    wrong = [w for w in NUMBER_WORDS if w != NUMBER_WORDS[n - 2] and f" {w} " in f" {title} "]
    assert not wrong, f"synthesis title counts {wrong} trials, the data has {n}: {title!r}"


# --------------------------------------------------------------------------- (2) and (4) ids


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A scratch project with published tables and pages (the ingest stage is enough)."""
    root = scratch_project(tmp_path_factory.mktemp("baseline") / "project")
    result = cli(root, "helpers.run.pipeline", "--quiet", "--stage", "ingest")
    assert result.returncode == 0, result.stderr
    return root


def copy_project(baseline: Path, target: Path) -> Path:
    shutil.copytree(baseline, target, symlinks=True)
    return target


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file under the scratch folder's parent, except the pipeline's own build/ scratch.

    Processed tables count by name only: the ingestion may rerun before ``--trial`` is checked
    (the valid ids are the processed ones) and rewrite them, in place.
    """
    processed = str(root / "data" / "processed")
    return {
        name: None if name.startswith(processed) else data
        for name, data in snapshot(root.parent).items()
        if not name.startswith(str(root / "build"))
    }


BREAKOUT_IDS = [
    "../../etc",
    "../reports/../../etc/passwd",
    "/etc/cron.d/evil",
    'x"); import os; os.system("touch {marker}"); ("',
    "x'''; import os; os.system('touch {marker}'); '''",
    'x\\"); import os; os.system(\\"touch {marker}\\"); (\\"',
    "x\nimport os; os.system('touch {marker}')",
]


@pytest.mark.parametrize(
    "trial_id", [BREAKOUT_IDS[i] for i in (0, 2, 3)], ids=["parent", "absolute", "breakout"]
)
def test_pipeline_trial_option_is_refused_before_anything_runs(baseline, tmp_path, trial_id):
    root = copy_project(baseline, tmp_path / "project")
    marker = tmp_path / "pwned"
    before = tree(root)
    result = cli(root, "helpers.run.pipeline", "--quiet", "--trial", trial_id.format(marker=marker))
    assert result.returncode == pipeline.EXIT_USAGE, result.stderr
    assert (
        "unknown trial id" in result.stderr and "valid ids: cp_akhlaghpasand2025" in result.stderr
    )
    assert tree(root) == before  # nothing written anywhere, inside the project or beside it
    assert not marker.exists()
    assert not list((root / "build").glob("executed/trial-*"))


@pytest.mark.parametrize("trial_id", BREAKOUT_IDS, ids=range(len(BREAKOUT_IDS)))
def test_papermill_injects_parameters_as_literals(tmp_path, trial_id):
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    value = trial_id.format(marker=tmp_path / "pwned")
    notebook = load_notebook_node(str(paths.notebooks_dir() / pipeline.INGEST_NOTEBOOK))
    injected = parameterize_notebook(notebook, {"extraction_dir": value})
    cell = next(c for c in injected.cells if "injected-parameters" in c.metadata.get("tags", []))
    statements = ast.parse(cell.source).body
    assert len(statements) == 1, cell.source  # one assignment: nothing broke out of the string
    assert isinstance(statements[0], ast.Assign)
    assert ast.literal_eval(statements[0].value) == value


def test_trial_notebook_refuses_an_injected_trial_id(baseline, tmp_path):
    if not (baseline / "notebooks" / pipeline.TRIAL_NOTEBOOK).is_file():
        pytest.skip(f"{pipeline.TRIAL_NOTEBOOK} does not exist yet")
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from helpers.run.kernel import KERNEL_ARGUMENTS, KERNEL_NAME, IPCKernelManager

    marker = tmp_path / "pwned"
    payload = BREAKOUT_IDS[3].format(marker=marker)
    root = copy_project(baseline, tmp_path / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.ROOT_ENV_VAR, str(root))  # the kernel inherits it
        with pytest.raises(PapermillExecutionError) as caught:
            papermill.execute_notebook(
                str(root / "notebooks" / pipeline.TRIAL_NOTEBOOK),
                str(tmp_path / "out.ipynb"),
                parameters={"trial_id": payload},
                kernel_name=KERNEL_NAME,
                kernel_manager_class=IPCKernelManager,
                extra_arguments=KERNEL_ARGUMENTS,
                cwd=str(root / "notebooks"),
                progress_bar=False,
            )
    assert caught.value.ename == "ValueError" and "unknown trial_id" in caught.value.evalue
    assert not marker.exists()


# --------------------------------------------------------------------------- (5) bad inputs


@dataclass(frozen=True)
class BadInput:
    """One way to break the inputs, and what the single error message must name."""

    name: str
    change: Callable[[Path, Path], None]  # (project root, marker path)
    file: str
    field: str
    words: str
    # Also through the whole pipeline (a kernel start each): one case per kind of refusal.
    pipeline: bool = False


def sheet(root: Path, name: str = SB_SHEET) -> Path:
    return root / "data" / "extraction" / name


def manifest(root: Path) -> Path:
    return root / "data" / "raw" / "sources.yaml"


def timepoint(document: dict, outcome_id: str) -> dict:
    return next(o for o in document["outcomes"] if o["id"] == outcome_id)["timepoints"][0]


def append_text(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def duplicate_sheet(root: Path, _marker: Path) -> None:
    shutil.copy2(sheet(root), sheet(root, "sb_nguyen2023_copy.yaml"))


def unsafe_sheet_name(root: Path, _marker: Path) -> None:
    edit_yaml(sheet(root), lambda s: s.update(trial_id="Evil-Name"))
    sheet(root).rename(sheet(root, "Evil-Name.yaml"))


def empty_raw_document(root: Path, _marker: Path) -> None:
    raw = root / "data" / "raw" / "003_497558fd85834040.txt"
    raw.write_bytes(b"")
    text = manifest(root).read_text(encoding="utf-8")
    manifest(root).write_text(
        text.replace(
            "4896f5ad04bb87cb06639a1eddfc67ac4497a9df21578642b40a4c9651da6883",
            hashlib.sha256(b"").hexdigest(),
        ),
        encoding="utf-8",
    )


def yaml_bomb(root: Path, _marker: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{','.join([f'*a{level - 1}'] * 9)}]")
    sheet(root).write_text("\n".join(lines) + "\n", encoding="utf-8")


def python_tag_in_sheet(root: Path, marker: Path) -> None:
    append_text(sheet(root), f'\nexploit: !!python/object/apply:os.system ["touch {marker}"]\n')


def python_tag_in_manifest(root: Path, marker: Path) -> None:
    text = manifest(root).read_text(encoding="utf-8")
    manifest(root).write_text(
        text.replace(
            "    registry_id: NCT05472428",
            f'    registry_id: !!python/object/apply:os.system ["touch {marker}"]',
        ),
        encoding="utf-8",
    )


def non_utf8_sheet(root: Path, _marker: Path) -> None:
    data = sheet(root).read_bytes()
    sheet(root).write_bytes(data.replace(b"extracted_by:", b"extracted_by: \xff\xfe", 1))


def link_to_dev_zero(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def sparse_terabyte(path: Path) -> None:
    """A file of 1 TiB that takes no disk: reading it whole would exhaust memory."""
    with path.open("wb") as handle:
        handle.truncate(1 << 40)


def deeply_nested(root: Path, _marker: Path) -> None:
    depth = 50_000
    sheet(root).write_text(f"trial_id: sb_nguyen2023\nnotes: {'[' * depth}{']' * depth}\n", "utf-8")


BAD_INPUTS = [
    BadInput(
        "malformed YAML",
        lambda root, _: append_text(sheet(root), "  bad: [unclosed\n"),
        SB_SHEET,
        "line ",
        "expected well-formed YAML",
        pipeline=True,
    ),
    BadInput(
        "unknown key",
        lambda root, _: edit_yaml(sheet(root), lambda s: s["trial"].update(titel="typo")),
        SB_SHEET,
        "trial.titel",
        "no such field",
        pipeline=True,
    ),
    BadInput(
        "missing field",
        lambda root, _: edit_yaml(sheet(root), lambda s: s["trial"].pop("design")),
        SB_SHEET,
        "trial.design",
        "required field",
    ),
    BadInput(
        "wrong type",
        lambda root, _: edit_yaml(
            sheet(root), lambda s: s["trial"]["n_enrolled"].update(value="eleven")
        ),
        SB_SHEET,
        "trial.n_enrolled.value",
        "integer",
    ),
    BadInput(
        "quote not in source",
        lambda root, _: edit_yaml(
            sheet(root),
            lambda s: timepoint(s, "bladder_capacity").update(quote="bladder capacity was 999 ml"),
        ),
        SB_SHEET,
        ".timepoints.0.quote",
        f"a verbatim quote found in {SB_RAW}",
        pipeline=True,
    ),
    BadInput(
        "number not in quote",
        lambda root, _: edit_yaml(
            sheet(root), lambda s: timepoint(s, "bladder_capacity").update(mean=128.7)
        ),
        SB_SHEET,
        ".timepoints.0.mean",
        "the number to appear in its quote",
    ),
    BadInput(
        "changed raw file",
        lambda root, _: append_text(root / "data" / "raw" / SB_RAW, "\nedited\n"),
        SB_RAW,
        "sha256",
        "expected e37fd9705b0abf5657c12ce17e3704d6d88722ce3df5f7d1aa38eeab94274f19",
        pipeline=True,
    ),
    BadInput(
        "duplicate trial id",
        duplicate_sheet,
        "sb_nguyen2023_copy.yaml",
        "trial_id",
        "the file name stem 'sb_nguyen2023_copy'",
    ),
    BadInput(
        "percent above 100",
        lambda root, _: edit_yaml(
            sheet(root), lambda s: s["adverse_events"][2].update(percent="140")
        ),
        SB_SHEET,
        "adverse_events.2.percent",
        "a percentage between 0 and 100",
    ),
    BadInput(
        "unsafe trial id",
        lambda root, _: edit_yaml(sheet(root), lambda s: s.update(trial_id="../../etc")),
        SB_SHEET,
        "trial_id",
        "a safe slug",
    ),
    BadInput("unsafe sheet name", unsafe_sheet_name, "Evil-Name.yaml", "trial_id", "a safe slug"),
    BadInput(
        "empty sheet file",
        lambda root, _: sheet(root).write_bytes(b""),
        SB_SHEET,
        "<file>",
        "a non-empty YAML mapping",
    ),
    BadInput("non-UTF-8 sheet", non_utf8_sheet, SB_SHEET, "<file>", "UTF-8 text"),
    BadInput(
        "0-byte raw document",
        empty_raw_document,
        "003_497558fd85834040.txt",
        "size",
        "a non-empty file",
    ),
    BadInput(
        "duplicated outcome ids",
        lambda root, _: edit_yaml(sheet(root), lambda s: s["outcomes"].append(s["outcomes"][0])),
        SB_SHEET,
        "outcomes",
        "a unique outcome id",
    ),
    BadInput("YAML bomb", yaml_bomb, SB_SHEET, "<file>", "once aliases are expanded"),
    BadInput(
        "python object tag in a sheet",
        python_tag_in_sheet,
        SB_SHEET,
        "line ",
        "constructor for the tag",
        pipeline=True,
    ),
    BadInput(
        "python object tag in sources.yaml",
        python_tag_in_manifest,
        "sources.yaml",
        "line ",
        "constructor for the tag",
        pipeline=True,
    ),
    BadInput(
        "raw path outside data/raw",
        lambda root, _: edit_yaml(
            manifest(root),
            lambda m: m["sources"][0].update(file="../extraction/sb_nguyen2023.yaml"),
        ),
        "sources.yaml",
        "sources[0].file",
        "a plain file name inside data/raw/",
    ),
    BadInput(
        "unknown manifest key",
        lambda root, _: edit_yaml(manifest(root), lambda m: m["sources"][1].update(sha265="x")),
        "sources.yaml",
        "sources[1].sha265",
        "a known key",
    ),
    BadInput(
        "sheet linked to /dev/zero",
        lambda root, _: link_to_dev_zero(sheet(root, "zero.yaml")),
        "zero.yaml",
        "<file>",
        "a regular file, got 'a symbolic link to /dev/zero, a character device'",
        pipeline=True,
    ),
    BadInput(
        "raw document linked to /dev/zero",
        lambda root, _: link_to_dev_zero(root / "data" / "raw" / SB_RAW),
        SB_RAW,
        "<file>",
        "a regular file",
        pipeline=True,
    ),
    BadInput(
        "FIFO among the sheets",
        lambda root, _: os.mkfifo(sheet(root, "pipe.yaml")),
        "pipe.yaml",
        "<file>",
        "a regular file, got 'a FIFO (named pipe)'",
        pipeline=True,
    ),
    BadInput(
        "sheet of a terabyte",
        lambda root, _: sparse_terabyte(sheet(root)),
        SB_SHEET,
        "<file>",
        f"at most {MAX_SHEET_BYTES} bytes, got {1 << 40}",
        pipeline=True,
    ),
    BadInput(
        "sheet nested 50,000 brackets deep",
        deeply_nested,
        SB_SHEET,
        "line 2, column ",
        f"at most {MAX_NESTING} levels of nesting",
        pipeline=True,
    ),
    BadInput(
        "missing raw file",
        lambda root, _: (root / "data" / "raw" / "002_0c24e89f936fef74.txt").unlink(),
        "002_0c24e89f936fef74.txt",
        "file",
        "an existing file listed in sources.yaml",
    ),
]


@dataclass
class BadRun:
    case: BadInput
    results: dict[str, subprocess.CompletedProcess]  # by entry point
    outputs_kept: bool
    marker_created: bool


@pytest.fixture(scope="module")
def bad_runs(baseline, tmp_path_factory) -> dict[str, BadRun]:
    """Every bad input through both entry points, two projects at a time (one per core)."""
    expected = outputs(baseline)

    def attempt(case: BadInput) -> BadRun:
        work = tmp_path_factory.mktemp("bad")
        root = copy_project(baseline, work / "project")
        marker = work / "pwned"
        case.change(root, marker)
        results = {"helpers.evidence.ingest": cli(root, "helpers.evidence.ingest")}
        if case.pipeline:
            results["helpers.run.pipeline"] = cli(root, "helpers.run.pipeline", "--quiet")
        relocated = {
            name.replace(str(root), str(baseline), 1): data for name, data in outputs(root).items()
        }
        return BadRun(case, results, relocated == expected, marker.exists())

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(attempt, BAD_INPUTS))
    return {run.case.name: run for run in runs}


@pytest.mark.parametrize("name", [case.name for case in BAD_INPUTS])
def test_bad_input_is_refused_with_one_clear_message(bad_runs, name):
    run = bad_runs[name]
    case = run.case
    for entry_point, result in run.results.items():
        where = f"python -m {entry_point}: {result.stderr!r}"
        assert result.returncode == 2, where
        assert "Traceback" not in result.stderr, where
        # One message: a single line carries the error, naming the file, the field, the rule.
        lines = [line for line in result.stderr.splitlines() if f"{case.file}:" in line]
        assert len(lines) == 1, where
        # "<file>[:<line>]: <field>: expected ..." (sheets name the YAML line too)
        match = re.search(rf"{re.escape(case.file)}(?::\d+)?: (.*?): expected (.*)", lines[0])
        assert match, where
        field, expected = match.groups()
        assert case.field in field, where
        assert case.words in f"expected {expected}", where
    ingest = run.results["helpers.evidence.ingest"]
    assert ingest.stderr.strip().count("\n") == 0, ingest.stderr
    if case.pipeline:
        assert "reports/ left unchanged" in run.results["helpers.run.pipeline"].stderr
    assert run.outputs_kept, "data/processed or reports/ changed"
    assert not run.marker_created, "code in the input was executed"


# --------------------------------------------------------------------------- (6) the readers


def test_open_regular_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(EvidenceInputError, match="expected a regular file, got 'a FIFO"):
        open_regular(fifo, 100)


def test_open_regular_names_what_a_link_points_to(tmp_path):
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(EvidenceInputError) as caught:
        read_regular_file(link, 100)
    assert caught.value.field == "<file>"
    assert caught.value.got == "a symbolic link to /dev/zero, a character device"


def test_open_regular_names_a_dangling_link(tmp_path):
    link = tmp_path / "gone.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(EvidenceInputError, match="a symbolic link to .*nowhere.yaml, which does"):
        open_regular(link, 100)


def test_open_regular_refuses_folders_and_sockets(tmp_path):
    with pytest.raises(EvidenceInputError, match="got 'a directory'"):
        open_regular(tmp_path, 100)
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        with pytest.raises(EvidenceInputError, match="got 'a socket'"):
            open_regular(path, 100)


def test_the_size_limit_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    sparse_terabyte(big)  # reading it would need a terabyte of memory
    with pytest.raises(EvidenceInputError, match=f"got {1 << 40}"):
        read_yaml(big)
    small = tmp_path / "small.txt"
    small.write_bytes(b"12345")
    assert read_regular_file(small, 5) == b"12345"
    with pytest.raises(EvidenceInputError, match="at most 4 bytes, got 5"):
        read_regular_file(small, 4)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing.txt", 4)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 50_000 + "]" * 50_000,
        "a: " + "{b: " * 50_000 + "}" * 50_000,
        "a:\n" + "".join(" " * level + "- \n" for level in range(1, 200)),
    ],
    ids=["flow sequences", "flow mappings", "block sequences"],
)
def test_read_yaml_refuses_deep_nesting_with_its_position(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EvidenceInputError) as caught:
        read_yaml(path)
    assert caught.value.expected == f"at most {MAX_NESTING} levels of nesting"
    assert re.fullmatch(r"line \d+, column \d+", caught.value.field)


def test_read_yaml_counts_nodes_without_aliases_too(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("a: [" + "1," * MAX_EXPANDED_NODES + "]\n", encoding="utf-8")
    with pytest.raises(EvidenceInputError, match="aliases are expanded") as caught:
        read_yaml(path)
    assert caught.value.got == MAX_EXPANDED_NODES + 3  # with the mapping, its key and the list
    path.write_text("a: [" + "1," * (MAX_EXPANDED_NODES - 3) + "]\n", encoding="utf-8")
    assert len(read_yaml(path)["a"]) == MAX_EXPANDED_NODES - 3


def test_read_yaml_reads_nesting_up_to_the_limit_and_long_alias_chains(tmp_path):
    path = tmp_path / "ok.yaml"
    depth = MAX_NESTING - 1  # the top-level mapping is a level too
    path.write_text("a: " + "[" * depth + "1" + "]" * depth + "\n", encoding="utf-8")
    value = read_yaml(path)["a"]
    for _ in range(depth):
        (value,) = value
    assert value == 1
    # Each anchor holds the previous one: 600 levels once expanded, yet shallow as written.
    lines = ["a0: &a0 [1]", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 600))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    value = read_yaml(path)["a599"]
    for _ in range(599):
        (value,) = value
    assert value == [1]
