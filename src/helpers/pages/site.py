"""The reviewer site: notebook pages rendered without code, and the index that links them.

Pages are self-contained: nbconvert's lab template with every script, widget and CDN
resource removed (``templates/reviewer``), figures embedded inline. The index is built here
from the processed tables with every data value escaped. Nothing in a page depends on the
clock, so two regenerations from the same inputs are byte-identical.
"""

from __future__ import annotations

import functools
import html
import subprocess
from importlib.metadata import version
from pathlib import Path

import nbformat
import pandas as pd

from helpers import paths

TEMPLATES = Path(__file__).parent / "templates"
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

REVIEWER_CSS = """
body { max-width: 1200px; margin: 0 auto; }
.reviewer-nav { padding: 0.6em 1em; font-family: system-ui, sans-serif; }
.reviewer-nav a { text-decoration: none; }
/* Wide tables scroll inside their cell instead of being cut at the page edge. */
.jp-OutputArea-output { overflow-x: auto; }
.jp-OutputArea-output table { font-size: 0.85em; }
/* Text columns read left-aligned; pandas right-aligns every cell. */
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th,
.jp-RenderedHTMLCommon thead tr { text-align: left !important; vertical-align: top; }
"""

INDEX_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
.kind-press_report, .kind-abstract, .kind-bibliographic_record { color: #8a4b00; }
.warn { color: #8a1f11; font-weight: 600; }
.muted { color: #666; font-size: 0.85em; }
code { font-size: 0.9em; }
"""


@functools.cache
def _exporter():
    """One exporter per process: building one (templates, filters) costs about 45 ms."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="reviewer",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )


def render_notebook(notebook: nbformat.NotebookNode, depth: int = 0) -> str:
    """HTML of an executed notebook without code cells; ``depth`` = folders below reports/."""
    resources = {"reviewer_css": REVIEWER_CSS, "home_link": "../" * depth + "index.html"}
    body, _ = _exporter().from_notebook_node(notebook, resources=resources)
    return body


def _escape(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return html.escape(str(value))


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
        f"Inputs: SHA-256 of data/raw and data/extraction {input_digest[:16]}…",
        f"Environment: Python 3.11; {versions} (pinned in pyproject.toml).",
        "Produced by make report (python -m helpers.run.pipeline): papermill runs each notebook "
        "on the project's kernel; nbconvert renders it without code.",
    ]


def index_page(pages: list[str], input_digest: str = "") -> str:
    """The entry page: trials with key facts and flags, links to every page, provenance."""
    from helpers import data

    trials = data.load("trials")
    checks = data.load("checks")
    warnings = checks[checks["severity"] == "warning"].groupby("trial_id").size()
    rows = []
    for trial in trials.itertuples(index=False):
        page = f"trials/{trial.trial_id}.html"
        link = (
            f'<a href="{html.escape(page)}">{_escape(trial.trial_id)}</a>'
            if page in pages
            else _escape(trial.trial_id)
        )
        n_warn = int(warnings.get(trial.trial_id, 0))
        rows.append(
            "<tr>"
            f"<td>{link}</td>"
            f"<td>{_escape(trial.condition).replace('_', ' ')}</td>"
            f"<td>{_escape(trial.cell_type)}, {_escape(trial.cell_source)}, "
            f"{_escape(trial.tissue).replace('_', ' ')}</td>"
            f"<td>{_escape(trial.route)} × {_escape(trial.n_administrations)}</td>"
            f"<td>{_escape(trial.n_enrolled if pd.notna(trial.n_enrolled) else trial.n_safety)}</td>"
            f'<td class="kind-{_escape(trial.source_kind)}">'
            f"{_escape(trial.source_kind).replace('_', ' ')}</td>"
            f"<td>{'<span class=warn>' + str(n_warn) + '</span>' if n_warn else '0'}</td>"
            "</tr>"
        )
    other_pages = [
        ("synthesis.html", "Cross-trial synthesis: safety, efficacy, heterogeneity, certainty"),
        ("ingest.html", "Ingestion validation: what was extracted, quote verification, flags"),
    ]
    links = "".join(
        f'<li><a href="{page}">{html.escape(title)}</a></li>'
        for page, title in other_pages
        if page in pages
    )
    provenance = "".join(f"<li>{html.escape(line)}</li>" for line in provenance_lines(input_digest))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cell therapy for spina bifida, cerebral palsy and spinal cord injury — reports</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<h1>Cell therapy for the neurological sequelae of spina bifida, cerebral palsy and spinal cord
injury: what the published trials show</h1>
<p>{len(trials)} sources, each number traced to a verbatim quote of its source document.
Secondary sources (press reports) and abstract-only sources are marked in colour.</p>
<h2>Reports</h2>
<ul>{links}</ul>
<h2>Trials</h2>
<table>
<thead><tr><th>trial</th><th>condition</th><th>cells</th><th>route × administrations</th>
<th>n</th><th>source</th><th>warnings</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
<h2>How this set was produced</h2>
<ul class="muted">{provenance}</ul>
</body>
</html>
"""
