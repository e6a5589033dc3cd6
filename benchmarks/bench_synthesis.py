"""The synthesis at scale: time of its result tables, and the size of its page.

Run standalone: ``.venv/bin/python benchmarks/bench_synthesis.py [--trials 200]``. On a scratch
copy of the project (``CELL_EVIDENCE_ROOT``) with ``--trials`` synthetic trials
(``benchmarks/synthetic.py``) added to the real ones: ingestion, the synthesis result tables
(:func:`helpers.stats.synthesis.compute`, timed in this process, with the process's peak RSS),
then the synthesis page as the pipeline makes it (papermill on the project's kernel, rendered by
:func:`helpers.pages.site.render_notebook`). The page must stay bounded: long tables show their
first rows and say where the rest are, figures draw at most a fixed number of rows. Progress goes
to stderr; the figures are printed as a markdown section for ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import synthetic

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOK = "03_synthesis.ipynb"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def scratch_project(root: Path) -> Path:
    shutil.copytree(PROJECT / "data", root / "data")
    (root / "notebooks").mkdir()
    shutil.copy2(PROJECT / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    shutil.copy2(PROJECT / "pyproject.toml", root / "pyproject.toml")
    return root


def page_figures(document: str) -> dict[str, object]:
    """What the page holds: bytes, tables and their longest, figures and their bytes."""
    bodies = re.findall(r"<tbody>(.*?)</tbody>", document, flags=re.S)
    images = re.findall(r'src="data:image/[^;]+;base64,([A-Za-z0-9+/=]+)"', document)
    return {
        "bytes": len(document.encode("utf-8")),
        "tables": len(bodies),
        "longest table (rows)": max((body.count("<tr>") for body in bodies), default=0),
        "figures": len(images),
        "figure bytes (base64)": sum(len(image) for image in images),
        "cut tables": document.count("are shown; every row is in"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="synthetic trials to add")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-synthesis-"))
    root = scratch_project(scratch / "project")
    os.environ["CELL_EVIDENCE_ROOT"] = str(root)
    try:
        from helpers.evidence import ingest
        from helpers.pages import site
        from helpers.run.kernel import KERNEL_ARGUMENTS, KERNEL_NAME, IPCKernelManager
        from helpers.stats import analysis

        synthetic.generate(root, args.trials)
        log(f"ingesting {args.trials} synthetic trials and the real ones")
        start = time.perf_counter()
        tables = ingest.run()
        ingest_seconds = time.perf_counter() - start
        log("computing the result tables")
        start = time.perf_counter()
        results = analysis.compute(tables)
        compute_seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        largest = max(results.items(), key=lambda item: len(item[1]))
        log("rendering the synthesis page")
        import nbformat
        import papermill

        output = scratch / "synthesis.ipynb"
        start = time.perf_counter()
        papermill.execute_notebook(
            str(root / "notebooks" / NOTEBOOK),
            str(output),
            kernel_name=KERNEL_NAME,
            kernel_manager_class=IPCKernelManager,
            extra_arguments=KERNEL_ARGUMENTS,
            cwd=str(root / "notebooks"),
            progress_bar=False,
            log_output=False,
        )
        document = site.render_notebook(nbformat.read(output, as_version=4))
        page_seconds = time.perf_counter() - start
        saved = PROJECT / "build" / f"synthesis-{len(tables['trials'])}-trials.html"
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(document, encoding="utf-8")
        figures = page_figures(document)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"""# Synthesis at scale (`helpers.stats.synthesis`, `helpers.pages.synthesis`)

Command: `.venv/bin/python benchmarks/bench_synthesis.py --trials {args.trials}`, on a scratch copy
of the project with {args.trials} synthetic trials added to the real ones
({len(tables["trials"])} trials in all).

Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.
Date: {datetime.now(UTC):%Y-%m-%d (%H:%M UTC)}; load average (1, 5, 15 min) {load} at the end.

| measurement | result |
| --- | ---: |
| ingestion | {ingest_seconds:.1f} s |
| synthesis result tables (`analysis.compute`) | {compute_seconds:.1f} s |
| peak RSS of that process | {peak / 1e9:.2f} GB |
| largest result table | {largest[0]}, {len(largest[1])} rows |
| synthesis page: papermill run and rendering | {page_seconds:.1f} s |
| page size | {figures["bytes"] / 1e3:.0f} KB |
| tables on the page / longest (rows) | {figures["tables"]} / {figures["longest table (rows)"]} |
| tables cut to their first rows (the rest named) | {figures["cut tables"]} |
| figures / their size (base64) | {figures["figures"]} / {figures["figure bytes (base64)"] / 1e3:.0f} KB |

The page is saved as `{saved.relative_to(PROJECT)}`.""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
