#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: underlay_devices
short_description: Read-only probe of the devices that carry a gateway's tunnels, and what carries each tunnel interface
version_added: 0.3.0
description:
  - For every tunnel in O(tunnels), finds the underlay device - the device of the route to the peer's endpoint
    (C(ip -j route get)), after resolving an endpoint given as a name (C(getent ahosts)) - and whether the
    tunnel interface is carried by the kernel (link kind C(wireguard)), by wireguard-go (kind C(tun)), or
    is not there yet (C(ip -j -d link show), once).
  - One module call per gateway instead of one task per endpoint; used by the nic_tuning role.
  - Never changes the host. An endpoint that does not resolve, or has no route, fails the task naming it
    and what to do.
author:
  - sitelink.wgspread contributors (@sitelink)
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
options:
  tunnels:
    description: The gateway's tunnels, each with at least C(interface) and C(peer_endpoint) (from the fleet plan).
    type: list
    elements: dict
    required: true
  devices:
    description:
      - The devices to tune, when given (C(nic_tuning_devices)); then no route is looked up, and RV(route_devices)
        is empty.
    type: list
    elements: str
    default: []
seealso:
  - module: sitelink.wgspread.rps_xps
"""

EXAMPLES = r"""
- name: Find the underlay devices of this gateway's tunnels
  sitelink.wgspread.underlay_devices:
    tunnels: "{{ (wgspread_plan | sitelink.wgspread.gateway_plan(inventory_hostname)).tunnels }}"
  register: underlay
"""

RETURN = r"""
devices:
  description: The devices to tune, each once, sorted (or O(devices) as given); never C(lo) or a tunnel interface.
  returned: always
  type: list
  elements: str
  sample: [eth0]
route_devices:
  description: Peer endpoint -> the device of the route to it.
  returned: always
  type: dict
  sample: {"198.51.100.12": "eth0"}
userspace_devices:
  description: The devices under the tunnels wireguard-go carries (where UDP GRO forwarding helps), each once, sorted.
  returned: always
  type: list
  elements: str
tunnel_kinds:
  description: The tunnel interfaces by what carries them - C(wireguard) (kernel), C(tun) (wireguard-go), C(absent).
  returned: always
  type: dict
  sample: {"wireguard": [], "tun": [wg-spoke1], "absent": []}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.underlay import (
    first_address, interface_kinds, is_address, route_device, underlay, userspace_underlay,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tunnels=dict(type="list", elements="dict", required=True),
            devices=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p, host = module.params, Host(module)
    interfaces = [t["interface"] for t in p["tunnels"]]
    route_devices = {}
    if not p["devices"]:
        for endpoint in sorted(set(t["peer_endpoint"] for t in p["tunnels"])):
            address = endpoint
            if not is_address(endpoint):
                rc, out, err = host.run(["getent", "ahosts", endpoint], check=False)
                address = first_address(out) if rc == 0 else None
                if address is None:
                    module.fail_json(msg="peer endpoint %s does not resolve on this gateway (%s); fix the name "
                                         "or set nic_tuning_devices" % (endpoint, (err or "no address").strip()))
            rc, out, err = host.run(["ip", "-j", "route", "get", address], check=False)
            device = route_device(out) if rc == 0 else None
            if device is None:
                module.fail_json(msg="no route to peer endpoint %s (%s); fix the routing or set nic_tuning_devices"
                                     % (endpoint, (err or "no device").strip()))
            route_devices[endpoint] = device
    kinds = interface_kinds(host.run(["ip", "-j", "-d", "link", "show"])[1], interfaces) if interfaces \
        else {"wireguard": [], "tun": [], "absent": []}
    devices = underlay(route_devices, interfaces, p["devices"])
    module.exit_json(changed=False, devices=devices, route_devices=route_devices, tunnel_kinds=kinds,
                     userspace_devices=userspace_underlay(p["tunnels"], kinds, route_devices, devices, p["devices"]))


if __name__ == "__main__":
    main()
