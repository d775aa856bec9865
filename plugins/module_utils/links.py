# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Site pairs -> per-gateway tunnels.

The inventory declares every site pair once, in ``wgspread_links``. This module turns
that list into what one gateway must configure (its tunnels), and finds every mistake
in the list before any host is touched. It is pure: no Ansible, no I/O, so the
validation table in tests/unit runs in milliseconds and the controller never needs
the gateways to answer before refusing bad input.

Design choice: one WireGuard interface per link (not one interface with many peers).
Each link then has its own listen port, so the port spreading of the next layer can
match and rewrite exactly one tunnel's packets, and a link can be changed, spread or
removed without touching its neighbours. Interface names are derived from the peer's
inventory name so that they read well (``wg-spoke1``) and stay the same however the
list is reordered.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re

LINK_KEYS = {
    "name", "gateways", "subnet", "addresses", "listen_port", "endpoints", "mtu",
    "persistent_keepalive", "preshared_key", "interfaces", "allowed_ips", "spread",
    "allow_default_route",
}
SPREAD_KEYS = {"enabled", "count", "first_port", "step", "ports", "allow_service_ports", "allow_many_ports"}

# Names with a meaning of their own elsewhere: "all" is the keyword of wireguard_rotate_keys
# (a link called "all" could never be rotated alone); "all" and "default" are the kernel's
# per-family sysctl directories (/proc/sys/net/ipv4/conf/all), and "lo" is the loopback.
RESERVED_LINK_NAMES = {"all"}
RESERVED_INTERFACE_NAMES = {"lo", "all", "default"}
# Spreading rewrites the destination port of every packet to these ports and folds back
# whatever arrives on them: over a port a service uses, that service's packets from the
# peer would be taken for the tunnel's. Below 1024, and the registered UDP services a
# gateway often runs (OpenVPN, L2TP, RADIUS, STUN, IPsec NAT-T, SIP, mDNS, WireGuard's own
# default is not one: 51820 is ours to spread from).
SERVICE_PORTS = frozenset([1194, 1701, 1812, 1813, 3478, 4500, 5060, 5353])
# More spread ports than this many per receive CPU buys no further spreading (RSS maps
# ports to CPUs) and only widens the range folded back: an explicit opt-in above it.
PORTS_PER_CPU = 4
MAX_RECEIVE_CPUS = 8192  # the kernel's largest NR_CPUS

DEFAULT_MTU = 1420
DEFAULT_KEEPALIVE = 25
MAX_IFNAME = 15
# Always used with fullmatch(): "$" of match() also matches before a trailing newline, and
# a name from a YAML block scalar ("name: |") ends in one.
IFNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
LINK_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
HOSTNAME_RE = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
# Four dotted numbers are meant as an IPv4 address, never as a host name: getaddrinfo would
# read 198.051.100.012 as octal parts and 198.51.100.300 may resolve through a search domain.
DOTTED_NUMBERS_RE = re.compile(r"[0-9]+(\.[0-9]+){1,3}")
PLAIN_TEXT_RE = re.compile(r"[A-Za-z0-9_.:/@+-]+")


# Parsed once per distinct text: a fleet names the same underlay addresses and prefixes on
# every link of a gateway (a mesh of 100 gateways parsed 237,400 addresses, mostly the same
# 100). ipaddress objects are immutable, so sharing them is safe; a value that is not a
# string or an int (unhashable) goes to ipaddress as it is, and fails there as before.
_PARSERS = {"address": ipaddress.ip_address, "interface": ipaddress.ip_interface,
            "network": ipaddress.ip_network, "loose network": lambda value: ipaddress.ip_network(value, strict=False)}


@functools.lru_cache(maxsize=1 << 16)
def _cached_parse(kind, value):
    return _PARSERS[kind](value)


def _parse(kind, value):
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return _cached_parse(kind, value)
    return _PARSERS[kind](value)


def _ip_address(value):
    return _parse("address", value)


def _ip_interface(value):
    return _parse("interface", value)


_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _ip_network(value, strict=True):
    return _parse("network" if strict else "loose network", value)


class LinkError(ValueError):
    """Raised with every problem found, each naming the link and the field."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def shown(value):
    """A value as a message shows it: plain names as they are, anything else with repr, so
    that whitespace, a newline or a YAML boolean where a name belongs is visible."""
    if isinstance(value, str) and PLAIN_TEXT_RE.fullmatch(value):
        return value
    return repr(value)


def shown_keys(keys):
    """Keys of any type (YAML reads ``on:`` as True), sorted without comparing types."""
    return ", ".join(shown(key) for key in sorted(keys, key=repr))


def link_label(index, link):
    """How messages name a link: its name when it has a usable one, else its position."""
    if isinstance(link, dict) and isinstance(link.get("name"), str) and LINK_NAME_RE.fullmatch(link["name"]) \
            and link["name"] not in RESERVED_LINK_NAMES:
        return "link %s" % link["name"]
    return "wgspread_links[%d]" % index


def default_link_name(gateways):
    return "%s-%s" % (gateways[0], gateways[1])


def default_interface_name(peer):
    """``wg-<peer>`` when it fits in 15 characters, else a shortened name with a hash.

    The hash keeps two long peer names that share a prefix apart, and depends on the
    peer name only, so the name never changes when links are added or reordered.
    """
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", peer)
    name = "wg-" + clean
    if len(name) <= MAX_IFNAME:
        return name
    digest = hashlib.sha1(peer.encode("utf-8")).hexdigest()[:4]
    return "wg-%s-%s" % (clean[:MAX_IFNAME - 8], digest)


def _as_int(value):
    """Integers from YAML, or digit strings from ``-e key=value``; never booleans."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    raise ValueError("must be an integer, got %r" % (value,))


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.lower() in ("true", "yes", "on", "1")
    raise ValueError("must be true or false, got %r" % (value,))


def _per_gateway(value, gateways, field, errors, label, convert):
    """A field given once for both ends, or as a mapping ``{gateway: value}``."""
    if isinstance(value, dict):
        unknown = set(value) - set(gateways)
        if unknown:
            errors.append("%s: %s: %s is not one of this link's gateways %s"
                          % (label, field, shown_keys(unknown), "/".join(gateways)))
        out = {}
        for gateway in gateways:
            if gateway not in value:
                errors.append("%s: %s: no value for gateway %s" % (label, field, gateway))
                continue
            try:
                out[gateway] = convert(value[gateway])
            except ValueError as exc:
                errors.append("%s: %s.%s %s" % (label, field, gateway, exc))
        return out
    try:
        converted = convert(value)
    except ValueError as exc:
        errors.append("%s: %s %s" % (label, field, exc))
        return {}
    return dict((gateway, converted) for gateway in gateways)


def _port(value):
    port = _as_int(value)
    if not 1 <= port <= 65535:
        raise ValueError("must be a UDP port between 1 and 65535, got %d" % port)
    return port


class HostVarsCache(object):
    """Each host's variables, each read once.

    Ansible's ``hostvars[host]`` works out all of a host's variables on every access, and
    the checks here read a few of them per link: for a hub with 1,000 links that was the
    larger part of the cost. Reading through this cache makes it once per host and name.
    parse_links() wraps what it is given, so the helpers below it read through this only.
    """

    def __init__(self, hostvars):
        self._hostvars = hostvars if hostvars is not None else {}
        self._hosts = {}
        self._values = {}

    def host(self, host):
        """The host's variables (a mapping), or None for a host without any."""
        if host not in self._hosts:
            # Asked first: Ansible's hostvars answers a host outside the inventory with an
            # Undefined that fails outside a template, not with KeyError.
            self._hosts[host] = self._hostvars[host] if host in self._hostvars else None
        return self._hosts[host]

    def get(self, host, key):
        cache_key = (host, key)
        if cache_key not in self._values:
            variables = self.host(host)
            try:
                self._values[cache_key] = variables.get(key) if variables is not None else None
            except AttributeError:
                self._values[cache_key] = None
        return self._values[cache_key]


def _underlay_address(hostvars, gateway):
    """(address, field) of where peers send to: the explicit host var, else ansible_host if
    it is an IP, else facts. ``field`` is what a message about the address names."""
    explicit = hostvars.get(gateway, "wgspread_underlay_address")
    if explicit is not None and explicit != "":
        return explicit, "host %s: wgspread_underlay_address" % gateway
    ansible_host = hostvars.get(gateway, "ansible_host")
    if isinstance(ansible_host, str) and ansible_host:
        try:
            return str(_ip_address(ansible_host)), "host %s: ansible_host" % gateway
        except ValueError:
            pass
    facts = hostvars.get(gateway, "ansible_facts")
    facts = facts if isinstance(facts, dict) else {}
    for key in ("default_ipv4", "default_ipv6"):
        default = facts.get(key)
        address = default.get("address") if isinstance(default, dict) else None
        if address:
            return address, "host %s: facts %s.address" % (gateway, key)
    return None, None


def _unusable_address(ip):
    """Why an address cannot be a tunnel's or an endpoint's, or None."""
    if getattr(ip, "ipv4_mapped", None) is not None:
        return "an IPv4-mapped IPv6 address (give %s as it is)" % ip.ipv4_mapped
    for test, what in (("is_unspecified", "the unspecified address"), ("is_loopback", "a loopback address"),
                       ("is_multicast", "a multicast address"), ("is_link_local", "a link-local address")):
        if getattr(ip, test):
            return what
    if ip.version == 4 and ip == _LIMITED_BROADCAST:
        return "the broadcast address"
    return None


def _endpoint(value, field):
    """(endpoint text, None) for a usable endpoint, or (None, message) naming ``field``."""
    if not isinstance(value, str):
        return None, "%s %r must be an IP address or a host name" % (field, value)
    if "/" in value:
        return None, "%s %r must be an address without a prefix length" % (field, value)
    if "%" in value:
        return None, "%s %r: a zone id (%%...) cannot be an endpoint" % (field, value)
    try:
        ip = _ip_address(value)
    except ValueError:
        if DOTTED_NUMBERS_RE.fullmatch(value):
            return None, ("%s %r is not an IPv4 address (four parts of 0-255, without leading zeros) "
                          "and cannot be a host name" % (field, value))
        if not HOSTNAME_RE.fullmatch(value):
            return None, "%s %r is neither an IP address nor a host name" % (field, value)
        return value, None
    problem = _unusable_address(ip)
    if problem:
        return None, "%s %r is %s, which a peer cannot send to" % (field, value, problem)
    return str(ip), None


def _tunnel_address_problem(interface):
    """Why an address/prefix cannot be a tunnel end's, or None."""
    problem = _unusable_address(interface.ip)
    if problem:
        return problem
    network = interface.network
    if network.prefixlen < network.max_prefixlen - 1:  # /31 and /127 have no network/broadcast
        if interface.ip == network.network_address:
            return "the network address of %s" % network
        if network.version == 4 and interface.ip == network.broadcast_address:
            return "the broadcast address of %s" % network
    return None


def _ip_text(value):
    """``value`` as text for ipaddress; ValueError for what is no address text."""
    if not isinstance(value, str):
        raise ValueError("%r must be an address or prefix written as text" % (value,))
    if "%" in value:
        raise ValueError("%r: a zone id (%%...) is no use on a tunnel or a route" % (value,))
    return value


def _derive_addresses(subnet, gateways, label, errors):
    try:
        network = _ip_network(_ip_text(subnet), strict=True)
    except ValueError as exc:
        errors.append("%s: subnet %s" % (label, exc))
        return {}
    if network.num_addresses < 2:
        errors.append("%s: subnet %s holds fewer than two addresses" % (label, network))
        return {}
    if network.prefixlen >= network.max_prefixlen - 1:  # /31, /127: both addresses are usable
        first, second = network[0], network[1]
    else:
        if network.num_addresses < 4:
            errors.append("%s: subnet %s has no two host addresses" % (label, network))
            return {}
        first, second = network[1], network[2]
    out = {
        gateways[0]: _ip_interface("%s/%d" % (first, network.prefixlen)),
        gateways[1]: _ip_interface("%s/%d" % (second, network.prefixlen)),
    }
    for gateway in gateways:
        problem = _tunnel_address_problem(out[gateway])
        if problem:
            errors.append("%s: subnet %s would give gateway %s %s, %s" % (label, network, gateway, out[gateway].ip, problem))
            return {}
    return out


def _interface(value):
    interface = _ip_interface(_ip_text(value))
    problem = _tunnel_address_problem(interface)
    if problem:
        raise ValueError("%r is %s" % (value, problem))
    return interface


def _explicit_addresses(addresses, gateways, label, errors):
    out = _per_gateway(addresses, gateways, "addresses", errors, label, _interface)
    if len(out) != 2:
        return out
    a, b = out[gateways[0]], out[gateways[1]]
    if a.version != b.version:
        errors.append("%s: addresses: %s and %s mix IPv4 and IPv6" % (label, a, b))
    elif a.network != b.network:
        errors.append("%s: addresses: %s and %s are not in one subnet" % (label, a, b))
    elif a.ip == b.ip:
        errors.append("%s: addresses: both gateways have %s" % (label, a.ip))
    return out


def _prefix(value):
    """A prefix a tunnel may route: ValueError for one that cannot be (loopback, ...)."""
    network = _ip_network(_ip_text(value), strict=True)
    if network.prefixlen > 0:
        problem = _unusable_address(network.network_address)
        if problem:
            raise ValueError("%r starts at %s; no tunnel can route it" % (value, problem))
    return network


def _allowed_ips(value, gateways, label, errors):
    out = dict((gateway, []) for gateway in gateways)
    if value is None:
        return out
    if not isinstance(value, dict):
        errors.append("%s: allowed_ips must map a gateway to the prefixes behind it" % label)
        return out
    for gateway, prefixes in value.items():
        if gateway not in gateways:
            errors.append("%s: allowed_ips: %s is not one of this link's gateways" % (label, shown(gateway)))
            continue
        if not isinstance(prefixes, list):
            errors.append("%s: allowed_ips.%s must be a list of prefixes, got %r" % (label, gateway, prefixes))
            continue
        for prefix in prefixes:
            try:
                out[gateway].append(str(_prefix(prefix)))
            except ValueError as exc:
                errors.append("%s: allowed_ips.%s: %s" % (label, gateway, exc))
    return out


def _site_networks(hostvars, gateway, errors):
    value = hostvars.get(gateway, "wgspread_site_networks")
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        errors.append("host %s: wgspread_site_networks must be a list of prefixes, got %r" % (gateway, value))
        return []
    out = []
    for prefix in value:
        try:
            out.append(str(_prefix(prefix)))
        except ValueError as exc:
            errors.append("host %s: wgspread_site_networks: %s" % (gateway, exc))
    return out


def _receive_cpus(hostvars, gateway):
    """How many CPUs receive on a gateway: wgspread_receive_cpus, else the CPU count from facts.

    Raises ValueError naming the host and the variable for a value that is no count.
    """
    explicit = hostvars.get(gateway, "wgspread_receive_cpus")
    if explicit is not None and explicit != "":
        try:
            count = _as_int(explicit)
        except ValueError as exc:
            raise ValueError("host %s: wgspread_receive_cpus %s" % (gateway, exc)) from None
        if not 1 <= count <= MAX_RECEIVE_CPUS:
            raise ValueError("host %s: wgspread_receive_cpus must be between 1 and %d, got %d"
                             % (gateway, MAX_RECEIVE_CPUS, count))
        return count
    facts = hostvars.get(gateway, "ansible_facts")
    facts = facts if isinstance(facts, dict) else {}
    for key in ("processor_nproc", "processor_vcpus"):
        if isinstance(facts.get(key), int) and not isinstance(facts[key], bool) and facts[key] > 0:
            return facts[key]
    return None


def _calibrated(calibrations, gateway, name, request):
    """The ports calibration chose for this gateway and link, if chosen for this same request.

    ``calibrations`` is an explicit input ({gateway: {link: record}}), made by the plan from
    what the port_spread role recorded on each receiver (module_utils/calibration.py owns
    that record): this parser knows the inventory only. A changed count, first port or step
    makes the record stale: it is ignored.
    """
    entry = ((calibrations or {}).get(gateway) or {}).get(name)
    if not isinstance(entry, dict) or entry.get("request") != request:
        return None
    ports = entry.get("ports")
    if not (isinstance(ports, list) and ports
            and all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in ports)):
        return None
    return sorted(set(ports))


def _spread(value, gateways, listen_ports, hostvars, label, errors, name=None, calibrations=None):
    """_spread_ports(), then the legal but risky port sets refused unless opted in."""
    spread = _spread_ports(value, gateways, listen_ports, hostvars, label, errors, name, calibrations)
    options = value if isinstance(value, dict) else {}
    opt_in = {}
    for option in ("allow_service_ports", "allow_many_ports"):
        try:
            opt_in[option] = _as_bool(options.get(option, False))
        except ValueError as exc:
            errors.append("%s: spread.%s %s" % (label, option, exc))
            opt_in[option] = True  # reported already; do not add a second message about it
    for gateway in gateways:
        ports = spread["receive_ports"].get(gateway)
        if not ports:
            continue
        # Its own listen port is the user's deliberate choice, and the tunnel owns it anyway.
        taken = [port for port in ports if (port < 1024 or port in SERVICE_PORTS) and port != listen_ports.get(gateway)]
        if taken and not opt_in["allow_service_ports"]:
            errors.append("%s: spread: the ports gateway %s receives on include service port(s) %s (below 1024, or %s); "
                          "a peer's packets to such a service would be folded into the tunnel. Move the set "
                          "(spread.first_port) or set spread.allow_service_ports: true"
                          % (label, gateway, ", ".join(map(str, taken[:5])) + (" ..." if len(taken) > 5 else ""),
                             ", ".join(map(str, sorted(SERVICE_PORTS)))))
        try:
            cpus = _receive_cpus(hostvars, gateway)
        except ValueError:
            cpus = None  # reported where the host's variables are checked
        if cpus and len(ports) > PORTS_PER_CPU * cpus and not opt_in["allow_many_ports"]:
            errors.append("%s: spread: gateway %s would receive on %d ports, more than %d per receive CPU (%d CPUs); "
                          "set spread.count lower, or spread.allow_many_ports: true"
                          % (label, gateway, len(ports), PORTS_PER_CPU, cpus))
    return spread


def _spread_ports(value, gateways, listen_ports, hostvars, label, errors, name=None, calibrations=None):
    """The ports each end receives on: ``{"enabled": bool, "receive_ports": {gateway: [ports]}}``.

    Both ends compute the same sets from the same link, so the sender's map and the
    receiver's fold-back always agree. Per receiving gateway: ``ports`` as given, else
    ``count`` ports from ``first_port`` (default: its listen port) every ``step`` (default 1);
    ``count`` defaults to the receiver's CPU count, so each receive core can get a port;
    where that count is unknown (no facts: the gateway is outside the run) the set is None.
    A calibrated choice recorded on the receiver for the same request replaces the
    count/first_port/step range (see module_utils/calibration.py). ``requests`` keeps each
    receiver's request ({count, first_port, step}, or None for an explicit port list).
    """
    value = {} if value is None else value
    if not isinstance(value, dict):
        errors.append("%s: spread must be a mapping" % label)
        return {"enabled": False, "receive_ports": {}, "requests": {}, "calibrated": {}}
    unknown = set(value) - SPREAD_KEYS
    if unknown:
        errors.append("%s: spread: unknown option(s) %s (known: %s)"
                      % (label, shown_keys(unknown), ", ".join(sorted(SPREAD_KEYS))))
    try:
        enabled = _as_bool(value.get("enabled", True))
    except ValueError as exc:
        errors.append("%s: spread.enabled %s" % (label, exc))
        enabled = False
    receive_ports, requests, calibrated = {}, {}, {}
    if not enabled or len(listen_ports) != 2:
        return {"enabled": enabled, "receive_ports": receive_ports, "requests": requests, "calibrated": calibrated}

    if "ports" in value:
        if set(value) & {"count", "first_port", "step"}:
            errors.append("%s: spread: give either ports or count/first_port/step, not both" % label)
        lists = _per_gateway(value["ports"] if isinstance(value["ports"], dict) else {g: value["ports"] for g in gateways},
                             gateways, "spread.ports", errors, label,
                             lambda ports: [_port(p) for p in ports] if isinstance(ports, list) and ports
                             else _raise("must be a non-empty list of ports"))
        for gateway, ports in lists.items():
            if len(set(ports)) != len(ports):
                errors.append("%s: spread.ports.%s lists a port twice" % (label, gateway))
            receive_ports[gateway] = sorted(set(ports))
            requests[gateway] = None
        return {"enabled": True, "receive_ports": receive_ports, "requests": requests, "calibrated": calibrated}

    counts = _per_gateway(value.get("count", "auto"), gateways, "spread.count", errors, label,
                          lambda v: v if v == "auto" else _as_int(v))
    firsts = _per_gateway(value["first_port"], gateways, "spread.first_port", errors, label, _port) \
        if "first_port" in value else dict(listen_ports)
    steps = _per_gateway(value.get("step", 1), gateways, "spread.step", errors, label, _as_int)
    for gateway in gateways:
        if gateway not in counts or gateway not in firsts or gateway not in steps:
            continue
        count = counts[gateway]
        if count == "auto":
            try:
                count = _receive_cpus(hostvars, gateway)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            if count is None:
                # Known only from the gateway's facts, so unknown while it is outside the run
                # (--limit, unreachable): None, not an error. Whatever needs these ports
                # (the rules of a tunnel in the run) refuses None, naming the field.
                receive_ports[gateway] = None
                requests[gateway] = {"count": None, "first_port": firsts[gateway], "step": steps[gateway]}
                continue
        if count < 1:
            errors.append("%s: spread.count must be at least 1, got %d" % (label, count))
            continue
        if steps[gateway] < 1:
            errors.append("%s: spread.step must be at least 1, got %d" % (label, steps[gateway]))
            continue
        last = firsts[gateway] + (count - 1) * steps[gateway]
        if last > 65535:
            errors.append("%s: spread: %d ports from %d every %d end at %d, past 65535"
                          % (label, count, firsts[gateway], steps[gateway], last))
            continue
        requests[gateway] = {"count": count, "first_port": firsts[gateway], "step": steps[gateway]}
        recorded = _calibrated(calibrations, gateway, name, requests[gateway])
        calibrated[gateway] = recorded is not None
        receive_ports[gateway] = recorded or list(range(firsts[gateway], last + 1, steps[gateway]))
    return {"enabled": True, "receive_ports": receive_ports, "requests": requests, "calibrated": calibrated}


def _is_ip(text):
    try:
        _ip_address(text)
    except ValueError:
        return False
    return True


def _raise(message):
    raise ValueError(message)


def _host_interfaces(hostvars, gateway):
    """{name: type} of the interfaces the gateway's facts list ({} without facts)."""
    facts = hostvars.get(gateway, "ansible_facts")
    if not isinstance(facts, dict) or not isinstance(facts.get("interfaces"), list):
        return {}
    out = {}
    for name in facts["interfaces"]:
        if isinstance(name, str):
            # Facts keep each interface under its name with '-' as '_' (ansible_facts.wg_spoke1).
            detail = facts.get(name.replace("-", "_")) or facts.get(name)
            out[name] = detail.get("type", "unknown") if isinstance(detail, dict) else "unknown"
    return out


def _host_inputs(gateways, hostvars, errors):
    """Each gateway's own inputs, checked once (not once per link): {gateway: {...}}."""
    hosts = {}
    for gateway in sorted(gateways):
        try:
            cpus = _receive_cpus(hostvars, gateway)
        except ValueError as exc:
            errors.append(str(exc))
            cpus = None
        hosts[gateway] = {
            "receive_cpus": cpus,
            "site_networks": _site_networks(hostvars, gateway, errors),
            "interfaces": _host_interfaces(hostvars, gateway),
        }
    return hosts


def _parse_link(index, link, inventory, hostvars, errors, calibrations=None, gateway_hosts=None, hosts=None):
    """One link -> normalized dict, or None when it is too broken to go on with."""
    label = link_label(index, link)
    if not isinstance(link, dict):
        errors.append("%s: each link must be a mapping, got %s" % (label, type(link).__name__))
        return None
    unknown = set(link) - LINK_KEYS
    if unknown:
        errors.append("%s: unknown field(s) %s (known: %s)"
                      % (label, shown_keys(unknown), ", ".join(sorted(LINK_KEYS))))

    gateways = link.get("gateways")
    if not (isinstance(gateways, list) and len(gateways) == 2 and all(isinstance(g, str) for g in gateways)):
        errors.append("%s: gateways must list exactly two inventory hostnames, got %r" % (label, gateways))
        return None
    if gateways[0] == gateways[1]:
        errors.append("%s: gateways: %s is listed twice; a link joins two different gateways" % (label, shown(gateways[0])))
        return None
    missing = [g for g in gateways if g not in inventory]
    if missing:
        errors.append("%s: gateways: %s not in the inventory" % (label, ", ".join(map(shown, missing))))
        return None
    if gateway_hosts is not None:
        outside = [g for g in gateways if g not in gateway_hosts]
        if outside:
            errors.append("%s: gateways: %s is in the inventory but not one of the gateways site.yml configures "
                          "(group %s); the link would never be set up" % (label, ", ".join(outside), gateway_hosts.name))
            return None

    name = link.get("name", default_link_name(gateways))
    if not (isinstance(name, str) and LINK_NAME_RE.fullmatch(name)):
        errors.append("%s: name %r must be 1-64 letters, digits, '.', '_' or '-'" % (label, name))
        return None
    if name in RESERVED_LINK_NAMES:
        errors.append("%s: name %r is reserved: wireguard_rotate_keys: all means every link" % (label, name))
        return None
    label = "link %s" % name

    if ("subnet" in link) == ("addresses" in link):
        errors.append("%s: give either subnet (addresses derived from it) or addresses, not %s"
                      % (label, "both" if "subnet" in link else "neither"))
        addresses = {}
    elif "subnet" in link:
        addresses = _derive_addresses(link["subnet"], gateways, label, errors)
    else:
        addresses = _explicit_addresses(link["addresses"], gateways, label, errors)

    if "listen_port" not in link:
        errors.append("%s: listen_port is required (one port for both ends, or one per gateway)" % label)
        listen_ports = {}
    else:
        listen_ports = _per_gateway(link["listen_port"], gateways, "listen_port", errors, label, _port)

    interfaces = {gateways[0]: default_interface_name(gateways[1]),
                  gateways[1]: default_interface_name(gateways[0])}
    if "interfaces" in link:
        if not isinstance(link["interfaces"], dict):
            errors.append("%s: interfaces must map a gateway to its interface name" % label)
        else:
            for gateway, ifname in link["interfaces"].items():
                if gateway not in gateways:
                    errors.append("%s: interfaces: %s is not one of this link's gateways" % (label, shown(gateway)))
                elif not (isinstance(ifname, str) and IFNAME_RE.fullmatch(ifname) and ifname not in (".", "..")):
                    errors.append("%s: interfaces.%s %r must be 1-15 letters, digits, '.', '_' or '-'"
                                  % (label, gateway, ifname))
                elif ifname in RESERVED_INTERFACE_NAMES:
                    errors.append("%s: interfaces.%s %r is a name the kernel keeps for itself" % (label, gateway, ifname))
                else:
                    interfaces[gateway] = ifname
    for gateway in gateways:
        # Known from the facts: refused here, not by wg-quick after packages and keys changed.
        # A WireGuard interface is a "tunnel" in the facts: one of ours from an earlier run.
        kind = ((hosts or {}).get(gateway) or {}).get("interfaces", {}).get(interfaces[gateway])
        if kind is not None and kind != "tunnel":
            errors.append("%s: interfaces.%s %r is an interface %s already has (type %s, from its facts); "
                          "set interfaces.%s to a free name" % (label, gateway, interfaces[gateway], gateway, kind, gateway))

    endpoints = {}
    given_endpoints = link.get("endpoints") or {}
    if not isinstance(given_endpoints, dict):
        errors.append("%s: endpoints must map a gateway to its underlay address" % label)
        given_endpoints = {}
    for gateway in given_endpoints:
        if gateway not in gateways:
            errors.append("%s: endpoints: %s is not one of this link's gateways" % (label, shown(gateway)))
    for gateway in gateways:
        if given_endpoints.get(gateway) not in (None, ""):
            endpoint, field = given_endpoints[gateway], "%s: endpoints.%s" % (label, gateway)
        else:
            endpoint, field = _underlay_address(hostvars, gateway)
        if endpoint is None:
            errors.append("%s: endpoints: no underlay address known for gateway %s; set endpoints.%s, "
                          "the host var wgspread_underlay_address, or gather its facts"
                          % (label, gateway, gateway))
            continue
        endpoint, problem = _endpoint(endpoint, field)
        if problem:
            errors.append(problem)
            continue
        endpoints[gateway] = endpoint

    def checked(field, default, convert, low, high):
        try:
            value = convert(link.get(field, default))
        except ValueError as exc:
            errors.append("%s: %s %s" % (label, field, exc))
            return default
        if not low <= value <= high:
            errors.append("%s: %s must be between %d and %d, got %d" % (label, field, low, high, value))
        return value

    mtu = checked("mtu", DEFAULT_MTU, _as_int, 1280, 9000)
    keepalive = checked("persistent_keepalive", DEFAULT_KEEPALIVE, _as_int, 0, 65535)
    try:
        preshared_key = _as_bool(link.get("preshared_key", True))
    except ValueError as exc:
        errors.append("%s: preshared_key %s" % (label, exc))
        preshared_key = True
    try:
        allow_default_route = _as_bool(link.get("allow_default_route", False))
    except ValueError as exc:
        errors.append("%s: allow_default_route %s" % (label, exc))
        allow_default_route = True  # reported already: no second message about the route

    spread = _spread(link.get("spread"), gateways, listen_ports, hostvars, label, errors, name, calibrations)
    if spread["enabled"]:
        # The spreading rules match the peer by its underlay address: a name cannot be matched.
        for gateway, endpoint in sorted(endpoints.items()):
            if not _is_ip(endpoint):
                errors.append("%s: endpoints.%s %r is a host name, but spreading matches the peer by address; "
                              "give an IP address, or turn spreading off (spread: {enabled: false})"
                              % (label, gateway, endpoint))
    allowed_ips = _allowed_ips(link.get("allowed_ips"), gateways, label, errors)
    site_networks = dict((g, ((hosts or {}).get(g) or {}).get("site_networks", [])) for g in gateways)
    if not allow_default_route:
        # wg-quick turns a /0 in AllowedIPs into policy routing (its own table and fwmark
        # rules) that sends all of the gateway's traffic through the tunnel.
        for gateway in gateways:
            for prefix, field in [(p, "allowed_ips.%s" % gateway) for p in allowed_ips[gateway]] + \
                    [(p, "wgspread_site_networks of %s" % gateway) for p in site_networks[gateway]]:
                if prefix in ("0.0.0.0/0", "::/0"):
                    errors.append("%s: %s: %s is a default route through the tunnel; wg-quick would send all "
                                  "of %s's traffic to %s. Set allow_default_route: true on the link if that is meant"
                                  % (label, field, prefix, gateways[1] if gateway == gateways[0] else gateways[0], gateway))
    return {
        "name": name,
        "label": label,
        "gateways": list(gateways),
        "addresses": addresses,
        "listen_ports": listen_ports,
        "interfaces": interfaces,
        "endpoints": endpoints,
        "mtu": mtu,
        "persistent_keepalive": keepalive,
        "preshared_key": preshared_key,
        "allow_default_route": allow_default_route,
        "allowed_ips": allowed_ips,
        "site_networks": site_networks,
        "spread": spread,
    }


def _nested(entries):
    """(outer, inner) for every two entries [(network, payload)] whose networks nest or are
    equal. Sorted by first address (wider first), a network nests in exactly the ones on the
    stack of those that still cover its start: n log n plus the pairs, never all pairs."""
    ordered = sorted(entries, key=lambda e: (e[0].version, int(e[0].network_address), e[0].prefixlen))
    stack = []
    for entry in ordered:
        network = entry[0]
        while stack and (stack[-1][0].version != network.version
                         or int(stack[-1][0].broadcast_address) < int(network.network_address)):
            stack.pop()
        for outer in stack:
            yield outer, entry
        stack.append(entry)


def _check_routes(parsed, hosts, errors):
    """Where each gateway's tunnels route, against its underlay and its own site.

    Per gateway: a prefix routed into a tunnel must not cover the underlay endpoint of any
    of its peers (the tunnel's own packets would be routed into a tunnel), nor its own site
    networks; one prefix must not be routed through two links (wg-quick's second
    ``ip route add`` would fail). Fleet-wide: no transfer subnet inside a site network.
    """
    per_gateway = {}
    fleet = []
    for link in parsed:
        a, b = link["gateways"]
        if len(link["addresses"]) == 2:
            fleet.append((link["addresses"][a].network, ("transfer", link["label"])))
        for me, peer in ((a, b), (b, a)):
            entries = per_gateway.setdefault(me, [])
            if len(link["addresses"]) == 2:
                # The tunnel's own subnet is a connected route on its interface.
                entries.append((link["addresses"][me].network, ("route", link["label"], "subnet/addresses", False)))
            for prefix, field in [(p, "allowed_ips.%s" % peer) for p in link["allowed_ips"][peer]] + \
                    [(p, "wgspread_site_networks of %s" % peer) for p in link["site_networks"][peer]]:
                entries.append((_ip_network(prefix), ("route", link["label"], field, link["allow_default_route"])))
            endpoint = link["endpoints"].get(peer)
            if endpoint is not None and _is_ip(endpoint):
                entries.append((_ip_network(endpoint), ("endpoint", link["label"], peer)))
    for gateway, inputs in hosts.items():
        for prefix in inputs["site_networks"]:
            network = _ip_network(prefix)
            fleet.append((network, ("site", gateway)))
            if gateway in per_gateway:
                per_gateway[gateway].append((network, ("site", gateway)))

    for gateway in sorted(per_gateway):
        routed = {}
        for outer, inner in _nested(per_gateway[gateway]):
            kinds = (outer[1][0], inner[1][0])
            if kinds == ("route", "endpoint"):
                if outer[0].prefixlen == 0 and outer[1][3]:
                    continue  # an opted-in default route: wg-quick keeps the underlay out by fwmark
                errors.append("%s: %s: %s on gateway %s covers %s, the underlay endpoint of %s (%s); the tunnel's "
                              "own packets would be routed into the tunnel"
                              % (outer[1][1], outer[1][2], outer[0], gateway, inner[0].network_address,
                                 inner[1][2], inner[1][1]))
            elif kinds == ("route", "route") and outer[0] == inner[0] and outer[1][1] != inner[1][1] \
                    and "subnet/addresses" not in (outer[1][2], inner[1][2]):
                first, second = sorted((outer[1], inner[1]))
                routed.setdefault((outer[0], second[1]), "%s: %s: %s is routed on gateway %s through two links (also %s %s)"
                                  % (second[1], second[2], outer[0], gateway, first[1], first[2]))
            elif "site" in kinds and "route" in kinds:
                route = outer if outer[1][0] == "route" else inner
                site = inner if route is outer else outer
                if (route[0].prefixlen == 0 and route[1][3]) or route[1][2] == "subnet/addresses":
                    continue  # an opted-in default route; a transfer subnet: the fleet-wide check below
                errors.append("%s: %s: %s would route gateway %s's own site network %s towards the peer"
                              % (route[1][1], route[1][2], route[0], gateway, site[0]))
        errors.extend(routed[key] for key in sorted(routed, key=str))

    for outer, inner in _nested(fleet):
        kinds = (outer[1][0], inner[1][0])
        if kinds == ("site", "transfer"):
            errors.append("%s: subnet/addresses: the transfer subnet %s lies inside the site network %s of gateway %s"
                          % (inner[1][1], inner[0], outer[0], outer[1][1]))
        elif kinds == ("transfer", "site"):
            errors.append("%s: subnet/addresses: the transfer subnet %s covers the site network %s of gateway %s"
                          % (outer[1][1], outer[0], inner[0], inner[1][1]))


def _overlapping_subnets(gateway, nets, errors):
    """Report each subnet of ``nets`` [(order, network, label)] that overlaps an earlier one.

    Two prefixes overlap only when one holds the other, so after sorting by first address
    (wider first) a prefix overlaps an earlier one exactly when it starts before the widest
    end seen so far: one pass, n log n, instead of comparing every pair (a hub with 1,000
    links spent most of a second on that). The later link in the list is the one blamed.
    """
    ordered = sorted(nets, key=lambda n: (n[1].version, int(n[1].network_address), n[1].prefixlen))
    cover = None
    for entry in ordered:
        order, network, label = entry
        if cover is not None and cover[1].version == network.version \
                and int(network.network_address) <= int(cover[1].broadcast_address):
            first, second = sorted((cover, entry))
            errors.append("%s: addresses: %s on gateway %s overlaps %s of %s"
                          % (second[2], second[1], gateway, first[1], first[2]))
            if int(network.broadcast_address) > int(cover[1].broadcast_address):
                cover = entry
        else:
            cover = entry


def _check_fleet(parsed, errors):
    """Checks that need all links at once: names, pairs, addresses, ports, interfaces."""
    names, pairs, addresses = {}, {}, {}
    per_gateway_listen, per_gateway_spread, per_gateway_ifaces, per_gateway_nets = {}, {}, {}, {}
    for link in parsed:
        label = link["label"]
        if link["name"] in names:
            errors.append("%s: name: declared twice (also %s)" % (label, names[link["name"]]))
        names.setdefault(link["name"], label)
        pair = frozenset(link["gateways"])
        if pair in pairs:
            errors.append("%s: gateways: the pair %s is declared twice (also %s); declare each site pair once"
                          % (label, "/".join(sorted(pair)), pairs[pair]))
        pairs.setdefault(pair, label)
        for gateway, interface in link["addresses"].items():
            if interface.ip in addresses:
                errors.append("%s: addresses: %s of %s is also used by %s"
                              % (label, interface.ip, gateway, addresses[interface.ip]))
            addresses.setdefault(interface.ip, "%s (%s)" % (label, gateway))
            nets = per_gateway_nets.setdefault(gateway, [])
            nets.append((len(nets), interface.network, label))
        for gateway, port in link["listen_ports"].items():
            seen = per_gateway_listen.setdefault(gateway, {})
            if port in seen:
                errors.append("%s: listen_port: %d on gateway %s is already used by %s"
                              % (label, port, gateway, seen[port]))
            seen.setdefault(port, label)
        for gateway, interface in link["interfaces"].items():
            seen = per_gateway_ifaces.setdefault(gateway, {})
            if interface in seen:
                errors.append("%s: interfaces: %s on gateway %s is already used by %s; set interfaces.%s"
                              % (label, interface, gateway, seen[interface], gateway))
            seen.setdefault(interface, label)

    # Two tunnels of one gateway in overlapping subnets make its routing ambiguous.
    for gateway in sorted(per_gateway_nets):
        _overlapping_subnets(gateway, per_gateway_nets[gateway], errors)

    # Underlay addresses, indexed: each belongs to one gateway, and none is a tunnel's
    # address (the tunnel would carry its own packets: a routing loop).
    underlay = {}
    for link in parsed:
        for gateway, endpoint in sorted(link["endpoints"].items()):
            if not _is_ip(endpoint):
                continue
            ip = _ip_address(endpoint)
            owner = underlay.setdefault(ip, (gateway, link["label"]))
            if owner[0] != gateway:
                errors.append("%s: endpoints.%s %s is the underlay address of gateway %s (%s), not of %s"
                              % (link["label"], gateway, ip, owner[0], owner[1], gateway))
            if ip in addresses:
                errors.append("%s: endpoints.%s %s is a tunnel address (%s): the tunnel would be routed into itself"
                              % (link["label"], gateway, ip, addresses[ip]))
    for link in parsed:
        for gateway, interface in sorted(link["addresses"].items()):
            owner = underlay.get(interface.ip)
            if owner is not None:
                errors.append("%s: addresses: %s of %s is the underlay address of gateway %s; tunnel addresses "
                              "must be apart from the underlay" % (link["label"], interface.ip, gateway, owner[0]))

    # Spread ports after all listen ports are known, so that a spread set that takes
    # another link's listen port is blamed on the spread, whatever the links' order.
    # A link's own spread ports may include its own listen port; other links' may not.
    for link in parsed:
        for gateway, port in link["listen_ports"].items():
            listening = per_gateway_listen.get(gateway, {})
            spreading = per_gateway_spread.setdefault(gateway, {})
            for other in sorted(set(link["spread"]["receive_ports"].get(gateway) or []) - set([port])):
                owner = listening.get(other) or spreading.get(other)
                if owner is not None and owner != link["label"]:
                    errors.append("%s: spread: port %d on gateway %s is already used by %s"
                                  % (link["label"], other, gateway, owner))
                spreading.setdefault(other, link["label"])


class GatewayGroup(frozenset):
    """The hosts site.yml configures (an inventory group), with the group's name for messages."""

    def __new__(cls, name, hosts):
        group = super(GatewayGroup, cls).__new__(cls, hosts)
        group.name = name
        return group


def parse_links(links, inventory, hostvars, calibrations=None, gateway_hosts=None, skip=()):
    """Validate ``wgspread_links`` against the inventory; return normalized links.

    ``inventory`` is the collection of inventory hostnames, ``hostvars`` maps a host to
    its variables (Ansible's hostvars, or a plain dict in tests); ``calibrations``, the
    calibrated port choices {gateway: {link: record}} (see plan.py); ``gateway_hosts``, a
    GatewayGroup the links' gateways must be in (None: any inventory host); ``skip``, the
    indexes of links set aside (the plan's waiting links; the others keep their numbers in
    messages). Raises LinkError listing every problem found.
    """
    _cached_parse.cache_clear()  # each plan starts cold: its figures are honest, and nothing is kept
    errors = []
    if links is None:
        links = []
    if not isinstance(links, list):
        raise LinkError(["wgspread_links must be a list of links, got %s" % type(links).__name__])
    inventory = set(inventory)
    if not isinstance(hostvars, HostVarsCache):
        hostvars = HostVarsCache(hostvars)
    named = set()
    for link in links:
        gateways = link.get("gateways") if isinstance(link, dict) else None
        if isinstance(gateways, list):
            named.update(g for g in gateways if isinstance(g, str) and g in inventory)
    hosts = _host_inputs(named, hostvars, errors)
    parsed = []
    for index, link in enumerate(links):
        if index in skip:
            continue
        result = _parse_link(index, link, inventory, hostvars, errors, calibrations, gateway_hosts, hosts)
        if result is not None:
            parsed.append(result)
    _check_fleet(parsed, errors)
    _check_routes(parsed, hosts, errors)
    if errors:
        # A field given once for both ends is reported once, not once per end.
        raise LinkError(list(dict.fromkeys(errors)))
    return parsed


def rotation_request(rotate):
    """``wireguard_rotate_keys`` as a list of names: a list, or a comma-separated string
    (``-e wireguard_rotate_keys=hub-spoke1,hub-spoke2`` or ``=all``)."""
    if rotate is None or rotate == "":
        return []
    if isinstance(rotate, str):
        return [name.strip() for name in rotate.split(",") if name.strip()]
    if isinstance(rotate, (list, tuple)) and all(isinstance(name, str) for name in rotate):
        return [name.strip() for name in rotate]
    # A YAML boolean (wireguard_rotate_keys: true) lands here too: "all" must be said.
    raise LinkError(["wireguard_rotate_keys: give link names or 'all' (a list or a comma-separated string), "
                     "got %r" % (rotate,)])
