"""The benchmark's synthetic trials are valid: ingestion accepts them and yields their rows."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from support import FIXTURE_DATA, scratch_project

from helpers import paths
from helpers.evidence import ingest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import synthetic  # noqa: E402


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A scratch project root with the fixture evidence base (its sheets stay in)."""
    root = scratch_project(tmp_path / "project", notebooks=False)
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(root))
    return root


def test_three_synthetic_trials_ingest_with_their_expected_rows(project):
    expected = synthetic.generate(project, 3)
    tables = ingest.run()

    ids = {trial.trial_id for trial in expected}
    assert ids == {"syn_trial_000", "syn_trial_001", "syn_trial_002"}
    assert ids <= set(tables["trials"]["trial_id"])
    for trial in expected:

        def rows(table: str, trial_id: str = trial.trial_id) -> int:
            return int((tables[table]["trial_id"] == trial_id).sum())

        assert rows("outcomes") == trial.outcome_rows
        assert rows("adverse_events") == trial.adverse_events
        assert rows("characteristics") == trial.characteristics
        assert rows("limitations") == trial.limitations
        assert rows("appraisal") == 10
        assert rows("outcome_narratives") == 0
        assert rows("provenance") > 10  # every quote located in its own document
    synthetic_outcomes = tables["outcomes"][tables["outcomes"]["trial_id"].isin(ids)]
    assert set(synthetic_outcomes["kind"]) <= {"continuous", "count"}
    assert synthetic_outcomes.groupby(["trial_id", "outcome_id"]).size().between(2, 3).all()
    assert (project / "data" / "processed" / "trials.csv").is_file()


def test_generation_is_deterministic_and_independent_of_n(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root, n in ((first, 2), (second, 4)):
        shutil.copytree(FIXTURE_DATA, root / "data")
        synthetic.generate(root, n, seed=7)
    for name in ("raw/syn_trial_001.txt", "extraction/syn_trial_001.yaml"):
        assert (first / "data" / name).read_bytes() == (second / "data" / name).read_bytes()
    other = tmp_path / "c"
    shutil.copytree(FIXTURE_DATA, other / "data")
    synthetic.generate(other, 2, seed=8)
    assert (other / "data/raw/syn_trial_001.txt").read_bytes() != (
        first / "data/raw/syn_trial_001.txt"
    ).read_bytes()
