#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: tunnel_status
short_description: Read-only report of a gateway's tunnels - handshake age, pings through each, received packets per port and CPU
version_added: 0.3.0
description:
  - For every tunnel in O(tunnels), pings the peer's tunnel address through the tunnel, reads the age of
    the latest handshake, and, where the port_spread role's meter chain exists (C(port_spread_meter=true)),
    how the packets the tunnel received were spread over ports and CPUs.
  - One module call per gateway - C(wg show all latest-handshakes) once, the meter chain once, and the pings
    of up to O(parallel) tunnels at the same time - so a hub with hundreds of tunnels is reported in seconds,
    not one tunnel after the other.
  - Never changes the host, and never reads or returns a key. Loss and a down tunnel are results, not failures.
  - Used by C(playbooks/status.yml).
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
    description:
      - The tunnels to report, each with at least C(link), C(interface), C(peer), C(peer_tunnel_ip) and
        C(spread) (C(enabled), C(receive_ports)) - a gateway's tunnels from the fleet plan
        (C(wgspread_plan | sitelink.wgspread.gateway_plan(inventory_hostname))).
    type: list
    elements: dict
    required: true
  pings:
    description: Pings per tunnel. 0 sends none.
    type: int
    default: 200
  interval:
    description: Seconds between two pings of one tunnel (C(ping -i); below 0.2 needs root).
    type: float
    default: 0.005
  parallel:
    description: How many tunnels are pinged at the same time.
    type: int
    default: 32
notes:
  - Needs C(ping) (iputils) and C(wg) on the gateway; C(nft) for the meter.
seealso:
  - module: sitelink.wgspread.nft_ruleset_check
"""

EXAMPLES = r"""
- name: Report this gateway's tunnels
  sitelink.wgspread.tunnel_status:
    tunnels: "{{ (wgspread_plan | sitelink.wgspread.gateway_plan(inventory_hostname)).tunnels }}"
  register: status

- name: Print one line per tunnel
  ansible.builtin.debug:
    msg: "{{ status.tunnels | map(attribute='line') }}"
"""

RETURN = r"""
tunnels:
  description: Per tunnel, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    link:
      description: The link.
      type: str
    interface:
      description: The WireGuard interface.
      type: str
    peer:
      description: The other gateway.
      type: str
    handshake_age:
      description: Seconds since the latest handshake; null when there was none (or the interface is missing).
      type: int
    ping:
      description: C(sent), C(received) and C(rtt_avg_ms) (null without replies).
      type: dict
    meter:
      description: Received packets C(ports) (port -> packets), C(cpus) (CPU -> packets) and C(total); null without the meter.
      type: dict
    line:
      description: The report line.
      type: str
      sample: "hub-spoke1: wg-spoke1 -> spoke1 (198.18.0.1): handshake 76 s ago, ping 200/200 replies, 0.422 ms;
        received per port 51820:200 51823:200, per cpu 0:200 1:200"
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.status import (
    parse_handshakes, ping_script, report, split_pings,
)

REQUIRED = ("link", "interface", "peer", "peer_tunnel_ip")


def read_pings(host, tunnels, count, interval, parallel):
    """{link: ping summary}: the tunnels in batches of ``parallel``, each batch's pings at once."""
    out = {}
    if count < 1:
        return out
    for start in range(0, len(tunnels), max(1, parallel)):
        batch = tunnels[start:start + max(1, parallel)]
        text = host.run(["sh", "-c", ping_script(count, interval), "sh"] + [t["peer_tunnel_ip"] for t in batch],
                        check=False)[1]
        for tunnel, summary in zip(batch, split_pings(text, len(batch))):  # noqa: B905 (counted above)
            out[tunnel["link"]] = summary
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tunnels=dict(type="list", elements="dict", required=True),
            pings=dict(type="int", default=200),
            interval=dict(type="float", default=0.005),
            parallel=dict(type="int", default=32),
        ),
        supports_check_mode=True,
    )
    p, host = module.params, Host(module)
    for index, tunnel in enumerate(p["tunnels"]):
        missing = [key for key in REQUIRED if not tunnel.get(key)]
        if missing:
            module.fail_json(msg="tunnels[%d]: %s missing" % (index, ", ".join(missing)))
    try:
        pings = read_pings(host, p["tunnels"], p["pings"], p["interval"], p["parallel"])
        handshakes = parse_handshakes(host.run(["wg", "show", "all", "latest-handshakes"], check=False)[1])
        rc, meter_out, _err = host.run(["nft", "-j", "list", "chain", "inet", "wgspread", "rx_per_cpu"], check=False)
        now = int(host.run(["date", "+%s"])[1].strip())
    except (CommandError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, tunnels=report(p["tunnels"], pings, handshakes, now,
                                                   json.loads(meter_out) if rc == 0 else None, count=p["pings"]))


if __name__ == "__main__":
    main()
