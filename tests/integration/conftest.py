"""Fixtures of the lab integration tests (helpers live in labkit.py)."""

import pytest

import labkit


@pytest.fixture(scope="session")
def lab():
    """A fresh lab for the session, removed afterwards (set WGSPREAD_KEEP_LAB=1 to keep it)."""
    yield from labkit.lab_session()
