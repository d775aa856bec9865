# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which devices carry a gateway's tunnels, and what carries each tunnel interface.

The underlay device of a tunnel is the device of the route to its peer's endpoint; an
endpoint given as a name is resolved first. A tunnel interface is carried by the kernel
(link kind ``wireguard``) or by wireguard-go (kind ``tun``), or is not there (yet).

Pure: the underlay_devices module runs ``getent ahosts``, ``ip -j route get`` and
``ip -j -d link show`` and hands their output here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json


def is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def first_address(getent_out):
    """The first address ``getent ahosts NAME`` gives, or None."""
    for line in (getent_out or "").splitlines():
        fields = line.split()
        if fields and is_address(fields[0]):
            return fields[0]
    return None


def route_device(route_json):
    """The device of ``ip -j route get ADDRESS``, or None."""
    routes = json.loads(route_json or "[]")
    return routes[0].get("dev") if routes else None


def interface_kinds(link_json, interfaces):
    """{"wireguard": [...], "tun": [...], "absent": [...]} of ``interfaces`` from ``ip -j -d link show``."""
    kinds = {}
    for link in json.loads(link_json or "[]"):
        kinds[link.get("ifname")] = (link.get("linkinfo") or {}).get("info_kind", "")
    out = {"wireguard": [], "tun": [], "absent": []}
    for name in interfaces:
        kind = kinds.get(name)
        out[kind if kind in ("wireguard", "tun") else "absent"].append(name)
    return out


def underlay(route_devices, tunnel_interfaces, given=None):
    """The devices to tune: ``given`` (nic_tuning_devices) if any, else every route's device
    once, sorted, without loopback and the tunnel interfaces themselves."""
    if given:
        return list(given)
    skip = set(["lo"]) | set(tunnel_interfaces)
    return sorted(set(dev for dev in route_devices.values() if dev and dev not in skip))


def userspace_underlay(tunnels, kinds, route_devices, devices, given):
    """The devices under the tunnels wireguard-go carries (UDP GRO forwarding helps those):
    every device when they were given (nic_tuning_devices), else the route devices of those
    tunnels' endpoints; none without such tunnels."""
    userspace = [t for t in tunnels if t["interface"] in kinds.get("tun", [])]
    if not userspace:
        return []
    if given:
        return list(devices)
    return sorted(set(route_devices[t["peer_endpoint"]] for t in userspace
                      if route_devices.get(t["peer_endpoint"]) in devices))
