"""Snapshots draw local times and the zone's name: every snapshot runs in UTC unless a test
asks for another zone, so that they pass on any host."""

from __future__ import annotations

import pytest

from tests.clock import time_zone


@pytest.fixture(autouse=True)
def utc_host():
    with time_zone("UTC"):
        yield
