"""Spreading rules as data, and nft JSON normalization (with recorded nft -j output)."""

import json
import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import plan_tunnels as gateway_tunnels
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import (
    counters, meter_counts, meter_rules, normalize, spread_rules,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nft")
INVENTORY = ["hub", "spoke1"]
HOSTVARS = {"hub": {"ansible_host": "198.51.100.11", "wgspread_receive_cpus": 2},
            "spoke1": {"ansible_host": "198.51.100.12", "wgspread_receive_cpus": 4}}
LINK = {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820}


def rules_of(gateway, link=None, send=True):
    return spread_rules(gateway_tunnels([link or LINK], gateway, INVENTORY, HOSTVARS), send=send)


def test_sender_maps_the_peer_listen_port_onto_the_peer_port_set_and_receiver_folds_back():
    hub = rules_of("hub")
    assert hub["output"] == [
        'ip daddr 198.51.100.12 udp sport 51820 udp dport 51820 notrack udp dport set numgen inc mod 4 '
        'map { 0 : 51820, 1 : 51821, 2 : 51822, 3 : 51823 } comment "hub-spoke1: spread to spoke1"']
    assert hub["prerouting"] == [
        'ip saddr 198.51.100.12 udp dport { 51820, 51821 } notrack udp dport set 51820 '
        'comment "hub-spoke1: fold back from spoke1"']


def test_receive_first_rules_do_not_rewrite():
    hub = rules_of("hub", send=False)
    assert "numgen" not in hub["output"][0] and "notrack" in hub["output"][0]
    assert hub["prerouting"] == rules_of("hub")["prerouting"]


def test_spreading_off_means_no_rules():
    assert rules_of("hub", dict(LINK, spread={"enabled": False})) == {"output": [], "prerouting": []}


def test_ipv6_underlay_uses_ip6_matches():
    hostvars = {"hub": {"wgspread_underlay_address": "2001:db8::1", "wgspread_receive_cpus": 1},
                "spoke1": {"wgspread_underlay_address": "2001:db8::2", "wgspread_receive_cpus": 1}}
    rules = spread_rules(gateway_tunnels([LINK], "hub", INVENTORY, hostvars))
    assert rules["output"][0].startswith("ip6 daddr 2001:db8::2 udp sport 51820 udp dport 51820 notrack comment")
    assert rules["prerouting"][0].startswith("ip6 saddr 2001:db8::2 udp dport { 51820 } notrack udp dport set 51820")


def test_ipv6_sender_zeroes_the_flow_label_so_receivers_hash_the_spread_ports():
    hostvars = {"hub": {"wgspread_underlay_address": "2001:db8::1", "wgspread_receive_cpus": 2},
                "spoke1": {"wgspread_underlay_address": "2001:db8::2", "wgspread_receive_cpus": 2}}
    rules = spread_rules(gateway_tunnels([LINK], "hub", INVENTORY, hostvars))
    assert rules["output"] == [
        'ip6 daddr 2001:db8::2 udp sport 51820 udp dport 51820 notrack udp dport set numgen inc mod 2 '
        'map { 0 : 51820, 1 : 51821 } ip6 flowlabel set 0 comment "hub-spoke1: spread to spoke1"']
    # nothing to spread, nothing to relabel: the flow keeps the label the kernel gave it
    assert "flowlabel" not in spread_rules(gateway_tunnels([LINK], "hub", INVENTORY, hostvars), send=False)["output"][0]


def test_spreading_refuses_a_dns_endpoint_naming_the_field():
    """Refused by the site-pair checks already, before any host changes (and by spread_rules itself)."""
    link = dict(LINK, endpoints={"spoke1": "spoke1.example.net"})
    with pytest.raises(ValueError, match=r"link hub-spoke1: endpoints.spoke1 'spoke1.example.net' is a host name, "
                                         r"but spreading matches the peer by address"):
        rules_of("hub", link)
    (tunnel,) = gateway_tunnels([dict(link, spread={"enabled": False})], "hub", INVENTORY, HOSTVARS)
    tunnel["spread"] = {"enabled": True, "send_ports": [51820], "receive_ports": [51820]}
    with pytest.raises(ValueError, match="link hub-spoke1: spreading needs the peer's underlay as an IP address.*endpoints.spoke1"):
        spread_rules([tunnel])


def test_meter_counts_every_receive_port_on_every_cpu():
    rules = meter_rules(gateway_tunnels([LINK], "hub", INVENTORY, HOSTVARS), 2)
    assert len(rules) == 4
    assert rules[0] == 'ip saddr 198.51.100.12 udp dport 51820 meta cpu 0 counter comment "hub-spoke1 port 51820 cpu 0"'


def load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def test_normalize_ignores_handles_counters_and_set_order():
    live = load("wgspread-live.json")
    assert normalize(live) == normalize(load("wgspread-live-counted-reordered.json"))
    assert not any("handle" in json.dumps(obj) for obj in normalize(live))


def test_normalize_sees_a_changed_rule():
    assert normalize(load("wgspread-live.json")) != normalize(load("wgspread-live-port-changed.json"))


def test_counters_by_comment():
    counted = counters(load("wgspread-live-counted-reordered.json"))
    assert counted["hub-spoke1 port 51820 cpu 0"] > 0


def test_meter_counts_sum_per_port_and_per_cpu_for_each_link():
    counts = meter_counts(load("lab-hub-rx-per-cpu.json"))
    assert counts == {
        "hub-spoke1": {"ports": {51820: 1000, 51821: 1000}, "cpus": {0: 1011, 1: 989},
                       "port_cpus": {51820: {0: 512, 1: 488}, 51821: {0: 499, 1: 501}}, "total": 2000},
        "hub-spoke2": {"ports": {51920: 1000, 51921: 1000}, "cpus": {0: 911, 1: 1089},
                       "port_cpus": {51920: {0: 459, 1: 541}, 51921: {0: 452, 1: 548}}, "total": 2000},
    }


def test_meter_counts_ignore_rules_that_are_not_meters():
    assert meter_counts(load("wgspread-live.json")).keys() == {"hub-spoke1"}


def test_receive_first_rules_rewrite_nothing_on_any_tunnel():
    links = [LINK, {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51920}]
    hostvars = dict(HOSTVARS, spoke2={"ansible_host": "198.51.100.13", "wgspread_receive_cpus": 2})
    tunnels = gateway_tunnels(links, "hub", INVENTORY + ["spoke2"], hostvars)
    assert [("numgen" in rule) for rule in spread_rules(tunnels)["output"]] == [True, True]
    assert [("numgen" in rule) for rule in spread_rules(tunnels, send=False)["output"]] == [False, False]


def test_changing_ports_folds_back_old_and_new_first_and_only_new_after():
    """Shrinking spoke1's set from 4 ports to 2: the first table (send=False) folds back the
    union and sends to the listen port; the full table then folds back only the new set."""
    (spoke1,) = gateway_tunnels([LINK], "spoke1", INVENTORY, HOSTVARS)  # 4 receive ports
    smaller = dict(spoke1, spread=dict(spoke1["spread"], receive_ports=[51820, 51821]))
    live = {"hub-spoke1": [51820, 51821, 51822, 51823]}
    first = spread_rules([smaller], send=False, live_fold=live)
    assert "udp dport { 51820, 51821, 51822, 51823 } notrack" in first["prerouting"][0]
    assert "numgen" not in first["output"][0]
    final = spread_rules([smaller], live_fold=live)
    assert "udp dport { 51820, 51821 } notrack" in final["prerouting"][0]
    assert "numgen inc mod 2" in final["output"][0]


def test_a_peer_outside_the_run_gets_the_listen_port_and_keeps_its_old_ports_folded():
    (hub,) = gateway_tunnels([LINK], "hub", INVENTORY, HOSTVARS)
    rules = spread_rules([hub], run_hosts=["hub"], live_fold={"hub-spoke1": [51820, 51825]})
    assert "numgen" not in rules["output"][0] and "udp dport 51820 notrack" in rules["output"][0]
    assert "udp dport { 51820, 51821, 51825 } notrack" in rules["prerouting"][0]
    assert spread_rules([hub], run_hosts=["hub", "spoke1"], live_fold={"hub-spoke1": [51825]}) == spread_rules([hub])


def test_live_fold_ports_read_from_a_recorded_table():
    from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import live_fold_ports
    assert live_fold_ports(load("wgspread-live.json")) == {"hub-spoke1": [51820, 51821]}
    assert live_fold_ports(load("wgspread-live-port-changed.json")) == {"hub-spoke1": [51820, 51822]}
    assert live_fold_ports(None) == {}
