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

Analysts call :func:`helpers.stats.analysis.compute` (or ``load_or_compute``), which runs the
per-trial results first and then :func:`compute` on the processed and per-trial tables; nothing
here reads or writes a file except :func:`.context.load_prior_meta_analyses`.

>>> from helpers import data                                  # doctest: +SKIP
>>> from helpers.stats import analysis                        # doctest: +SKIP
>>> results = analysis.compute(data.load_all())               # doctest: +SKIP
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
    """Every synthesis result table from the processed tables and the per-trial result tables
    (``trial_*``, computed first by :func:`helpers.stats.analysis.compute`).

    Tables whose rows belong to one trial each are computed once on every trial (the
    source-kind sensitivity analysis needs them all) and then kept for the trials whose kinds
    of report the settings include; the tables that combine trials use those trials only.
    """
    if settings is None:
        from helpers.stats.analysis import Settings

        settings = Settings()
    everything: dict[str, pd.DataFrame] = {
        **safety.per_trial(tables),
        **efficacy.per_trial(tables, r=settings.assumed_r),
        **votes.per_trial(tables),
    }
    selected = select_sources(tables, settings.source_kinds)
    ids = set(selected["trials"]["trial_id"])
    results = {
        name: frame[frame["trial_id"].isin(ids)].reset_index(drop=True)
        for name, frame in everything.items()
    }
    trials = selected["trials"]
    method, test, min_k = settings.tau2_method, settings.test, settings.min_k
    results.update(safety.across_trials(results, trials, min_k=min_k, method=method))
    found, fits = efficacy.across_trials(results, min_k=min_k, method=method, test=test)
    results.update(found)
    results.update(votes.across_trials(results, trials))
    results["synthesis_evidence_map"] = evidence_map.evidence_map(
        selected, results["synthesis_serious_events"]
    )
    results.update(heterogeneity.results(selected, results, method=method, test=test))
    results.update(
        sensitivity.results(everything, tables["trials"], results, fits, grid=settings.r_grid)
    )
    results.update(certainty.results(selected, results))
    results["synthesis_flags"] = flags.flags(results)
    return results
