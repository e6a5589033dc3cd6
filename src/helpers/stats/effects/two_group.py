"""Two-group measures as metafor ``escalc``: 2x2 counts (RR, OR, RD) and group means (MD, SMD,
ROM)."""

from __future__ import annotations

import numpy as np

from helpers.stats.effects.checks import (
    _require,
)
from helpers.stats.effects.sizes import small_sample_correction


def _two_by_two(
    measure: str, a: dict[str, np.ndarray], *, add: float, to: str, drop00: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ai, ci = a["ai"], a["ci"]
    for name in ("ai", "bi", "ci", "di", "n1i", "n2i"):
        if name in a:
            _require(a[name] >= 0, f"escalc: {name} must be >= 0, got {a[name].tolist()}")
    for events, non_events, total, group in (("ai", "bi", "n1i", 1), ("ci", "di", "n2i", 2)):
        if non_events in a and total in a:
            _require(
                a[total] == a[events] + a[non_events],
                f"escalc: {total} must equal {events} + {non_events} (group {group})",
            )
        if total in a:
            _require(
                a[events] <= a[total],
                f"escalc: {events} must be <= {total}, got {a[events].tolist()} vs "
                f"{a[total].tolist()}",
            )
    bi = a["bi"] if "bi" in a else a["n1i"] - ai
    di = a["di"] if "di" in a else a["n2i"] - ci
    ai, bi, ci, di = (cell.astype(float).copy() for cell in (ai, bi, ci, di))
    _require((ai + bi > 0) & (ci + di > 0), "escalc: every group needs n1i, n2i > 0")
    study_n = ai + bi + ci + di
    if drop00:
        double_zero = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
        for cell in (ai, bi, ci, di):
            cell[double_zero] = np.nan
    zero_cell = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    corrected = {
        "only0": zero_cell,
        "all": np.ones_like(zero_cell),
        "if0all": np.full_like(zero_cell, zero_cell.any()),
        "none": np.zeros_like(zero_cell),
    }[to]
    increment = np.where(corrected, add, 0.0)
    ai, bi, ci, di = ai + increment, bi + increment, ci + increment, di + increment
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        elif measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
        else:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return yi, vi, study_n


def _two_group_means(
    measure: str, a: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m1, sd1, n1, m2, sd2, n2 = (a[name] for name in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))
    for name in ("sd1i", "sd2i"):
        _require(a[name] >= 0, f"escalc: {name} must be >= 0, got {a[name].tolist()}")
    for name in ("n1i", "n2i"):
        _require(a[name] > 0, f"escalc: {name} must be > 0, got {a[name].tolist()}")
    if measure == "MD":
        return m1 - m2, sd1**2 / n1 + sd2**2 / n2, n1 + n2
    if measure == "ROM":
        _require(
            m1 / m2 > 0,
            f"escalc: ROM needs means of the same sign (log of m1i/m2i), got m1i = "
            f"{m1.tolist()}, m2i = {m2.tolist()}",
        )
        return np.log(m1 / m2), sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2), n1 + n2
    df = n1 + n2 - 2
    _require(df > 1, f"escalc: SMD needs n1i + n2i > 3, got {(n1 + n2).tolist()}")
    pooled_sd = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / df)
    _require(pooled_sd > 0, "escalc: SMD is undefined where both SDs are 0")
    yi = small_sample_correction(df) * ((m1 - m2) / pooled_sd)
    vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    return yi, vi, n1 + n2
