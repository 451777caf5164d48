"""The fleet every orchestration test runs against (see orchestration_fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orchestration_fakes import Fleet


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path)
    try:
        yield fleet
    finally:
        fleet.close()
    # Every docker command orchestr sent was one the fake understood.
    assert fleet.daemon.errors == []
