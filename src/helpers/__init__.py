"""Helpers for the cell-therapy evidence synthesis: every piece of logic the notebooks call.

The subpackages follow the pipeline's stages:

* ``helpers.evidence`` — raw sources, the extraction-sheet schema, consistency checks, ingestion;
* ``helpers.stats`` — effect sizes, pooling, per-trial estimates, synthesis analyses, GRADE;
* ``helpers.pages`` — what the reviewer site shows: sections, tables, figures, styles;
* ``helpers.run`` — the regeneration pipeline and notebook execution.

``paths`` (where things live), ``errors`` (the bad-input error) and ``data`` (typed loading of
the stored tables) serve every stage. Analysts import the modules they use by their short
names, as in ``from helpers import data, effects, meta``; those names are loaded on first use,
so importing ``helpers`` alone stays instant.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

# Short names for the modules analysts use most, loaded lazily.
_SHORT_NAMES = {
    "effects": "helpers.stats.effects",
    "meta": "helpers.stats.meta",
    "estimates": "helpers.stats.estimates",
    "grade": "helpers.stats.grade",
    "synthesis": "helpers.stats.synthesis",
    "forest": "helpers.pages.forest",
    "plots": "helpers.pages.plots",
}


def __getattr__(name: str) -> ModuleType:
    if name in _SHORT_NAMES:
        module = importlib.import_module(_SHORT_NAMES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SHORT_NAMES])
