"""One gateway's check over recorded ``nft -j`` outputs (fixtures/nft/check-*.json).

Every test runs twice: over the outputs of nftables 1.0.6 (Debian 12, fixtures/nft/) and of
nftables 1.1.3 (Debian 13, fixtures/nft/nft-1.1.3/), recorded the same way.
"""

import json
import os

import pytest

import fleetkit

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import (
    check, drift_lines, link_rules, meter, render_rule, render_table,
)
from fleetkit import PATH, SECRETS, dump, fixture, gateway_host, tunnels_of

DELETED = ('removed: chain prerouting: ip saddr 198.51.100.13 udp dport { 51830, 51831 } notrack '
           'udp dport set 51830 comment "hub-spoke2: fold back from spoke2"')


@pytest.fixture(autouse=True, params=["1.0.6", "1.1.3"], ids=["nft-1.0.6-debian12", "nft-1.1.3-debian13"])
def nft_release(request, monkeypatch):
    """The recorded outputs of one nftables release (fleetkit.fixture reads FIXTURES)."""
    if request.param != "1.0.6":
        monkeypatch.setattr(fleetkit, "FIXTURES", os.path.join(fleetkit.FIXTURES, "nft-" + request.param))
    return request.param


def test_the_recordings_are_of_the_release_they_are_named_for(nft_release):
    assert json.loads(fixture("check-hub-desired.json"))["nftables"][0]["metainfo"]["version"] == nft_release


def run(live, idempotent=False, gateway="hub", **kwargs):
    host = gateway_host(gateway, live, **kwargs)
    return check(host, PATH, "inet", "wgspread", tunnels_of(gateway), idempotent), host


# (case, live fixture, desired fixture, tables fixture, in_sync, drift lines, foreign tables)
CASES = [
    ("in sync, as loaded", "check-hub-desired.json", "check-hub-desired.json", "check-tables-own.json", True, [], []),
    ("counters and handles differ: not drift", "check-hub-live-counted.json", "check-hub-desired.json",
     "check-tables-own.json", True, [], []),
    ("set and map elements in another order: not drift", "check-hub-live-reordered.json", "check-hub-desired.json",
     "check-tables-own.json", True, [], []),
    ("foreign tables: reported, not drift", "check-hub-live-counted.json", "check-hub-desired.json",
     "check-tables-foreign.json", True, [], ["inet filter", "ip nat"]),
    ("a rule deleted by hand", "check-hub-live-rule-deleted.json", "check-hub-desired.json",
     "check-tables-foreign.json", False, [DELETED], ["inet filter", "ip nat"]),
    ("a rule added by hand", "check-hub-live-counted.json", "check-hub-live-rule-deleted.json",
     "check-tables-own.json", False, [DELETED.replace("removed:", "added:")], []),
    ("a port map changed", "check-spoke1-portmap.json", "check-spoke1.json", "check-tables-own.json", False, [
        'changed: chain output: ip daddr 198.51.100.11 udp sport 51820 udp dport 51820 notrack udp dport set numgen inc '
        'mod 2 map { 0 : 51820, 1 : 51822 } comment "hub-spoke1: spread to hub" (live) vs ip daddr 198.51.100.11 udp '
        'sport 51820 udp dport 51820 notrack udp dport set numgen inc mod 2 map { 0 : 51820, 1 : 51821 } '
        'comment "hub-spoke1: spread to hub" (desired)'], []),
]


@pytest.mark.parametrize("case,live,desired,tables,in_sync,lines,foreign", CASES, ids=[c[0] for c in CASES])
def test_live_against_desired(case, live, desired, tables, in_sync, lines, foreign):
    gateway = "spoke1" if "spoke1" in live else "hub"
    result, _host = run(live, gateway=gateway, desired=desired, tables=tables)
    assert result["in_sync"] is in_sync
    assert result["drift"]["lines"] == lines
    assert result["foreign_tables"] == foreign
    assert result["table_present"] and result["desired_present"] and result["desired_error"] is None
    assert (result["drift"]["diff"] == "") is in_sync


def test_the_diff_shows_the_deleted_rule_from_desired_to_live():
    result, _host = run("check-hub-live-rule-deleted.json", desired="check-hub-desired.json")
    diff = result["drift"]["diff"]
    assert diff.startswith("--- desired (/etc/wgspread/wgspread.nft)\n+++ live (inet wgspread)\n")
    removed = [line for line in diff.splitlines() if line.startswith("-\t")]
    assert removed == ['-\t\tip saddr 198.51.100.13 udp dport { 51830, 51831 } notrack udp dport set 51830 '
                       'comment "hub-spoke2: fold back from spoke2"']
    assert not [line for line in diff.splitlines() if line.startswith("+\t")]


def test_only_reads_the_live_ruleset():
    _result, host = run("check-hub-live-counted.json", idempotent=True, desired="check-hub-desired.json",
                        second="check-hub-desired-second.json")
    for call in host.calls:
        if call[0] == "nft":
            assert call[1:3] == ("-j", "list"), call
        elif call[0] == "unshare":
            assert call[1] == "--net", call  # nft -f only ever runs in a scratch namespace
        else:
            assert call[:2] == ("wg", "show") and call[-1] == "dump", call


# (case, live, second load, idempotent, second_equals_first, equals_live)
IDEMPOTENCE = [
    ("second load equals first and live", "check-hub-live-counted.json", "check-hub-desired-second.json", True, True, True),
    ("live drifted", "check-hub-live-rule-deleted.json", "check-hub-desired-second.json", False, True, False),
    ("file does not rebuild the table", "check-hub-live-counted.json", "check-hub-live-rule-deleted.json", False, False, True),
]


@pytest.mark.parametrize("case,live,second,idempotent,first,equals_live", IDEMPOTENCE, ids=[c[0] for c in IDEMPOTENCE])
def test_idempotence_loads_twice_in_one_scratch_namespace(case, live, second, idempotent, first, equals_live):
    result, host = run(live, idempotent=True, desired="check-hub-desired.json", second=second)
    assert result["idempotent"] is idempotent
    assert result["idempotence"] == {"second_equals_first": first, "equals_live": equals_live}
    scratch = [c for c in host.calls if c[0] == "unshare"]
    assert len(scratch) == 1 and scratch[0][4].count('nft -f "$1"') == 2


def test_idempotence_not_asked_is_null():
    result, _host = run("check-hub-live-counted.json", desired="check-hub-desired.json")
    assert result["idempotent"] is None and result["idempotence"] is None


def test_missing_live_table():
    result, _host = run(None, desired="check-hub-desired.json")
    assert not result["table_present"] and not result["in_sync"]
    assert result["drift"]["lines"] == ["table inet wgspread: missing on the live system (the desired table has 12 rules)"]
    assert all(not t["spread"]["send_rule"] for t in result["tunnels"])


def test_missing_desired_file_is_reported_not_raised():
    result, _host = run("check-hub-live-counted.json", desired_present=False)
    assert not result["desired_present"] and not result["in_sync"]
    assert result["desired_error"] == "/etc/wgspread/wgspread.nft does not exist"
    assert result["drift"]["lines"] == ["desired table: /etc/wgspread/wgspread.nft does not exist"]


def test_a_file_nft_refuses_is_reported_with_nft_message():
    result, _host = run("check-hub-live-counted.json", idempotent=True,
                        desired_answer=(1, "", "/etc/wgspread/wgspread.nft:9:3-4: Error: syntax error\n"))
    assert result["desired_error"] == "nft refuses /etc/wgspread/wgspread.nft: /etc/wgspread/wgspread.nft:9:3-4: Error: syntax error"
    assert not result["in_sync"] and result["idempotent"] is None


def test_meter_packets_per_port_and_cpu_and_busiest_share():
    result, _host = run("check-hub-live-counted.json", desired="check-hub-desired.json")
    assert result["meter"]["hub-spoke1"] == {
        "link": "hub-spoke1", "packets": 500, "busiest_cpu": 0, "busiest_core_share": 0.8,
        "ports": [{"port": 51820, "packets": 300}, {"port": 51821, "packets": 200}],
        "cpus": [{"cpu": 0, "packets": 400}, {"cpu": 1, "packets": 100}],
        "port_cpus": [{"port": 51820, "cpu": 0, "packets": 300}, {"port": 51820, "cpu": 1, "packets": 0},
                      {"port": 51821, "cpu": 0, "packets": 100}, {"port": 51821, "cpu": 1, "packets": 100}]}
    assert result["meter"]["hub-spoke2"]["busiest_core_share"] == 1.0


def test_meter_without_traffic_has_no_share_and_without_chain_is_empty():
    idle = meter(json.loads(fixture("check-hub-desired.json")))
    assert idle["hub-spoke1"]["packets"] == 0 and idle["hub-spoke1"]["busiest_core_share"] is None
    assert meter(json.loads(fixture("check-spoke1.json"))) == {}


def test_what_each_tunnel_has_configured():
    result, _host = run("check-hub-live-counted.json", desired="check-hub-desired.json")
    spoke2 = [t for t in result["tunnels"] if t["link"] == "hub-spoke2"][0]
    assert spoke2["interface"] == "wg-spoke2"
    assert spoke2["spread"] == {
        "send_rule": True, "peer": "spoke2", "peer_endpoint": "198.51.100.13", "listen_port": 51830,
        "peer_listen_port": 51820, "send_ports": [51820, 51821],
        "fold_rule": True, "fold_from": "198.51.100.13", "fold_ports": [51830, 51831], "fold_to": 51830}
    wg = spoke2["wireguard"]
    assert wg["present"] and wg["listen_port"] == 51830
    assert wg["public_key"] == "G5Z1kjqejStv2TyTzwuIPca/qZth7r7ozt9NQUgXbUc="
    assert wg["peers"] == [{"public_key": "qjBa090aKZ7xGDJpXNqCeikhFLzzNFLYb/YH+VuljFU=", "endpoint": "198.51.100.13:51820",
                            "allowed_ips": ["10.0.0.0/24", "198.18.0.1/32"], "latest_handshake": 1764050000}]


def test_private_and_preshared_keys_never_reach_the_result():
    result, _host = run("check-hub-live-counted.json", desired="check-hub-desired.json")
    text = json.dumps(result)
    assert dump("hub", "wg-spoke1").split("\t")[0] in SECRETS
    for secret in SECRETS:
        assert secret not in text


def test_a_missing_interface_is_reported():
    result, _host = run("check-hub-live-counted.json", desired="check-hub-desired.json",
                        dumps={"wg-spoke1": (1, "", "Unable to access interface: No such device\n")})
    wg = result["tunnels"][0]["wireguard"]
    assert wg == {"present": False, "error": "Unable to access interface: No such device"}


def test_threaded_napi_of_each_tunnel_is_read_from_sys():
    """/sys/class/net/IFACE/threaded as a number; null where the kernel has no such file."""
    host = gateway_host("hub", "check-hub-live-counted.json", desired="check-hub-desired.json")
    host.files["/sys/class/net/wg-spoke1/threaded"] = "1\n"
    result = check(host, PATH, "inet", "wgspread", tunnels_of("hub"), False)
    assert [(t["interface"], t["threaded"]) for t in result["tunnels"]] == [("wg-spoke1", 1), ("wg-spoke2", None)]


def test_link_rules_of_a_link_without_spreading():
    rules = link_rules(json.loads(fixture("check-spoke1.json")), "no-such-link")
    assert not rules["send_rule"] and not rules["fold_rule"] and rules["send_ports"] == []


def test_link_rules_see_the_changed_port_map():
    assert link_rules(json.loads(fixture("check-spoke1-portmap.json")), "hub-spoke1")["send_ports"] == [51820, 51822]


def test_render_matches_what_was_loaded():
    """The text rendering of nft's JSON reads like the rule lines of the rendered file."""
    with open(__file__.replace("plugins/module_utils/test_ruleset_check.py", "fixtures/nft/check-hub.nft")) as handle:
        loaded = [line.strip() for line in handle if line.strip().startswith("ip ")]
    rendered = [line.strip() for line in render_table(normalize(json.loads(fixture("check-hub-desired.json"))), "inet", "wgspread")
                if line.strip().startswith("ip ")]
    assert rendered == loaded


def test_render_unknown_statements_as_json():
    assert render_rule({"expr": [{"log": {"prefix": "x"}}, {"accept": None}]}) == '{"log": {"prefix": "x"}} accept'


def test_reordered_rules_are_drift_in_words():
    desired = normalize(json.loads(fixture("check-hub-desired.json")))
    rules = [i for i, obj in enumerate(desired) if "rule" in obj and obj["rule"]["chain"] == "output"]
    live = list(desired)
    live[rules[0]], live[rules[1]] = live[rules[1]], live[rules[0]]
    assert drift_lines(desired, live, "inet", "wgspread") == [
        "reordered: chain output: the rules are in another order than in the desired table"]


def test_a_changed_chain_is_drift():
    desired = normalize(json.loads(fixture("check-hub-desired.json")))
    live = json.loads(json.dumps(desired))
    for obj in live:
        if "chain" in obj and obj["chain"]["name"] == "rx_per_cpu":
            obj["chain"]["prio"] = -300
    assert drift_lines(desired, live, "inet", "wgspread") == [
        "changed: chain rx_per_cpu: type filter hook prerouting priority -300; policy accept; (live) vs "
        "type filter hook prerouting priority -350; policy accept; (desired)"]
