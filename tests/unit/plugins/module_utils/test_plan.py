"""The fleet plan: one plan for the run, each gateway's part of it, the inputs read once,
calibrated choices as an explicit input, and the files a plan renders to."""

import ipaddress
import json
import os

import jinja2
import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.calibration import links_to_calibrate
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError, parse_links
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import meter_rules, spread_rules, table_text
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import (
    PLAN_VERSION, build_plan, check_plan, gateway_plan, links_outside_run,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.render import gateway_files

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "nft")

INVENTORY = ["hub", "spoke1", "spoke2", "printer"]
HOSTVARS = {
    "hub": {"ansible_host": "198.51.100.11", "wgspread_receive_cpus": 2},
    "spoke1": {"ansible_host": "198.51.100.12", "wgspread_receive_cpus": 2},
    "spoke2": {"ansible_host": "198.51.100.13", "wgspread_receive_cpus": 2},
    "printer": {"ansible_host": "198.51.100.99"},
}
LINKS = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31",
     "listen_port": {"hub": 51830, "spoke2": 51820}},
]


def plan(links=None, run_hosts=None, rotate=None, hostvars=None):
    return build_plan(LINKS if links is None else links, INVENTORY, HOSTVARS if hostvars is None else hostvars,
                      run_hosts=run_hosts, rotate=rotate).as_dict()


def test_every_gateway_gets_its_tunnels_and_what_this_run_does_with_them():
    p = plan(run_hosts=["hub", "spoke1"], rotate="hub-spoke1")
    assert p["version"] == PLAN_VERSION and p["run_hosts"] == ["hub", "spoke1"]
    hub = p["gateways"]["hub"]
    assert [t["interface"] for t in hub["tunnels"]] == ["wg-spoke1", "wg-spoke2"]
    assert hub["in_run"] is True
    assert hub["active_links"] == ["hub-spoke1"] and hub["skipped_links"] == ["hub-spoke2"]
    assert hub["rotate_links"] == ["hub-spoke1"] and p["rotate_links"] == ["hub-spoke1"]
    assert [t["peer_in_run"] for t in hub["tunnels"]] == [True, False]
    spoke2 = p["gateways"]["spoke2"]
    assert spoke2["in_run"] is False and spoke2["active_links"] == [] and spoke2["skipped_links"] == ["hub-spoke2"]
    # the two ends of a link mirror each other
    (spoke1,) = p["gateways"]["spoke1"]["tunnels"]
    assert spoke1["peer_listen_port"] == hub["tunnels"][0]["listen_port"] == 51820
    assert spoke1["spread"]["send_ports"] == hub["tunnels"][0]["spread"]["receive_ports"] == [51820, 51821]
    assert spoke1["preshared_key_owner"] is False and hub["tunnels"][0]["preshared_key_owner"] is True


def test_a_host_without_links_has_an_empty_part_and_the_plan_is_plain_data():
    p = plan()
    assert "printer" not in p["gateways"]
    assert gateway_plan(p, "printer") == {"gateway": "printer", "in_run": True, "tunnels": [], "active_links": [],
                                          "skipped_links": [], "rotate_links": []}
    assert json.loads(json.dumps(p)) == p  # what Ansible variables and plan.json hold


@pytest.mark.parametrize("not_a_plan", [None, [], {"links": LINKS}, {"version": 99, "gateways": {}}])
def test_what_is_not_a_plan_is_refused_with_what_to_do(not_a_plan):
    with pytest.raises(ValueError, match="wgspread_plan: not a fleet plan of version 1; make it with the "
                                         "sitelink.wgspread.fleet_plan action"):
        check_plan(not_a_plan)


def test_links_outside_the_run_follow_the_hosts_still_in_it():
    p = plan(run_hosts=["hub", "spoke1", "spoke2"])
    assert links_outside_run(p) == []
    # spoke1 became unreachable during the run
    assert links_outside_run(p, ["hub", "spoke2"]) == [
        {"link": "hub-spoke1", "gateways": ["hub", "spoke1"], "missing": ["spoke1"], "summary": "hub-spoke1 (missing spoke1)"}]


def test_a_refused_rotation_fails_the_plan_with_the_link_errors_alongside():
    links = LINKS + [{"name": "bad", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.4/31", "listen_port": 0}]
    with pytest.raises(LinkError) as raised:
        plan(links)
    assert any("link bad: listen_port must be a UDP port" in e for e in raised.value.errors)
    with pytest.raises(LinkError, match="wireguard_rotate_keys: link hub-spoke2: spoke2 not in this run"):
        plan(run_hosts=["hub", "spoke1"], rotate="all")


class CountingHostvars(dict):
    """hostvars that count how often each host's variables are worked out, as Ansible's
    hostvars[host] works out all of them on every access."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads = {}

    def __getitem__(self, host):
        self.reads[host] = self.reads.get(host, 0) + 1
        return super().__getitem__(host)


def hub_and_spokes(spokes):
    names = ["hub"] + ["s%03d" % i for i in range(spokes)]
    hostvars = CountingHostvars((name, {"ansible_host": str(ipaddress.ip_address("198.18.128.1") + i),
                                        "ansible_facts": {"processor_nproc": 2}})
                                for i, name in enumerate(names))
    links = [{"gateways": ["hub", spoke], "subnet": str(ipaddress.ip_network((int(ipaddress.ip_address("100.64.0.0")) + 2 * i, 31))),
              "listen_port": {"hub": 20000 + 4 * i, spoke: 51820}} for i, spoke in enumerate(names[1:])]
    return names, hostvars, links


def test_each_gateway_is_read_once_however_many_links_it_has():
    names, hostvars, links = hub_and_spokes(60)
    p = build_plan(links, names, hostvars).as_dict()
    assert len(p["gateways"]["hub"]["tunnels"]) == 60
    assert hostvars.reads == dict((name, 1) for name in names)


@pytest.mark.parametrize("subnets, blamed", [
    # disjoint, adjacent, and an IPv4/IPv6 mix: nothing overlaps
    (["10.9.0.0/31", "10.9.0.2/31", "2001:db8::/127"], []),
    # the later link is blamed, whatever the order of the addresses
    (["10.9.0.0/30", "10.9.0.2/31"], ["link l1: addresses: 10.9.0.2/31 on gateway hub overlaps 10.9.0.0/30 of link l0"]),
    (["10.9.0.2/31", "10.9.0.0/29"], ["link l1: addresses: 10.9.0.0/29 on gateway hub overlaps 10.9.0.2/31 of link l0"]),
    # a wide subnet first, then two inside it, then one after it
    (["10.9.0.0/28", "10.9.0.4/31", "10.9.0.8/31", "10.9.0.16/31"],
     ["link l1: addresses: 10.9.0.4/31 on gateway hub overlaps 10.9.0.0/28 of link l0",
      "link l2: addresses: 10.9.0.8/31 on gateway hub overlaps 10.9.0.0/28 of link l0"]),
])
def test_overlapping_subnets_of_one_gateway_are_found_without_comparing_every_pair(subnets, blamed):
    spokes = ["s%d" % i for i in range(len(subnets))]
    hostvars = dict(("s%d" % i, {"ansible_host": "198.51.100.%d" % (20 + i)}) for i in range(len(subnets)))
    hostvars["hub"] = {"ansible_host": "198.51.100.11"}
    links = [{"name": "l%d" % i, "gateways": ["hub", spoke], "subnet": subnet, "listen_port": {"hub": 30000 + 10 * i, spoke: 51820},
              "spread": {"enabled": False}} for i, (spoke, subnet) in enumerate(zip(spokes, subnets, strict=True))]
    with pytest.raises(LinkError) if blamed else _nothing():
        build_plan(links, ["hub"] + spokes, hostvars)
    if blamed:
        try:
            parse_links(links, ["hub"] + spokes, hostvars)
        except LinkError as exc:
            assert [e for e in exc.errors if "overlaps" in e] == blamed


class _nothing(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def with_record(record):
    hostvars = dict(HOSTVARS)
    hostvars["spoke1"] = dict(HOSTVARS["spoke1"], ansible_facts={"ansible_local": {"wgspread": {"calibrated": record}}})
    return hostvars


def test_calibrated_ports_are_read_from_the_receivers_facts_for_the_same_request_only():
    same = {"hub-spoke1": {"ports": [51820, 51823], "request": {"count": 2, "first_port": 51820, "step": 1}}}
    p = plan(hostvars=with_record(same))
    (spoke1,) = p["gateways"]["spoke1"]["tunnels"]
    assert spoke1["spread"]["receive_ports"] == [51820, 51823] and spoke1["spread"]["calibrated"] is True
    assert p["gateways"]["hub"]["tunnels"][0]["spread"]["send_ports"] == [51820, 51823]
    stale = {"hub-spoke1": {"ports": [51820, 51823], "request": {"count": 4, "first_port": 51820, "step": 1}}}
    (spoke1,) = plan(hostvars=with_record(stale))["gateways"]["spoke1"]["tunnels"]
    assert spoke1["spread"]["receive_ports"] == [51820, 51821] and spoke1["spread"]["calibrated"] is False


def test_the_link_parser_takes_calibrations_as_an_input_and_reads_no_facts_for_them():
    record = {"hub-spoke1": {"ports": [51820, 51823], "request": {"count": 2, "first_port": 51820, "step": 1}}}
    (link, dummy) = parse_links(LINKS, INVENTORY, with_record(record))
    assert link["spread"]["receive_ports"]["spoke1"] == [51820, 51821]
    (link, dummy) = parse_links(LINKS, INVENTORY, HOSTVARS, calibrations={"spoke1": record})
    assert link["spread"]["receive_ports"]["spoke1"] == [51820, 51823]


@pytest.mark.parametrize("mode, run_hosts, record, expected", [
    ("never", None, {}, []),
    ("missing", None, {}, ["hub-spoke1", "hub-spoke2"]),
    ("always", None, {}, ["hub-spoke1", "hub-spoke2"]),
    ("missing", ["hub", "spoke1"], {}, ["hub-spoke1"]),  # both ends must be in the run
])
def test_links_to_calibrate_read_the_plan(mode, run_hosts, record, expected):
    p = plan(run_hosts=run_hosts)
    assert links_to_calibrate(p, run_hosts or INVENTORY, mode) == expected


def test_a_link_calibrated_on_both_ends_is_left_alone_unless_always():
    links = [LINKS[0]]
    request = {"count": 2, "first_port": 51820, "step": 1}
    record = {"hub-spoke1": {"ports": [51820, 51823], "request": request}}
    hostvars = with_record(record)
    hostvars["hub"] = dict(HOSTVARS["hub"], ansible_local={"wgspread": {"calibrated": record}})
    p = plan(links, hostvars=hostvars)
    assert links_to_calibrate(p, INVENTORY, "missing") == []
    assert links_to_calibrate(p, INVENTORY, "always") == ["hub-spoke1"]
    explicit = [dict(LINKS[0], spread={"ports": [51820, 51825]})]
    assert links_to_calibrate(plan(explicit), INVENTORY, "always") == []
    with pytest.raises(ValueError, match="port_spread_calibrate must be one of never, missing, always, got 'sometimes'"):
        links_to_calibrate(p, INVENTORY, "sometimes")


def test_the_table_text_is_the_file_the_role_renders():
    """nft.table_text() writes the table; the role's template only adds its header line."""
    p = plan()
    tunnels = p["gateways"]["hub"]["tunnels"]
    environment = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True)  # as Ansible
    environment.filters["sitelink.wgspread.spread_table"] = table_text
    with open(os.path.join(ROOT, "roles", "port_spread", "templates", "wgspread.nft.j2")) as handle:
        rendered = environment.from_string(handle.read()).render({
            "ansible_managed": "recorded by record_check_fixtures.py",
            "__port_spread_table_rules": spread_rules(tunnels), "__port_spread_meter_rules": meter_rules(tunnels, 2)})
    with open(os.path.join(FIXTURES, "check-hub.nft")) as handle:
        assert rendered == handle.read()


def test_a_plan_renders_each_gateways_table_and_configs_without_keys():
    files = gateway_files(plan()["gateways"]["hub"])
    assert sorted(files) == ["wg-spoke1.conf", "wg-spoke2.conf", "wgspread.nft"]
    assert 'udp dport set numgen inc mod 2 map { 0 : 51820, 1 : 51821 } comment "hub-spoke2: spread to spoke2"' in files["wgspread.nft"]
    conf = files["wg-spoke2.conf"]
    assert "PrivateKey = <secret, not shown>" in conf and "PresharedKey = <secret, not shown>" in conf
    assert "PublicKey = <made on spoke2>" in conf and "Endpoint = 198.51.100.13:51820" in conf
    assert "ListenPort = 51830" in conf and "Address = 198.18.0.2/31" in conf


def test_a_plan_that_needs_a_cpu_count_it_does_not_have_cannot_be_rendered():
    hostvars = dict(HOSTVARS, spoke1={"ansible_host": "198.51.100.12"})
    with pytest.raises(ValueError, match="link hub-spoke1: spread.count: auto needs the CPU count of spoke1"):
        gateway_files(plan(hostvars=hostvars)["gateways"]["spoke1"])


@pytest.mark.parametrize("value, message", [
    ("four", "host spoke1: wgspread_receive_cpus must be an integer, got 'four'"),
    (True, "host spoke1: wgspread_receive_cpus must be an integer, got a boolean"),
    (0, "host spoke1: wgspread_receive_cpus must be between 1 and 8192, got 0"),
    ("0", "host spoke1: wgspread_receive_cpus must be between 1 and 8192, got 0"),
])
def test_a_receive_cpu_count_that_is_no_count_names_the_host_and_the_variable(value, message):
    hostvars = dict(HOSTVARS, spoke1={"ansible_host": "198.51.100.12", "wgspread_receive_cpus": value})
    with pytest.raises(LinkError) as raised:
        plan(hostvars=hostvars)
    assert raised.value.errors == [message]


class AnsibleLikeHostvars(dict):
    """Ansible's hostvars answer a host outside the inventory with an Undefined that fails when
    used outside a template, not with KeyError (seen in the lab: 'A required TemplateContext
    context is not active')."""

    def __getitem__(self, host):
        if host not in self:
            raise RuntimeError("A required TemplateContext context is not active.")
        return super().__getitem__(host)


def test_a_gateway_outside_the_inventory_is_reported_not_read():
    links = [dict(LINKS[0], gateways=["hub", "spoke9"])]
    with pytest.raises(LinkError) as raised:
        build_plan(links, INVENTORY, AnsibleLikeHostvars(HOSTVARS))
    assert raised.value.errors == ["link hub-spoke1: gateways: spoke9 not in the inventory"]
