# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure WireGuard logic: config text, parsing of ``wg show dump``, what a reload must change.

Nothing here runs a command. The modules feed it what the host said and act on what it
decides, so tests can feed recorded outputs and check every decision.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import ipaddress
import re

from ansible_collections.sitelink.wgspread.plugins.module_utils.peer_record import derive_psk

MARKER = "# Managed by sitelink.wgspread"
KEY_RE = re.compile(r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$")
SECRET_LINE_RE = re.compile(r"^(PrivateKey|PresharedKey)\s*=.*$", re.MULTILINE)


def is_wireguard_key(text):
    """A WireGuard key is 32 bytes in base64: 44 characters ending in '='."""
    if not isinstance(text, str) or not KEY_RE.match(text.strip()):
        return False
    return len(base64.b64decode(text.strip())) == 32


SUPERVISE_DROPIN = """%s
# wg-quick@%s runs wireguard-go (this host has no WireGuard kernel module). The stock
# unit is a oneshot: if wireguard-go dies, the interface is gone and nothing brings it back.
# As a forking service, systemd watches the wireguard-go process that `wg-quick up` leaves
# behind and runs wg-quick down/up again when it exits. `systemctl stop wg-quick@%s`
# still stops the tunnel for good; a bare `wg-quick down %s` is undone within a second.
[Service]
Type=forking
RemainAfterExit=no
Restart=always
RestartSec=1
"""


def supervise_dropin_path(interface):
    return "/etc/systemd/system/wg-quick@%s.service.d/wgspread-supervise.conf" % interface


def supervise_dropin(interface):
    """The systemd drop-in that makes wg-quick@INTERFACE restart a wireguard-go that died."""
    return SUPERVISE_DROPIN % (MARKER, interface, interface, interface)


def is_managed(config_text):
    return config_text is not None and config_text.startswith(MARKER)


def mask_secrets(config_text):
    """The config as it may be shown in a diff: secrets replaced, everything else kept."""
    if config_text is None:
        return ""
    return SECRET_LINE_RE.sub(lambda m: "%s = <secret, not shown>" % m.group(1), config_text)


def _peer_lines(peer, preshared_keys):
    lines = ["", "[Peer]", "# %s" % peer.get("name", peer["public_key"]), "PublicKey = %s" % peer["public_key"]]
    psk = preshared_keys.get(peer["public_key"])
    if psk:
        lines.append("PresharedKey = %s" % psk)
    if peer.get("endpoint"):
        lines.append("Endpoint = %s" % peer["endpoint"])
    lines.append("AllowedIPs = %s" % ", ".join(peer["allowed_ips"]))
    if peer.get("persistent_keepalive"):
        lines.append("PersistentKeepalive = %d" % peer["persistent_keepalive"])
    return lines


def render_config(spec, private_key, preshared_keys, wg_quick=True):
    """The wg-quick file (``wg_quick=True``) or the ``wg setconf`` form of one interface.

    ``spec``: interface, link, addresses, listen_port, mtu, peers (public_key,
    endpoint, allowed_ips, persistent_keepalive, name). Secrets are passed apart from
    the spec so that the spec can be logged and diffed.
    """
    lines = []
    if wg_quick:
        lines += [MARKER + " (link %s). Local edits are overwritten." % spec["link"],
                  "# The private and preshared keys below were read on this host and never left it."]
    lines += ["[Interface]", "PrivateKey = %s" % private_key, "ListenPort = %d" % spec["listen_port"]]
    if wg_quick:
        lines += ["Address = %s" % ", ".join(spec["addresses"]), "MTU = %d" % spec["mtu"]]
    for peer in spec["peers"]:
        lines += _peer_lines(peer, preshared_keys)
    return "\n".join(lines) + "\n"


def parse_dump(text):
    """``wg show IFACE dump`` -> {private_key, public_key, listen_port, peers: {pubkey: {...}}}."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty output from wg show dump")
    head = lines[0].split("\t")
    if len(head) != 4:
        raise ValueError("unexpected interface line in wg show dump: %d fields" % len(head))
    state = {
        "private_key": None if head[0] == "(none)" else head[0],
        "public_key": None if head[1] == "(none)" else head[1],
        "listen_port": int(head[2]),
        "peers": {},
    }
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != 8:
            raise ValueError("unexpected peer line in wg show dump: %d fields" % len(fields))
        pubkey, psk, endpoint, allowed, handshake, rx, tx, keepalive = fields
        state["peers"][pubkey] = {
            "preshared_key": None if psk == "(none)" else psk,
            "endpoint": None if endpoint == "(none)" else endpoint,
            "allowed_ips": [] if allowed == "(none)" else sorted(allowed.split(",")),
            "latest_handshake": int(handshake),
            "rx_bytes": int(rx),
            "tx_bytes": int(tx),
            "persistent_keepalive": 0 if keepalive == "off" else int(keepalive),
        }
    return state


def live_differences(live, spec, public_key, preshared_keys):
    """What differs between the live interface and the spec, as readable strings.

    Endpoints are left out on purpose: WireGuard updates a peer's endpoint when it
    roams, and that is not drift. A changed endpoint in the spec still reaches the
    interface, because a changed config file always triggers a reload.
    """
    changes = []
    if live["public_key"] != public_key:
        changes.append("interface key: live %s, wanted %s" % (live["public_key"] or "none", public_key))
    if live["listen_port"] != spec["listen_port"]:
        changes.append("listen port: live %d, wanted %d" % (live["listen_port"], spec["listen_port"]))
    wanted = dict((p["public_key"], p) for p in spec["peers"])
    for key in sorted(set(live["peers"]) - set(wanted)):
        changes.append("peer %s: remove" % key)
    for key in sorted(set(wanted) - set(live["peers"])):
        changes.append("peer %s: add" % key)
    for key in sorted(set(wanted) & set(live["peers"])):
        have, want = live["peers"][key], wanted[key]
        if have["allowed_ips"] != sorted(want["allowed_ips"]):
            changes.append("peer %s: allowed ips %s -> %s" % (key, ",".join(have["allowed_ips"]),
                                                              ",".join(sorted(want["allowed_ips"]))))
        if have["persistent_keepalive"] != (want.get("persistent_keepalive") or 0):
            changes.append("peer %s: persistent keepalive %d -> %d"
                           % (key, have["persistent_keepalive"], want.get("persistent_keepalive") or 0))
        if have["preshared_key"] != preshared_keys.get(key):
            changes.append("peer %s: preshared key changed" % key)
    return changes


def listen_port_warning(interface, live, spec):
    """A warning when the run moves a live interface to another listen port (None otherwise):
    the peer keeps sending to the old port until it gets the new one, and a port written with a
    leading zero is not the number it looks like (YAML 1.1 reads 051720 as octal, 21456)."""
    if not live or live.get("listen_port") in (None, spec.get("listen_port")):
        return None
    wanted = spec["listen_port"]
    octal_hint = ""
    if 0 < wanted < 65536 and wanted != live["listen_port"] and "%o" % wanted == str(live["listen_port"]).lstrip("0"):
        octal_hint = (" (%d is %s read as an octal number: YAML 1.1 reads a leading zero that way; quote the port "
                      "or drop the zero)" % (wanted, "0%o" % wanted))
    return ("%s: the live listen port %d changes to %d; its peer reaches it again once it has the new port too%s"
            % (interface, live["listen_port"], wanted, octal_hint))


def address_changes(live_addresses, wanted_addresses):
    """(to_add, to_remove) for the interface's addresses, each as 'ip/prefix'."""
    live, wanted = set(live_addresses), set(wanted_addresses)
    return sorted(wanted - live), sorted(live - wanted)


def parse_ip_addr_json(data):
    """``ip -j addr show dev IFACE`` (already decoded) -> (mtu, ['ip/prefix', ...])."""
    if not data:
        return None, []
    entry = data[0]
    addresses = ["%s/%d" % (a["local"], a["prefixlen"]) for a in entry.get("addr_info", [])
                 if a.get("scope") != "link"]
    return entry.get("mtu"), sorted(addresses)


def check_reload(before, after, public_key, peer_count, listen_port):
    """Fail-closed check after ``wg syncconf``: raises ValueError naming what is wrong."""
    problems = []
    if after["public_key"] != public_key:
        problems.append("public key is %s, expected %s" % (after["public_key"] or "none", public_key))
    if len(after["peers"]) != peer_count:
        problems.append("%d peer(s), expected %d" % (len(after["peers"]), peer_count))
    if after["listen_port"] != listen_port:
        problems.append("listen port %d, expected %d" % (after["listen_port"], listen_port))
    if problems:
        raise ValueError("after the reload the interface has %s (before: key %s, %d peer(s))"
                         % ("; ".join(problems), before["public_key"] or "none", len(before["peers"])))


def _normalize_route(dst, version):
    if dst == "default":
        return "0.0.0.0/0" if version == 4 else "::/0"
    if "/" not in dst:
        return dst + ("/32" if version == 4 else "/128")
    return dst


def parse_routes_json(data, version):
    """``ip -j -4|-6 route show dev IFACE`` -> prefixes routed there, connected and link-local left out."""
    routes = []
    for entry in data or []:
        if entry.get("protocol") == "kernel" or entry.get("type", "unicast") != "unicast":
            continue
        dst = _normalize_route(entry["dst"], version)
        if version == 6 and dst.lower().startswith("fe80:"):
            continue
        routes.append(dst)
    return sorted(routes)


def route_changes(live_routes, allowed_ips, addresses):
    """(to_add, to_remove): wg-quick routes the allowed IPs at start; a reload must keep that true.

    Like wg-quick, a prefix inside the interface's own (connected) subnet needs no route.
    """
    connected = [ipaddress.ip_interface(a).network for a in addresses]
    wanted = set()
    for prefix in allowed_ips:
        network = ipaddress.ip_network(prefix, strict=False)
        if not any(network.version == net.version and network.subnet_of(net) for net in connected):
            wanted.add(str(network))
    live = set(str(ipaddress.ip_network(p, strict=False)) for p in live_routes)
    return sorted(wanted - live), sorted(live - wanted)


# What the wireguard role asks of wg_key and wg_tunnel: all links of a gateway in one call
# each. ``tunnels`` are the gateway's tunnels of the fleet plan (docs/plan.md), as plain data.

def key_specs(tunnels, key_dir, kind, rotate_links=(), received_from=None, derived_from=None):
    """wg_key's ``keys`` for these tunnels: ``kind`` private (LINK.key) or preshared (LINK.psk).

    ``received_from``: for the preshared keys another end owns, the variables of every host
    (hostvars), whose ``__wireguard_psks`` hold what each owning end made this run.
    ``derived_from``: the fleet's ``wgspread_psk_secret`` (wgspread_exchange fact_cache): each
    preshared key is derived from it (peer_record.derive_psk), the same on both ends."""
    suffix = {"private": ".key", "preshared": ".psk"}[kind]
    specs = []
    for tunnel in tunnels:
        link = tunnel["link"]
        spec = {"name": link, "path": "%s/%s%s" % (key_dir.rstrip("/"), link, suffix), "kind": kind,
                "rotate": link in (rotate_links or ())}
        if received_from is not None:
            owned = _host_var(received_from, tunnel["peer"], "__wireguard_psks") or {}
            spec.update(rotate=False, content=owned.get(link) or None)
        if derived_from is not None and kind == "preshared":
            spec.update(rotate=False, content=derive_psk(derived_from, link))
        specs.append(spec)
    return specs


def tunnel_specs(tunnels, key_dir, config_dir, public_keys_from, supervise=None):
    """wg_tunnel's ``tunnels`` for these tunnels; the peers' public keys come from the facts
    ``wireguard_public_keys`` of ``public_keys_from`` (hostvars), or for a peer outside the
    run's inventory, from the record it published (the tunnel's ``peer_public_key``)."""
    key_dir = key_dir.rstrip("/")
    specs = []
    for tunnel in tunnels:
        link = tunnel["link"]
        peer_keys = _host_var(public_keys_from, tunnel["peer"], "wireguard_public_keys") or {}
        specs.append({
            "interface": tunnel["interface"], "state": "present", "link": link, "config_dir": config_dir,
            "private_key_path": "%s/%s.key" % (key_dir, link),
            "addresses": [tunnel["address"]], "listen_port": tunnel["listen_port"], "mtu": tunnel["mtu"],
            "supervise": supervise,
            "peers": [{
                "name": tunnel["peer"],
                "public_key": peer_keys.get(link) or tunnel.get("peer_public_key") or "",
                "preshared_key_path": ("%s/%s.psk" % (key_dir, link)) if tunnel["preshared_key"] else None,
                "endpoint": tunnel["peer_endpoint_uri"],
                "allowed_ips": tunnel["peer_allowed_ips"],
                "persistent_keepalive": tunnel["persistent_keepalive"],
            }],
        })
    return specs


def _host_var(hostvars, host, name):
    """hostvars[host][name], or None when the host or the variable is not there."""
    if host not in hostvars:
        return None
    return hostvars[host].get(name)
