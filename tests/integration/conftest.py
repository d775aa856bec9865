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


# The modules that need the lab as `scripts/lab up --no-site` leaves it (no site.yml has run on
# it yet) run first, in this order; the others follow in file order. test_lab_rollout.py's
# check-mode run on a fresh lab asserts that nothing exists yet, and later modules (the firewall
# managers, metrics) roll out the lab themselves.
FRESH_LAB_FIRST = ("test_lab_bad_input.py", "test_lab_rollout.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return FRESH_LAB_FIRST.index(name) if name in FRESH_LAB_FIRST else len(FRESH_LAB_FIRST)
    items.sort(key=rank)  # stable: file and test order are kept within each rank
