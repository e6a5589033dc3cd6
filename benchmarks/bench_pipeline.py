"""Wall time and memory of report regeneration, measured on scratch copies of the project.

Run standalone: ``.venv/bin/python benchmarks/bench_pipeline.py [--trials 100]``. Progress goes
to stderr; the figures are printed as a markdown section for ``benchmarks/README.md``. Every
run has ``CELL_EVIDENCE_ROOT`` pointing to a copy of ``data/``, ``notebooks/*.ipynb`` and
``pyproject.toml`` in a temporary folder, so the project's own ``reports/`` and
``data/processed/`` are never touched.

1. Full regeneration of the real trials with ``python -m helpers.run.pipeline --force`` versus the
   naive way, measured in the same run: for each notebook in order (01_ingest, 02_trial_summary
   once per trial with ``-p trial_id <id>``, 03_synthesis) the papermill CLI, then
   ``jupyter nbconvert --to html --no-input``, one after another.
2. A no-op rerun (the median, minimum and maximum of ``--noop-runs`` runs, each a new
   interpreter), and a rerun after editing one trial's sheet (which pages were rebuilt).
3. Scale: ``--trials`` synthetic trials (``benchmarks/synthetic.py``) added to the real ones:
   full regeneration time, peak memory of the whole process tree (the sum of the RSS of the
   pipeline process and all its descendants, read from /proc every 0.2 s; shared pages count
   once per process, so this overstates the memory really used), and per trial page where the
   time goes (``build/timings.json``, written by the pipeline), and a no-op rerun at that scale.

Notebooks that do not exist yet are skipped by both ways alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import synthetic

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the project's .venv/bin
KERNEL = "cell-evidence"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
EDITED_SHEET = "sci_honmou2021"


@dataclass
class Timed:
    seconds: float
    peak_rss: int = 0  # bytes, summed over the process tree; 0 when not sampled


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def scratch_project(parent: Path, name: str) -> Path:
    """A copy of the project's inputs: data/, the numbered notebooks and pyproject.toml."""
    root = parent / name
    shutil.copytree(PROJECT / "data", root / "data")
    (root / "notebooks").mkdir()
    for notebook in sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    shutil.copy2(PROJECT / "pyproject.toml", root / "pyproject.toml")
    return root


def tree_rss(root_pid: int) -> int:
    """Bytes of RSS summed over ``root_pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"{entry.path}/statm", encoding="ascii") as statm:
                pages = int(statm.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = pages * PAGE_SIZE
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run(command: list[str], root: Path, *, sample_memory: bool = False) -> Timed:
    """Run ``command`` on the scratch project ``root``; fails loudly with its output."""
    env = {**os.environ, "CELL_EVIDENCE_ROOT": str(root)}
    output = root / "build" / "bench.log"
    output.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with output.open("w", encoding="utf-8") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=sink)
        if sample_memory:

            def sample() -> None:
                nonlocal peak
                while process.poll() is None:
                    peak = max(peak, tree_rss(process.pid))
                    time.sleep(0.2)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - started
        if sample_memory:
            sampler.join()
    if code != 0:
        tail = output.read_text(encoding="utf-8")[-3000:]
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{tail}")
    return Timed(seconds, peak)


def pipeline(root: Path, *args: str, sample_memory: bool = False) -> Timed:
    return run(
        [sys.executable, "-m", "helpers.run.pipeline", *args], root, sample_memory=sample_memory
    )


def noop_runs(root: Path, runs: int) -> list[float]:
    """Wall times of ``runs`` reruns with nothing to do; the pages must stay untouched."""
    before = page_stamps(root)
    times = [pipeline(root).seconds for _ in range(runs)]
    assert page_stamps(root) == before, "a no-op rerun rewrote pages"
    return times


def spread(times: list[float]) -> str:
    return (
        f"{statistics.median(times):.2f} s (median of {len(times)}; "
        f"{min(times):.2f}-{max(times):.2f})"
    )


def trial_ids(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "data" / "extraction").glob("[!_]*.yaml"))


def naive(root: Path) -> tuple[Timed, int]:
    """papermill CLI then nbconvert, per notebook in order, one after another."""
    notebooks = root / "notebooks"
    runs = [("01_ingest", {})]
    runs += [("02_trial_summary", {"trial_id": t}) for t in trial_ids(root)]
    runs += [("03_synthesis", {})]
    runs = [(name, params) for name, params in runs if (notebooks / f"{name}.ipynb").is_file()]
    out_dir = root / "naive"
    out_dir.mkdir()
    started = time.perf_counter()
    for name, params in runs:
        out = out_dir / "-".join([name, *params.values()])
        parameters = [part for key, value in params.items() for part in ("-p", key, value)]
        papermill = [str(BIN / "papermill"), str(notebooks / f"{name}.ipynb"), f"{out}.ipynb"]
        run([*papermill, "-k", KERNEL, *parameters], root)
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", f"{out}.ipynb"], root)
    return Timed(time.perf_counter() - started), len(runs)


def page_stamps(root: Path) -> dict[str, int]:
    reports = root / "reports"
    return {str(p.relative_to(reports)): p.stat().st_mtime_ns for p in reports.rglob("*.html")}


def step_timings(root: Path) -> dict:
    return json.loads((root / "build" / "timings.json").read_text(encoding="utf-8"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            memory = int(meminfo.readline().split()[1]) / 1024**2
    except (OSError, StopIteration):
        memory = float("nan")
    return (
        f"{cpu} ({platform.machine()}), {os.cpu_count()} cores, {memory:.0f} GB RAM, "
        f"Python {platform.python_version()}"
    )


def calibration() -> float:
    """Seconds for ``python3 -c "sum(range(10**8))"`` (best of 3): the machine's speed now.

    The machine is shared: the same benchmark has taken 3.6 times longer on a busy afternoon,
    so figures are compared through this, not as seconds alone.
    """
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "sum(range(10**8))"], check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def tree_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def where_time_goes(timings: dict) -> list[str]:
    """Markdown rows: per trial page, seconds of kernel start, execution and rendering."""
    steps = timings["steps"]
    trials = [v for name, v in steps.items() if name.startswith("trial-")]
    # A kernel's start is charged to its first notebook, whichever that is: share it out.
    starts = [step["kernel"] for step in steps.values() if step.get("kernel")]
    shared = sum(starts) / len(trials)
    rows = [
        f"| kernel start ({len(starts)} kernels of ~{statistics.mean(starts):.1f} s, shared by "
        f"all {sum('execute' in step for step in steps.values())} notebooks) | {sum(starts):.1f} "
        f"| {shared:.3f} | {shared:.3f} |"
    ]
    for key, what in (
        ("execute", "execution (kernel reset + cells)"),
        ("render", "rendering (nbconvert, in the pipeline process while the kernels work)"),
    ):
        values = [step[key] for step in trials]
        rows.append(
            f"| {what} | {sum(values):.1f} | {statistics.median(values):.3f} "
            f"| {statistics.mean(values):.3f} |"
        )
    return rows


def real_trials(scratch: Path, reruns: int) -> list[str]:
    """Markdown rows: the real trials, ours against the naive way, no-op and edited reruns."""
    real = scratch / "ours"
    n_real = len(trial_ids(real))
    log(f"naive: papermill CLI + nbconvert per notebook, {n_real} trials")
    slow, n_notebooks = naive(scratch_project(scratch, "naive"))
    log(f"  {slow.seconds:.1f} s for {n_notebooks} notebooks")
    log("ours: python -m helpers.run.pipeline --force")
    ours = pipeline(real, "--force")
    log(f"  {ours.seconds:.1f} s")

    log(f"no-op rerun, {reruns} times")
    noop = noop_runs(real, reruns)
    log(f"  {spread(noop)}")

    log(f"rerun after editing data/extraction/{EDITED_SHEET}.yaml")
    sheet = real / "data" / "extraction" / f"{EDITED_SHEET}.yaml"
    text = sheet.read_text(encoding="utf-8")
    sheet.write_text(
        text.replace("extracted_by:", "extracted_by: 'second reviewer checked' #", 1),
        encoding="utf-8",
    )
    before = page_stamps(real)
    edit = pipeline(real)
    after = page_stamps(real)
    rebuilt = sorted(page for page in after if after[page] != before.get(page))
    log(f"  {edit.seconds:.1f} s, rebuilt {rebuilt}")

    return [
        f"| naive full regeneration, {n_real} real trials: papermill CLI then "
        f"`jupyter nbconvert --to html --no-input`, per notebook ({n_notebooks}), "
        "one after another "
        f"| {slow.seconds:.1f} s | |",
        f"| `python -m helpers.run.pipeline --force`, same {n_real} trials "
        f"| {ours.seconds:.1f} s | |",
        f"| ratio ours / naive | {ours.seconds / slow.seconds:.2f} | ≤ 0.5 |",
        f"| no-op rerun (`python -m helpers.run.pipeline`), {n_real} trials "
        f"| {spread(noop)} | ≤ 0.5 s |",
        f"| rerun after editing `data/extraction/{EDITED_SHEET}.yaml` | {edit.seconds:.1f} s | |",
        f"| pages rebuilt by that rerun | {', '.join(rebuilt)} "
        "| ingest, that trial, synthesis, index |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100, help="synthetic trials (0: skip)")
    parser.add_argument("--noop-runs", type=int, default=9, help="no-op reruns to time")
    parser.add_argument(
        "--scale-only", action="store_true", help="only the synthetic scale (1,000 trials: ~8 min)"
    )
    args = parser.parse_args(argv)
    load_before, date = load(), datetime.now(UTC).strftime("%Y-%m-%d (%H:%M UTC)")
    speed = calibration()
    lines: list[str] = [
        "# Pipeline benchmarks (`helpers.run.pipeline`)",
        "",
        "Command: `.venv/bin/python benchmarks/bench_pipeline.py "
        f"--trials {args.trials} --noop-runs {args.noop_runs}"
        f"{' --scale-only' if args.scale_only else ''}`, "
        "on scratch copies of the project (`CELL_EVIDENCE_ROOT`); every time is the wall "
        "time of the whole command, interpreter start included.",
        "",
        f"Machine: {machine()}.  ",
        f"Date: {date}; load average (1, 5, 15 min) {load_before} at the start; "
        f'`python3 -c "sum(range(10**8))"` took {speed:.2f} s (the best of 3: how fast the '
        "machine was that hour).",
        "",
        "| measurement | result | target |",
        "| --- | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        scratch = Path(tmp)
        n_real = len(trial_ids(scratch_project(scratch, "ours")))
        if not args.scale_only:
            lines += real_trials(scratch, args.noop_runs)

        if args.trials:
            big = scratch_project(scratch, "scale")
            synthetic.generate(big, args.trials)
            n_big = len(trial_ids(big))
            log(f"scale: {n_big} trials ({args.trials} synthetic), --force, sampling memory")
            scale = pipeline(big, "--force", sample_memory=True)
            log(f"  {scale.seconds:.1f} s, peak {scale.peak_rss / 1024**3:.2f} GB")
            log(f"no-op rerun at scale, {args.noop_runs} times")
            big_noop = noop_runs(big, args.noop_runs)
            log(f"  {spread(big_noop)}")
            timings = step_timings(big)
            ingest = sum(timings["steps"]["ingest"].values())
            synthesis = timings["steps"].get("synthesis", {}).get("execute", 0.0)
            results = timings["steps"].get("results", {}).get("compute", 0.0)
            reports = big / "reports"
            trial_pages = [page.stat().st_size for page in (reports / "trials").glob("*.html")]
            lines += [
                f"| full regeneration, {n_big} trials ({args.trials} synthetic + {n_real} real) "
                f"| {scale.seconds:.1f} s | ≤ 480 s at 1,000 trials |",
                "| peak memory: sum of the RSS of the pipeline process and all its descendants "
                f"(kernels), sampled every 0.2 s from /proc | {scale.peak_rss / 1024**3:.2f} GB "
                "| < 2 GB |",
                f"| no-op rerun, {n_big} trials | {spread(big_noop)} | ≤ 0.5 s |",
                f"| synthesis page | {(reports / 'synthesis.html').stat().st_size / 1024:.0f} KB "
                "| bounded |",
                f"| trial pages: median, largest | {statistics.median(trial_pages) / 1024:.0f} KB, "
                f"{max(trial_pages) / 1024:.0f} KB | |",
                f"| the whole site (`reports/`) | {tree_bytes(reports) / 1024**2:.0f} MB | |",
                "",
                "Where the time goes at scale, from `build/timings.json`: ingestion "
                f"{ingest:.1f} s (alone), the result tables {results:.1f} s (in the pipeline "
                f"process), then the {n_big} trial pages and the synthesis "
                f"({synthesis:.1f} s) in parallel on {os.cpu_count()} workers, about "
                f"{scale.seconds - ingest - results:.0f} s of wall time, i.e. "
                f"{(scale.seconds - ingest - results) / n_big:.2f} s per trial page.",
                "",
                "| per trial page | total (s) | median (s) | mean (s) |",
                "| --- | ---: | ---: | ---: |",
                *where_time_goes(timings),
            ]
    # The machine's speed can drift during a long run: measured again, the reader sees by how much.
    lines += [
        "",
        f"Load average at the end: {load()}; "
        f'`python3 -c "sum(range(10**8))"` took {calibration():.2f} s at the end.',
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
