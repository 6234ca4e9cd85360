"""Fixtures of the page tests: where their screenshots go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PROJECT

SCREENSHOTS = "HACKSERVER_SCREENSHOTS"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """The folder a browser test writes its screenshots into: its own tmp_path, so that a test run
    leaves the tracked files alone, or docs/ when HACKSERVER_SCREENSHOTS=docs asks for new ones."""
    wanted = os.environ.get(SCREENSHOTS, "")
    if wanted == "docs":
        return PROJECT / "docs"
    if wanted:
        pytest.fail(f"{SCREENSHOTS}={wanted!r}: set it to docs, or leave it unset")
    return tmp_path
