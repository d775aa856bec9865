"""The devices under a gateway's tunnels, what carries each tunnel interface, and what one NIC
step needs from the steps before it."""

import json
import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_steps import queues_after, rss_spreads_ports
from ansible_collections.sitelink.wgspread.plugins.module_utils.underlay import (
    first_address, interface_kinds, route_device, underlay, userspace_underlay,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "underlay")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_route_devices_and_names_from_recorded_outputs():
    assert route_device(fixture("route-get-v4.json")) == "eth0"
    assert route_device(fixture("route-get-v6.json")) == "eth0"
    assert route_device("[]") is None
    assert first_address(fixture("getent-localhost.stdout")) == "127.0.0.1"
    assert first_address("") is None


def test_tunnel_interfaces_by_what_carries_them():
    kernel = json.loads(fixture("ip-link-tun.json"))
    for link in kernel:
        if link["ifname"] == "wg-spoke1":
            link["ifname"] = "wg-spoke2"
            link["linkinfo"]["info_kind"] = "wireguard"  # no WireGuard module here: an edited copy
    links = json.loads(fixture("ip-link-tun.json")) + [link for link in kernel if link["ifname"] == "wg-spoke2"]
    assert interface_kinds(json.dumps(links), ["wg-spoke1", "wg-spoke2", "wg-spoke3"]) == {
        "wireguard": ["wg-spoke2"], "tun": ["wg-spoke1"], "absent": ["wg-spoke3"]}
    assert interface_kinds(fixture("ip-link-hub.json"), ["wg-spoke1"])["absent"] == ["wg-spoke1"]


TUNNELS = [{"interface": "wg-spoke1", "peer_endpoint": "198.51.100.12"},
           {"interface": "wg-spoke2", "peer_endpoint": "2001:db8:5100::13"},
           {"interface": "wg-spoke3", "peer_endpoint": "10.9.0.1"}]
ROUTES = {"198.51.100.12": "eth0", "2001:db8:5100::13": "eth1", "10.9.0.1": "wg-spoke1"}


@pytest.mark.parametrize("given, devices", [
    ([], ["eth0", "eth1"]),  # each once, sorted; never a tunnel interface (a peer routed over another tunnel)
    (["bond0"], ["bond0"]),
])
def test_the_devices_to_tune(given, devices):
    assert underlay(ROUTES, [t["interface"] for t in TUNNELS], given) == devices


def test_udp_gro_forwarding_goes_under_the_wireguard_go_tunnels_only():
    kinds = {"wireguard": ["wg-spoke1"], "tun": ["wg-spoke2"], "absent": ["wg-spoke3"]}
    assert userspace_underlay(TUNNELS, kinds, ROUTES, ["eth0", "eth1"], []) == ["eth1"]
    assert userspace_underlay(TUNNELS, kinds, {}, ["bond0"], ["bond0"]) == ["bond0"]
    assert userspace_underlay(TUNNELS, dict(kinds, tun=[]), ROUTES, ["eth0", "eth1"], []) == []


@pytest.mark.parametrize("rss, flow_hash, flow_hash_on, fields, spreads", [
    ([{"item": "eth0", "unsupported": False}], [{"item": "eth0", "unsupported": False}], True, "sdfn", True),
    ([{"item": "eth0", "unsupported": True}], [], True, "sdfn", False),  # veth: no RSS
    ([], [{"item": "eth0", "unsupported": True}], True, "sdfn", False),
    ([], [], True, "sd", False),  # hashing addresses only: ports do not choose the queue
    ([], [], False, "sd", True),  # flow hash step off: the NIC is trusted
    ([{"item": "eth1", "unsupported": True}], [], True, "sdfn", True),  # another device's refusal
])
def test_rss_spreads_ports(rss, flow_hash, flow_hash_on, fields, spreads):
    assert rss_spreads_ports("eth0", {"results": rss}, {"results": flow_hash}, flow_hash_on, fields) is spreads


def test_queues_after_a_predicted_channel_change_in_check_mode_only():
    channels = {"results": [{"item": "eth0", "changed": True, "channels": {"combined": 2, "rx": 0, "tx": 1}}]}
    assert queues_after("eth0", channels, True) == {"rx": 2, "tx": 3}
    assert queues_after("eth0", channels, False) == {}
    assert queues_after("eth1", channels, True) == {}
    assert queues_after("eth0", {}, True) == {}
