"""Key rotation requests: which links rotate, and which requests are refused before any change."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan

INVENTORY = ["hub", "spoke1", "spoke2"]
HOSTVARS = {
    "hub": {"ansible_host": "198.51.100.11"},
    "spoke1": {"ansible_host": "198.51.100.12"},
    "spoke2": {"ansible_host": "198.51.100.13"},
}
LINKS = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51920},
]
EVERYONE = ["hub", "spoke1", "spoke2"]


def links_to_rotate(links, rotate, inventory, hostvars, run_hosts):
    """The links the plan rotates (raises LinkError for a refused request)."""
    plan = build_plan(links, inventory, hostvars, run_hosts=run_hosts, rotate=rotate)
    for gateway in plan.gateways.values():  # both ends agree with the plan's list
        assert gateway.rotate_links == [t.link for t in gateway.tunnels if t.link in plan.rotate_links]
    return plan.rotate_links


def rotation_errors(links, rotate, inventory, hostvars, run_hosts):
    try:
        links_to_rotate(links, rotate, inventory, hostvars, run_hosts)
    except LinkError as exc:
        return exc.errors
    return []


@pytest.mark.parametrize("request_, run_hosts, rotating", [
    ([], EVERYONE, []),
    (None, EVERYONE, []),
    ("", EVERYONE, []),
    (["all"], EVERYONE, ["hub-spoke1", "hub-spoke2"]),
    ("all", EVERYONE, ["hub-spoke1", "hub-spoke2"]),
    (["hub-spoke2"], EVERYONE, ["hub-spoke2"]),
    ("hub-spoke2, hub-spoke1", EVERYONE, ["hub-spoke1", "hub-spoke2"]),  # -e name,name; in link order
    # the other link's end being away does not matter to a link that has both ends
    (["hub-spoke1"], ["hub", "spoke1"], ["hub-spoke1"]),
    ([], ["hub"], []),  # no rotation asked: nothing to check
])
def test_links_that_rotate(request_, run_hosts, rotating):
    assert links_to_rotate(LINKS, request_, INVENTORY, HOSTVARS, run_hosts) == rotating
    assert rotation_errors(LINKS, request_, INVENTORY, HOSTVARS, run_hosts) == []


@pytest.mark.parametrize("request_, run_hosts, messages", [
    (["hub-spoke9"], EVERYONE,
     ["wireguard_rotate_keys: no link is named 'hub-spoke9' (links: hub-spoke1, hub-spoke2)"]),
    (["hub-spoke1"], ["hub", "spoke2"],
     ["wireguard_rotate_keys: link hub-spoke1: spoke1 not in this run (unreachable, failed or --limit); "
      "both ends must rotate together"]),
    ("all", ["spoke1"],
     ["wireguard_rotate_keys: link hub-spoke1: hub not in this run (unreachable, failed or --limit); "
      "both ends must rotate together",
      "wireguard_rotate_keys: link hub-spoke2: hub and spoke2 not in this run (unreachable, failed or --limit); "
      "both ends must rotate together"]),
    ([3], EVERYONE, ["wireguard_rotate_keys: give link names or 'all' (a list or a comma-separated string), got [3]"]),
    ({"hub-spoke1": True}, EVERYONE,
     ["wireguard_rotate_keys: give link names or 'all' (a list or a comma-separated string), got {'hub-spoke1': True}"]),
])
def test_refused_requests_name_the_field_and_the_link(request_, run_hosts, messages):
    assert rotation_errors(LINKS, request_, INVENTORY, HOSTVARS, run_hosts) == messages
    with pytest.raises(LinkError):
        links_to_rotate(LINKS, request_, INVENTORY, HOSTVARS, run_hosts)
