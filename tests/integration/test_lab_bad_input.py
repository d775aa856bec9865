"""Bad input is refused before any gateway changes, with a message naming the link and
the field. The rows are the table in docs/bad-input.md; each one is a real site.yml run
against the lab."""

import copy
import json
import os
import re

import pytest
import yaml

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from labkit import GATEWAYS, INVENTORY, ROOT, lab_links, links_vars, playbook, sh

TABLE = os.path.join(ROOT, "docs", "bad-input.md")
ROW_RE = re.compile(r"^\| (\d+) \| ([^|]+) \| `(.+)` \| `(.+)` \|$")


def table_rows():
    with open(TABLE) as handle:
        text = handle.read()
    body = text.split("<!-- rows: kind | change | message -->", 1)[1].split("<!-- end of rows -->", 1)[0]
    rows = [ROW_RE.match(line) for line in body.splitlines() if re.match(r"^\| \d+ ", line)]
    assert all(rows), "a row of %s does not parse" % TABLE
    return [(int(m.group(1)), m.group(2).strip(), m.group(3), m.group(4)) for m in rows]


ROWS = table_rows()


def run_args(tmp_path, change):
    """The -e arguments for one row's change (see the table's "how to read")."""
    if change.startswith("-e "):
        path = tmp_path / "extra.json"
        path.write_text(json.dumps(yaml.safe_load(change[3:])))
        return ["-e", "@%s" % path]
    links = copy.deepcopy(lab_links())
    if change.startswith("+ "):
        links.append(yaml.safe_load(change[2:]))
    else:
        name, fields = change.split(": ", 1)
        (link,) = [link for link in links if link["name"] == name]
        for key, value in yaml.safe_load(fields).items():
            if value is None:
                link.pop(key)
            else:
                link[key] = value
    return links_vars(tmp_path, links)


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


def test_the_table_has_at_least_twenty_kinds():
    assert len(ROWS) >= 20 and [row[0] for row in ROWS] == list(range(1, len(ROWS) + 1))


@pytest.mark.parametrize("number, kind, change, message", ROWS, ids=["%d %s" % row[:2] for row in ROWS])
def test_bad_input_is_refused_before_any_change(lab_state, fact_cache, tmp_path, number, kind, change, message):
    run = playbook("site.yml", INVENTORY, *run_args(tmp_path, change), env_extra=fact_cache)
    assert run.rc != 0
    assert message in run.out, "row %d (%s): %s" % (number, kind, run.out[-3000:])
    assert run.changed() == 0, run.recap
    for gateway in GATEWAYS:
        assert gateway_state(gateway) == lab_state[gateway], "row %d changed %s" % (number, gateway)
