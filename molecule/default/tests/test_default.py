"""Verify the molecule gateways after converge: tunnels up, keys safe, spreading loaded."""

import json
import re
import time

import pytest

# (gateway, interface, peer tunnel address)
TUNNELS = [("mol-hub", "wg-mol-spoke1", "198.18.10.1"), ("mol-hub", "wg-mol-spoke2", "198.18.10.3"),
           ("mol-spoke1", "wg-mol-hub", "198.18.10.0"), ("mol-spoke2", "wg-mol-hub", "198.18.10.2")]
# the link each peer tunnel address belongs to
LINK_OF = {"198.18.10.0": "hub-spoke1", "198.18.10.1": "hub-spoke1",
           "198.18.10.2": "hub-spoke2", "198.18.10.3": "hub-spoke2"}


def tunnels_of(host):
    name = host.backend.get_hostname()
    return [t for t in TUNNELS if t[0] == name]


def test_every_tunnel_pings_and_has_a_recent_handshake(host):
    assert tunnels_of(host), "no tunnels expected on %s" % host.backend.get_hostname()
    for _gateway, interface, peer in tunnels_of(host):
        assert host.interface(interface).exists
        ping = host.run("ping -c 3 -i 0.2 -W 2 -q %s", peer)
        assert ping.rc == 0 and " 0% packet loss" in ping.stdout, ping.stdout
        dump = host.check_output("wg show %s dump", interface).splitlines()
        handshake = int(dump[1].split("\t")[4])
        assert 0 < time.time() - handshake < 180


def test_tunnels_run_as_wg_quick_units_enabled_at_boot(host):
    for _gateway, interface, _peer in tunnels_of(host):
        service = host.service("wg-quick@%s" % interface)
        assert service.is_running and service.is_enabled


def test_key_files_are_root_only(host):
    directory = host.file("/etc/wireguard/wgspread")
    assert directory.is_directory and directory.mode == 0o700 and directory.user == "root"
    names = host.check_output("ls /etc/wireguard/wgspread").split()
    # one private key and one preshared key per link
    assert sorted(name.rsplit(".", 1)[1] for name in names) == sorted(["key", "psk"] * len(tunnels_of(host)))
    for name in names:
        key = host.file("/etc/wireguard/wgspread/" + name)
        assert key.mode == 0o600 and key.user == "root" and key.group == "root"
        assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", key.content_string.strip())


def test_spreading_table_is_loaded_and_persisted(host):
    table = json.loads(host.check_output("nft -j list table inet wgspread"))
    comments = [item["rule"].get("comment", "") for item in table["nftables"] if "rule" in item]
    spread_to = sorted(c.split(": spread to ")[1] for c in comments if ": spread to " in c)
    fold_from = sorted(c.split(": fold back from ")[1] for c in comments if ": fold back from " in c)
    peers = sorted("mol-" + interface[len("wg-mol-"):] for _g, interface, _p in tunnels_of(host))
    assert spread_to == peers and fold_from == peers
    assert host.service("wgspread-nft.service").is_enabled


@pytest.mark.parametrize("path", ["/etc/wgspread/wgspread.nft"])
def test_rendered_table_is_valid_nft(host, path):
    assert host.run("nft -c -f %s", path).rc == 0


def received_per_port(host, link):
    """Packets of one link this gateway received, per port (the role's meter chain, port_spread_meter)."""
    table = json.loads(host.check_output("nft -j list chain inet wgspread rx_per_cpu"))
    counts = {}
    for item in table["nftables"]:
        rule = item.get("rule")
        if rule and rule.get("comment", "").startswith(link + " port "):
            port = int(rule["comment"].split()[2])
            packets = next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
            counts[port] = counts.get(port, 0) + packets
    return counts


def test_replies_come_back_spread_evenly_over_every_receive_port(host):
    """Ping the peer through the tunnel: its replies reach us spread over our ports (2 CPUs: 2 ports)."""
    for _gateway, _interface, peer in tunnels_of(host):
        link = LINK_OF[peer]
        before = received_per_port(host, link)
        ping = host.run("ping -q -i 0.005 -W 1 -c 400 %s", peer)
        assert " 0% packet loss" in ping.stdout, ping.stdout
        after = received_per_port(host, link)
        delta = dict((port, after[port] - before.get(port, 0)) for port in after)
        assert len(delta) == 2, delta
        assert all(abs(packets - 200) <= 10 for packets in delta.values()), (link, delta)
