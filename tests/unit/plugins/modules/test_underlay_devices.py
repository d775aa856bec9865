"""underlay_devices: one probe call per gateway; endpoints that cannot be reached are named."""

import os

from ansible_collections.sitelink.wgspread.plugins.modules import underlay_devices
from fakehost import FakeHost, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "underlay")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


TUNNELS = [{"interface": "wg-spoke1", "peer_endpoint": "198.51.100.12"},
           {"interface": "wg-far", "peer_endpoint": "far.example.net"}]


def host():
    commands = {("ip", "-j", "route", "get", "198.51.100.12"): fixture("route-get-v4.json"),
                ("getent", "ahosts", "far.example.net"): fixture("getent-localhost.stdout").replace("127.0.0.1", "198.51.100.12"),
                ("ip", "-j", "-d", "link", "show"): fixture("ip-link-tun.json")}
    return FakeHost(commands=commands)


def test_devices_kinds_and_the_underlay_of_wireguard_go(capsys):
    result = run_module(underlay_devices, {"tunnels": TUNNELS}, host(), check_mode=True, capsys=capsys)
    assert not result.get("failed"), result
    assert result["changed"] is False and result["devices"] == ["eth0"]
    assert result["route_devices"] == {"198.51.100.12": "eth0", "far.example.net": "eth0"}
    assert result["tunnel_kinds"] == {"wireguard": [], "tun": ["wg-spoke1"], "absent": ["wg-far"]}
    assert result["userspace_devices"] == ["eth0"]


def test_given_devices_need_no_routes(capsys):
    gateway = host()
    result = run_module(underlay_devices, {"tunnels": TUNNELS, "devices": ["bond0"]}, gateway, capsys=capsys)
    assert result["devices"] == ["bond0"] and result["route_devices"] == {}
    assert not any(call[:3] == ("ip", "-j", "route") for call in gateway.calls)


def test_a_name_that_does_not_resolve_is_named(capsys):
    gateway = host()
    gateway.commands[("getent", "ahosts", "far.example.net")] = (2, "", "")
    result = run_module(underlay_devices, {"tunnels": TUNNELS}, gateway, capsys=capsys)
    assert result["failed"] and result["msg"].startswith("peer endpoint far.example.net does not resolve on this gateway")
    assert result["msg"].endswith("fix the name or set nic_tuning_devices")


def test_an_endpoint_without_a_route_is_named(capsys):
    gateway = host()
    gateway.commands[("ip", "-j", "route", "get", "198.51.100.12")] = (2, "", "RTNETLINK answers: Network is unreachable\n")
    result = run_module(underlay_devices, {"tunnels": TUNNELS}, gateway, capsys=capsys)
    assert result["failed"] and result["msg"] == ("no route to peer endpoint 198.51.100.12 (RTNETLINK answers: Network is "
                                                  "unreachable); fix the routing or set nic_tuning_devices")
