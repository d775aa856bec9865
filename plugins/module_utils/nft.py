# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port-spreading rules as data, and nft's JSON made comparable.

Why the rules look like this (measured, see docs/spreading.md): NAT decides once per
conntrack entry, so a ``dnat ... numgen`` in a nat chain pins a live tunnel to one port.
A stateless rewrite at priority raw on untracked packets changes every packet: the
sender maps the peer's listen port onto N ports round robin, the receiver folds those
N ports back to its listen port before anything else sees the packet. Only the
destination port changes, so WireGuard's endpoint (source address and port) is stable.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import ipaddress
import json
import re

TABLE_FAMILY = "inet"
TABLE_NAME = "wgspread"


def _family(address):
    return "ip" if ipaddress.ip_address(address).version == 4 else "ip6"


def _set(ports):
    return "{ %s }" % ", ".join(str(p) for p in ports)


# ---------------------------------------------------------------- rule comments
# The rules of a link are found again by their comments (the validator, the meter, the
# fold-back of a port change, calibration): this is the one place that writes and reads them.
SPREAD, FOLD, METER = "spread", "fold", "meter"
_COMMENT_RE = re.compile(r"^(?P<link>[^\s:]+): (?P<kind>spread to|fold back from) (?P<peer>\S.*)$")
_METER_COMMENT_RE = re.compile(r"^(?P<link>\S+) port (?P<port>\d+) cpu (?P<cpu>\d+)$")


def spread_comment(link, peer):
    return "%s: spread to %s" % (link, peer)


def fold_comment(link, peer):
    return "%s: fold back from %s" % (link, peer)


def meter_comment(link, port, cpu):
    return "%s port %d cpu %d" % (link, port, cpu)


def parse_comment(comment):
    """{"kind": SPREAD|FOLD, "link", "peer"} or {"kind": METER, "link", "port", "cpu"} of
    one of our rule comments; None for any other comment."""
    if not isinstance(comment, str):
        return None
    match = _COMMENT_RE.match(comment)
    if match:
        return {"kind": SPREAD if match.group("kind") == "spread to" else FOLD,
                "link": match.group("link"), "peer": match.group("peer")}
    match = _METER_COMMENT_RE.match(comment)
    if match:
        return {"kind": METER, "link": match.group("link"), "port": int(match.group("port")),
                "cpu": int(match.group("cpu"))}
    return None


def _require_ports(tunnel):
    """Refuse a receive port set that spread.count auto could not work out (no facts)."""
    if tunnel["spread"]["receive_ports"] is None:
        raise ValueError("link %s: spread.count: auto needs the CPU count of %s; gather its facts, "
                         "set the host var wgspread_receive_cpus, or give a number"
                         % (tunnel["link"], tunnel["gateway"]))


def spread_rules(tunnels, send=True, run_hosts=None, live_fold=None):
    """{"output": [...], "prerouting": [...]} nft rule lines for one gateway's tunnels.

    Tunnels come from links.gateway_tunnels(); links with spreading off get no rules,
    so their packets stay tracked and untouched.

    Changing ports safely (no packet sent to a port its receiver does not fold back):
    ``send=False`` leaves out the sender's rewrite (packets go to the peer's listen port,
    which every fold set holds) and folds back the wanted ports plus those folded now
    (``live_fold``: {link: ports}, from the live table). Every gateway loads that first;
    only then the full table, so a set may grow or shrink while traffic flows.
    A tunnel whose peer is not in this run (``run_hosts``: --limit, unreachable) may still
    send with an older port set: the gateway that runs keeps folding back what it folds now
    as well, and sends to the peer's listen port only, until a run with both ends.
    """
    live_fold = live_fold or {}
    rules = {"output": [], "prerouting": []}
    for tunnel in tunnels:
        spread = tunnel["spread"]
        if not spread["enabled"]:
            continue
        try:
            family = _family(tunnel["peer_endpoint"])
        except ValueError:
            raise ValueError("link %s: spreading needs the peer's underlay as an IP address, not %r; "
                             "set endpoints.%s to an address" % (tunnel["link"], tunnel["peer_endpoint"], tunnel["peer"])) from None
        peer, link = tunnel["peer_endpoint"], tunnel["link"]
        _require_ports(tunnel)
        peer_in_run = run_hosts is None or tunnel["peer"] in run_hosts
        send_ports = spread["send_ports"] if send and peer_in_run else None
        if not send_ports or send_ports == [tunnel["peer_listen_port"]]:
            rewrite = ""
        else:
            rewrite = " udp dport set numgen inc mod %d map { %s }" % (
                len(send_ports), ", ".join("%d : %d" % (i, port) for i, port in enumerate(send_ports)))
            if family == "ip6":
                # The kernel labels the tunnel's packets with a flow label hashed from the original
                # ports. A receiver's flow hash (RPS, and routers' ECMP) stops at a non-zero flow
                # label and never sees the ports we spread over: zero it (RFC 6437: "unlabelled").
                rewrite += " ip6 flowlabel set 0"
        fold = set(spread["receive_ports"])
        if not send or not peer_in_run:
            fold |= set(live_fold.get(link, []))
        rules["output"].append(
            '%s daddr %s udp sport %d udp dport %d notrack%s comment "%s"'
            % (family, peer, tunnel["listen_port"], tunnel["peer_listen_port"], rewrite, spread_comment(link, tunnel["peer"])))
        rules["prerouting"].append(
            '%s saddr %s udp dport %s notrack udp dport set %d comment "%s"'
            % (family, peer, _set(sorted(fold)), tunnel["listen_port"], fold_comment(link, tunnel["peer"])))
    return rules


def meter_rules(tunnels, cpus):
    """Per (port, CPU) counters of received tunnel packets, read before the fold-back."""
    rules = []
    for tunnel in tunnels:
        if not tunnel["spread"]["enabled"]:
            continue
        _require_ports(tunnel)
        family = _family(tunnel["peer_endpoint"])
        for port in tunnel["spread"]["receive_ports"]:
            for cpu in range(cpus):
                rules.append('%s saddr %s udp dport %d meta cpu %d counter comment "%s"'
                             % (family, tunnel["peer_endpoint"], port, cpu, meter_comment(tunnel["link"], port, cpu)))
    return rules


def _strip(value):
    """Drop what nft adds as bookkeeping (handles) and zero what changes by itself (counters)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "handle":
                continue
            if key == "counter" and isinstance(item, dict):
                out[key] = {"packets": 0, "bytes": 0}
                continue
            out[key] = _strip(item)
        return out
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def _sort_sets(value):
    """Anonymous set elements in a canonical order (nft may list them in any order)."""
    if isinstance(value, dict):
        out = dict((k, _sort_sets(v)) for k, v in value.items())
        if isinstance(out.get("set"), list):
            out["set"] = sorted(out["set"], key=repr)
        return out
    if isinstance(value, list):
        return [_sort_sets(item) for item in value]
    return value


def normalize(nft_json):
    """``nft -j list table ...`` -> a list of its objects, comparable with ==."""
    objects = []
    for item in nft_json.get("nftables", []):
        if "metainfo" in item:
            continue
        objects.append(_sort_sets(_strip(copy.deepcopy(item))))
    return objects


def table_digest(objects):
    """A short fingerprint of a table as normalize() gives it (handles dropped, counters zeroed).

    The one owner of the digest format: port_spread records the digest of the table it loads
    (nft_table's normalized ``table``), the metrics collector computes it again from the live
    table (``nft -j list table``), and equal digests mean the live table is the wanted one.
    """
    text = json.dumps(objects, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def counters(nft_json):
    """{rule comment: packets} for every rule with a counter and a comment."""
    out = {}
    for item in nft_json.get("nftables", []):
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        for expr in rule.get("expr", []):
            if isinstance(expr, dict) and isinstance(expr.get("counter"), dict):
                out[rule["comment"]] = expr["counter"].get("packets", 0)
    return out


def meter_counts(nft_json):
    """Received tunnel packets per link, per port and per CPU, from the meter_rules counters.

    -> {link: {"ports": {port: packets}, "cpus": {cpu: packets}, "port_cpus": {port: {cpu: packets}},
    "total": packets}}
    """
    out = {}
    for comment, packets in counters(nft_json).items():
        parsed = parse_comment(comment)
        if not parsed or parsed["kind"] != METER:
            continue
        link = out.setdefault(parsed["link"], {"ports": {}, "cpus": {}, "port_cpus": {}, "total": 0})
        port, cpu = parsed["port"], parsed["cpu"]
        per_cpu = link["port_cpus"].setdefault(port, {})
        per_cpu[cpu] = per_cpu.get(cpu, 0) + packets
        link["ports"][port] = link["ports"].get(port, 0) + packets
        link["cpus"][cpu] = link["cpus"].get(cpu, 0) + packets
        link["total"] += packets
    return out


def table_text(rules, meter=None, family=TABLE_FAMILY, name=TABLE_NAME):
    """The ruleset file of the spreading table: ``rules`` from spread_rules(), ``meter`` from
    meter_rules() (the chain is left out when empty).

    Loaded as one transaction: the first line makes sure the table exists so that the delete
    cannot fail, then it is rebuilt. The only writer of this format (the port_spread role's
    template calls it through the ``spread_table`` filter); ruleset_check.py reads it back
    through nft itself.
    """
    table = "%s %s" % (family, name)
    lines = ["# Stateless port spreading of WireGuard tunnels. Loaded as one transaction: the first",
             "# line makes sure the table exists so that the delete cannot fail, then it is rebuilt.",
             "table %s {}" % table,
             "delete table %s" % table,
             "table %s {" % table]

    def chain(chain_name, hook, priority, chain_rules):
        lines.append("\tchain %s {" % chain_name)
        lines.append("\t\ttype filter hook %s priority %s; policy accept;" % (hook, priority))
        lines.extend("\t\t" + rule for rule in chain_rules)
        lines.append("\t}")

    chain("output", "output", "raw", rules["output"])
    lines.append("")
    chain("prerouting", "prerouting", "raw", rules["prerouting"])
    if meter:
        lines.append("")
        chain("rx_per_cpu", "prerouting", "-350", meter)
    lines.append("}")
    return "\n".join(lines) + "\n"
