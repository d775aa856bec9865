"""Bad inventories are refused before any gateway changes, with a message naming the
link and the field. Each row is a real site.yml run against the lab."""

import copy

import pytest

from labkit import GATEWAYS, INVENTORY, lab_links, links_vars, playbook, sh


def mutate(change):
    links = copy.deepcopy(lab_links())
    change(links)
    return links


BAD = [
    ("unknown gateway", lambda links: links[0].update(gateways=["hub", "spoke9"]),
     "link hub-spoke1: gateways: spoke9 not in the inventory"),
    ("pair declared twice", lambda links: links.append(dict(links[0], name="again", subnet="198.18.0.8/31", listen_port=51830)),
     "link again: gateways: the pair hub/spoke1 is declared twice"),
    ("listen port collision", lambda links: links[1].update(listen_port=51820),
     "link hub-spoke2: listen_port: 51820 on gateway hub is already used by link hub-spoke1"),
    ("port out of range", lambda links: links[0].update(listen_port=65536),
     "link hub-spoke1: listen_port must be a UDP port between 1 and 65535, got 65536"),
    ("addresses in two subnets", lambda links: (links[0].pop("subnet"), links[0].update(
        addresses={"hub": "198.18.0.0/31", "spoke1": "198.18.0.9/31"})),
     "link hub-spoke1: addresses: 198.18.0.0/31 and 198.18.0.9/31 are not in one subnet"),
    ("address used twice", lambda links: links[1].update(subnet="198.18.0.0/31"),
     "link hub-spoke2: addresses: 198.18.0.0 of hub is also used by link hub-spoke1"),
    ("interface name too long", lambda links: links[0].update(interfaces={"hub": "wg-far-too-long-name"}),
     "link hub-spoke1: interfaces.hub 'wg-far-too-long-name' must be 1-15"),
    ("unknown field", lambda links: links[0].update(keepalive=10),
     "link hub-spoke1: unknown field(s) keepalive"),
    ("mtu out of range", lambda links: links[0].update(mtu=100),
     "link hub-spoke1: mtu must be between 1280 and 9000, got 100"),
    ("listen port missing", lambda links: links[0].pop("listen_port"),
     "link hub-spoke1: listen_port is required"),
]


@pytest.fixture(scope="module")
def lab_state(lab):
    """What each gateway has under /etc/wireguard, to prove a refused run changed nothing."""
    return dict((g, sh(g, "ls -la --time-style=+%s /etc/wireguard 2>&1 || true")) for g in GATEWAYS)


@pytest.mark.parametrize("change, message", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_inventory_is_refused_before_any_change(lab_state, tmp_path, change, message):
    run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, mutate(change)))
    assert run.rc != 0
    assert message in run.out, run.out[-3000:]
    assert run.changed() == 0, run.recap
    for gateway in GATEWAYS:
        assert sh(gateway, "ls -la --time-style=+%s /etc/wireguard 2>&1 || true") == lab_state[gateway]
