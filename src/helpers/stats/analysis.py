"""The analysis: settings checked together, and every result computed as tidy tables.

Results are data. :func:`compute` turns the processed tables into the result tables described
in :data:`helpers.data.RESULTS` (per-trial estimates, safety bounds, pooled or side-by-side
estimates, votes, GRADE ratings, flags) before any page is drawn; the pipeline writes them to
``data/results/`` with their dictionary and the settings used (:func:`write`); pages and
analysts read them back (:func:`load_or_compute`), and the "what changed" page compares them
between regenerations.

:class:`Settings` holds the analysis choices the synthesis notebook exposes as parameters. The
defaults are the review's protocol; :meth:`Settings.from_parameters` checks every parameter
at once and names every problem in one message, so a notebook stops in its first cell.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from helpers import data, paths
from helpers.data import store
from helpers.evidence import sources
from helpers.stats import estimates, meta, synthesis

SETTINGS_TABLE = "settings"


@dataclass(frozen=True)
class Settings:
    """Analysis choices; the defaults are the protocol's."""

    tau2_method: str = "REML"  # between-trial variance estimator (metafor's method=)
    test: str = "knha"  # "knha" (Hartung-Knapp) or "z" intervals for pooled estimates
    assumed_r: float = estimates.PRIMARY_R  # pre-post correlation (cited in estimates)
    r_grid: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)  # correlations in the sensitivity table
    source_kinds: tuple[str, ...] = sources.KINDS  # kinds of most complete report included
    min_k: int = 3  # fewest trials that may be pooled

    @classmethod
    def from_parameters(cls, **parameters: object) -> Settings:
        """Settings from notebook parameters, every one checked; one ValueError lists every
        problem. Lists given as text (papermill's ``-p name value``) are read as lists."""
        problems: list[str] = []
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(parameters) - known)
        if unknown:
            problems.append(f"unknown settings {unknown}; the settings are {sorted(known)}")
        values = {name: value for name, value in parameters.items() if name in known}
        checked: dict[str, object] = {}
        for name, value in values.items():
            try:
                checked[name] = _CHECKS[name](value)
            except ValueError as problem:
                problems.append(f"{name}: {problem}")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**checked)

    def changed(self) -> dict[str, tuple[object, object]]:
        """Settings that differ from the protocol: name -> (protocol, this)."""
        protocol = Settings()
        return {
            f.name: (getattr(protocol, f.name), getattr(self, f.name))
            for f in fields(self)
            if getattr(protocol, f.name) != getattr(self, f.name)
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per setting, values as text (stored beside the results)."""
        return pd.DataFrame(
            [{"setting": name, "value": repr(value)} for name, value in asdict(self).items()],
            dtype="string",
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Settings:
        values = {row.setting: ast.literal_eval(row.value) for row in frame.itertuples()}
        return cls.from_parameters(**values)


def _sequence(value: object) -> list[object]:
    """A list from a list, a tuple, or text: "[0.3, 0.5]", "0.3, 0.5" or one item."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "(")):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ValueError(f"expected a list, got {value!r}") from None
            return list(parsed) if isinstance(parsed, list | tuple) else [parsed]
        return [item.strip() for item in text.split(",") if item.strip()]
    raise ValueError(f"expected a list, got {value!r} (a single value: write [{value!r}])")


def _correlation(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"expected a correlation, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not -1 < number < 1:
        raise ValueError(f"expected a correlation strictly between -1 and 1, got {value!r}")
    return number


def _r_grid(value: object) -> tuple[float, ...]:
    grid = tuple(_correlation(item) for item in _sequence(value))
    if not grid:
        raise ValueError("expected at least one correlation")
    return grid


def _choice(options: Sequence[str]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in options:
            raise ValueError(f"expected one of {list(options)}, got {value!r}")
        return str(value)

    return check


def _kinds(value: object) -> tuple[str, ...]:
    kinds = tuple(str(item) for item in _sequence(value))
    unknown = [kind for kind in kinds if kind not in sources.KINDS]
    if unknown or not kinds:
        raise ValueError(f"expected kinds of report among {list(sources.KINDS)}, got {unknown}")
    return kinds


def _min_k(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"expected a whole number of trials, got {value!r}")
    if value < 2:
        raise ValueError(f"expected at least 2 (pooling needs two trials), got {value!r}")
    return int(value)


_CHECKS: dict[str, Callable[[object], object]] = {
    "tau2_method": _choice(meta.METHODS),
    "test": _choice(meta.TESTS),
    "assumed_r": _correlation,
    "r_grid": _r_grid,
    "source_kinds": _kinds,
    "min_k": _min_k,
}

# What the analysis computes: each function turns the processed tables into result tables
# named in helpers.data.RESULTS. Per-trial estimates come first: the synthesis reads them.
Computation = Callable[[Mapping[str, pd.DataFrame], Settings], dict[str, pd.DataFrame]]
COMPUTATIONS: list[Computation] = [estimates.trial_results, synthesis.compute]


def compute(
    tables: Mapping[str, pd.DataFrame], settings: Settings | None = None
) -> dict[str, pd.DataFrame]:
    """Every result table from the processed tables (pure: reads and writes no file)."""
    settings = settings or Settings()
    results: dict[str, pd.DataFrame] = {}
    for computation in COMPUTATIONS:
        for name, frame in computation({**tables, **results}, settings).items():
            results[name] = data.conform(name, frame)
    missing = sorted(set(data.RESULTS) - set(results))
    if missing:
        raise RuntimeError(f"no computation produced the result tables {missing}")
    return results


def write(
    results: Mapping[str, pd.DataFrame], settings: Settings, directory: Path | None = None
) -> None:
    """Write the results, their dictionary and the settings; the folder is replaced only when
    every file is written."""
    store.write_atomically(
        {
            **results,
            "results_dictionary": data.results_dictionary(),
            SETTINGS_TABLE: settings.to_frame(),
        },
        directory or paths.results_dir(),
    )


def stored_settings(directory: Path | None = None) -> Settings | None:
    """The settings the stored results were computed with (None when there are none)."""
    path = (directory or paths.results_dir()) / f"{SETTINGS_TABLE}.csv"
    if not path.is_file():
        return None
    return Settings.from_frame(pd.read_csv(path, dtype="string"))


def load_or_compute(
    settings: Settings, tables: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """The stored results when they were computed with ``settings`` (what the pipeline
    publishes), else results computed now from the processed tables."""
    if stored_settings() == settings:
        return data.load_results()
    return compute(tables if tables is not None else data.load_all(), settings)
