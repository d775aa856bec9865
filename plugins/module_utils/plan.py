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
    GatewayGroup, HostVarsCache, LinkError, _as_bool, default_link_name, parse_links, rotation_request,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.peer_record import (
    EXCHANGES, MIN_PSK_SECRET_LENGTH, check_record, record_hostvars,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import is_wireguard_key

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
    # wgspread_exchange fact_cache only: the peer is outside this run's inventory (another job
    # slice) and known from the record it published (module_utils/peer_record.py), which gave
    # its public key for this link. None otherwise: an in-run peer's key comes from its facts.
    peer_public_key: Optional[str] = None


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
    # wgspread_exchange fact_cache: links whose other end has published no record yet,
    # [{link, peer}]. This end makes its key for them and publishes it, and the link is
    # configured once both records are known (docs/architecture.md, "Sliced runs").
    waiting: List[Dict[str, str]] = dataclasses.field(default_factory=list)


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
    # The ends in ``missing`` that are known from their published record (fact_cache).
    from_records: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Plan:
    """The fleet plan of one run. ``as_dict()`` is the form Ansible variables hold."""

    version: int
    run_hosts: List[str]
    gateways: Dict[str, GatewayPlan]
    links: List[LinkPlan]
    rotate_links: List[str]
    # wgspread_exchange: run (keys exchanged between both ends of one run) or fact_cache.
    exchange: str = "run"
    # fact_cache: the gateways outside this run's inventory known from their records; the
    # roles treat them as present (their tunnels are configured, not skipped).
    cached_peers: List[str] = dataclasses.field(default_factory=list)
    # fact_cache: [{link, gateways, missing, summary}] of the links an end of which has no
    # usable record yet: not configured by this run, reported as waiting for their peer.
    waiting_links: List[Dict[str, object]] = dataclasses.field(default_factory=list)

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


def endpoint_uri(host, port):
    """``host:port`` as wg wants it: IPv6 literals in brackets."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def _tunnel(link, me, peer, run, rotating, records=None):
    record = (records or {}).get(peer)
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
        peer_endpoint_uri=endpoint_uri(link["endpoints"][peer], link["listen_ports"][peer]),
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
        peer_public_key=record["public_keys"][link["name"]] if record and peer not in run else None,
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


class _RecordedHostVars(object):
    """Ansible's hostvars, and for the gateways outside the inventory that published a record,
    the record's variables in the same shape (module_utils/peer_record.py)."""

    def __init__(self, hostvars, records):
        self._hostvars = hostvars if hostvars is not None else {}
        self._records = records

    def __contains__(self, host):
        return host in self._records or host in self._hostvars

    def __getitem__(self, host):
        if host in self._records:
            return record_hostvars(self._records[host])
        return self._hostvars[host]


def outside_ends(links, inventory):
    """The gateway names ``links`` give that are not in ``inventory`` (sorted): with
    wgspread_exchange fact_cache, the ends whose records the plan reads from the fact cache."""
    inventory = set(inventory)
    names = set()
    for link in links if isinstance(links, list) else []:
        gateways = link.get("gateways") if isinstance(link, dict) else None
        if isinstance(gateways, list):
            names.update(g for g in gateways if isinstance(g, str) and g not in inventory)
    return sorted(names)


def _usable_records(records, wanted):
    """({host: record} that can be used, {host: why not}) of the records read for ``wanted``."""
    usable, unusable = {}, {}
    for host in wanted:
        if host not in (records or {}):
            unusable[host] = "no record in the fact cache yet"
            continue
        problem = check_record(host, records[host], is_wireguard_key)
        if problem:
            unusable[host] = problem
        else:
            usable[host] = records[host]
    return usable, unusable


def _wants_psk(link):
    """Whether a link set aside unparsed (waiting) has a preshared key, read as the link parser
    reads the field; a value it would refuse counts as yes (it is refused once the link is parsed)."""
    try:
        return _as_bool(link.get("preshared_key", True))
    except ValueError:
        return True


def _waiting(name, gateways, reasons):
    missing = [g for g in gateways if g in reasons]
    return {"link": name, "gateways": list(gateways), "missing": missing,
            "summary": "%s (waiting for %s)" % (name, "; ".join("%s: %s" % (g, reasons[g]) for g in missing))}


def build_plan(links, inventory, hostvars, run_hosts=None, rotate=None, gateway_hosts=None,
               exchange="run", peer_records=None, psk_secret_length=None):
    """The fleet plan for one run; raises links.LinkError listing every problem found.

    ``links``: ``wgspread_links``; ``inventory``: every inventory hostname; ``hostvars``:
    host -> variables (Ansible's hostvars or plain dicts); ``run_hosts``: the hosts of this
    run (``ansible_play_hosts``), None for all; ``rotate``: ``wireguard_rotate_keys``;
    ``gateway_hosts``: a links.GatewayGroup every link's gateways must be in, or None.
    Linear in the number of links (plus a sort per gateway).

    ``exchange`` fact_cache (``wgspread_exchange``): a link end outside ``inventory`` is taken
    from ``peer_records`` ({host: the record it published, as read from the fact cache});
    a link with an end that has none is set aside as waiting instead of refused, and
    ``psk_secret_length`` (of ``wgspread_psk_secret``) must allow deriving preshared keys.
    """
    if exchange not in EXCHANGES:
        raise LinkError(["wgspread_exchange must be one of %s, got %r" % (", ".join(EXCHANGES), exchange)])
    records, reasons, skip = {}, {}, set()
    if exchange == "fact_cache":
        records, reasons = _usable_records(peer_records, outside_ends(links, inventory))
        for index, link in enumerate(links if isinstance(links, list) else []):
            gateways = link.get("gateways") if isinstance(link, dict) else None
            if isinstance(gateways, list) and any(isinstance(g, str) and g in reasons for g in gateways):
                skip.add(index)
        if gateway_hosts is not None:
            gateway_hosts = GatewayGroup(gateway_hosts.name, set(gateway_hosts) | set(
                host for host, record in records.items() if record.get("group") == gateway_hosts.name))
    known = set(inventory) | set(records)
    hostvars = _RecordedHostVars(hostvars, records) if records else hostvars
    cache, calibrations = gateway_inputs(links, known, hostvars)
    parsed = parse_links(links, known, cache, calibrations=calibrations, gateway_hosts=gateway_hosts, skip=skip)
    run = set(inventory) if run_hosts is None else set(run_hosts)

    # Waiting: a link with an end in this inventory whose other end has no usable record.
    # (A link between two gateways of other slices is theirs to report.)
    waiting = []
    needs_psk = False
    for index in sorted(skip):
        link = links[index]
        if any(g in inventory for g in link["gateways"]):
            waiting.append(_waiting(link.get("name") or default_link_name(link["gateways"]), link["gateways"], reasons))
            needs_psk = needs_psk or _wants_psk(link)
    needs_psk = needs_psk or any(link["preshared_key"] for link in parsed)
    if records:
        # A peer that published its record before this link existed has no key for it yet.
        kept = []
        for link in parsed:
            lacking = dict((g, "its record has no key for this link yet (it has not run since the link was added)")
                           for g in link["gateways"] if g in records and link["name"] not in records[g]["public_keys"])
            if lacking and any(g in inventory for g in link["gateways"]):
                waiting.append(_waiting(link["name"], link["gateways"], lacking))
            if not lacking:
                kept.append(link)
        parsed = kept
    if exchange == "fact_cache" and needs_psk and (psk_secret_length or 0) < MIN_PSK_SECRET_LENGTH:
        raise LinkError(["wgspread_psk_secret: with wgspread_exchange fact_cache each link's preshared key is derived "
                         "from it on the controller, so that both ends get the same key in any job slice; give a "
                         "vaulted string of at least %d characters (ansible-vault encrypt_string), or set "
                         "preshared_key: false on the links" % MIN_PSK_SECRET_LENGTH])
    rotating = _rotating(parsed, rotate, run)
    rotating_set = set(rotating)

    per_gateway = {}
    link_plans = []
    for link in parsed:
        a, b = link["gateways"]
        per_gateway.setdefault(a, []).append(_tunnel(link, a, b, run, rotating_set, records))
        per_gateway.setdefault(b, []).append(_tunnel(link, b, a, run, rotating_set, records))
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
            from_records=[g for g in link["gateways"] if g not in run and g in records],
        ))
    waiting_ends = {}
    for entry in waiting:
        a, b = entry["gateways"]
        for me, peer in ((a, b), (b, a)):
            if me in inventory:
                waiting_ends.setdefault(me, []).append({"link": entry["link"], "peer": peer})

    gateways = {}
    present = run | set(records)
    for gateway in sorted(set(per_gateway) | set(waiting_ends)):
        tunnels = sorted(per_gateway.get(gateway, []), key=lambda t: t.interface)
        in_run = gateway in run
        gateways[gateway] = GatewayPlan(
            gateway=gateway,
            in_run=in_run,
            tunnels=tunnels,
            active_links=[t.link for t in tunnels if in_run and t.peer in present],
            skipped_links=[t.link for t in tunnels if not (in_run and t.peer in present)],
            rotate_links=[t.link for t in tunnels if t.rotate_keys],
            waiting=sorted(waiting_ends.get(gateway, []), key=lambda w: w["link"]),
        )
    used = sorted(set(g for link in parsed for g in link["gateways"] if g in records))
    return Plan(version=PLAN_VERSION, run_hosts=sorted(run), gateways=gateways, links=link_plans,
                rotate_links=rotating, exchange=exchange, cached_peers=used,
                waiting_links=sorted(waiting, key=lambda w: w["link"]))


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
    # Known from its published record (wgspread_exchange fact_cache): configured by its own run.
    run |= set(plan.get("cached_peers") or [])
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
