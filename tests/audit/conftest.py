"""Fixtures for the audit tests; the private HOME and XDG folders come from tests/conftest.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Collect the child processes a test starts, and kill and reap any still running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait()
