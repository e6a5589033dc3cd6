"""metafor's printing conventions (``print.rma.uni``, ``summary.rma``, ``predict``; 4 decimals)."""

from __future__ import annotations

from collections.abc import Sequence

from helpers.stats.effects.sizes import _fixed

_LABEL_WIDTH = 49  # metafor aligns the heterogeneity values in column 50
_SIGNIF_LEGEND = (
    "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 "
    "\u2018.\u2019 0.1 \u2018 \u2019 1"
)


def _format_p(p: float, digits: int = 4, *, with_relation: bool = False) -> str:
    """metafor's ``.pval``: ``0.0019`` or ``<.0001`` (``= 0.0019`` / ``< .0001`` in sentences)."""
    if p >= 10.0**-digits:
        text = _fixed(p, digits)
        return f"= {text}" if with_relation else text
    cutoff = "." + "0" * (digits - 1) + "1"
    return f"< {cutoff}" if with_relation else f"<{cutoff}"


def _stars(p: float) -> str:
    """Significance stars (R's ``symnum`` with metafor's cut points)."""
    for cut, symbol in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cut:
            return symbol
    return " "


def _aligned(names: Sequence[str], values: Sequence[str], gap: str = "  ") -> list[str]:
    """Header and value line, each column right-aligned to its widest entry (``.print.vector``)."""
    widths = [max(len(n), len(v)) for n, v in zip(names, values, strict=True)]
    header = gap.join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    row = gap.join(v.rjust(w) for v, w in zip(values, widths, strict=True))
    return [header.rstrip(), row.rstrip()]
