#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: wg_tunnel
short_description: Write WireGuard interfaces' wg-quick configs on the host and apply changes without a restart
version_added: 0.1.0
description:
  - One interface (O(interface) and the options beside it), or every tunnel of a gateway in one call
    (O(tunnels)), one round trip per gateway however many links it has.
  - Assembles C(CONFIG_DIR/INTERFACE.conf) on the managed host from the given spec and the key files
    that already lie on the host, so private and preshared keys never pass through the controller.
    The file is written atomically with mode C(0600) when its content changes.
  - When the interface is up, applies peer-level and interface-level changes hitlessly
    (C(wg syncconf) for keys, port and peers; C(ip address)/C(ip link) for addresses and MTU),
    never by recreating the interface.
  - Fails closed around every reload. The reload input always holds the private key and every peer
    (it is built here, not stripped from a file), and afterwards the live public key, peer count and
    listen port must be what was asked for, or the task fails loudly.
  - Refuses to touch an interface or config file it did not create (the file must start with the
    C(# Managed by sitelink.wgspread) marker, and a live interface of that name must have such a file).
  - Bringing a down interface up is left to the service manager (for example C(wg-quick@INTERFACE));
    RV(interface_present) tells whether that is needed.
options:
  tunnels:
    description:
      - Several interfaces at once. Each element takes the options of this module (O(interface),
        O(state), O(link), O(config_dir), O(private_key_path), O(addresses), O(listen_port), O(mtu),
        O(peers), O(supervise)) with the same defaults.
      - Each interface is planned and changed on its own; a failure on one does not stop the others,
        and the task fails afterwards naming every interface that failed.
      - Exactly one of O(interface) and O(tunnels) is required.
    type: list
    elements: dict
    version_added: 0.3.0
    suboptions:
      interface:
        description: Interface name (at most 15 characters).
        type: str
        required: true
      state:
        description: C(present) writes and syncs; C(absent) takes a managed interface down and removes its file.
        type: str
        choices: [present, absent]
        default: present
      link:
        description: Name of the link, written into the file's header.
        type: str
        default: ""
      config_dir:
        description: Where wg-quick looks for configs.
        type: path
        default: /etc/wireguard
      private_key_path:
        description: File holding this interface's private key (see M(sitelink.wgspread.wg_key)). Required for O(state=present).
        type: path
      addresses:
        description: Interface addresses with prefix length.
        type: list
        elements: str
        default: []
      listen_port:
        description: UDP listen port.
        type: int
      mtu:
        description: Interface MTU.
        type: int
        default: 1420
      peers:
        description: The interface's peers.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: A label written as a comment above the peer.
            type: str
          public_key:
            description: The peer's public key. May be empty only in check mode (the peer's key does not exist yet).
            type: str
            required: true
          preshared_key_path:
            description: File on this host holding the preshared key shared with this peer.
            type: path
          endpoint:
            description: C(host:port) of the peer's underlay (IPv6 hosts in brackets).
            type: str
          allowed_ips:
            description: Prefixes routed to this peer.
            type: list
            elements: str
            required: true
          persistent_keepalive:
            description: Seconds between keepalives; 0 turns them off.
            type: int
            default: 0
      supervise:
        description:
          - Whether systemd restarts the userspace implementation when it dies. V(true) installs the
            drop-in C(/etc/systemd/system/wg-quick@INTERFACE.service.d/wgspread-supervise.conf) (C(Type=forking),
            C(Restart=always)), V(false) removes it, V(null) leaves it as it is.
          - Only for C(wg-quick@) under systemd and wireguard-go. systemd is reloaded once after any change;
            a live tunnel whose drop-in was just added must be restarted once to run under watch
            (RV(tunnels[].supervision_added)).
        type: bool
  interface:
    description:
      - Interface name (at most 15 characters).
      - Exactly one of O(interface) and O(tunnels) is required.
    type: str
  supervise:
    description:
      - Whether systemd restarts the userspace implementation when it dies. V(true) installs the
        drop-in C(/etc/systemd/system/wg-quick@INTERFACE.service.d/wgspread-supervise.conf) (C(Type=forking),
        C(Restart=always)), V(false) removes it, V(null) leaves it as it is.
      - Only for C(wg-quick@) under systemd and wireguard-go. systemd is reloaded once after any change;
        a live tunnel whose drop-in was just added must be restarted once to run under watch
        (RV(tunnels[].supervision_added)).
    type: bool
    version_added: 0.3.0
  state:
    description: C(present) writes and syncs; C(absent) takes a managed interface down and removes its file.
    type: str
    choices: [present, absent]
    default: present
  link:
    description: Name of the link, written into the file's header.
    type: str
    default: ""
  config_dir:
    description: Where wg-quick looks for configs.
    type: path
    default: /etc/wireguard
  private_key_path:
    description: File holding this interface's private key (see M(sitelink.wgspread.wg_key)). Required for O(state=present).
    type: path
  addresses:
    description: Interface addresses with prefix length.
    type: list
    elements: str
    default: []
  listen_port:
    description: UDP listen port.
    type: int
  mtu:
    description: Interface MTU.
    type: int
    default: 1420
  peers:
    description: The interface's peers.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A label written as a comment above the peer.
        type: str
      public_key:
        description: The peer's public key. May be empty only in check mode (the peer's key does not exist yet).
        type: str
        required: true
      preshared_key_path:
        description: File on this host holding the preshared key shared with this peer.
        type: path
      endpoint:
        description: C(host:port) of the peer's underlay (IPv6 hosts in brackets).
        type: str
      allowed_ips:
        description: Prefixes routed to this peer.
        type: list
        elements: str
        required: true
      persistent_keepalive:
        description: Seconds between keepalives; 0 turns them off.
        type: int
        default: 0
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the config file with private and preshared keys masked.
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Configure the tunnel to spoke1
  sitelink.wgspread.wg_tunnel:
    interface: wg-spoke1
    link: hub-spoke1
    private_key_path: /etc/wireguard/wgspread/hub-spoke1.key
    addresses: [198.18.0.0/31]
    listen_port: 51820
    mtu: 1420
    peers:
      - name: spoke1
        public_key: "{{ hostvars['spoke1'].wireguard_public_keys['hub-spoke1'] }}"
        preshared_key_path: /etc/wireguard/wgspread/hub-spoke1.psk
        endpoint: 198.51.100.12:51820
        allowed_ips: [198.18.0.1/32]
        persistent_keepalive: 25
  register: tunnel
"""

RETURN = r"""
config_path:
  description: The wg-quick config file.
  returned: always
  type: str
  sample: /etc/wireguard/wg-spoke1.conf
interface_present:
  description: Whether the interface exists after the task (false means the service manager must bring it up).
  returned: always
  type: bool
unit_enabled:
  description: Whether C(wg-quick@INTERFACE) is enabled; null on a host without systemd.
  returned: always
  type: bool
unit_active:
  description: Whether C(wg-quick@INTERFACE) is active; null on a host without systemd.
  returned: always
  type: bool
reloaded:
  description: Whether the live interface was synced with C(wg syncconf).
  returned: always
  type: bool
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["config file", "peer xTIB...: persistent keepalive 25 -> 10"]
public_key:
  description: This interface's public key.
  returned: when O(state=present) and the key exists
  type: str
tunnels:
  description: With O(tunnels), the result of each interface (the keys above, plus the ones below), in order.
  returned: when O(tunnels) is used
  type: list
  elements: dict
  contains:
    interface:
      description: The interface.
      type: str
    changed:
      description: Whether this interface changed (or would).
      type: bool
    supervision_added:
      description: Whether the restart drop-in was added (the interface's wg-quick unit must be restarted once to run under watch).
      type: bool
    supervision_changed:
      description: Whether the restart drop-in was added, changed or removed.
      type: bool
    failed:
      description: Whether this interface failed (then its C(msg) says why).
      type: bool
units_to_start:
  description:
    - With O(tunnels) under systemd, the interfaces whose C(wg-quick@INTERFACE) unit is not both enabled and active
      (in check mode only those whose interface exists; the others were reported already).
  returned: when O(tunnels) is used
  type: list
  elements: str
interfaces_down:
  description: With O(tunnels), the interfaces of O(state=present) that do not exist (the service manager must bring them up).
  returned: when O(tunnels) is used
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import (
    address_changes, check_reload, is_managed, live_differences, mask_secrets, parse_dump,
    listen_port_warning, parse_ip_addr_json, parse_routes_json, render_config, route_changes, supervise_dropin,
    supervise_dropin_path,
)


def live_link(host, interface):
    """(mtu, addresses) of the interface, or None when it does not exist."""
    rc, out, _err = host.run(["ip", "-j", "address", "show", "dev", interface], check=False)
    if rc != 0 or not out.strip():
        return None
    return parse_ip_addr_json(json.loads(out))


def live_routes(host, interface):
    routes = []
    for version in (4, 6):
        out = host.run(["ip", "-j", "-%d" % version, "route", "show", "dev", interface])[1]
        routes += parse_routes_json(json.loads(out or "[]"), version)
    return routes


class Tunnel(object):
    """Decide what an interface needs (plan), then do it (apply). Check mode stops after plan."""

    def __init__(self, host, params, check_mode):
        self.host, self.p, self.check_mode = host, params, check_mode
        self.path = os.path.join(params["config_dir"], params["interface"] + ".conf")

    def plan(self):
        p, host = self.p, self.host
        current = host.read(self.path)
        link = live_link(host, p["interface"])
        if current is not None and not is_managed(current):
            raise ValueError("%s exists and was not written by sitelink.wgspread; it is left untouched. "
                             "Choose another interface name for this link (interfaces: in wgspread_links)" % self.path)
        if current is None and link is not None:
            raise ValueError("interface %s exists but was not created by sitelink.wgspread (no managed %s); "
                             "it is left untouched. Choose another interface name for this link"
                             % (p["interface"], self.path))
        plan = {"current": current, "link": link, "changes": [], "write": False, "sync": False,
                "addresses": ([], []), "routes": ([], []), "mtu": None, "public_key": None}
        if p["state"] == "absent":
            if current is not None or link is not None:
                plan["changes"].append("remove interface %s and %s" % (p["interface"], self.path))
            return plan

        private_key = host.read(p["private_key_path"])
        if private_key is None:
            if not self.check_mode:
                raise ValueError("private_key_path %s does not exist" % p["private_key_path"])
            plan["changes"].append("config file (private key not generated yet)")
            plan["write"] = True
            return plan
        private_key = private_key.strip()
        plan["public_key"] = host.run(["wg", "pubkey"], data=private_key)[1].strip()

        preshared = {}
        for peer in p["peers"]:
            if not peer["public_key"]:
                if not self.check_mode:
                    raise ValueError("peers: public key of %s is empty" % (peer.get("name") or "a peer"))
                plan["changes"].append("peer %s: add (its key is not generated yet)" % peer.get("name"))
                plan["write"] = True
                return plan
            if peer.get("preshared_key_path"):
                psk = host.read(peer["preshared_key_path"])
                if psk is None:
                    if not self.check_mode:
                        raise ValueError("preshared_key_path %s does not exist" % peer["preshared_key_path"])
                    plan["changes"].append("peer %s: preshared key not distributed yet" % peer.get("name"))
                    continue
                preshared[peer["public_key"]] = psk.strip()

        self.desired = render_config(p, private_key, preshared)
        self.setconf = render_config(p, private_key, preshared, wg_quick=False)
        if self.desired != current:
            plan["write"] = True
            plan["changes"].append("config file %s" % self.path)
        if link is not None:
            live = parse_dump(host.run(["wg", "show", p["interface"], "dump"])[1])
            plan["live"] = live
            differences = live_differences(live, p, plan["public_key"], preshared)
            plan["changes"] += differences
            plan["sync"] = bool(differences) or plan["write"]
            mtu, addresses = link
            plan["addresses"] = address_changes(addresses, p["addresses"])
            plan["changes"] += ["address %s: add" % a for a in plan["addresses"][0]]
            plan["changes"] += ["address %s: remove" % a for a in plan["addresses"][1]]
            allowed = [prefix for peer in p["peers"] for prefix in peer["allowed_ips"]]
            plan["routes"] = route_changes(live_routes(host, p["interface"]), allowed, p["addresses"])
            plan["changes"] += ["route %s: add" % r for r in plan["routes"][0]]
            plan["changes"] += ["route %s: remove" % r for r in plan["routes"][1]]
            if mtu != p["mtu"]:
                plan["mtu"] = p["mtu"]
                plan["changes"].append("mtu %s -> %d" % (mtu, p["mtu"]))
        return plan

    def apply(self, plan):
        p, host = self.p, self.host
        if p["state"] == "absent":
            if plan["link"] is not None:
                host.run(["wg-quick", "down", self.path])
            host.remove(self.path)
            return False
        if plan["write"]:
            host.write_private(self.path, self.desired)
        reloaded = False
        if plan["sync"]:
            # The reload input is built here with the private key and every peer, never stripped
            # from a file, so a reload cannot wipe the key; the after-check catches anything else.
            if "PrivateKey = " not in self.setconf or self.setconf.count("[Peer]") != len(p["peers"]):
                raise ValueError("refusing to reload %s: the sync input lost its key or peers" % p["interface"])
            host.run(["wg", "syncconf", p["interface"], "/dev/stdin"], data=self.setconf)
            after = parse_dump(host.run(["wg", "show", p["interface"], "dump"])[1])
            check_reload(plan["live"], after, plan["public_key"], len(p["peers"]), p["listen_port"])
            reloaded = True
        to_add, to_remove = plan["addresses"]
        for address in to_add:
            host.run(["ip", "address", "add", address, "dev", p["interface"]])
        for address in to_remove:
            host.run(["ip", "address", "del", address, "dev", p["interface"]])
        to_add, to_remove = plan["routes"]
        for prefix in to_add:
            host.run(["ip", "route", "replace", prefix, "dev", p["interface"]])
        for prefix in to_remove:
            host.run(["ip", "route", "del", prefix, "dev", p["interface"]])
        if plan["mtu"] is not None:
            host.run(["ip", "link", "set", "dev", p["interface"], "mtu", str(plan["mtu"])])
        return reloaded


def unit_state(host, interface):
    """{"unit_enabled", "unit_active"} of wg-quick@INTERFACE, so that a run can leave a unit alone
    that is enabled and running already (one task less per tunnel on a no-op run); None each
    without systemd."""
    if not host.which("systemctl"):
        return {"unit_enabled": None, "unit_active": None}
    unit = "wg-quick@%s" % interface
    enabled = host.run(["systemctl", "is-enabled", unit], check=False)[1].strip()
    active = host.run(["systemctl", "is-active", unit], check=False)[1].strip()
    return {"unit_enabled": enabled == "enabled", "unit_active": active == "active"}


def ensure_supervision(host, interface, supervise, check_mode):
    """(added, changed) of the restart drop-in: written when ``supervise``, removed when false,
    left alone when None."""
    if supervise is None:
        return False, False
    path = supervise_dropin_path(interface)
    current = host.read(path)
    if supervise:
        wanted = supervise_dropin(interface)
        if current == wanted:
            return False, False
        if not check_mode:
            host.install_file(path, wanted, 0o644)
        return current is None, True
    if current is None:
        return False, False
    if not check_mode:
        host.remove_file(path)
    return False, True


TUNNEL_OPTIONS = dict(
    interface=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    link=dict(type="str", default=""),
    config_dir=dict(type="path", default="/etc/wireguard"),
    private_key_path=dict(type="path", no_log=False),
    addresses=dict(type="list", elements="str", default=[]),
    listen_port=dict(type="int"),
    mtu=dict(type="int", default=1420),
    peers=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str"),
        public_key=dict(type="str", required=True, no_log=False),
        preshared_key_path=dict(type="path", no_log=False),
        endpoint=dict(type="str"),
        allowed_ips=dict(type="list", elements="str", required=True),
        persistent_keepalive=dict(type="int", default=0),
    )),
    supervise=dict(type="bool"),
)


def spec_errors(spec):
    """What the argument spec cannot say of one tunnel."""
    if len(spec["interface"]) > 15:
        return "interface: %r is longer than 15 characters" % spec["interface"]
    if spec["state"] == "present":
        missing = [name for name in ("private_key_path", "listen_port") if spec.get(name) is None]
        if missing:
            return "state is present but the following are missing: %s" % ", ".join(missing)
    return None


def converge(host, spec, check_mode, diff):
    """One tunnel, decided then done: its result (``failed`` and ``msg`` when it failed)."""
    error = spec_errors(spec)
    if error:
        return dict(interface=spec["interface"], changed=False, failed=True, msg=error)
    tunnel = Tunnel(host, spec, check_mode)
    result = dict(interface=spec["interface"], config_path=tunnel.path, changed=False, changes=[],
                  reloaded=False, interface_present=False, supervision_added=False, supervision_changed=False)
    try:
        plan = tunnel.plan()
        result["changes"] = plan["changes"]
        result["warning"] = listen_port_warning(spec["interface"], plan.get("live"), spec)
        if plan["changes"] and not check_mode:
            result["reloaded"] = tunnel.apply(plan)
        added, touched = ensure_supervision(host, spec["interface"], spec.get("supervise"), check_mode)
    except (ValueError, CommandError) as exc:
        result.update(failed=True, msg="%s: %s" % (spec["interface"], exc))
        return result
    if touched:
        result["changes"] = result["changes"] + ["restart drop-in %s" % supervise_dropin_path(spec["interface"])]
    result.update(changed=bool(result["changes"]), supervision_added=added, supervision_changed=touched,
                  interface_present=plan["link"] is not None and spec["state"] == "present")
    result.update(unit_state(host, spec["interface"]))
    if plan["public_key"]:
        result["public_key"] = plan["public_key"]
    if diff and plan["write"]:
        result["diff"] = dict(before_header=tunnel.path, after_header=tunnel.path,
                              before=mask_secrets(plan["current"]),
                              after=mask_secrets(getattr(tunnel, "desired", "")))
    return result


def main():
    single = dict(TUNNEL_OPTIONS, interface=dict(type="str"))
    module = AnsibleModule(
        argument_spec=dict(
            tunnels=dict(type="list", elements="dict", options=TUNNEL_OPTIONS),
            **single
        ),
        mutually_exclusive=[("interface", "tunnels")],
        required_one_of=[("interface", "tunnels")],
        supports_check_mode=True,
    )
    host = Host(module)
    if module.params["tunnels"] is None:
        spec = dict((name, module.params[name]) for name in TUNNEL_OPTIONS)
        result = converge(host, spec, module.check_mode, module._diff)
        if result.get("warning"):
            module.warn(result["warning"])
        result.pop("warning", None)
        if result.pop("failed", False):
            module.fail_json(**result)
        if result.pop("supervision_changed") and not module.check_mode:
            host.run(["systemctl", "daemon-reload"])
        for name in ("interface", "supervision_added"):
            result.pop(name)
        module.exit_json(**result)

    results = [converge(host, spec, module.check_mode, module._diff) for spec in module.params["tunnels"]]
    for result in results:
        if result.get("warning"):
            module.warn(result["warning"])
        result.pop("warning", None)
    if any(r["supervision_changed"] for r in results if not r.get("failed")) and not module.check_mode \
            and host.which("systemctl"):
        host.run(["systemctl", "daemon-reload"])
    ok = [r for r in results if not r.get("failed")]
    wanted_up = set(spec["interface"] for spec in module.params["tunnels"] if spec["state"] == "present")
    summary = dict(
        changed=any(r["changed"] for r in results),
        tunnels=[dict((k, v) for k, v in r.items() if k != "diff") for r in results],
        units_to_start=[r["interface"] for r in ok
                        if r["unit_enabled"] is not None and not (r["unit_enabled"] and r["unit_active"])
                        and (r["interface_present"] or not module.check_mode)],
        interfaces_down=[r["interface"] for r in ok if not r["interface_present"] and r["interface"] in wanted_up],
    )
    diffs = [r["diff"] for r in ok if "diff" in r]
    if diffs:
        summary["diff"] = diffs
    failed = [r["msg"] for r in results if r.get("failed")]
    if failed:
        module.fail_json(msg="; ".join(failed), **summary)
    module.exit_json(**summary)


if __name__ == "__main__":
    main()
