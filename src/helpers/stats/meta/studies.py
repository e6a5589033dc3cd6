"""The studies a fit takes: arrays, ``EffectSizes`` or an ``escalc`` data frame, after the
missing-value policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.stats.effects.checks import ArrayLike, _as_float_array
from helpers.stats.effects.missing import _complete_rows, _float_column
from helpers.stats.effects.sizes import EffectSizes, _default_slab


def _check_yi_vi(yi: ArrayLike, vi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _as_float_array("yi", yi)
    v = _as_float_array("vi", vi)
    if y.size != v.size:
        raise ValueError(f"yi and vi lengths differ: {y.size} vs {v.size}")
    if np.any(v <= 0):
        raise ValueError(f"vi must be > 0 (sampling variances), got {v.tolist()}")
    return y, v


@dataclass(frozen=True)
class _Studies:
    """Complete study rows: yi, vi, labels and what escalc knew about them."""

    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...] | None
    ni: np.ndarray | None
    measure: str | None


def _studies(
    caller: str,
    yi: object,
    vi: object,
    slab: Sequence[object] | str | None,
    na_action: str,
) -> _Studies:
    """Study rows from arrays, an EffectSizes or an escalc DataFrame, after the na_action policy."""
    measure: str | None = None
    ni: np.ndarray | None = None
    row_names: list[object] | None = None
    if isinstance(yi, EffectSizes | pd.DataFrame) and vi is not None:
        raise ValueError(f"{caller}: give effect sizes, or yi and vi, not both")
    if isinstance(yi, EffectSizes):
        measure, ni = yi.measure, yi.ni
        slab = yi.slab if slab is None else slab
        yi, vi = yi.yi, yi.vi
    elif isinstance(yi, pd.DataFrame):
        frame = yi
        missing = [column for column in ("yi", "vi") if column not in frame.columns]
        if missing:
            raise ValueError(
                f"{caller}: the data frame lacks {missing}; pass escalc(..., data=...) output "
                "or yi and vi"
            )
        if isinstance(slab, str):
            if slab not in frame.columns:
                raise ValueError(f"{caller}: slab {slab!r} is not a column of the data frame")
            slab = frame[slab]
        measure = frame.attrs.get("measure")
        row_names = list(frame.index)
        yi, vi = frame["yi"], frame["vi"]
    elif vi is None:
        raise ValueError(f"{caller}: vi (the sampling variances) is missing")
    elif isinstance(slab, str):
        raise ValueError(f"{caller}: slab names a column only when a data frame is given")
    y = _float_column("yi", yi)
    v = _float_column("vi", vi)
    if y.size != v.size:
        raise ValueError(f"yi and vi lengths differ: {y.size} vs {v.size}")
    labels = None if slab is None else tuple(str(label) for label in slab)
    if labels is not None and len(labels) != y.size:
        raise ValueError(f"{caller}: slab has {len(labels)} labels for {y.size} studies")
    if row_names is None:
        row_names = list(labels) if labels is not None else list(range(y.size))
    keep = _complete_rows(caller, {"'yi'": y, "'vi'": v}, row_names, na_action)
    if not keep.all():
        labels = (
            _default_slab(np.flatnonzero(keep))
            if labels is None
            else tuple(label for label, flag in zip(labels, keep, strict=True) if flag)
        )
        ni = None if ni is None else ni[keep]
    y, v = _check_yi_vi(y[keep], v[keep])
    return _Studies(yi=y, vi=v, slab=labels, ni=ni, measure=measure)
