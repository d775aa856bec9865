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
