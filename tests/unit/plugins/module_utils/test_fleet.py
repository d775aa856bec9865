"""The controller's comparison of both ends of every link, over gateway results made from recorded outputs."""

import copy
import importlib.util
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.filter.fleet import FilterModule
from ansible_collections.sitelink.wgspread.plugins.module_utils import fleet
from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet import (
    FleetError, fleet_markdown, fleet_report, fleet_table, select,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan
import fleetkit
from fleetkit import HOSTVARS, INVENTORY, KEYS, LINKS, OTHER_PUBLIC, dump, healthy, result

HEALTHY = healthy()


def plan(links=LINKS):
    return build_plan(links, INVENTORY, HOSTVARS).as_dict()


def report(results=None, links=LINKS, run_hosts=None, **kwargs):
    return fleet_report(HEALTHY if results is None else results, plan(links), run_hosts=run_hosts, **kwargs)


def link(rep, name):
    return [e for e in rep["links"] if e["link"] == name][0]


def gateway(rep, name):
    return [g for g in rep["gateways"] if g["gateway"] == name][0]


def with_(host, **kwargs):
    results = dict(HEALTHY)
    results[host] = result(host, kwargs.pop("live"), **kwargs)
    return results


def test_a_healthy_fleet_passes():
    rep = report()
    assert rep["passed"] and rep["complete"] and rep["problems"] == []
    assert [(e["link"], e["status"]) for e in rep["links"]] == [("hub-spoke1", "pass"), ("hub-spoke2", "pass")]
    assert rep["summary"] == {"gateways": 3, "gateways_ok": 3, "gateways_failed": 0, "gateways_not_in_run": 0,
                              "gateways_in_other_run": 0, "links": 2, "links_passed": 2, "links_failed": 0, "links_unchecked": 0, "links_warned": 1}
    hub = gateway(rep, "hub")
    assert hub["busiest_core_share"] == 1.0 and hub["idempotent"] is True and hub["links"] == ["hub-spoke1", "hub-spoke2"]
    ends = link(rep, "hub-spoke1")["ends"]
    assert ends[0]["send_ports"] == ends[1]["fold_ports"] == [51820, 51821]
    assert ends[0]["public_key"] in ends[1]["peer_public_keys"]


def test_an_uneven_receive_core_share_is_a_warning_not_a_failure():
    """hub's meter: hub-spoke1 400/100 over 2 CPUs (80 %, over 50 % + 5 %) with 500 packets;
    hub-spoke2 0/100 is 100 % but only 100 packets, too few to judge."""
    rep = report()
    assert rep["passed"]
    assert link(rep, "hub-spoke1")["warnings"] == [
        "hub: the busiest core carries 80% of the packets received on this link (even: 50% over 2 CPUs); "
        "recalibrate the ports (port_spread_calibrate: always)"]
    assert link(rep, "hub-spoke2")["warnings"] == []
    assert rep["warnings"] == ["link hub-spoke1: " + link(rep, "hub-spoke1")["warnings"][0]]
    assert "  warning: link hub-spoke1: hub: the busiest core carries 80%" in "\n".join(fleet_table(rep))


# (case, changed gateway, its result's arguments, failing link, problems of that link, gateway status)
BROKEN = [
    ("one end's port map changed", "spoke1", {"live": "check-spoke1-portmap.json"}, "hub-spoke1", [
        "spoke1 sends to ports 51820, 51822 of hub, the inventory says 51820, 51821",
        "spoke1 sends to ports 51822 that hub does not fold back: those packets are lost",
        "hub folds back ports 51821 that spoke1 does not send to"], "ok"),
    ("a rule deleted by hand", "hub", {"live": "check-hub-live-rule-deleted.json", "desired": "check-hub-desired.json"},
     "hub-spoke2", ["hub has no fold-back rule for spoke2"], "fail"),
    ("peer key does not match", "spoke1", {"live": "check-spoke1.json", "dumps": {"wg-hub": dump("spoke1", "wg-hub", peer_key=OTHER_PUBLIC)}},
     "hub-spoke1", ["spoke1 has peer key %s on wg-hub, but hub's public key is %s" % (OTHER_PUBLIC, KEYS[("hub", "wg-spoke1")][1])], "ok"),
    ("listen port differs", "spoke1", {"live": "check-spoke1.json", "dumps": {"wg-hub": dump("spoke1", "wg-hub", listen_port=51821)}},
     "hub-spoke1", ["hub sends to spoke1 on port 51820, but spoke1 listens on 51821",
                    "spoke1 listens on port 51821, the inventory says 51820"], "ok"),
    ("endpoint differs", "spoke2", {"live": "check-spoke2.json", "dumps": {"wg-hub": dump("spoke2", "wg-hub", endpoint="192.0.2.7:51830")}},
     "hub-spoke2", ["spoke2 sends to hub at 192.0.2.7, the inventory says 198.51.100.11"], "ok"),
    ("interface missing", "spoke2", {"live": "check-spoke2.json", "dumps": {"wg-hub": (1, "", "Unable to access interface: No such device")}},
     "hub-spoke2", ["spoke2: interface wg-hub is missing (Unable to access interface: No such device)"], "ok"),
    ("table missing", "spoke2", {"live": None, "desired": "check-spoke2.json"},
     "hub-spoke2", ["spoke2 has no fold-back rule for hub", "spoke2 has no spread rule towards hub"], "fail"),
]


@pytest.mark.parametrize("case,host,kwargs,name,problems,status", BROKEN, ids=[b[0] for b in BROKEN])
def test_what_breaks_a_link(case, host, kwargs, name, problems, status):
    rep = report(with_(host, **kwargs))
    assert not rep["passed"]
    broken = link(rep, name)
    assert broken["status"] == "fail"
    assert sorted(broken["problems"]) == sorted(problems)
    assert gateway(rep, host)["status"] == status
    others = [e for e in rep["links"] if e["link"] != name]
    assert all(e["status"] == "pass" for e in others)
    assert ["link %s: %s" % (name, p) for p in broken["problems"]] == [p for p in rep["problems"] if p.startswith("link ")]


def test_a_foreign_table_is_reported_not_failed():
    rep = report(with_("spoke1", live="check-spoke1.json", tables="check-tables-foreign.json"))
    assert rep["passed"]
    assert gateway(rep, "spoke1")["foreign_tables"] == ["inet filter", "ip nat"]


def test_counters_and_element_order_differing_are_not_drift():
    rep = report(with_("hub", live="check-hub-live-reordered.json", desired="check-hub-desired.json"))
    assert rep["passed"] and gateway(rep, "hub")["drift_count"] == 0


def test_drift_fails_the_gateway_with_the_lines():
    rep = report(with_("hub", live="check-hub-live-rule-deleted.json", desired="check-hub-desired.json"))
    hub = gateway(rep, "hub")
    assert hub["status"] == "fail" and hub["in_sync"] is False and hub["drift_count"] == 1
    assert hub["idempotent"] is False
    assert "gateway hub: live table differs from the desired one (1 differences)" in rep["problems"]
    assert "gateway hub: not idempotent: the loaded table differs from the live one" in rep["problems"]


def test_a_gateway_missing_from_the_run_leaves_its_links_unchecked():
    results = {h: r for h, r in HEALTHY.items() if h != "spoke2"}
    rep = report(results, run_hosts=["hub", "spoke1"])
    assert rep["passed"] and not rep["complete"]
    assert link(rep, "hub-spoke1")["status"] == "pass"
    assert rep["unchecked_links"] == [{"link": "hub-spoke2", "gateways": ["hub", "spoke2"],
                                       "missing": [{"gateway": "spoke2", "reason": "not in this run (--limit)"}],
                                       "reason": "spoke2: not in this run (--limit)"}]
    assert gateway(rep, "spoke2")["status"] == "not_in_run"
    assert gateway(rep, "hub")["links_unchecked"] == 1
    strict = report(results, run_hosts=["hub", "spoke1"], require_complete=True)
    assert not strict["passed"]
    assert strict["problems"] == ["link hub-spoke2: not checked: spoke2: not in this run (--limit)"]


def test_run_hosts_default_to_the_hosts_with_results():
    rep = report({"hub": HEALTHY["hub"]})
    assert [u["link"] for u in rep["unchecked_links"]] == ["hub-spoke1", "hub-spoke2"]
    assert rep["passed"]


def test_a_gateway_in_the_run_without_result_fails():
    results = {h: r for h, r in HEALTHY.items() if h != "spoke2"}
    rep = report(results, run_hosts=INVENTORY)
    assert not rep["passed"]
    assert gateway(rep, "spoke2")["status"] == "no_result"
    assert link(rep, "hub-spoke2")["status"] == "unchecked"


def test_a_failed_check_fails_with_its_message():
    results = dict(HEALTHY, spoke2={"failed": True, "msg": "nft -j list tables failed (rc=1): Operation not permitted"})
    rep = report(results)
    assert not rep["passed"]
    assert gateway(rep, "spoke2")["status"] == "module_failed"
    assert rep["problems"] == ["gateway spoke2: the check did not run: nft -j list tables failed (rc=1): Operation not permitted"]


def test_a_gateway_that_did_not_report_a_link_fails_it():
    results = copy.deepcopy(HEALTHY)
    results["spoke1"]["tunnels"] = []
    rep = report(results)
    assert link(rep, "hub-spoke1")["problems"] == ["spoke1 did not report this link (not in its tunnels:)"]


def test_spreading_off_in_the_inventory_but_rules_live():
    links = [dict(LINKS[0], spread={"enabled": False}), LINKS[1]]
    rep = report(links=links)
    assert sorted(link(rep, "hub-spoke1")["problems"]) == [
        "spreading is off for this link, but hub has spreading rules for it",
        "spreading is off for this link, but spoke1 has spreading rules for it"]


def test_spreading_off_and_no_rules_passes():
    links = [dict(LINKS[0], spread={"enabled": False}), LINKS[1]]
    results = copy.deepcopy(HEALTHY)
    for host in ("hub", "spoke1"):
        for tunnel in results[host]["tunnels"]:
            if tunnel["link"] == "hub-spoke1":
                tunnel["spread"] = dict(tunnel["spread"], send_rule=False, fold_rule=False, send_ports=[], fold_ports=[])
    assert link(report(results, links=links), "hub-spoke1")["status"] == "pass"


def threaded(host, interface, value):
    results = copy.deepcopy(HEALTHY)
    for tunnel in results[host]["tunnels"]:
        if tunnel["interface"] == interface:
            tunnel["threaded"] = value
    return results


KERNELS = {"hub": "6.1.0-27-amd64", "spoke1": "6.16.0", "spoke2": "6.8.0-51-generic"}


def test_threaded_napi_on_a_kernel_before_6_16_fails_the_gateway():
    rep = report(threaded("hub", "wg-spoke1", 1), kernels=KERNELS)
    assert not rep["passed"] and gateway(rep, "hub")["status"] == "fail"
    assert rep["problems"] == [
        "gateway hub: wg-spoke1 has threaded NAPI on (threaded=1): 6.1.0-27-amd64 is before 6.16: threaded NAPI on a "
        "WireGuard interface runs the receive path that can stall a peer for good (CVE-2026-52945); the stable revert "
        "only stopped kernels from turning it on by themselves; turn it off (nic_tuning_threaded_napi: false, the "
        "default) or accept the risk (nic_tuning_threaded_napi_accept_risk: true)"]
    assert "## Problems" in fleet_markdown(rep)


@pytest.mark.parametrize("host, interface, value, kernels", [
    ("spoke1", "wg-hub", 1, KERNELS),   # 6.16: safe, mainline turns it on itself
    ("spoke2", "wg-hub", 0, KERNELS),   # off on an affected kernel
    ("hub", "wg-spoke1", None, KERNELS),  # no threaded file (kernel before 5.12, or no interface)
    ("hub", "wg-spoke1", 1, None),      # kernels not given: not checked
    ("hub", "wg-spoke1", 1, {"spoke1": "6.1.0-27-amd64"}),  # this gateway's kernel unknown: not checked
])
def test_threaded_napi_that_is_not_a_finding(host, interface, value, kernels):
    rep = report(threaded(host, interface, value), kernels=kernels)
    assert rep["passed"] and rep["warnings"] == report()["warnings"]  # the healthy fleet's meter warning only


def test_threaded_napi_with_the_risk_accepted_only_warns():
    rep = report(threaded("spoke2", "wg-hub", 1), kernels=KERNELS, napi_risk_accepted={"spoke2": True})
    assert rep["passed"] and gateway(rep, "spoke2")["status"] == "ok"
    ours = [w for w in rep["warnings"] if w not in report()["warnings"]]
    assert len(ours) == 1 and ours[0].startswith(
        "gateway spoke2: wg-hub has threaded NAPI on (threaded=1): 6.8.0-51-generic is before 6.16")
    assert "  warning: gateway spoke2: wg-hub has threaded NAPI on" in "\n".join(fleet_table(rep))
    assert "## Warnings" in fleet_markdown(rep)


def test_the_filter_passes_the_kernels_on():
    rep = FilterModule().filters()["fleet_report"](threaded("hub", "wg-spoke1", 1), plan(), kernels=KERNELS)
    assert gateway(rep, "hub")["status"] == "fail"


def test_what_is_not_a_plan_is_refused_before_comparing():
    with pytest.raises(ValueError, match="^wgspread_plan: not a fleet plan of version 1"):
        fleet_report(HEALTHY, {"links": LINKS})


QUERIES = [
    ("links[?status=='pass'].link", ["hub-spoke1", "hub-spoke2"]),
    ("gateways[?meter].{gateway: gateway, share: busiest_core_share}", [{"gateway": "hub", "share": 1.0}]),
    ("links[].ends[].[gateway, listen_port]", [["hub", 51820], ["spoke1", 51820], ["hub", 51830], ["spoke2", 51820]]),
    ("passed", True),
    ("", None),  # no query: the whole report
]


@pytest.mark.parametrize("query,expected", QUERIES, ids=[q[0] or "none" for q in QUERIES])
def test_jmespath_queries(query, expected):
    rep = report()
    assert select(rep, query) == (rep if expected is None else expected)


def test_a_bad_query_names_itself():
    with pytest.raises(FleetError, match=r"query 'links\[\?': "):
        select(report(), "links[?")


def test_query_without_jmespath_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fleet, "jmespath", None)
    with pytest.raises(FleetError, match="needs the Python library jmespath"):
        select({}, "passed")
    assert select({"a": 1}, None) == {"a": 1}


def test_filters_wrap_errors_for_ansible():
    filters = FilterModule().filters()
    assert filters["fleet_report"](HEALTHY, plan(), query="passed") is True
    with pytest.raises(AnsibleFilterError, match="^fleet_report: query"):
        filters["fleet_report"](HEALTHY, plan(), query="[?")
    with pytest.raises(AnsibleFilterError, match="^fleet_report: wgspread_plan: not a fleet plan"):
        filters["fleet_report"](HEALTHY, LINKS)
    assert filters["fleet_query"](report(), "summary.links") == 2


def test_table_and_markdown():
    rep = report(with_("spoke1", live="check-spoke1-portmap.json"))
    lines = fleet_table(rep)
    assert lines[0].split() == ["gateway", "status", "links", "in_sync", "drift", "idempotent", "busiest", "core"]
    assert lines[2].split() == ["hub", "ok", "1/2", "ok", "yes", "0", "yes", "100%"]
    assert "FAIL: 1/2 links pass, 1 fail, 0 unchecked; 0 gateways failed" in lines
    text = fleet_markdown(rep)
    assert text.startswith("# wgspread fleet check: FAIL\n")
    assert "| hub-spoke1 | hub - spoke1 | fail | spoke1 sends to ports 51820, 51822 of hub" in text
    assert "| hub | hub-spoke1 | 500 | 51820: 300, 51821: 200 | 0: 400, 1: 100 | 80% |" in text


def test_markdown_shows_drift_and_unchecked_pairs():
    results = with_("hub", live="check-hub-live-rule-deleted.json", desired="check-hub-desired.json")
    del results["spoke2"]
    text = fleet_markdown(report(results, run_hosts=["hub", "spoke1"]))
    assert "## Drift" in text and "```diff" in text and "-\t\tip saddr 198.51.100.13" in text
    assert "- hub-spoke2 (hub - spoke2): spoke2: not in this run (--limit)" in text


def test_fleetkit_matches_the_recording_inventory():
    """The fixtures were recorded for this inventory; keep the two in step."""
    spec = importlib.util.spec_from_file_location("record_check_fixtures", os.path.join(fleetkit.FIXTURES, "record_check_fixtures.py"))
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    assert (recorder.LINKS, recorder.HOSTVARS, recorder.INVENTORY) == (fleetkit.LINKS, fleetkit.HOSTVARS, fleetkit.INVENTORY)


# ---------------------------------------------------------------- job slices (wgspread_exchange fact_cache)

SLICINGS = [[["hub"], ["spoke1", "spoke2"]], [["hub", "spoke2"], ["spoke1"]], [["hub"], ["spoke1"], ["spoke2"]]]


def slice_reports(results, slices):
    """validate.yml's report in each slice: the slice's own results, the others known from records."""
    from ansible_collections.sitelink.wgspread.plugins.module_utils.peer_record import make_record
    from fleetkit import TUNNELS
    public = dict((gateway, dict((link, KEYS[(gateway, iface)][1]) for link, iface, *_rest in TUNNELS[gateway]))
                  for gateway in INVENTORY)
    records = dict((g, make_record(g, HOSTVARS[g], {}, public[g], "gateways")) for g in INVENTORY)
    out = []
    for hosts in slices:
        part = build_plan(LINKS, hosts, dict((h, HOSTVARS[h]) for h in hosts), run_hosts=hosts, exchange="fact_cache",
                          peer_records=records, psk_secret_length=40).as_dict()
        out.append(fleet_report(dict((h, results[h]) for h in hosts), part, run_hosts=hosts, require_complete=True))
    return out


def verdict(reports):
    """(passed, {link: status}) of one or several reports together."""
    statuses = {}
    for rep in reports:
        for entry in rep["links"]:
            if entry["status"] == "fail" or entry["link"] not in statuses:
                statuses[entry["link"]] = entry["status"]
    return all(rep["passed"] for rep in reports), statuses


@pytest.mark.parametrize("slices", SLICINGS, ids=["hub|spokes", "hub+spoke2|spoke1", "one-per-slice"])
@pytest.mark.parametrize("case,host,kwargs,name", [(None, None, None, None)] + [b[:4] for b in BROKEN],
                         ids=["healthy"] + [b[0] for b in BROKEN])
def test_validate_per_slice_gives_the_verdict_of_one_run_over_the_fleet(case, host, kwargs, name, slices):
    results = HEALTHY if host is None else with_(host, **copy.deepcopy(kwargs))
    whole = verdict([fleet_report(results, plan(), run_hosts=INVENTORY, require_complete=True)])
    sliced = verdict(slice_reports(results, slices))
    assert sliced == whole
    assert whole[0] is (host is None)


def test_a_slice_checks_its_ends_against_the_others_records_and_leaves_their_links_alone():
    (hub_slice, spokes_slice) = slice_reports(HEALTHY, [["hub"], ["spoke1", "spoke2"]])
    assert hub_slice["passed"] and spokes_slice["passed"] and hub_slice["complete"]
    assert gateway(hub_slice, "spoke1")["status"] == "in_other_run"
    assert hub_slice["summary"]["gateways_in_other_run"] == 2
    assert link(hub_slice, "hub-spoke1")["checked_by_own_run"] == ["spoke1"]
    one = slice_reports(HEALTHY, [["spoke1"]])[0]
    assert [e["link"] for e in one["links"]] == ["hub-spoke1"]  # hub-spoke2 is for the other slices
