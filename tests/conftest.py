"""Session fixtures: the frozen fixture evidence base (tests/fixtures), ingested once."""

from __future__ import annotations

import pandas as pd
import pytest
import support


@pytest.fixture(scope="session")
def fixture_tables() -> dict[str, pd.DataFrame]:
    """Every processed table of the fixture evidence base."""
    return support.fixture_tables()
