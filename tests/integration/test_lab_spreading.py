"""Port spreading proven on the wire, in the three-gateway lab.

Every figure comes from counters of a table this test installs itself on the receiver
(``inet wgtest``, prerouting at priority -350, before the fold-back at raw), so the
proof does not rest on the product's own meter. Traffic is a bounded ping through
the tunnel; the WireGuard packets that carry it are what the counters see.
"""

import contextlib
import copy
import json
import re
import subprocess

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from labkit import (
    INVENTORY, container, lab_links, links_vars, ping_every_tunnel, ping_figures, playbook, sh, stop_pings, wait_booted,
    wait_reachable,
)

# Each gateway's underlay address on each link: hub-spoke2 runs over IPv6 (the lab inventory
# gives its endpoints), so both families are spread and folded back on the wire.
UNDERLAY = {
    frozenset(("hub", "spoke1")): {"hub": "198.51.100.11", "spoke1": "198.51.100.12"},
    frozenset(("hub", "spoke2")): {"hub": "2001:db8:5100::11", "spoke2": "2001:db8:5100::13"},
}
# (link, sender, receiver, receiver's tunnel address, receiver's listen port)
DIRECTIONS = [
    ("hub-spoke1", "hub", "spoke1", "198.18.0.1", 51820),
    ("hub-spoke1", "spoke1", "hub", "198.18.0.0", 51820),
    ("hub-spoke2", "hub", "spoke2", "198.18.0.3", 51920),
    ("hub-spoke2", "spoke2", "hub", "198.18.0.2", 51920),
]
PINGS = 1000


@contextlib.contextmanager
def meter(gateway, peer, ports, cpus=2):
    """Count packets from ``peer``'s underlay to each port on each CPU of ``gateway``.

    Yields a function returning {(port, cpu): packets}. The table is removed afterwards.
    """
    source = UNDERLAY[frozenset((gateway, peer))][peer]
    family = "ip6" if ":" in source else "ip"
    rules = "\n".join('%s saddr %s udp dport %d meta cpu %d counter comment "%d %d"' % (family, source, port, cpu, port, cpu)
                      for port in ports for cpu in range(cpus))
    sh(gateway, "nft -f - <<'EOF'\ntable inet wgtest {\n chain pre {\n  type filter hook prerouting priority -350;\n%s\n }\n}\nEOF" % rules)

    def read():
        counts = {}
        for item in json.loads(sh(gateway, "nft -j list table inet wgtest"))["nftables"]:
            rule = item.get("rule")
            if rule:
                port, cpu = map(int, rule["comment"].split())
                counts[(port, cpu)] = next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        return counts

    try:
        yield read
    finally:
        sh(gateway, "nft delete table inet wgtest")


def ping(sender, address, count=PINGS):
    """(sent, received) of a bounded ping at 2 ms intervals through a tunnel."""
    out = sh(sender, "ping -q -i 0.002 -W 1 -c %d %s" % (count, address), check=False)
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())
    return sent, received


def per_port(counts):
    out = {}
    for (port, _cpu), packets in counts.items():
        out[port] = out.get(port, 0) + packets
    return out


def per_cpu(counts):
    out = {}
    for (_port, cpu), packets in counts.items():
        out[cpu] = out.get(cpu, 0) + packets
    return out


def with_link(links, name, **changes):
    links = copy.deepcopy(links)
    for link in links:
        if link["name"] == name:
            link.update(changes)
    return links


@pytest.fixture
def changed_links(rolled_out):
    """For tests that roll out other link settings: the lab's own are rolled out again after."""
    yield
    run = playbook("site.yml")
    assert run.rc == 0, run.out[-3000:]


@pytest.mark.parametrize("link, sender, receiver, address, listen_port", DIRECTIONS,
                         ids=["%s:%s->%s" % d[:3] for d in DIRECTIONS])
def test_each_direction_of_each_link_is_spread_evenly_without_loss(rolled_out, link, sender, receiver, address, listen_port):
    ports = [listen_port, listen_port + 1]           # spread.count auto: 2 receive CPUs
    unused = [listen_port + 2, listen_port + 3]      # must stay empty
    with meter(receiver, sender, ports + unused) as read:
        sent, received = ping(sender, address)
        counts = per_port(read())
    print("%s %s->%s: %d pings, %d replies; packets per port %s" % (link, sender, receiver, sent, received, counts))
    assert received == sent == PINGS
    assert all(counts[port] == 0 for port in unused), counts
    for port in ports:
        assert abs(counts[port] - PINGS / 2) <= 0.05 * PINGS / 2, counts


def test_rps_sends_each_port_to_one_cpu_and_spreading_uses_both(changed_links, tmp_path):
    """With RPS over both CPUs on spoke1's lab interface (set by site.yml's nic_tuning: the lab
    interface has one queue for two CPUs), each port lands on one CPU (the RPS hash), so 16
    ports reach both CPUs, while the same traffic unspread stays on one."""
    assert sh("spoke1", "cat /sys/class/net/eth0/queues/rx-0/rps_cpus").strip().lstrip("0,") == "3"
    results = {}
    # 16 ports for 2 receive CPUs is more than 4 per CPU: an explicit opt-in (docs/inventory.md)
    for label, spread in (("spread over 16 ports", {"count": 16, "allow_many_ports": True}),
                          ("spreading off", {"enabled": False})):
        links = with_link(lab_links(), "hub-spoke1", spread=spread)
        run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, links))
        assert run.rc == 0, run.out[-3000:]
        with meter("spoke1", "hub", range(51820, 51836)) as read:
            sent, received = ping("hub", "198.18.0.1")
            counts = read()
        assert received == sent, (label, sent, received)
        results[label] = counts
        print("%s: per port %s; per cpu %s" % (label, per_port(counts), per_cpu(counts)))

    spread = results["spread over 16 ports"]
    ports = per_port(spread)
    assert all(abs(ports[p] - PINGS / 16) <= 0.05 * PINGS / 16 + 2 for p in range(51820, 51836)), ports
    for port in range(51820, 51836):  # RPS: one port, one CPU
        assert max(spread[(port, 0)], spread[(port, 1)]) >= 0.95 * ports[port], spread
    cpus = per_cpu(spread)
    assert min(cpus.values()) >= 0.1 * PINGS, cpus  # both CPUs carry a real share

    single = results["spreading off"]
    assert per_port(single)[51820] >= PINGS and sum(per_port(single).values()) == per_port(single)[51820], per_port(single)
    assert max(per_cpu(single).values()) >= 0.95 * sum(per_cpu(single).values()), per_cpu(single)


def test_spreading_off_leaves_one_port_and_no_rules(changed_links, tmp_path):
    links = with_link(lab_links(), "hub-spoke2", spread={"enabled": False})
    run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, links))
    assert run.rc == 0, run.out[-3000:]
    assert "hub-spoke2" not in sh("hub", "nft list table inet wgspread")
    with meter("spoke2", "hub", [51920, 51921]) as read:
        sent, received = ping("hub", "198.18.0.3")
        counts = per_port(read())
    assert received == sent
    assert counts[51921] == 0 and counts[51920] >= PINGS, counts


USER_FIREWALL = """table inet userfw {
 chain input {
  type filter hook input priority filter; policy drop;
  ct state established,related accept
  iif lo accept
  tcp dport 22 accept
  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept comment "IPv6 neighbour discovery"
  udp dport 51920 accept comment "WireGuard listen port"
  iifname "wg-hub" accept comment "traffic from the other site"
 }
}"""


def test_default_drop_firewall_and_tunnel_both_keep_working(rolled_out):
    """A host firewall that accepts only established traffic, ssh and the listen port:
    the fold-back runs before it, so it sees the listen port, and the tunnel works."""
    sh("spoke2", "nft -f - <<'EOF'\n%s\nEOF" % USER_FIREWALL)
    before = sh("spoke2", "nft list table inet userfw")
    try:
        run = playbook("site.yml")
        assert run.rc == 0 and run.changed() == 0, run.out[-3000:]
        with meter("spoke2", "hub", [51920, 51921]) as read:
            sent, received = ping("hub", "198.18.0.3")
            counts = per_port(read())
        assert received == sent == PINGS
        assert min(counts.values()) >= 0.45 * PINGS, counts
        assert sh("spoke2", "nft list table inet userfw") == before
    finally:
        sh("spoke2", "nft delete table inet userfw")


def test_restarted_gateway_comes_back_with_tunnel_and_spreading(rolled_out):
    table = json.loads(sh("spoke2", "nft -j list table inet wgspread"))
    subprocess.run(["podman", "restart", "-t", "10", container("spoke2")], check=True, capture_output=True)
    assert wait_booted("spoke2") == "running", sh("spoke2", "systemctl --failed --no-legend", check=False)
    after = json.loads(sh("spoke2", "nft -j list table inet wgspread"))
    assert normalize(after) == normalize(table)  # loaded at boot by wgspread-nft.service
    assert "wg-hub" in sh("spoke2", "ip -br link")
    with meter("hub", "spoke2", [51920, 51921]) as read:
        sent, received = ping("spoke2", "198.18.0.2")
        counts = per_port(read())
    assert received == sent == PINGS
    assert min(counts.values()) >= 0.45 * PINGS, counts
    # and Ansible finds nothing to do: everything came back by itself
    print("spoke2 reachable over SSH %.1f s after its restart and the pings" % wait_reachable("spoke2"))
    run = playbook("site.yml")
    assert run.rc == 0 and run.changed() == 0, run.recap


def test_changing_the_spread_count_loses_no_packet(changed_links, tmp_path):
    """Grow hub-spoke1's port sets from 2 to 4 and shrink them back while pings run through
    every tunnel every 10 ms: receivers fold back old and new ports before senders switch."""
    figures = {}
    for label, links in (("2 -> 4 ports", with_link(lab_links(), "hub-spoke1", spread={"count": 4})),
                         ("4 -> 2 ports", lab_links())):
        pingers = ping_every_tunnel()
        run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, links))
        results = stop_pings(pingers)
        assert run.rc == 0, run.out[-3000:]
        assert run.recap["hub"]["changed"] >= 1 and run.recap["spoke1"]["changed"] >= 1, run.recap
        figures[label] = ping_figures(results, pingers)
    print("spread count change of hub-spoke1, pings every 10 ms (sent, lost, longest silence s, slowest reply s): %s" % figures)
    assert all(figure[1] == 0 for runs in figures.values() for figure in runs.values()), figures  # (sent, lost, ...)
    assert "udp dport { 51820, 51821 } notrack" in sh("hub", "nft list chain inet wgspread prerouting")


def test_state_absent_removes_only_what_port_spread_made(changed_links):
    sh("spoke1", "nft -f - <<'EOF'\n%s\nEOF" % USER_FIREWALL.replace("userfw", "usertable").replace("policy drop", "policy accept"))
    user_table = sh("spoke1", "nft list table inet usertable")
    sh("spoke1", "touch /etc/wgspread/users-own-file")
    try:
        run = playbook("site.yml", INVENTORY, "-e", "port_spread_state=absent")
        assert run.rc == 0, run.out[-3000:]
        for gateway in ("hub", "spoke1", "spoke2"):
            assert "wgspread" not in sh(gateway, "nft list tables"), gateway
            assert sh(gateway, "ls /etc/systemd/system/wgspread-nft.service /etc/wgspread/wgspread.nft 2>&1 || true").count(
                "No such file") == 2, gateway
            # (systemctl exits 1 when no unit file matches)
            assert "wgspread-nft" not in sh(gateway, "systemctl list-unit-files --no-legend 'wgspread*'", check=False)
        assert sh("spoke1", "nft list table inet usertable") == user_table
        left = sh("spoke1", "ls /etc/wgspread").split()  # the nic_tuning role keeps its script there too
        assert "users-own-file" in left and "wgspread.nft" not in left and "wgspread.digest" not in left, left
        sent, received = ping("hub", "198.18.0.1", count=200)
        assert received == sent == 200
        again = playbook("site.yml", INVENTORY, "-e", "port_spread_state=absent")
        assert again.rc == 0 and again.changed() == 0, again.recap
    finally:
        sh("spoke1", "nft delete table inet usertable; rm -f /etc/wgspread/users-own-file", check=False)
