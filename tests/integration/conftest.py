"""Fixtures of the lab integration tests (helpers live in labkit.py)."""

import pytest

import labkit


@pytest.fixture(scope="session")
def lab():
    """A fresh lab for the session, removed afterwards (set WGSPREAD_KEEP_LAB=1 to keep it)."""
    yield from labkit.lab_session()


@pytest.fixture(scope="module")
def rolled_out(lab):
    """The lab as its inventory describes it, rolled out once per test module."""
    run = labkit.playbook("site.yml")
    assert run.rc == 0, run.out[-3000:]
