"""Table-driven tests of the site-pair model: good inventories derive the right tunnels,
bad ones are refused with a message that names the link and the field."""

import copy

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import (
    LinkError, default_interface_name, parse_links,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import spread_rules
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan, link_errors
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import links_outside_run as plan_links_outside_run
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import plan_tunnels as gateway_tunnels


def links_outside_run(links, inventory, hostvars, run_hosts):
    return plan_links_outside_run(build_plan(links, inventory, hostvars, run_hosts=run_hosts).as_dict())


INVENTORY = ["hub", "spoke1", "spoke2", "a-gateway-with-a-long-name", "a-gateway-with-a-longer-name"]
HOSTVARS = {
    "hub": {"ansible_host": "198.51.100.11", "wgspread_site_networks": ["10.0.0.0/16"],
            "ansible_facts": {"processor_nproc": 4}},
    "spoke1": {"ansible_host": "198.51.100.12", "ansible_facts": {"processor_nproc": 2}},
    "spoke2": {"ansible_host": "spoke2.example.net",
               "ansible_facts": {"default_ipv4": {"address": "198.51.100.13"}, "processor_nproc": 2}},
    "a-gateway-with-a-long-name": {"wgspread_underlay_address": "2001:db8::1", "wgspread_receive_cpus": 8},
    "a-gateway-with-a-longer-name": {"wgspread_underlay_address": "2001:db8::2", "wgspread_receive_cpus": "3"},
}
HUB_SPOKES = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51920,
     "allowed_ips": {"hub": ["10.1.0.0/16"]}},
]


def tunnels(gateway, links=None):
    return gateway_tunnels(HUB_SPOKES if links is None else links, gateway, INVENTORY, HOSTVARS)


def test_hub_terminates_one_interface_per_link():
    hub = tunnels("hub")
    assert [(t["interface"], t["link"], t["address"], t["listen_port"]) for t in hub] == [
        ("wg-spoke1", "hub-spoke1", "198.18.0.0/31", 51820),
        ("wg-spoke2", "hub-spoke2", "198.18.0.2/31", 51920),
    ]
    assert all(t["preshared_key_owner"] for t in hub)


def test_spoke_sees_the_hub_with_its_site_networks():
    (spoke,) = tunnels("spoke1")
    assert spoke["interface"] == "wg-hub"
    assert spoke["address"] == "198.18.0.1/31"
    assert spoke["peer_endpoint_uri"] == "198.51.100.11:51820"
    assert spoke["peer_allowed_ips"] == ["198.18.0.0/32", "10.0.0.0/16"]
    assert spoke["preshared_key_owner"] is False
    assert spoke["mtu"] == 1420 and spoke["persistent_keepalive"] == 25 and spoke["preshared_key"] is True


def test_hub_routes_extra_prefixes_behind_a_spoke():
    (spoke2,) = tunnels("spoke2")
    assert spoke2["peer_allowed_ips"] == ["198.18.0.2/32", "10.0.0.0/16", "10.1.0.0/16"]


def test_endpoint_falls_back_to_facts_when_ansible_host_is_a_name():
    hub_to_spoke2 = tunnels("hub")[1]
    assert hub_to_spoke2["peer_endpoint"] == "198.51.100.13"


def test_gateway_without_links_has_no_tunnels():
    assert tunnels("a-gateway-with-a-long-name") == []


@pytest.mark.parametrize("subnet, first, second", [
    ("198.18.0.0/31", "198.18.0.0/31", "198.18.0.1/31"),
    ("198.18.0.4/30", "198.18.0.5/30", "198.18.0.6/30"),
    ("198.18.1.0/24", "198.18.1.1/24", "198.18.1.2/24"),
    ("fd00:1::/127", "fd00:1::/127", "fd00:1::1/127"),
    ("fd00:1::/64", "fd00:1::1/64", "fd00:1::2/64"),
])
def test_addresses_derived_from_subnet(subnet, first, second):
    links = [{"gateways": ["hub", "spoke1"], "subnet": subnet, "listen_port": 51820}]
    (parsed,) = parse_links(links, INVENTORY, HOSTVARS)
    assert (str(parsed["addresses"]["hub"]), str(parsed["addresses"]["spoke1"])) == (first, second)
    assert parsed["name"] == "hub-spoke1"


def test_ipv6_underlay_endpoint_in_brackets_and_long_names_hashed():
    links = [{"gateways": ["a-gateway-with-a-long-name", "a-gateway-with-a-longer-name"],
              "addresses": {"a-gateway-with-a-long-name": "fd00::1/64", "a-gateway-with-a-longer-name": "fd00::2/64"},
              "listen_port": {"a-gateway-with-a-long-name": 51820, "a-gateway-with-a-longer-name": 51830}}]
    (t,) = gateway_tunnels(links, "a-gateway-with-a-long-name", INVENTORY, HOSTVARS)
    assert t["peer_endpoint_uri"] == "[2001:db8::2]:51830"
    assert t["peer_allowed_ips"] == ["fd00::2/128"]
    assert len(t["interface"]) <= 15 and len(t["peer_interface"]) <= 15
    assert t["interface"] != t["peer_interface"]


@pytest.mark.parametrize("peer", ["spoke1", "x" * 40, "a-gateway-with-a-long-name", "gw.site_7"])
def test_default_interface_names_are_short_valid_and_stable(peer):
    name = default_interface_name(peer)
    assert 1 <= len(name) <= 15
    assert name == default_interface_name(peer)
    assert all(c.isalnum() or c in "-_." for c in name)


def _with(index, **changes):
    links = copy.deepcopy(HUB_SPOKES)
    for key, value in changes.items():
        if value is None:
            links[index].pop(key, None)
        else:
            links[index][key] = value
    return links


# (description, links, fragment the message must contain)
BAD = [
    ("not a list", {"gateways": []}, "wgspread_links must be a list"),
    ("link not a mapping", ["hub-spoke1"], "wgspread_links[0]: each link must be a mapping"),
    ("unknown field", _with(0, lsiten_port=1), "link hub-spoke1: unknown field(s) lsiten_port"),
    ("one gateway", _with(0, gateways=["hub"]), "link hub-spoke1: gateways must list exactly two"),
    ("same gateway twice", _with(0, gateways=["hub", "hub"]), "gateways: hub is listed twice"),
    ("unknown gateway", _with(0, gateways=["hub", "spoke9"]), "gateways: spoke9 not in the inventory"),
    ("bad name", _with(0, name="hub spoke"), "wgspread_links[0]: name 'hub spoke' must be"),
    ("duplicate name", _with(1, name="hub-spoke1", gateways=["spoke1", "spoke2"]),
     "link hub-spoke1: name: declared twice"),
    ("pair declared twice", _with(1, gateways=["spoke1", "hub"]),
     "link hub-spoke2: gateways: the pair hub/spoke1 is declared twice"),
    ("no subnet nor addresses", _with(0, subnet=None), "link hub-spoke1: give either subnet"),
    ("subnet and addresses", _with(0, addresses={"hub": "198.18.0.0/31", "spoke1": "198.18.0.1/31"}),
     "give either subnet (addresses derived from it) or addresses, not both"),
    ("subnet with host bits", _with(0, subnet="198.18.0.1/30"), "link hub-spoke1: subnet 198.18.0.1/30 has host bits set"),
    ("subnet too small", _with(0, subnet="198.18.0.0/32"), "fewer than two addresses"),
    ("addresses in two subnets", _with(0, subnet=None, addresses={"hub": "198.18.0.0/31", "spoke1": "198.18.0.5/31"}),
     "link hub-spoke1: addresses: 198.18.0.0/31 and 198.18.0.5/31 are not in one subnet"),
    ("address family mix", _with(0, subnet=None, addresses={"hub": "198.18.0.0/31", "spoke1": "fd00::1/127"}),
     "mix IPv4 and IPv6"),
    ("same address both ends", _with(0, subnet=None, addresses={"hub": "198.18.0.5/24", "spoke1": "198.18.0.5/24"}),
     "both gateways have 198.18.0.5"),
    ("address missing for one end", _with(0, subnet=None, addresses={"hub": "198.18.0.0/31"}),
     "link hub-spoke1: addresses: no value for gateway spoke1"),
    ("address reused by another link", _with(1, subnet="198.18.0.0/31"), "link hub-spoke2: addresses: 198.18.0.0 of hub is also used by link hub-spoke1"),
    ("overlapping subnets on one gateway", _with(1, subnet="198.18.0.0/30"), "overlaps 198.18.0.0/31 of link hub-spoke1"),
    ("listen port missing", _with(0, listen_port=None), "link hub-spoke1: listen_port is required"),
    ("listen port out of range", _with(0, listen_port=70000), "link hub-spoke1: listen_port must be a UDP port between 1 and 65535, got 70000"),
    ("listen port a word", _with(0, listen_port="high"), "link hub-spoke1: listen_port must be an integer, got 'high'"),
    ("listen port a boolean", _with(0, listen_port=True), "listen_port must be an integer, got a boolean"),
    ("listen port for a stranger", _with(0, listen_port={"hub": 1, "spoke1": 2, "spoke2": 3}),
     "listen_port: spoke2 is not one of this link's gateways"),
    ("listen port collision on hub", _with(1, listen_port=51820), "link hub-spoke2: listen_port: 51820 on gateway hub is already used by link hub-spoke1"),
    # the spread set is what gives way, whichever link comes first
    ("listen port inside another link's spread ports", _with(1, listen_port=51823),
     "link hub-spoke1: spread: port 51823 on gateway hub is already used by link hub-spoke2"),
    ("spread ports over another link's listen port", _with(1, listen_port=51819),
     "link hub-spoke2: spread: port 51820 on gateway hub is already used by link hub-spoke1"),
    ("spread count zero", _with(0, spread={"count": 0}), "link hub-spoke1: spread.count must be at least 1, got 0"),
    ("spread past the port range", _with(0, spread={"count": 8, "first_port": 65530}),
     "link hub-spoke1: spread: 8 ports from 65530 every 1 end at 65537, past 65535"),
    ("spread step zero", _with(0, spread={"step": 0}), "link hub-spoke1: spread.step must be at least 1, got 0"),
    ("spread ports and count", _with(0, spread={"ports": [1, 2], "count": 2}),
     "link hub-spoke1: spread: give either ports or count/first_port/step, not both"),
    ("spread ports empty", _with(0, spread={"ports": []}), "link hub-spoke1: spread.ports.hub must be a non-empty list"),
    ("spread port out of range", _with(0, spread={"ports": {"hub": [51820, 99999], "spoke1": [51820]}}),
     "link hub-spoke1: spread.ports.hub must be a UDP port between 1 and 65535, got 99999"),
    ("spread enabled not a bool", _with(0, spread={"enabled": "sometimes"}), "link hub-spoke1: spread.enabled must be true or false"),
    ("interface name too long", _with(0, interfaces={"hub": "wg-this-is-too-long"}), "link hub-spoke1: interfaces.hub 'wg-this-is-too-long' must be 1-15"),
    ("interface name collision", _with(1, interfaces={"hub": "wg-spoke1"}),
     "link hub-spoke2: interfaces: wg-spoke1 on gateway hub is already used by link hub-spoke1"),
    ("mtu too small", _with(0, mtu=576), "link hub-spoke1: mtu must be between 1280 and 9000, got 576"),
    ("keepalive negative", _with(0, persistent_keepalive=-1), "link hub-spoke1: persistent_keepalive must be between 0 and 65535, got -1"),
    ("preshared_key not a bool", _with(0, preshared_key="maybe"), "link hub-spoke1: preshared_key must be true or false"),
    ("bad endpoint", _with(0, endpoints={"spoke1": "not a host!"}), "link hub-spoke1: endpoints.spoke1 'not a host!' is neither"),
    ("endpoint for a stranger", _with(0, endpoints={"spoke2": "198.51.100.1"}), "endpoints: spoke2 is not one of this link's gateways"),
    ("allowed_ips not a list", _with(0, allowed_ips={"hub": "10.0.0.0/8"}), "allowed_ips.hub must be a list"),
    ("allowed_ips bad prefix", _with(0, allowed_ips={"hub": ["10.0.0.1/8"]}), "link hub-spoke1: allowed_ips.hub: 10.0.0.1/8 has host bits set"),
    ("unknown spread option", _with(0, spread={"cuont": 4}), "link hub-spoke1: spread: unknown option(s) cuont"),
]


@pytest.mark.parametrize("links, fragment", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_input_is_refused_naming_link_and_field(links, fragment):
    errors = link_errors(links, INVENTORY, HOSTVARS)
    assert any(fragment in error for error in errors), errors
    with pytest.raises(LinkError):
        parse_links(links, INVENTORY, HOSTVARS)


def test_spread_defaults_to_one_port_per_receive_cpu_from_the_listen_port():
    hub = tunnels("hub")[0]
    assert hub["spread"] == {"enabled": True, "send_ports": [51820, 51821], "receive_ports": [51820, 51821, 51822, 51823],
                             "receive_request": {"count": 4, "first_port": 51820, "step": 1}, "calibrated": False}
    (spoke,) = tunnels("spoke1")
    assert spoke["spread"]["send_ports"] == [51820, 51821, 51822, 51823]


@pytest.mark.parametrize("spread, hub_receives, spoke_receives", [
    ({"count": 3, "first_port": 52000, "step": 10}, [52000, 52010, 52020], [52000, 52010, 52020]),
    ({"count": {"hub": 1, "spoke1": 2}}, [51820], [51820, 51821]),
    ({"ports": [51820, 52001]}, [51820, 52001], [51820, 52001]),
    ({"ports": {"hub": [51820], "spoke1": [60000, 60002]}}, [51820], [60000, 60002]),
    ({"enabled": False}, [], []),
])
def test_spread_port_sets(spread, hub_receives, spoke_receives):
    links = _with(0, spread=spread)
    (hub_to_spoke1,) = [t for t in gateway_tunnels(links, "hub", INVENTORY, HOSTVARS) if t["peer"] == "spoke1"]
    assert hub_to_spoke1["spread"]["receive_ports"] == hub_receives
    assert hub_to_spoke1["spread"]["send_ports"] == spoke_receives


def test_spread_auto_without_a_cpu_count_is_unknown_not_an_error():
    """A gateway outside the run (--limit) has no facts: its port set is unknown (None),
    which is no error: its peer sends to its listen port only. A gateway's own unknown
    set (no facts of the gateway being configured) is refused, naming the field."""
    hostvars = dict(HOSTVARS, spoke1={"ansible_host": "198.51.100.12"})
    assert link_errors(HUB_SPOKES, INVENTORY, hostvars) == []
    (to_spoke1,) = [t for t in gateway_tunnels(HUB_SPOKES, "hub", INVENTORY, hostvars) if t["peer"] == "spoke1"]
    assert to_spoke1["spread"]["send_ports"] is None and to_spoke1["spread"]["receive_ports"] is not None
    assert "numgen" not in spread_rules([to_spoke1])["output"][0]
    (on_spoke1,) = gateway_tunnels(HUB_SPOKES, "spoke1", INVENTORY, hostvars)
    with pytest.raises(ValueError, match=r"^link hub-spoke1: spread.count: auto needs the CPU count of spoke1; gather its facts, "
                                         r"set the host var wgspread_receive_cpus, or give a number$"):
        spread_rules([on_spoke1])


def test_no_underlay_address_is_refused():
    hostvars = dict(HOSTVARS, spoke1={"ansible_host": "spoke1.lan", "wgspread_receive_cpus": 2})
    errors = link_errors(HUB_SPOKES, INVENTORY, hostvars)
    assert errors == ["link hub-spoke1: endpoints: no underlay address known for gateway spoke1; set endpoints.spoke1, "
                      "the host var wgspread_underlay_address, or gather its facts"]


def test_every_error_is_reported_at_once():
    links = _with(0, mtu=1, listen_port=0)
    errors = link_errors(links, INVENTORY, HOSTVARS)
    assert len(errors) == 2


def test_good_inventory_has_no_errors():
    assert link_errors(HUB_SPOKES, INVENTORY, HOSTVARS) == []
    assert link_errors(None, INVENTORY, HOSTVARS) == []


@pytest.mark.parametrize("run_hosts, outside", [
    (["hub", "spoke1", "spoke2"], []),
    (["hub", "spoke1"], [{"link": "hub-spoke2", "gateways": ["hub", "spoke2"], "missing": ["spoke2"],
                          "summary": "hub-spoke2 (missing spoke2)"}]),
    (["spoke1", "spoke2"], [{"link": "hub-spoke1", "gateways": ["hub", "spoke1"], "missing": ["hub"],
                             "summary": "hub-spoke1 (missing hub)"},
                            {"link": "hub-spoke2", "gateways": ["hub", "spoke2"], "missing": ["hub"],
                             "summary": "hub-spoke2 (missing hub)"}]),
])
def test_links_outside_the_run_are_named_with_their_missing_ends(run_hosts, outside):
    assert links_outside_run(HUB_SPOKES, INVENTORY, HOSTVARS, run_hosts) == outside


# ---------------------------------------------------------------- risky choices: refused, or opted in

LAB_FACTS = {"interfaces": ["lo", "eth0"], "lo": {"type": "loopback"}, "eth0": {"type": "ether"}, "processor_nproc": 2}
OPT_IN_HOSTVARS = {
    "hub": {"ansible_host": "198.51.100.11", "ansible_facts": LAB_FACTS},
    "spoke1": {"ansible_host": "198.51.100.12", "ansible_facts": LAB_FACTS},
}
ONE_LINK = {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820}


@pytest.mark.parametrize("change, opt_in, refused", [
    ({"allowed_ips": {"spoke1": ["0.0.0.0/0"]}}, {"allow_default_route": True},
     "allowed_ips.spoke1: 0.0.0.0/0 is a default route through the tunnel"),
    ({"spread": {"ports": [53, 54]}}, {"spread": {"ports": [53, 54], "allow_service_ports": True}},
     "include service port(s) 53, 54"),
    ({"spread": {"count": 9}}, {"spread": {"count": 9, "allow_many_ports": True}},
     "would receive on 9 ports, more than 4 per receive CPU (2 CPUs)"),
], ids=["default route", "service ports", "many ports"])
def test_a_risky_choice_is_refused_unless_its_opt_in_says_it_is_meant(change, opt_in, refused):
    errors = link_errors([dict(ONE_LINK, **change)], ["hub", "spoke1"], OPT_IN_HOSTVARS)
    assert any(refused in error for error in errors), errors
    assert link_errors([dict(ONE_LINK, **opt_in)], ["hub", "spoke1"], OPT_IN_HOSTVARS) == []


def test_an_opted_in_default_route_may_cover_the_underlay():
    """wg-quick keeps the tunnel's own packets out of a /0 by fwmark: no routing loop."""
    links = [dict(ONE_LINK, allow_default_route=True, allowed_ips={"spoke1": ["0.0.0.0/0"]})]
    (tunnel,) = build_plan(links, ["hub", "spoke1"], OPT_IN_HOSTVARS).as_dict()["gateways"]["hub"]["tunnels"]
    assert "0.0.0.0/0" in tunnel["peer_allowed_ips"]


def test_a_tunnel_interface_of_an_earlier_run_is_not_taken_for_a_nic():
    facts = dict(LAB_FACTS, interfaces=["lo", "eth0", "wg-spoke1"], wg_spoke1={"type": "tunnel"})
    hostvars = dict(OPT_IN_HOSTVARS, hub={"ansible_host": "198.51.100.11", "ansible_facts": facts})
    assert link_errors([ONE_LINK], ["hub", "spoke1"], hostvars) == []
    facts["wg_spoke1"] = {"type": "ether"}
    assert link_errors([ONE_LINK], ["hub", "spoke1"], hostvars) == [
        "link hub-spoke1: interfaces.hub 'wg-spoke1' is an interface hub already has (type ether, from its facts); "
        "set interfaces.hub to a free name"]


def test_a_link_to_a_host_outside_the_gateway_group_is_refused():
    from ansible_collections.sitelink.wgspread.plugins.module_utils.links import GatewayGroup
    with pytest.raises(LinkError) as raised:
        parse_links([ONE_LINK], ["hub", "spoke1"], OPT_IN_HOSTVARS, gateway_hosts=GatewayGroup("gateways", ["hub"]))
    assert "spoke1 is in the inventory but not one of the gateways site.yml configures (group gateways)" \
        in raised.value.errors[0]
