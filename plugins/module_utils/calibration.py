# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calibrated port choice: measure which CPU each candidate port lands on, keep a set that
gives every receive CPU the same share, and remember it.

Why: the receive CPU of a port is fixed by the receiver's hash (RSS key and indirection
table, or RPS's per-boot seed), so N arbitrary ports on N CPUs rarely land one per CPU
(measured: 4 consecutive ports on 2 CPUs gave 75/25; chosen ports gave 50/50).

How (the port_spread role's calibrate.yml): every link to calibrate is rolled out for a
moment with K = factor x count candidate ports per receiver (probe_links()); the receiver
counts probe packets per (port, CPU) in a table of its own; choose() keeps the ports; the
choice is recorded in the receiver's local facts (record()); the next plan (plan.py) reads
it back as an input and uses it for as long as the link's spread request (count,
first_port, step) stays the same.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import default_link_name
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import METER, counters, parse_comment
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import check_plan
from ansible_collections.sitelink.wgspread.plugins.module_utils.rss import plan_ports_from_counts, port_cpus

DEFAULT_FACTOR = 4


MODES = ("never", "missing", "always")


def links_to_calibrate(plan, run_hosts, mode):
    """Names of the links a run calibrates: spreading on, both ends in the run, port sets
    asked as count/first_port/step on both ends (an explicit list is the user's choice),
    and, with ``missing``, an end without a record for its current request.

    ``plan``: the fleet plan (``wgspread_plan``, module_utils/plan.py)."""
    if mode not in MODES:
        raise ValueError("port_spread_calibrate must be one of %s, got %r" % (", ".join(MODES), mode))
    if mode == "never":
        return []
    check_plan(plan)
    run = set(run_hosts)
    names = []
    for link in plan["links"]:
        spread = link["spread"]
        if not spread["enabled"] or not all(g in run for g in link["gateways"]):
            continue
        requests = [spread["requests"].get(g) for g in link["gateways"]]
        if any(r is None or r.get("count") is None for r in requests):
            continue
        if mode == "always" or not all(spread["calibrated"].get(g) for g in link["gateways"]):
            names.append(link["name"])
    return names


def probe_links(links, plan, names, factor=DEFAULT_FACTOR):
    """``links`` with every link named in ``names`` spreading over its probe candidates.

    A receiver's candidates are ``factor`` x its port count, from the same first port and
    step as its spread request (read from ``plan``). The result is planned like any other
    input (the fleet_plan action), so candidates that collide with another link's ports
    are refused naming the link.
    """
    check_plan(plan)
    requests_by_link = dict((link["name"], link["spread"]["requests"]) for link in plan["links"])
    out = copy.deepcopy(links)
    for link in out:
        name = link.get("name") or default_link_name(link["gateways"])
        if name not in names:
            continue
        ports = {}
        for gateway, request in requests_by_link[name].items():
            if request is None:
                raise ValueError("link %s: spread.ports lists the ports of %s explicitly; "
                                 "there is nothing to calibrate" % (name, gateway))
            last = request["first_port"] + (factor * request["count"] - 1) * request["step"]
            if last > 65535:
                raise ValueError("link %s: calibrating %s needs %d candidate ports from %d, past 65535; "
                                 "lower spread.first_port" % (name, gateway, factor * request["count"], request["first_port"]))
            ports[gateway] = list(range(request["first_port"], last + 1, request["step"]))
        link["spread"] = {"ports": ports}
    return out


def cells(nft_json, link):
    """{(port, cpu): packets} of one link from the meter_rules counters (nft.parse_comment)."""
    out = {}
    for comment, packets in counters(nft_json).items():
        parsed = parse_comment(comment)
        if parsed and parsed["kind"] == METER and parsed["link"] == link:
            key = (parsed["port"], parsed["cpu"])
            out[key] = out.get(key, 0) + packets
    return out


def choose(counts, cpus, count):
    """The calibration verdict for one receiver of one link.

    ``counts``: {(port, cpu): packets}; ``cpus``: receive CPU count; ``count``: ports wanted.
    -> {"calibrated": bool, "ports": [...], "reason": text, "shares": {cpu: share}}.
    Not calibrated when the CPU does not depend on the port (no RSS/RPS hashing on the
    receiver: every port's packets are split over CPUs), or when the candidates cannot give
    every CPU the same number of ports.
    """
    mapped = port_cpus(counts)
    if not mapped:
        return {"calibrated": False, "ports": [], "shares": {},
                "reason": "no port kept its packets on one CPU: the receiver does not steer by UDP port "
                          "(enable RSS hashing on ports or RPS, e.g. the nic_tuning role), so calibration cannot help"}
    plan = plan_ports_from_counts(counts, cpus, n_ports=count)
    ports = sorted(plan["ports"])
    per_cpu = {}
    for port in ports:
        per_cpu[mapped[port]] = per_cpu.get(mapped[port], 0) + 1
    shares = dict((cpu, float(n) / len(ports)) for cpu, n in sorted(per_cpu.items())) if ports else {}
    if len(ports) != count or not plan["even"]:
        return {"calibrated": False, "ports": ports, "shares": shares,
                "reason": "the %d candidate ports reached CPUs %s only; no even choice of %d ports exists "
                          "(calibrate with more candidates: port_spread_calibration_factor)"
                          % (len(mapped), sorted(set(mapped.values())), count)}
    return {"calibrated": True, "ports": ports, "shares": shares, "reason": "even"}


def record(existing, link, request, verdict, peer):
    """The receiver's local facts with one link's calibrated choice added (or replaced)."""
    facts = copy.deepcopy(existing) if isinstance(existing, dict) else {}
    calibrated = facts.setdefault("calibrated", {})
    calibrated[link] = {"ports": verdict["ports"], "request": request, "peer": peer,
                        "shares": dict((str(cpu), share) for cpu, share in verdict["shares"].items())}
    return facts


def calibrate(existing, tunnels, names, nft_json, cpus):
    """One receiver's verdicts for the links in ``names`` and its local facts with them.

    ``tunnels``: this gateway's tunnels (its part of the real plan, not the probe's, so each
    carries the request its record is keyed on); ``nft_json``: the probe counters
    (meter_rules comments); ``cpus``: receive CPU count. Only calibrated verdicts are
    recorded; an earlier record of a link that could not be calibrated now is dropped.
    -> {"facts": {...}, "verdicts": {link: verdict}}
    """
    facts = copy.deepcopy(existing) if isinstance(existing, dict) else {}
    verdicts = {}
    for tunnel in tunnels:
        link = tunnel["link"]
        if link not in names:
            continue
        request = tunnel["spread"]["receive_request"]
        verdict = choose(cells(nft_json, link), cpus, request["count"])
        verdicts[link] = verdict
        if verdict["calibrated"]:
            facts = record(facts, link, request, verdict, tunnel["peer"])
        elif isinstance(facts.get("calibrated"), dict):
            facts["calibrated"].pop(link, None)
    return {"facts": facts, "verdicts": verdicts}
