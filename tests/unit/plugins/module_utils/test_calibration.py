"""Calibrated port choice: probe candidates, the verdict from (port, CPU) counts, the record,
and links.py using the record only for the request it was made for."""

import copy
import json
import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.calibration import cells, choose, probe_links, record
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan, link_errors
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import plan_tunnels as gateway_tunnels

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nft")
INVENTORY = ["hub", "spoke1"]
LINKS = [{"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820}]


def hostvars(spoke1_local=None):
    facts = {"processor_nproc": 2}
    if spoke1_local is not None:
        facts["ansible_local"] = {"wgspread": spoke1_local}
    return {"hub": {"ansible_host": "198.51.100.11", "ansible_facts": {"processor_nproc": 2}},
            "spoke1": {"ansible_host": "198.51.100.12", "ansible_facts": facts}}


def plan(links, inventory, hv):
    return build_plan(links, inventory, hv).as_dict()


def test_probe_links_give_each_receiver_factor_times_its_count_of_candidates():
    probe = probe_links(LINKS, plan(LINKS, INVENTORY, hostvars()), ["hub-spoke1"], factor=4)
    assert probe[0]["spread"] == {"ports": {"hub": list(range(51820, 51828)), "spoke1": list(range(51820, 51828))}}
    assert link_errors(probe, INVENTORY, hostvars()) == []
    assert LINKS[0].get("spread") is None  # the input is left as it was


def test_probe_links_leave_other_links_alone_and_refuse_explicit_ports():
    links = LINKS + [{"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31",
                      "listen_port": 51920, "spread": {"ports": [51920, 51925]}}]
    inventory = INVENTORY + ["spoke2"]
    hv = dict(hostvars(), spoke2={"ansible_host": "198.51.100.13", "ansible_facts": {"processor_nproc": 2}})
    probe = probe_links(links, plan(links, inventory, hv), ["hub-spoke1"])
    assert probe[1] == links[1]
    with pytest.raises(ValueError, match="link hub-spoke2: spread.ports lists the ports of hub explicitly"):
        probe_links(links, plan(links, inventory, hv), ["hub-spoke2"])


def test_probe_candidates_that_collide_are_refused_by_the_link_checks():
    links = LINKS + [{"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51824}]
    inventory = INVENTORY + ["spoke2"]
    hv = dict(hostvars(), spoke2={"ansible_host": "198.51.100.13", "ansible_facts": {"processor_nproc": 2}})
    errors = link_errors(probe_links(links, plan(links, inventory, hv), ["hub-spoke1"]), inventory, hv)
    assert "link hub-spoke1: spread: port 51824 on gateway hub is already used by link hub-spoke2" in errors


# counts as RPS gives them: every port on one CPU
PINNED = {(51820, 0): 100, (51821, 0): 100, (51822, 1): 99, (51822, 0): 1, (51823, 0): 100,
          (51824, 1): 100, (51825, 0): 100, (51826, 0): 100, (51827, 1): 100}


@pytest.mark.parametrize("counts, cpus, count, calibrated, ports, reason", [
    (PINNED, 2, 2, True, [51820, 51822], "even"),
    (PINNED, 2, 4, True, [51820, 51821, 51822, 51824], "even"),
    # no RSS/RPS: every port's packets split over both CPUs
    (dict(((p, c), 50) for p in range(51820, 51828) for c in (0, 1)), 2, 2, False, [], "does not steer by UDP port"),
    # all candidates on CPU 0: no even choice
    (dict(((p, 0), 100) for p in range(51820, 51828)), 2, 2, False, None, "no even choice of 2 ports"),
])
def test_choose(counts, cpus, count, calibrated, ports, reason):
    verdict = choose(counts, cpus, count)
    assert verdict["calibrated"] is calibrated
    assert reason in verdict["reason"]
    if ports is not None:
        assert verdict["ports"] == ports
    if calibrated:
        assert verdict["shares"] == {0: 0.5, 1: 0.5}


def test_cells_read_the_meter_counters_of_one_link():
    with open(os.path.join(FIXTURES, "lab-hub-rx-per-cpu.json")) as handle:
        data = json.load(handle)
    assert cells(data, "hub-spoke1") == {(51820, 0): 512, (51820, 1): 488, (51821, 0): 499, (51821, 1): 501}
    assert cells(data, "hub-spoke9") == {}


def test_a_record_for_the_same_request_replaces_the_range_on_both_ends():
    verdict = choose(PINNED, 2, 2)
    local = record({"other": 1}, "hub-spoke1", {"count": 2, "first_port": 51820, "step": 1}, verdict, "hub")
    assert local["other"] == 1 and local["calibrated"]["hub-spoke1"]["ports"] == [51820, 51822]
    (hub,) = gateway_tunnels(LINKS, "hub", INVENTORY, hostvars(local))
    (spoke,) = gateway_tunnels(LINKS, "spoke1", INVENTORY, hostvars(local))
    assert hub["spread"]["send_ports"] == [51820, 51822] == spoke["spread"]["receive_ports"]
    assert hub["spread"]["receive_ports"] == [51820, 51821]  # hub has no record: its range


def test_a_record_for_another_request_is_stale_and_ignored():
    local = record({}, "hub-spoke1", {"count": 2, "first_port": 51820, "step": 1}, choose(PINNED, 2, 2), "hub")
    links = copy.deepcopy(LINKS)
    links[0]["spread"] = {"count": 3}
    (spoke,) = gateway_tunnels(links, "spoke1", INVENTORY, hostvars(local))
    assert spoke["spread"]["receive_ports"] == [51820, 51821, 51822]


@pytest.mark.parametrize("bad", [{"calibrated": {"hub-spoke1": {"ports": "51820", "request": {}}}},
                                 {"calibrated": "yes"}, "not a mapping", {"calibrated": {"hub-spoke1": None}}])
def test_a_broken_record_is_ignored(bad):
    (spoke,) = gateway_tunnels(LINKS, "spoke1", INVENTORY, hostvars(bad))
    assert spoke["spread"]["receive_ports"] == [51820, 51821]
