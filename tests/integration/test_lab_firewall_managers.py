"""The spreading table next to the firewall managers gateways run, in one lab bring-up: the
hub runs nftables.service (an /etc/nftables.conf that starts with "flush ruleset"), spoke1
ufw (iptables-nft), spoke2 firewalld (nftables backend), each with a default-deny inbound
policy that allows SSH and the gateway's listen ports the way that tool's users do.

site.yml must leave each manager's rules as they were; each reload or restart of a manager
must find ``inet wgspread`` back by itself (systemd, no Ansible), measured: how long the table
was missing (sampled inside the gateway every few ms) and how many 10 ms pings through the
tunnel were lost. The figures are printed (pytest -s). Afterwards the managers are removed and
the lab is as the other modules expect it (ruleset: our table only)."""

import os
import re
import subprocess
import tempfile
import time

import pytest
import yaml

from labkit import (
    INVENTORY, TUNNEL_PINGS, container, lab_links, ping_every_tunnel, ping_figures, playbook, sh, stop_pings,
)

SPREAD_TABLE = ("inet", "wgspread")
COUNT_TABLE = "wgfwcount"  # this test's own packet counters, at priority -350 (before the fold-back)
MANAGERS = {"hub": "nftables.service", "spoke1": "ufw", "spoke2": "firewalld"}

# /etc/nftables.conf as an nftables.service user writes it: Debian's own begins with
# "flush ruleset", so every reload and restart removes every table, ours too.
# (Protocol numbers, not names: the lab image has no /etc/protocols.)
NFTABLES_CONF = """#!/usr/sbin/nft -f
flush ruleset

table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iifname "lo" accept
        meta l4proto { 1, 58 } accept
        tcp dport 22 accept
        udp dport { %s } accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
    }
    chain output {
        type filter hook output priority filter;
    }
}
"""

# (gateway, what the user runs); the stop/start pair is what "systemctl stop nftables" then
# "start" does: the stop flushes the ruleset and stops our unit (PartOf=), the start brings
# ours back (WantedBy=nftables.service).
ACTIONS = [
    ("hub", "systemctl reload nftables"),
    ("hub", "systemctl restart nftables"),
    ("hub", "systemctl stop nftables && systemctl start nftables"),
    ("spoke1", "ufw reload"),
    ("spoke1", "ufw disable && ufw --force enable"),
    ("spoke2", "firewall-cmd --reload"),
    ("spoke2", "systemctl restart firewalld"),
]

# A spreading table missing this long after the manager's command returned fails the test.
BACK_WITHIN = 5.0
# The longest ping silence allowed per manager, in s: the manager's own gap, not ours.
# nftables.service: our table is flushed and loaded again (tens of ms). ufw: it flushes and
# rebuilds its chains step by step (ufw-init-functions), dropping for a moment. firewalld:
# while it reloads or restarts it loads "table inet firewalld_policy_drop", which accepts only
# ct state established,related, so our untracked tunnel packets are dropped for as long as
# its reload takes (seconds on a busy host); see docs/troubleshooting.md, section i.
SILENCE_BOUND = {"nftables.service": 1.0, "ufw": 2.0, "firewalld": 10.0}


def underlay_hosts():
    with open(os.path.join(INVENTORY, "hosts.yml")) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["gateways"]["hosts"]
    return dict((name, spec["ansible_host"]) for name, spec in hosts.items())


def gateway_links(gateway):
    """[(link name, peer, listen port, the peer's underlay address)] of the gateway's links."""
    hosts = underlay_hosts()
    out = []
    for link in lab_links():
        if gateway in link["gateways"]:
            (peer,) = [g for g in link["gateways"] if g != gateway]
            out.append((link["name"], peer, link["listen_port"], link.get("endpoints", {}).get(peer, hosts[peer])))
    return out


def tables(gateway):
    return [tuple(line.split()[1:3]) for line in sh(gateway, "nft list tables").splitlines() if line.startswith("table ")]


def stateless(gateway, family, name):
    """The table's rules without counters or comments of the tool ("# Warning ...")."""
    text = sh(gateway, "nft -s list table %s %s" % (family, name))
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def foreign_rules(gateway):
    """Every table but ours: the manager's rules, as nft shows them without counters."""
    return dict(("%s %s" % t, stateless(gateway, *t)) for t in tables(gateway) if t != SPREAD_TABLE)


def fold_ports(gateway, link):
    """The ports the gateway folds back for the link, read from the live table."""
    match = re.search(r'udp dport \{ ([\d, ]+) \} notrack udp dport set \d+ comment "%s: fold back' % link,
                      stateless(gateway, *SPREAD_TABLE))
    assert match, (gateway, link, stateless(gateway, *SPREAD_TABLE))
    return [int(port) for port in match.group(1).split(",")]


def packets_per_port(gateway, pings=300):
    """{link: {port: packets received from the peer}} over a ping through each of the gateway's
    tunnels, counted by a table of this test's own before the fold-back."""
    rules, ports = [], {}
    for link, _peer, _listen, source in gateway_links(gateway):
        ports[link] = fold_ports(gateway, link)
        family = "ip6" if ":" in source else "ip"
        rules += ['%s saddr %s udp dport %d counter comment "%s %d"' % (family, source, port, link, port)
                  for port in ports[link]]
    sh(gateway, "nft -f - <<'EOF'\ntable inet %s {\n chain pre {\n  type filter hook prerouting priority -350;\n%s\n }\n}\nEOF"
       % (COUNT_TABLE, "\n".join(rules)))
    try:
        for link in ports:
            spoke, address = TUNNEL_PINGS[link]
            out = sh(spoke, "ping -q -i 0.005 -W 1 -c %d %s" % (pings, address), check=False)
            assert " 0% packet loss" in out, (link, out)
        counts = dict((link, {}) for link in ports)
        for match in re.finditer(r'counter packets (\d+) bytes \d+ comment "(\S+) (\d+)"',
                                 sh(gateway, "nft list table inet %s" % COUNT_TABLE)):
            counts[match.group(2)][int(match.group(3))] = int(match.group(1))
        return counts
    finally:
        sh(gateway, "nft delete table inet %s" % COUNT_TABLE)


def assert_spread(gateway):
    for link, counts in packets_per_port(gateway).items():
        assert len(counts) >= 2 and min(counts.values()) > 0, (gateway, link, counts)


class TableWatch(object):
    """Samples inside the gateway, every few ms, whether our table is loaded (a shell loop, so
    no podman exec per sample); ``stop()`` gives (samples, longest absence in s)."""

    LOOP = ('rm -f /run/wgfw-stop; while [ ! -e /run/wgfw-stop ]; do t=$(date +%s.%N); '
            'if nft list table inet wgspread >/dev/null 2>&1; then echo "$t 1"; else echo "$t 0"; fi; '
            'sleep 0.005; done')

    def __init__(self, gateway):
        self.gateway = gateway
        self.log = tempfile.TemporaryFile(mode="w+")
        sh(gateway, "rm -f /run/wgfw-stop")
        self.process = subprocess.Popen(["podman", "exec", container(gateway), "sh", "-c", self.LOOP],
                                        stdout=self.log, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)

    def wait_present(self, seconds):
        """Seconds until the table is there (polled from outside, coarse), or None."""
        started = time.time()
        while time.time() - started < seconds:
            if SPREAD_TABLE in tables(self.gateway):
                return time.time() - started
            time.sleep(0.1)
        return None

    def stop(self):
        sh(self.gateway, "touch /run/wgfw-stop")
        self.process.wait(timeout=10)
        self.log.seek(0)
        samples = [line.split() for line in self.log.read().splitlines() if re.match(r"^\d+\.\d+ [01]$", line)]
        self.log.close()
        longest, gone_since, last_present = 0.0, None, None
        for stamp, present in ((float(s), p == "1") for s, p in samples):
            if present:
                if gone_since is not None:
                    # from the last sample that saw it to the first that sees it again: an upper bound
                    longest = max(longest, stamp - gone_since)
                gone_since, last_present = None, stamp
            elif gone_since is None:
                gone_since = last_present if last_present is not None else stamp
        if gone_since is not None:
            longest = float("inf")  # never came back while sampled
        return len(samples), longest


def install(gateway):
    """Start the gateway's firewall manager with default deny inbound, SSH and its listen ports
    allowed, as that tool's users do it. Returns a Popen of the slow part (apt) or None."""
    ports = sorted(set(port for _link, _peer, port, _source in gateway_links(gateway)))
    if gateway == "hub":
        sh(gateway, "cat > /etc/nftables.conf <<'EOF'\n%sEOF\nsystemctl enable --now nftables"
           % (NFTABLES_CONF % ", ".join(map(str, ports))))
        return None
    apt = "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends"
    if gateway == "spoke1":
        script = ("apt-get update -qq && %s ufw && ufw default deny incoming && ufw allow 22/tcp && %s && ufw --force enable"
                  % (apt, " && ".join("ufw allow %d/udp" % port for port in ports)))
    else:
        # firewalld refuses to start without /etc/protocols (netbase), which the image lacks;
        # first, as firewalld's own install starts it. Its default zone (public) allows SSH.
        script = ("apt-get update -qq && %s netbase && %s firewalld && systemctl start firewalld && %s && firewall-cmd --reload"
                  % (apt, apt, " && ".join("firewall-cmd --permanent --add-port=%d/udp" % port for port in ports)))
    return subprocess.Popen(["podman", "exec", container(gateway), "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def remove(gateway, tables_before, nftables_conf, saved=None):
    """Take the manager away again, and the tables it left, so the lab is as it was; put back
    the tables of others that ``saved`` ({table: `nft list table` text}) holds and the manager
    flushed (the hub's `flush ruleset` also takes an earlier module's own `inet userfw`)."""
    if gateway == "hub":
        # the stop flushes the ruleset and stops our unit with it (PartOf=)
        sh(gateway, "systemctl disable --now nftables && cat > /etc/nftables.conf <<'EOF'\n%sEOF" % nftables_conf)
    elif gateway == "spoke1":
        sh(gateway, "ufw --force disable && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ufw")
    else:
        sh(gateway, "systemctl disable --now firewalld && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq firewalld")
    for family, name in tables(gateway):
        if (family, name) not in tables_before and (family, name) != SPREAD_TABLE:
            sh(gateway, "nft delete table %s %s" % (family, name))  # iptables-nft's, left by ufw
    present = tables(gateway)
    for table, text in sorted((saved or {}).items()):
        if table not in present:
            sh(gateway, "nft -f - <<'EOF'\n%s\nEOF" % text)
    sh(gateway, "systemctl start wgspread-nft.service")


@pytest.fixture(scope="module")
def managed(lab):
    """The managers installed and running, then site.yml once; yields each manager's rules
    before and after site.yml. Afterwards the managers are removed again."""
    tables_before = dict((g, tables(g)) for g in MANAGERS)
    saved = dict((g, dict((t, sh(g, "nft list table %s %s" % t)) for t in tables_before[g] if t != SPREAD_TABLE))
                 for g in MANAGERS)
    nftables_conf = sh("hub", "cat /etc/nftables.conf")
    started = time.time()
    slow = dict((g, install(g)) for g in MANAGERS)
    for gateway, process in slow.items():
        if process is not None:
            out = process.communicate(timeout=600)[0]
            assert process.returncode == 0, (gateway, out[-3000:])
    installed = time.time() - started
    before = dict((g, foreign_rules(g)) for g in MANAGERS)
    run = playbook("site.yml")
    after = dict((g, foreign_rules(g)) for g in MANAGERS)
    print("firewall managers installed in %.0f s, site.yml in %.0f s" % (installed, time.time() - started - installed))
    try:
        assert run.rc == 0, run.out[-3000:]
        yield before, after
    finally:
        for gateway in MANAGERS:
            remove(gateway, tables_before[gateway], nftables_conf, saved[gateway])
        for gateway in MANAGERS:
            assert sorted(tables(gateway)) == sorted(set(tables_before[gateway]) | {SPREAD_TABLE}), gateway


def test_site_yml_spreads_and_leaves_every_managers_rules_as_they_were(managed):
    before, after = managed
    for gateway, manager in MANAGERS.items():
        assert before[gateway], "%s: %s has no table" % (gateway, manager)
        assert after[gateway] == before[gateway], (gateway, manager)
        assert SPREAD_TABLE in tables(gateway)
        assert_spread(gateway)


@pytest.mark.parametrize("gateway, action", ACTIONS)
def test_the_spreading_table_is_back_by_itself_after_the_manager_reloads(managed, gateway, action):
    table = stateless(gateway, *SPREAD_TABLE)
    rules = foreign_rules(gateway)
    links = [link for link, _peer, _port, _source in gateway_links(gateway)]
    watch = TableWatch(gateway)
    pingers = ping_every_tunnel(links)
    started = time.time()
    sh(gateway, action)
    took = time.time() - started
    back_after = watch.wait_present(BACK_WITHIN)
    time.sleep(1)  # a few pings after it
    results = stop_pings(pingers)
    samples, missing = watch.stop()
    figures = ping_figures(results, pingers)
    print("%s on %s (%s): command %.2f s; table missing %.3f s at most (%d samples); pings every 10 ms "
          "(sent, lost, longest silence s, slowest reply s): %s" % (action, gateway, MANAGERS[gateway], took, missing,
                                                                    samples, figures))
    assert back_after is not None, "%s: inet wgspread not back %.0f s after %r" % (gateway, BACK_WITHIN, action)
    assert missing < 1.0, missing
    assert stateless(gateway, *SPREAD_TABLE) == table
    assert sh(gateway, "systemctl is-active wgspread-nft.service").strip() == "active"
    assert foreign_rules(gateway) == rules, "the manager's rules differ after %r" % action
    bound = SILENCE_BOUND[MANAGERS[gateway]]
    for link, (sent, received, silence) in results.items():
        assert received >= sent - bound * 100 and silence < bound, (link, sent, received, silence)  # 100 pings a second
    assert_spread(gateway)


def test_validate_passes_next_to_every_manager(managed, tmp_path):
    run = playbook("validate.yml", INVENTORY, "-e", "validate_report_dir=%s" % tmp_path)
    assert run.rc == 0 and run.changed() == 0, run.out[-3000:]
    assert '"passed": true' in (tmp_path / "report.json").read_text()
