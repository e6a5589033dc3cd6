"""Every stage holds for any valid evidence base (property-based, with Hypothesis).

Hypothesis draws evidence bases of one to three studies with any field missing, one or two
reports per study (agreeing or not), doses per administration, every outcome kind, units,
and adverse events with counts, percentages only or names only (tests/evidence_strategies.py).
Each goes through ingestion, every trial page, the synthesis page and the index, run as the
pipeline runs them, and must come out without error. The number of examples is small by
default (CI); ``PROPERTY_EXAMPLES=200`` runs a longer search.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from evidence_strategies import evidence_bases, write_evidence
from hypothesis import HealthCheck, Phase, given, settings
from support import FIXTURE_DATA, on_fixture_root, run_notebook_here

from helpers import data, paths
from helpers.evidence import ingest
from helpers.pages import site

NOTEBOOKS = paths.notebooks_dir()
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "8"))
# Shrinking a failure costs minutes here (each example runs every page): only on long searches.
PHASES = tuple(Phase) if "PROPERTY_EXAMPLES" in os.environ else (Phase.explicit, Phase.generate)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    database=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(base=evidence_bases())
def test_every_stage_runs_on_any_valid_evidence(base):
    with tempfile.TemporaryDirectory(prefix="any-evidence-") as scratch:
        root = Path(scratch)
        write_evidence(root, base)
        shutil.copytree(FIXTURE_DATA / "context", root / "data" / "context")
        with on_fixture_root(root):
            tables = ingest.run()
            assert len(tables["trials"]) == len(base)
            for trial_id in tables["trials"]["trial_id"]:
                outputs = run_notebook_here(
                    NOTEBOOKS / "02_trial_summary.ipynb", {"trial_id": trial_id}
                )
                assert any("text/html" in output for output in outputs)
            run_notebook_here(NOTEBOOKS / "03_synthesis.ipynb")
            pages = ["ingest.html", "synthesis.html"] + [
                f"trials/{trial_id}.html" for trial_id in tables["trials"]["trial_id"]
            ]
            index = site.index_page(pages)
            for trial_id in data.load("trials")["trial_id"]:
                assert f"trials/{trial_id}.html" in index
