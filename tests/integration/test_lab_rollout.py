"""site.yml against the three-gateway lab over SSH: the whole foundation, on real
containers with real wireguard-go tunnels and real packets.

Order matters and is kept by one module-scoped rollout: the user's own WireGuard
interface and nft table are made first, then a check-mode run must change nothing,
then the real run (-vvv, to prove no key is ever printed), then the checks.
"""

import copy
import json
import re
import time

import pytest

from labkit import (
    GATEWAYS, INVENTORY, lab_links, links_vars, ping_every_tunnel, ping_figures, playbook, sh, stop_pings,
)

USER_CONF = """[Interface]
PrivateKey = {key}
ListenPort = 40000
Address = 198.19.255.1/24
"""
USER_TABLE = """table inet userfw {
 chain input {
  type filter hook input priority 10; policy accept;
  tcp dport 2222 counter accept
 }
}"""


def nft_json(gateway, table):
    """A table as nft's JSON, without handles (they are bookkeeping, not content)."""
    data = json.loads(sh(gateway, "nft -j list table %s" % table))
    for item in data["nftables"]:
        for value in item.values():
            if isinstance(value, dict):
                value.pop("handle", None)
    return data


@pytest.fixture(scope="module")
def user_things(lab):
    """What a user had on the hub before our rollout: a WireGuard interface and an nft table."""
    sh("hub", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
              "--no-install-recommends wireguard-tools wireguard-go >/dev/null")
    key = sh("hub", "wg genkey").strip()
    sh("hub", "umask 077 && printf '%s' '" + USER_CONF.format(key=key) + "' > /etc/wireguard/wg-user.conf")
    sh("hub", "wg-quick up wg-user")
    sh("hub", "nft -f - <<'EOF'\n%s\nEOF" % USER_TABLE)
    return {
        "conf": sh("hub", "cat /etc/wireguard/wg-user.conf"),
        "dump": sh("hub", "wg show wg-user dump"),
        "table": nft_json("hub", "inet userfw"),
    }


@pytest.fixture(scope="module")
def rollout(user_things):
    first = playbook("site.yml", INVENTORY, "-vvv")
    second = playbook("site.yml")
    return {"first": first, "second": second}


def test_check_mode_on_a_fresh_lab_reports_changes_and_changes_nothing(user_things):
    # runs before the rollout fixture, on the fresh lab
    run = playbook("site.yml", INVENTORY, "--check", "--diff")
    assert run.rc == 0, run.out[-3000:]
    assert set(run.recap) == set(GATEWAYS)
    assert all(run.recap[g]["changed"] > 0 for g in GATEWAYS), run.recap
    for gateway in GATEWAYS:
        assert sh(gateway, "ls /etc/wireguard/wgspread 2>/dev/null; ip -br link | grep -c '^wg-\\(hub\\|spoke\\)' || true").strip() == "0"


def test_first_run_succeeds_and_second_changes_nothing(rollout):
    first, second = rollout["first"], rollout["second"]
    assert first.rc == 0, first.out[-5000:]
    assert set(first.recap) == set(GATEWAYS)
    assert second.rc == 0, second.out[-5000:]
    assert second.changed() == 0, second.recap


@pytest.mark.parametrize("gateway, peer_ip", [("hub", "198.18.0.1"), ("hub", "198.18.0.3"),
                                              ("spoke1", "198.18.0.0"), ("spoke2", "198.18.0.2")])
def test_ping_through_every_link(rollout, gateway, peer_ip):
    out = sh(gateway, "ping -c 5 -i 0.2 -W 2 -q %s" % peer_ip)
    assert re.search(r"5 packets transmitted, 5 received, 0% packet loss", out), out


@pytest.mark.parametrize("gateway, interface", [("hub", "wg-spoke1"), ("hub", "wg-spoke2"),
                                                ("spoke1", "wg-hub"), ("spoke2", "wg-hub")])
def test_recent_handshake_and_preshared_key_on_every_tunnel(rollout, gateway, interface):
    sh(gateway, "ping -c 1 -W 2 -q %s >/dev/null || true" % ("198.18.0.1" if gateway != "spoke1" else "198.18.0.0"))
    (peer,) = [line.split("\t") for line in sh(gateway, "wg show %s dump" % interface).splitlines()[1:]]
    handshake = int(peer[4])
    assert 0 < time.time() - handshake < 180
    assert peer[1] != "(none)", "preshared key missing"


def test_preshared_keys_match_on_both_ends(rollout):
    for link, a, b in (("hub-spoke1", "hub", "spoke1"), ("hub-spoke2", "hub", "spoke2")):
        path = "/etc/wireguard/wgspread/%s.psk" % link
        assert sh(a, "cat " + path) == sh(b, "cat " + path)


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_key_files_are_root_0600_and_never_printed(rollout, gateway):
    listing = sh(gateway, "stat -c '%a %U %n' /etc/wireguard/wgspread /etc/wireguard/wgspread/* /etc/wireguard/wg-*.conf")
    lines = listing.strip().splitlines()
    assert lines[0].startswith("700 root ")
    assert len(lines) >= 3
    for line in lines[1:]:
        assert line.startswith("600 root "), line
    log = rollout["first"].out
    for path in sh(gateway, "ls /etc/wireguard/wgspread/").split():
        secret = sh(gateway, "cat /etc/wireguard/wgspread/" + path).strip()
        assert len(secret) == 44
        assert secret not in log, "%s of %s appears in the -vvv log" % (path, gateway)


def test_users_wireguard_interface_and_nft_table_are_untouched(rollout, user_things):
    assert sh("hub", "cat /etc/wireguard/wg-user.conf") == user_things["conf"]
    # same key and port; peers and counters are the user's business
    assert sh("hub", "wg show wg-user dump").splitlines()[0] == user_things["dump"].splitlines()[0]
    assert nft_json("hub", "inet userfw") == user_things["table"]


def lab_interface(gateway):
    """Queue counts in use and the RPS/XPS CPU masks of a gateway's lab interface."""
    channels = sh(gateway, "ethtool -l eth0").split("Current hardware settings:")[1]
    masks = sh(gateway, "cd /sys/class/net/eth0/queues && grep -H . rx-*/rps_cpus tx-*/xps_cpus")
    return {
        "rx": int(re.search(r"RX:\s*(\d+)", channels).group(1)),
        "tx": int(re.search(r"TX:\s*(\d+)", channels).group(1)),
        "masks": dict((name, mask.lstrip("0,") or "0") for name, mask in
                      (line.split(":", 1) for line in masks.splitlines())),
    }


TUNED = {"rx": 2, "tx": 2, "masks": {"rx-0/rps_cpus": "3", "rx-1/rps_cpus": "3",
                                     "tx-0/xps_cpus": "1", "tx-1/xps_cpus": "2"}}


def test_nic_tuning_sets_queues_and_rps_xps_and_check_diff_shows_exactly_a_drift(rollout):
    """site.yml's nic_tuning raised podman's veth to 2 queues each way (one per CPU) and, since
    veth reports no RSS, turned RPS on over both CPUs on both RX queues, with XPS one CPU per TX
    queue. When one gateway drifts back (1 queue, RPS off), --check --diff names exactly that
    on exactly that gateway and changes nothing; the next run puts it back."""
    for gateway in GATEWAYS:
        assert lab_interface(gateway) == TUNED, gateway

    sh("spoke2", "ethtool -L eth0 rx 1 tx 1 && echo 0 > /sys/class/net/eth0/queues/rx-0/rps_cpus")
    drifted = lab_interface("spoke2")
    check = playbook("site.yml", INVENTORY, "--check", "--diff")
    assert check.rc == 0, check.out[-3000:]
    print("check mode: %s" % check.recap)
    assert check.recap["hub"]["changed"] == check.recap["spoke1"]["changed"] == 0, check.recap
    assert check.recap["spoke2"]["changed"] == 1, check.recap  # the NIC steps: queue counts, RPS/XPS (one nic_tune)
    for line in ("-rx: 1", "+rx: 2", "-tx: 1", "+tx: 2", "-rx-0/rps_cpus: none", "+rx-0/rps_cpus: 0-1",
                 "+rx-1/rps_cpus: 0-1", "-tx-1/xps_cpus: none", "+tx-1/xps_cpus: 1"):
        assert line in check.out.splitlines(), line
    assert lab_interface("spoke2") == drifted  # check mode changed nothing

    fix = playbook("site.yml")
    assert fix.rc == 0, fix.out[-3000:]
    assert fix.recap["spoke2"]["changed"] == 1 and fix.recap["hub"]["changed"] == 0, fix.recap
    assert lab_interface("spoke2") == TUNED
    assert playbook("site.yml").changed() == 0


def test_keepalive_change_is_applied_without_recreating_the_interface(rollout, tmp_path):
    links = copy.deepcopy(lab_links())
    links[0]["persistent_keepalive"] = 10
    ifindex = sh("spoke1", "cat /sys/class/net/wg-hub/ifindex")
    pingers = ping_every_tunnel()  # 10 ms pings through every tunnel for the whole run
    run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, links))
    results = stop_pings(pingers)
    print("keepalive change, pings every 10 ms (sent, lost, longest silence s, slowest reply s): %s" % ping_figures(results, pingers))
    assert run.rc == 0, run.out[-3000:]
    assert run.recap["spoke1"]["changed"] >= 1 and run.recap["hub"]["changed"] >= 1
    assert run.recap["spoke2"]["changed"] == 0
    assert sh("spoke1", "wg show wg-hub persistent-keepalive").split()[-1] == "10"
    assert sh("hub", "wg show wg-spoke1 persistent-keepalive").split()[-1] == "10"
    assert sh("spoke1", "cat /sys/class/net/wg-hub/ifindex") == ifindex
    for link, (sent, received, _silence) in results.items():
        assert sent > 500 and received == sent, (link, sent, received)
    # and back to the lab's inventory, again without loss of state
    assert playbook("site.yml").rc == 0
