"""Fixtures for the tests of the built site (helpers: site_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from site_files import built_site


@pytest.fixture(scope="session")
def site() -> Path:
    return built_site()
