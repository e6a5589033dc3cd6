"""Cross-trial synthesis: every analysis of the synthesis page, as result tables.

The evidence is a set of small uncontrolled trials in several conditions, so most of this
package decides *whether* to pool and says why not. :func:`compute` turns the processed
tables (and the per-trial estimates) into the ``synthesis_*`` result tables declared in
:mod:`helpers.data.results`, one module per analysis:

* :mod:`.safety` - serious adverse events per trial and summed, common adverse events by term;
* :mod:`.efficacy` - change from baseline per condition and domain, responder outcomes;
* :mod:`.votes` - direction of effect, one vote per outcome domain per trial (SWiM);
* :mod:`.heterogeneity` - tau², I², prediction intervals, subgroups;
* :mod:`.sensitivity` - kinds of source, leave one out, estimators, the correlation r;
* :mod:`.certainty` - GRADE per condition and outcome, ranked by importance;
* :mod:`.evidence_map`, :mod:`.flags` - who reports what; what the analysis flags;
* :mod:`.context` - published meta-analyses on the same question (an input, not a result).

Analysts call :func:`compute` (or :func:`helpers.stats.analysis.load_or_compute`) and read the
tables; nothing here reads or writes a file except :func:`.context.load_prior_meta_analyses`.

>>> from helpers import data, synthesis                       # doctest: +SKIP
>>> results = synthesis.compute(data.load_all())              # doctest: +SKIP
>>> results["synthesis_vote_tests"].query("level == 'trials'")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from helpers.stats.synthesis import (
    certainty,
    context,
    efficacy,
    evidence_map,
    flags,
    heterogeneity,
    safety,
    sensitivity,
    votes,
)
from helpers.stats.synthesis.common import ALL, SOURCE_KINDS, select_sources, should_pool

if TYPE_CHECKING:
    from helpers.stats.analysis import Settings

__all__ = [
    "ALL",
    "SOURCE_KINDS",
    "certainty",
    "compute",
    "context",
    "efficacy",
    "evidence_map",
    "flags",
    "heterogeneity",
    "safety",
    "select_sources",
    "sensitivity",
    "should_pool",
    "votes",
]


def compute(
    tables: Mapping[str, pd.DataFrame], settings: Settings | None = None
) -> dict[str, pd.DataFrame]:
    """Every synthesis result table from the processed tables (every trial; the settings say
    which kinds of report are included, the source-kind sensitivity analysis uses them all)."""
    if settings is None:
        from helpers.stats.analysis import Settings

        settings = Settings()
    selected = select_sources(tables, settings.source_kinds)
    method, test, min_k = settings.tau2_method, settings.test, settings.min_k
    results: dict[str, pd.DataFrame] = {}
    results.update(safety.results(selected, min_k=min_k, method=method))
    found, fits = efficacy.results(
        selected, r=settings.assumed_r, min_k=min_k, method=method, test=test
    )
    results.update(found)
    results.update(votes.results(selected))
    results["synthesis_evidence_map"] = evidence_map.evidence_map(
        selected, results["synthesis_serious_events"]
    )
    results.update(heterogeneity.results(selected, results, method=method, test=test))
    results.update(
        sensitivity.results(tables, results, fits, r=settings.assumed_r, grid=settings.r_grid)
    )
    results.update(certainty.results(selected, results))
    results["synthesis_flags"] = flags.flags(results)
    return results
