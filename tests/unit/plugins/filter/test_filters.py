"""Every filter of the collection: the names the playbooks use, documented, and errors that
reach Ansible as AnsibleFilterError with the message of the logic below (never a traceback)."""

import glob
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.filter import calibration, fleet, links, nic_tuning, peer, spread, wireguard

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
MODULES = (calibration, fleet, links, nic_tuning, peer, spread, wireguard)
ALL = dict((name, function) for module in MODULES for name, function in module.FilterModule().filters().items())


def test_every_filter_is_documented_under_its_own_name():
    documented = set(os.path.basename(path)[:-4] for path in glob.glob(os.path.join(FILTER_DIR, "*.yml")))
    assert documented == set(ALL)
    for name in ALL:
        with open(os.path.join(FILTER_DIR, name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


NOT_A_PLAN = {"links": []}


@pytest.mark.parametrize("name, args, message", [
    ("gateway_plan", (NOT_A_PLAN, "hub"), "^wgspread_plan: not a fleet plan of version 1"),
    ("links_outside_run", (NOT_A_PLAN,), "^wgspread_plan: not a fleet plan"),
    ("links_to_calibrate", (NOT_A_PLAN, ["hub"], "missing"), "^wgspread_plan: not a fleet plan"),
    ("links_to_calibrate", (NOT_A_PLAN, ["hub"], "sometimes"), "^port_spread_calibrate must be one of never, missing, always"),
    ("calibration_probe_links", ([], NOT_A_PLAN, []), "^wgspread_plan: not a fleet plan"),
    ("fleet_report", ({}, NOT_A_PLAN), "^fleet_report: wgspread_plan: not a fleet plan"),
    ("gateway_tunnels", ({"gateways": ["hub"]}, "hub", ["hub"], {}), "^wgspread_links: wgspread_links must be a list"),
    ("spread_rules", ([{"link": "l", "gateway": "hub", "peer": "spoke1", "peer_endpoint": "spoke1.lan", "listen_port": 1,
                        "peer_listen_port": 1, "spread": {"enabled": True, "send_ports": [1], "receive_ports": [1]}}],),
     "^link l: spreading needs the peer's underlay as an IP address"),
])
def test_errors_reach_ansible_with_the_message(name, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ALL[name](*args)


def test_link_errors_lists_the_problems_instead_of_failing():
    assert ALL["link_errors"]([{"gateways": ["hub", "spoke9"]}], ["hub"], {}) == [
        "wgspread_links[0]: gateways: spoke9 not in the inventory"]
