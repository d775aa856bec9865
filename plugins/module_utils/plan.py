# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet plan: what every gateway of a run is to have, worked out once, on the controller.

Data flows one way (docs/architecture.md)::

    inventory (wgspread_links, host vars, facts)
      -> gateway_inputs(): each gateway's variables read once
      -> links.parse_links(): every check, in one pass over the links, indexed, n log n
      -> build_plan(): a Plan (typed, below) for the hosts of this run
      -> Plan.as_dict(): the ``wgspread_plan`` variable the roles and playbooks read
      -> roles -> host

Before the plan, each role derived the whole fleet again per host (seven places, four
full checks a run); a hub with 999 spokes then cost seconds per host. The plan is made by
the ``sitelink.wgspread.fleet_plan`` action once per play (run_once), and every role,
``status.yml`` and ``validate.yml`` read their part of it: ``wgspread_plan.gateways[host]``.

Calibrated port choices are an explicit input (``calibrations``), read from what the
port_spread role recorded on each receiver (``ansible_local.wgspread.calibrated``, owned
by module_utils/calibration.py); the link parser knows the inventory only.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import dataclasses
from typing import Dict, List, Optional

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import (
    HostVarsCache, LinkError, parse_links, rotation_request,
)

PLAN_VERSION = 1


@dataclasses.dataclass(frozen=True)
class TunnelSpread:
    """How one tunnel's packets are spread, seen from one end.

    ``send_ports``: the peer's receive ports, where this end sends to; ``receive_ports``:
    this end's own, which it folds back to its listen port. None where spread.count is auto
    and that end's CPU count is unknown in this run (no facts). ``receive_request``: what
    this end's ports were asked as ({count, first_port, step}, or None for an explicit
    list; calibration keys its record on it). ``calibrated``: the receive ports are the
    ones calibration chose for that request.
    """

    enabled: bool
    send_ports: Optional[List[int]]
    receive_ports: Optional[List[int]]
    receive_request: Optional[Dict[str, Optional[int]]]
    calibrated: bool


@dataclasses.dataclass(frozen=True)
class Tunnel:
    """One end of one link: what one gateway configures for it (docs/plan.md lists the fields)."""

    link: str
    gateway: str
    interface: str
    address: str
    listen_port: int
    mtu: int
    underlay_address: str
    peer: str
    peer_interface: str
    peer_address: str
    peer_tunnel_ip: str
    peer_listen_port: int
    peer_endpoint: str
    peer_endpoint_uri: str
    peer_allowed_ips: List[str]
    persistent_keepalive: int
    preshared_key: bool
    # The first gateway of a link owns its preshared key: it generates it once and the
    # second gateway receives a copy. One owner means the ends cannot race.
    preshared_key_owner: bool
    spread: TunnelSpread
    # False: the peer is not in this run (--limit, unreachable, failed): the tunnel is kept
    # as it is, and its keys cannot be exchanged until a run with both ends.
    peer_in_run: bool
    rotate_keys: bool


@dataclasses.dataclass(frozen=True)
class GatewayPlan:
    """Everything one gateway of the fleet is to have, and what this run does about it.

    ``active_links``: configured by this run (this gateway and the peer in it);
    ``skipped_links``: the others, kept as they are; ``rotate_links``: keys replaced.
    """

    gateway: str
    in_run: bool
    tunnels: List[Tunnel]
    active_links: List[str]
    skipped_links: List[str]
    rotate_links: List[str]


@dataclasses.dataclass(frozen=True)
class LinkPlan:
    """One site pair as checked: what both ends must agree on (the validator compares them)."""

    name: str
    gateways: List[str]
    listen_ports: Dict[str, int]
    endpoints: Dict[str, str]
    interfaces: Dict[str, str]
    spread: Dict[str, object]
    missing: List[str]


@dataclasses.dataclass(frozen=True)
class Plan:
    """The fleet plan of one run. ``as_dict()`` is the form Ansible variables hold."""

    version: int
    run_hosts: List[str]
    gateways: Dict[str, GatewayPlan]
    links: List[LinkPlan]
    rotate_links: List[str]

    def as_dict(self):
        return dataclasses.asdict(self)


def _calibrations(hostvars, gateway):
    """What calibration recorded on one receiver: {link: record}, from its local facts."""
    facts = hostvars.get(gateway, "ansible_facts") or {}
    local = facts.get("ansible_local") if isinstance(facts, dict) else None
    local = local or hostvars.get(gateway, "ansible_local") or {}
    recorded = local.get("wgspread") if isinstance(local, dict) else None
    calibrated = recorded.get("calibrated") if isinstance(recorded, dict) else None
    return calibrated if isinstance(calibrated, dict) else {}


def gateway_inputs(links, inventory, hostvars):
    """(HostVarsCache, calibrations) for the inventory hosts ``links`` names, each read once
    (a name outside the inventory is the link parser's to report)."""
    cache = hostvars if isinstance(hostvars, HostVarsCache) else HostVarsCache(hostvars)
    names = set()
    for link in links if isinstance(links, list) else []:
        gateways = link.get("gateways") if isinstance(link, dict) else None
        if isinstance(gateways, list):
            names.update(g for g in gateways if isinstance(g, str))
    return cache, dict((g, _calibrations(cache, g)) for g in sorted(names & set(inventory)))


def _endpoint_uri(host, port):
    """``host:port`` as wg wants it: IPv6 literals in brackets."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def _tunnel(link, me, peer, run, rotating):
    address = link["addresses"][me]
    peer_address = link["addresses"][peer]
    host_prefix = "/32" if peer_address.version == 4 else "/128"
    allowed = [str(peer_address.ip) + host_prefix]
    for prefix in link["site_networks"][peer] + link["allowed_ips"][peer]:
        if prefix not in allowed:
            allowed.append(prefix)
    spread = link["spread"]
    return Tunnel(
        link=link["name"],
        gateway=me,
        interface=link["interfaces"][me],
        address=str(address),
        listen_port=link["listen_ports"][me],
        mtu=link["mtu"],
        underlay_address=link["endpoints"][me],
        peer=peer,
        peer_interface=link["interfaces"][peer],
        peer_address=str(peer_address),
        peer_tunnel_ip=str(peer_address.ip),
        peer_listen_port=link["listen_ports"][peer],
        peer_endpoint=link["endpoints"][peer],
        peer_endpoint_uri=_endpoint_uri(link["endpoints"][peer], link["listen_ports"][peer]),
        peer_allowed_ips=allowed,
        persistent_keepalive=link["persistent_keepalive"],
        preshared_key=link["preshared_key"],
        preshared_key_owner=me == link["gateways"][0],
        spread=TunnelSpread(
            enabled=spread["enabled"],
            send_ports=spread["receive_ports"].get(peer, []),
            receive_ports=spread["receive_ports"].get(me, []),
            receive_request=spread["requests"].get(me),
            calibrated=bool(spread["calibrated"].get(me)),
        ),
        peer_in_run=peer in run,
        rotate_keys=link["name"] in rotating,
    )


def _rotating(parsed, rotate, run):
    """Names of the links whose keys this run rotates, after checking the request.

    Both ends of a link must rotate in the same run: an end that kept its old key would no
    longer match the other's. So a named link with an end outside the run (unreachable,
    failed, --limit) is refused, like a name that is not a link.
    """
    wanted = rotation_request(rotate)
    if not wanted:
        return []
    names = [link["name"] for link in parsed]
    known = set(names)
    chosen = set(names if "all" in wanted else wanted)
    errors = ["wireguard_rotate_keys: no link is named %r (links: %s)" % (name, ", ".join(names) or "none")
              for name in wanted if name != "all" and name not in known]
    for link in parsed:
        missing = [g for g in link["gateways"] if g not in run]
        if link["name"] in chosen and missing:
            errors.append("wireguard_rotate_keys: link %s: %s not in this run (unreachable, failed or --limit); "
                          "both ends must rotate together" % (link["name"], " and ".join(missing)))
    if errors:
        raise LinkError(errors)
    return [name for name in names if name in chosen]


def build_plan(links, inventory, hostvars, run_hosts=None, rotate=None, gateway_hosts=None):
    """The fleet plan for one run; raises links.LinkError listing every problem found.

    ``links``: ``wgspread_links``; ``inventory``: every inventory hostname; ``hostvars``:
    host -> variables (Ansible's hostvars or plain dicts); ``run_hosts``: the hosts of this
    run (``ansible_play_hosts``), None for all; ``rotate``: ``wireguard_rotate_keys``;
    ``gateway_hosts``: a links.GatewayGroup every link's gateways must be in, or None.
    Linear in the number of links (plus a sort per gateway).
    """
    cache, calibrations = gateway_inputs(links, inventory, hostvars)
    parsed = parse_links(links, inventory, cache, calibrations=calibrations, gateway_hosts=gateway_hosts)
    run = set(inventory) if run_hosts is None else set(run_hosts)
    rotating = _rotating(parsed, rotate, run)
    rotating_set = set(rotating)

    per_gateway = {}
    link_plans = []
    for link in parsed:
        a, b = link["gateways"]
        per_gateway.setdefault(a, []).append(_tunnel(link, a, b, run, rotating_set))
        per_gateway.setdefault(b, []).append(_tunnel(link, b, a, run, rotating_set))
        spread = link["spread"]
        link_plans.append(LinkPlan(
            name=link["name"],
            gateways=list(link["gateways"]),
            listen_ports=dict(link["listen_ports"]),
            endpoints=dict(link["endpoints"]),
            interfaces=dict(link["interfaces"]),
            spread={"enabled": spread["enabled"], "receive_ports": dict(spread["receive_ports"]),
                    "requests": dict(spread["requests"]), "calibrated": dict(spread["calibrated"])},
            missing=[g for g in link["gateways"] if g not in run],
        ))

    gateways = {}
    for gateway in sorted(per_gateway):
        tunnels = sorted(per_gateway[gateway], key=lambda t: t.interface)
        in_run = gateway in run
        gateways[gateway] = GatewayPlan(
            gateway=gateway,
            in_run=in_run,
            tunnels=tunnels,
            active_links=[t.link for t in tunnels if in_run and t.peer_in_run],
            skipped_links=[t.link for t in tunnels if not (in_run and t.peer_in_run)],
            rotate_links=[t.link for t in tunnels if t.rotate_keys],
        )
    return Plan(version=PLAN_VERSION, run_hosts=sorted(run), gateways=gateways, links=link_plans,
                rotate_links=rotating)


# ---------------------------------------------------------------- readers of a plan (as_dict form)

def check_plan(plan):
    """Refuse what is not a plan of this version, naming what to do."""
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION or "gateways" not in plan:
        raise ValueError("wgspread_plan: not a fleet plan of version %d; make it with the "
                         "sitelink.wgspread.fleet_plan action (or leave wgspread_plan undefined)" % PLAN_VERSION)
    return plan


def gateway_plan(plan, gateway):
    """One gateway's part of a plan; a host that terminates no link has no tunnels."""
    check_plan(plan)
    part = plan["gateways"].get(gateway)
    if part is None:
        return {"gateway": gateway, "in_run": gateway in plan["run_hosts"], "tunnels": [],
                "active_links": [], "skipped_links": [], "rotate_links": []}
    return part


def links_outside_run(plan, run_hosts=None):
    """[{link, gateways, missing, summary}] of the links with an end that is not in the run.

    ``run_hosts``: the hosts still in the run (``ansible_play_hosts`` after the roles: a
    gateway that became unreachable or failed is no longer in it); default: the plan's.
    Such a link is left half-configured by the run: keys cannot be exchanged without both
    ends, and its spreading stays as it was towards the missing end.
    """
    check_plan(plan)
    run = set(plan["run_hosts"] if run_hosts is None else run_hosts)
    out = []
    for link in plan["links"]:
        missing = [g for g in link["gateways"] if g not in run]
        if missing:
            out.append({"link": link["name"], "gateways": list(link["gateways"]), "missing": missing,
                        "summary": "%s (missing %s)" % (link["name"], ", ".join(missing))})
    return out


# ---------------------------------------------------------------- one-call forms (filters, scripts)

def plan_tunnels(links, gateway, inventory, hostvars):
    """The tunnels one gateway terminates, sorted by interface name (as dicts)."""
    plan = build_plan(links, inventory, hostvars).as_dict()
    return gateway_plan(plan, gateway)["tunnels"]


def link_errors(links, inventory, hostvars):
    """Every problem in ``wgspread_links`` as a list of messages (empty when all is well)."""
    try:
        build_plan(links, inventory, hostvars)
    except LinkError as exc:
        return exc.errors
    return []
