"""Sliced runs (wgspread_exchange fact_cache): records, the plan over several slices, derived keys."""

import json

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError
from ansible_collections.sitelink.wgspread.plugins.module_utils.peer_record import (
    check_record, derive_psk, make_record,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan, links_outside_run
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import is_wireguard_key, key_specs, tunnel_specs

KEY = {"hub": "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28=", "spoke1": "c3Bva2Ux" + "A" * 35 + "=",
       "spoke2": "c3Bva2Uy" + "A" * 35 + "="}
SECRET = "correct horse battery staple, thirty-two+"
HOSTVARS = {
    "hub": {"ansible_host": "198.51.100.11", "wgspread_site_networks": ["10.0.0.0/24"],
            "ansible_facts": {"processor_nproc": 2, "interfaces": ["lo", "eth0", "wg-spoke1"],
                              "eth0": {"type": "ether"}, "wg_spoke1": {"type": "tunnel"},
                              "default_ipv4": {"address": "198.51.100.11", "gateway": "198.51.100.1"}}},
    "spoke1": {"ansible_host": "198.51.100.12", "wgspread_site_networks": ["10.0.1.0/24"],
               "ansible_facts": {"processor_nproc": 4}},
    "spoke2": {"ansible_host": "198.51.100.13", "ansible_facts": {"processor_nproc": 2}},
}
LINKS = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51920},
    {"name": "spoke1-spoke2", "gateways": ["spoke1", "spoke2"], "subnet": "198.18.0.4/31", "listen_port": 52020},
]


def record(host, links=("hub-spoke1", "hub-spoke2", "spoke1-spoke2")):
    keys = dict((link, KEY[host]) for link in links if host in link)
    # through JSON, as the fact cache keeps it
    return json.loads(json.dumps(make_record(host, HOSTVARS[host], HOSTVARS[host]["ansible_facts"], keys, "gateways")))


def slice_plan(hosts, records, links=LINKS, secret=SECRET):
    return build_plan(links, hosts, dict((h, HOSTVARS[h]) for h in hosts), run_hosts=hosts,
                      exchange="fact_cache", peer_records=records,
                      psk_secret_length=len(secret)).as_dict()


def test_a_record_holds_what_the_plan_reads_and_public_keys_only():
    rec = record("hub")
    assert rec["vars"] == {"ansible_host": "198.51.100.11", "wgspread_site_networks": ["10.0.0.0/24"]}
    assert rec["facts"]["default_ipv4"] == {"address": "198.51.100.11"}  # not the whole fact
    assert rec["facts"]["processor_nproc"] == 2 and rec["facts"]["wg_spoke1"] == {"type": "tunnel"}
    assert rec["public_keys"] == {"hub-spoke1": KEY["hub"], "hub-spoke2": KEY["hub"]}
    assert check_record("hub", rec, is_wireguard_key) is None


@pytest.mark.parametrize("change, why", [
    (lambda r: r.update(version=2), "version 2"),
    (lambda r: r.update(gateway="spoke1"), "names another gateway"),
    (lambda r: r.update(private_key="x"), "unknown fields private_key"),
    (lambda r: r["public_keys"].update({"hub-spoke1": "not a key"}), "no WireGuard key"),
    (lambda r: r.update(vars=[]), "vars is not a mapping"),
])
def test_a_record_that_cannot_be_used_says_why(change, why):
    rec = record("hub")
    change(rec)
    assert why in check_record("hub", rec, is_wireguard_key)


def test_the_first_round_publishes_and_reports_cross_slice_links_as_waiting():
    p = slice_plan(["hub"], {})
    assert [w["link"] for w in p["waiting_links"]] == ["hub-spoke1", "hub-spoke2"]
    assert "spoke1: no record in the fact cache yet" in p["waiting_links"][0]["summary"]
    assert p["gateways"]["hub"]["tunnels"] == []
    assert p["gateways"]["hub"]["waiting"] == [{"link": "hub-spoke1", "peer": "spoke1"},
                                               {"link": "hub-spoke2", "peer": "spoke2"}]
    # the link between two gateways of other slices is theirs to report
    assert "spoke1-spoke2" not in [w["link"] for w in p["waiting_links"]]


def test_with_the_records_every_slice_configures_its_ends_mirroring_each_other():
    records = dict((h, record(h)) for h in HOSTVARS)
    hub = slice_plan(["hub"], records)
    spokes = slice_plan(["spoke1", "spoke2"], records)
    assert hub["waiting_links"] == [] and spokes["waiting_links"] == []
    assert hub["cached_peers"] == ["spoke1", "spoke2"] and spokes["cached_peers"] == ["hub"]
    assert hub["gateways"]["hub"]["active_links"] == ["hub-spoke1", "hub-spoke2"]
    assert spokes["gateways"]["spoke1"]["active_links"] == ["hub-spoke1", "spoke1-spoke2"]
    hub_end = hub["gateways"]["hub"]["tunnels"][0]
    spoke_end = next(t for t in spokes["gateways"]["spoke1"]["tunnels"] if t["link"] == "hub-spoke1")
    assert hub_end["peer_public_key"] == KEY["spoke1"] and spoke_end["peer_public_key"] == KEY["hub"]
    # what one end sends to is what the other folds back, each worked out in its own slice
    assert hub_end["spread"]["send_ports"] == spoke_end["spread"]["receive_ports"] == [51820, 51821, 51822, 51823]
    assert spoke_end["spread"]["send_ports"] == hub_end["spread"]["receive_ports"] == [51820, 51821]
    assert spoke_end["peer_allowed_ips"] == ["198.18.0.0/32", "10.0.0.0/24"]
    assert hub_end["peer_endpoint"] == "198.51.100.12"
    # a peer in the same slice still takes its key from the run (None here)
    spoke_spoke = next(t for t in spokes["gateways"]["spoke1"]["tunnels"] if t["link"] == "spoke1-spoke2")
    assert spoke_spoke["peer_public_key"] is None
    assert links_outside_run(hub, ["hub"]) == []


def test_the_same_fleet_planned_in_one_run_and_in_slices_gives_each_end_the_same_tunnel():
    records = dict((h, record(h)) for h in HOSTVARS)
    whole = build_plan(LINKS, list(HOSTVARS), HOSTVARS).as_dict()
    for hosts in (["hub"], ["spoke1"], ["spoke2"]):
        part = slice_plan(hosts, records)
        for host in hosts:
            for mine, theirs in zip(part["gateways"][host]["tunnels"], whole["gateways"][host]["tunnels"], strict=True):
                differing = sorted(k for k in mine if mine[k] != theirs[k])
                assert set(differing) <= {"peer_in_run", "peer_public_key"}, (host, differing)


def test_a_record_without_a_key_for_a_new_link_waits():
    records = dict((h, record(h, links=("hub-spoke1", "hub-spoke2"))) for h in HOSTVARS)
    p = slice_plan(["spoke1"], records)
    assert [w["link"] for w in p["waiting_links"]] == ["spoke1-spoke2"]
    assert "no key for this link yet" in p["waiting_links"][0]["summary"]


def test_a_record_from_a_host_outside_the_gateway_group_is_refused_like_an_inventory_host():
    from ansible_collections.sitelink.wgspread.plugins.module_utils.links import GatewayGroup
    records = dict((h, record(h)) for h in HOSTVARS)
    records["spoke1"]["group"] = "printers"
    with pytest.raises(LinkError, match="spoke1 is in the inventory but not one of the gateways"):
        build_plan(LINKS[:1], ["hub"], {"hub": HOSTVARS["hub"]}, run_hosts=["hub"], exchange="fact_cache",
                   peer_records=records, psk_secret_length=40, gateway_hosts=GatewayGroup("gateways", ["hub"]))


@pytest.mark.parametrize("length", [0, 31])
def test_fact_cache_without_a_long_enough_secret_is_refused_naming_it(length):
    with pytest.raises(LinkError, match="wgspread_psk_secret: .*at least 32 characters"):
        build_plan(LINKS, ["hub"], {"hub": HOSTVARS["hub"]}, run_hosts=["hub"], exchange="fact_cache",
                   peer_records={}, psk_secret_length=length)
    no_psk = [dict(link, preshared_key=False) for link in LINKS]
    build_plan(no_psk, ["hub"], {"hub": HOSTVARS["hub"]}, exchange="fact_cache", peer_records={}, psk_secret_length=length)


def test_an_unknown_exchange_is_refused():
    with pytest.raises(LinkError, match="wgspread_exchange must be one of run, fact_cache"):
        build_plan(LINKS, list(HOSTVARS), HOSTVARS, exchange="redis")


def test_run_mode_still_refuses_a_gateway_outside_the_inventory():
    with pytest.raises(LinkError, match="not in the inventory"):
        build_plan(LINKS, ["hub"], {"hub": HOSTVARS["hub"]}, peer_records={"spoke1": record("spoke1")})


def test_derived_preshared_keys_are_the_same_on_both_ends_and_differ_per_link_and_secret():
    a = derive_psk(SECRET, "hub-spoke1")
    assert is_wireguard_key(a) and a == derive_psk(SECRET, "hub-spoke1")
    assert a != derive_psk(SECRET, "hub-spoke2") and a != derive_psk(SECRET + "x", "hub-spoke1")
    with pytest.raises(ValueError, match="at least 32"):
        derive_psk("short", "hub-spoke1")


def test_the_roles_arguments_use_the_derived_key_and_the_recorded_public_key():
    records = dict((h, record(h)) for h in HOSTVARS)
    tunnels = slice_plan(["hub"], records)["gateways"]["hub"]["tunnels"]
    psks = key_specs(tunnels, "/etc/wireguard/wgspread", "preshared", derived_from=SECRET)
    assert [s["content"] for s in psks] == [derive_psk(SECRET, "hub-spoke1"), derive_psk(SECRET, "hub-spoke2")]
    assert not any(s["rotate"] for s in psks)
    specs = tunnel_specs(tunnels, "/etc/wireguard/wgspread", "/etc/wireguard", {})
    assert [s["peers"][0]["public_key"] for s in specs] == [KEY["spoke1"], KEY["spoke2"]]
