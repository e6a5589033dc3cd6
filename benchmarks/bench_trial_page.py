"""CPU time of one trial page, cell by cell, measured in one process.

Run standalone: ``.venv/bin/python benchmarks/bench_trial_page.py [--trials 200] [--pages 15]``.
A scratch copy of the project (``CELL_EVIDENCE_ROOT`` pointing to a temporary folder) gets
``--trials`` synthetic trials (``benchmarks/synthetic.py``); the pipeline ingests them and
computes the result tables. Then the code cells of ``notebooks/02_trial_summary.ipynb`` run
in an IPython shell in this process, for the last ``--pages`` trials one after another, with
display formatting (SVG figures only, as in the pipeline's kernels). Before each page the shell
is reset and the garbage collector run and frozen, as the pipeline's kernels do.

What a page costs without a kernel: no messages, no papermill, no rendering. Comparing two
versions of the code on the same machine in alternation gives their ratio even on a busy
machine. Figures are CPU seconds (``time.process_time``); the best of ``--passes`` passes
over the pages is reported, page total and the costliest cells.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_pipeline
import synthetic

NOTEBOOK = bench_pipeline.PROJECT / "notebooks" / "02_trial_summary.ipynb"


def prepare(root: Path, trials: int) -> None:
    """Synthetic trials in a scratch project, ingested, with their result tables."""
    synthetic.generate(root, trials)
    environment = {**os.environ, "CELL_EVIDENCE_ROOT": str(root)}
    for stage in ("ingest", "results"):
        command = [sys.executable, "-m", "helpers.run.pipeline", "--quiet", "--stage", stage]
        subprocess.run(command, env=environment, check=True, stdout=subprocess.DEVNULL)


def page_cpu(root: Path, pages: int, passes: int) -> tuple[float, dict[str, float]]:
    """Best CPU seconds per page over ``passes``, and that pass's seconds per cell and page."""
    import matplotlib
    import nbformat
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import paths

    os.environ[paths.ROOT_ENV_VAR] = str(root)
    os.environ[paths.PAGES_ONLY_ENV_VAR] = "1"
    matplotlib.use("agg")
    shell = InteractiveShell.instance()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    parameters, body = cells[0], cells[1:]  # the parameters cell, then the page
    trial_ids = pd.read_csv(root / "data" / "processed" / "trials.csv")["trial_id"].tolist()
    chosen = trial_ids[-pages:]

    def run_page(trial_id: str, per_cell: dict[str, float]) -> None:
        shell.reset(new_session=True)
        gc.collect()
        gc.freeze()
        shell.run_cell(parameters)
        shell.run_cell(f"trial_id = {trial_id!r}")
        for source in body:
            started = time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):
                result = shell.run_cell(source)
            if not result.success:
                raise RuntimeError(f"{trial_id}: cell {source.splitlines()[0]!r} failed")
            name = source.splitlines()[0]
            per_cell[name] = per_cell.get(name, 0.0) + time.process_time() - started

    run_page(chosen[0], {})  # warm: imports and the first parse of every table
    best: tuple[float, dict[str, float]] | None = None
    for _ in range(passes):
        per_cell: dict[str, float] = {}
        started = time.process_time()
        for trial_id in chosen:
            run_page(trial_id, per_cell)
        total = (time.process_time() - started) / len(chosen)
        if best is None or total < best[0]:
            best = (total, {name: seconds / len(chosen) for name, seconds in per_cell.items()})
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="synthetic trials")
    parser.add_argument("--pages", type=int, default=15, help="trial pages per pass")
    parser.add_argument("--passes", type=int, default=3, help="passes; the best is reported")
    parser.add_argument("--cells", type=int, default=8, help="costliest cells to list")
    args = parser.parse_args(argv)
    speed = bench_pipeline.calibration()
    with tempfile.TemporaryDirectory(prefix="bench-trial-page-") as tmp:
        root = bench_pipeline.scratch_project(Path(tmp), "pages")
        bench_pipeline.log(f"{args.trials} synthetic trials: ingestion and result tables")
        prepare(root, args.trials)
        bench_pipeline.log(f"{args.passes} passes over {args.pages} trial pages")
        total, per_cell = page_cpu(root, args.pages, args.passes)
    lines = [
        f"Command: `.venv/bin/python benchmarks/bench_trial_page.py --trials {args.trials} "
        f"--pages {args.pages} --passes {args.passes}`. Machine: {bench_pipeline.machine()}; "
        f'`python3 -c "sum(range(10**8))"` took {speed:.2f} s.',
        "",
        "| CPU per trial page (best pass) | seconds |",
        "| --- | ---: |",
        f"| the whole page | {total:.3f} |",
        *(
            f"| `{name}` | {seconds:.3f} |"
            for name, seconds in sorted(per_cell.items(), key=lambda item: -item[1])[: args.cells]
        ),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
