"""Timing of the statistics code: escalc and REML at k = 1000, the GLMM at k = 100, printing.

Run standalone: ``.venv/bin/python benchmarks/bench_stats.py [--repeats N]``. Prints a markdown
table (median and min of N repeats, time.perf_counter) for the statistics section of
benchmarks/README.md. For scale: metafor's ``rma(method="REML")`` takes about 2.4 s at k = 1000
(issue text).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from helpers.stats.effects import escalc
from helpers.stats.meta import leave1out, rma, rma_glmm_proportions

SEED = 20260101


def simulated_effects(k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k log-odds-ratio-like studies: mu = -0.5, tau^2 = 0.1, per-study n between 20 and 400."""
    n = rng.integers(20, 400, size=k)
    vi = 4 / n
    yi = rng.normal(-0.5, np.sqrt(0.1 + vi))
    return yi, vi


def simulated_two_arm_trials(k: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """k two-arm trials: 2x2 counts (risks ~0.1 vs ~0.15, some zero cells) and group means."""
    n1, n2 = rng.integers(10, 300, size=k), rng.integers(10, 300, size=k)
    return {
        "ai": rng.binomial(n1, 0.1),
        "n1i": n1,
        "ci": rng.binomial(n2, 0.15),
        "n2i": n2,
        "m1i": rng.normal(52, 5, size=k),
        "sd1i": rng.uniform(8, 12, size=k),
        "m2i": rng.normal(50, 5, size=k),
        "sd2i": rng.uniform(8, 12, size=k),
    }


def simulated_proportions(k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k single-arm studies: logit p ~ N(-2.5, 0.5^2), n between 10 and 200 (some zeros)."""
    totals = rng.integers(10, 200, size=k)
    probabilities = 1 / (1 + np.exp(-rng.normal(-2.5, 0.5, size=k)))
    return rng.binomial(totals, probabilities), totals


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_call(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    function()  # warm-up (imports, caches)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()

    rng = np.random.default_rng(SEED)
    yi_1000, vi_1000 = simulated_effects(1000, rng)
    yi_13, vi_13 = simulated_effects(13, rng)
    events_100, totals_100 = simulated_proportions(100, rng)
    trials = simulated_two_arm_trials(1000, rng)
    counts = {name: trials[name] for name in ("ai", "n1i", "ci", "n2i")}
    means = {name: trials[name] for name in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")}
    tiny = 1e-5  # the same effects in other units: every vi ~ 1e-12 (scale-relative convergence)
    fitted = rma(yi_1000, vi_1000)

    cases: list[tuple[str, Callable[[], object], int]] = [
        ("rma REML, k = 1000", lambda: rma(yi_1000, vi_1000, method="REML"), args.repeats),
        (
            "rma REML + Knapp-Hartung, k = 1000",
            lambda: rma(yi_1000, vi_1000, method="REML", test="knha"),
            args.repeats,
        ),
        ("rma PM, k = 1000", lambda: rma(yi_1000, vi_1000, method="PM"), args.repeats),
        (
            "rma REML, k = 1000, yi x 1e-5 and vi x 1e-10",
            lambda: rma(yi_1000 * tiny, vi_1000 * tiny**2, method="REML"),
            args.repeats,
        ),
        (
            "escalc OR (2x2 counts, zero cells), k = 1000",
            lambda: escalc("OR", **counts),
            args.repeats,
        ),
        ("escalc SMD (group means), k = 1000", lambda: escalc("SMD", **means), args.repeats),
        (
            "str(rma result) + summary(), k = 1000",
            lambda: (str(fitted), str(fitted.summary())),
            args.repeats,
        ),
        ("rma REML, k = 13", lambda: rma(yi_13, vi_13, method="REML"), args.repeats),
        ("leave1out REML, k = 13", lambda: leave1out(yi_13, vi_13), args.repeats),
        (
            "rma_glmm_proportions (nAGQ 7), k = 100",
            lambda: rma_glmm_proportions(events_100, totals_100),
            max(5, args.repeats // 5),
        ),
    ]

    print(
        f"Machine: {cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print()
    print("| case | repeats | median (ms) | min (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for name, function, repeats in cases:
        median, fastest = time_call(function, repeats)
        print(f"| {name} | {repeats} | {median * 1e3:.2f} | {fastest * 1e3:.2f} |")


if __name__ == "__main__":
    main()
