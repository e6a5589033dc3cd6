"""Session fixtures: the frozen fixture evidence base, ingested once."""

from __future__ import annotations

import pandas as pd
import pytest
from support import FIXTURE_DATA

from helpers import data
from helpers.evidence import ingest


@pytest.fixture(scope="session")
def fixture_processed(tmp_path_factory):
    """The fixture sheets ingested into a scratch ``processed`` folder."""
    out = tmp_path_factory.mktemp("fixture-processed")
    ingest.run(FIXTURE_DATA / "extraction", FIXTURE_DATA / "raw", out)
    return out


@pytest.fixture(scope="session")
def fixture_tables(fixture_processed) -> dict[str, pd.DataFrame]:
    """Every processed table of the fixture evidence base."""
    return data.load_all(fixture_processed)
