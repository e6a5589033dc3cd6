"""The result tables (``data/results/``): every estimate, bound, vote, rating and flag.

Computed from the processed tables by :mod:`helpers.stats` before any page is drawn; pages,
analysts and the "what changed" comparison read them. Each table is a tuple of
:class:`~helpers.data.store.Column`.
"""

from __future__ import annotations

from helpers.data.store import Column

RESULTS: dict[str, tuple[Column, ...]] = {}
