"""Bad input is refused before any gateway changes, with a message naming the link and
the field. Every row of docs/bad-input.md runs in the unit gate
(tests/unit/test_bad_input_table.py, through the plan role's checks, no host); here the
rows marked ``lab``, one or more per check stage (argument spec, link check, role-input
check, fact-based check), are real site.yml runs against the lab, proving that the refusal
comes before any gateway changed."""

import json

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from bad_input_table import apply_changes, table_rows
from labkit import GATEWAYS, INVENTORY, links_vars, playbook, sh

ROWS = [row for row in table_rows() if row.lab]


def run_args(tmp_path, row):
    """The -e arguments for one row's changes (see the table's "how to read"); lab rows
    change links and extra variables only, as a user's -e would."""
    extra, host_vars, facts, new_hosts = apply_changes(row)
    assert not (host_vars or facts or new_hosts), "row %d: a lab row changes links and -e only" % row.number
    links = extra.pop("wgspread_links")
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(extra))
    return links_vars(tmp_path, links) + ["-e", "@%s" % path]


def gateway_state(gateway):
    """Files we would write, with times, and the whole nft ruleset (counters left out)."""
    files = sh(gateway, "ls -la --time-style=+%s /etc/wireguard /etc/wgspread /etc/systemd/system 2>&1 || true")
    ruleset = normalize(json.loads(sh(gateway, "nft -j list ruleset")))
    return files, ruleset


@pytest.fixture(scope="module")
def lab_state(lab):
    return dict((g, gateway_state(g)) for g in GATEWAYS)


@pytest.fixture(scope="module")
def fact_cache(tmp_path_factory):
    """The gateways' facts, gathered by the first row and reused by the others: every row
    fails before any change, so the facts stay true, and 36 runs save 36 gatherings."""
    path = tmp_path_factory.mktemp("facts")
    return {"ANSIBLE_GATHERING": "smart", "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(path), "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "3600"}


def test_every_stage_has_a_lab_row():
    assert set(row.stage for row in ROWS) == {"spec", "links", "roles", "facts"}


@pytest.mark.parametrize("row", ROWS, ids=[repr(row) for row in ROWS])
def test_bad_input_is_refused_before_any_change(lab_state, fact_cache, tmp_path, row):
    run = playbook("site.yml", INVENTORY, *run_args(tmp_path, row), env_extra=fact_cache)
    assert run.rc != 0
    assert row.message in run.out, "row %d (%s): %s" % (row.number, row.kind, run.out[-3000:])
    assert run.changed() == 0, run.recap
    for gateway in GATEWAYS:
        assert gateway_state(gateway) == lab_state[gateway], "row %d changed %s" % (row.number, gateway)
