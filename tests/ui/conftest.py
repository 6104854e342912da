"""Fixtures for Pilot tests: a workspace opened in the test's isolated folders."""

from __future__ import annotations

import pytest

from app.core.workspace import open_workspace


@pytest.fixture
def workspace():
    opened = open_workspace()
    yield opened
    opened.close()
