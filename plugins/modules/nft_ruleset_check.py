#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: nft_ruleset_check
short_description: Read-only check of a gateway's port-spreading table and tunnels, for the fleet validator
version_added: 0.2.0
description:
  - Compares the live nftables table O(family) O(name) (the one table sitelink.wgspread owns) with the
    desired ruleset file O(path) (the file the port_spread role renders) and says in words what differs.
  - Both sides are compared in nft's normalized JSON. The desired side is what nft itself makes of
    O(path), found by loading it in a scratch network namespace (C(unshare --net)); the live ruleset is
    only listed. Handles and counter values are ignored, and so is the order of set elements.
  - Other tables in the live ruleset are reported in RV(foreign_tables); they are not drift.
  - When the table has the meter chain of the port_spread role (C(port_spread_meter=true), rules
    commented C(LINK port P cpu C)), reports the packets per port and per CPU of every link and the
    share of the busiest core.
  - For every tunnel in O(tunnels), reports what this gateway has configured, for the controller-side
    comparison of both ends of each link (filter C(sitelink.wgspread.fleet_report), playbook
    C(playbooks/validate.yml)) - the ports it sends to and folds back, its listen port, the peer
    endpoint, and its own and its peer's public key (from C(wg show IFACE dump); private and
    preshared keys are never returned), and whether the interface has threaded NAPI on
    (C(/sys/class/net/IFACE/threaded)).
  - Never changes the host. Drift, a missing table or a missing interface are results, not failures;
    the task fails only when the live ruleset cannot be listed at all.
options:
  path:
    description: The desired ruleset file, as for C(nft -f). A missing file is reported, not a failure.
    type: path
    default: /etc/wgspread/wgspread.nft
  family:
    description: Family of the table to check.
    type: str
    default: inet
  name:
    description: Name of the table to check.
    type: str
    default: wgspread
  tunnels:
    description:
      - The WireGuard interfaces of this gateway to report, one per link.
      - In a playbook, from C(wgspread_links | sitelink.wgspread.gateway_tunnels(inventory_hostname, groups['all'], hostvars)).
    type: list
    elements: dict
    default: []
    suboptions:
      link:
        description: Name of the link (the rules of the link are found by their comments).
        type: str
        required: true
      interface:
        description: The WireGuard interface of the link on this gateway.
        type: str
        required: true
  idempotent:
    description:
      - Also load O(path) twice into one scratch network namespace (never the live one) and check that the
        second listing equals the first and equals the live table. The result is RV(idempotent).
    type: bool
    default: false
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything, in check mode or not.
  diff_mode:
    support: full
    details: Before is the live table, after the desired table, both as text rendered from nft's normalized JSON.
notes:
  - Needs C(nft), C(unshare) (util-linux) and, for O(tunnels), C(wg) on the gateway, and root
    (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to list the ruleset and create the scratch namespace.
seealso:
  - module: sitelink.wgspread.nft_table
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Check the spreading table and the tunnels of this gateway
  sitelink.wgspread.nft_ruleset_check:
    tunnels:
      - link: hub-spoke1
        interface: wg-spoke1
    idempotent: true
  register: check

- name: Show what drifted
  ansible.builtin.debug:
    var: check.drift.lines
  when: not check.in_sync
"""

RETURN = r"""
in_sync:
  description: Whether the live table equals the desired one (both absent counts as equal).
  returned: always
  type: bool
table_present:
  description: Whether the live table exists.
  returned: always
  type: bool
desired_present:
  description: Whether O(path) exists.
  returned: always
  type: bool
desired_error:
  description: Why the desired table could not be read (missing file, nft refuses it), else null.
  returned: always
  type: str
drift:
  description: What differs between the live and the desired table.
  returned: always
  type: dict
  contains:
    lines:
      description:
        - One line per difference. C(added) is in the live table only (for example added by hand),
          C(removed) is in the desired table only, C(changed) is a rule with the same comment and other content.
      type: list
      elements: str
      sample:
        - >-
          removed: chain prerouting: ip saddr 198.51.100.13 udp dport { 51830, 51831 } notrack
          udp dport set 51830 comment "hub-spoke2: fold back from spoke2"
    diff:
      description: Unified diff from the desired to the live table, as text.
      type: str
foreign_tables:
  description: Other tables in the live ruleset, as C(FAMILY NAME). Reported, not drift.
  returned: always
  type: list
  elements: str
  sample: [inet filter, ip nat]
idempotent:
  description:
    - With O(idempotent), whether loading O(path) twice gives the same table as loading it once, and that
      table equals the live one. Null when not asked or when the desired table could not be read.
  returned: always
  type: bool
idempotence:
  description: With O(idempotent), the two comparisons behind RV(idempotent), else null.
  returned: always
  type: dict
  contains:
    second_equals_first:
      description: The second load left the same table as the first.
      type: bool
    equals_live:
      description: The table loaded in the scratch namespace equals the live one.
      type: bool
meter:
  description:
    - Per link, what the meter chain counted - packets per port, per CPU and per (port, CPU) (C(port_cpus)),
      the busiest CPU and its share. Empty when the table has no meter counters.
  returned: always
  type: dict
  sample:
    hub-spoke1:
      link: hub-spoke1
      packets: 500
      ports: [{port: 51820, packets: 300}, {port: 51821, packets: 200}]
      cpus: [{cpu: 0, packets: 400}, {cpu: 1, packets: 100}]
      port_cpus: [{port: 51820, cpu: 0, packets: 300}, {port: 51820, cpu: 1, packets: 0},
                  {port: 51821, cpu: 0, packets: 100}, {port: 51821, cpu: 1, packets: 100}]
      busiest_cpu: 0
      busiest_core_share: 0.8
tunnels:
  description: Per entry of O(tunnels), what this gateway has configured.
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
    wireguard:
      description:
        - From C(wg show IFACE dump) - C(present), C(public_key), C(listen_port) and C(peers) (each with
          C(public_key), C(endpoint), C(allowed_ips), C(latest_handshake)); C(error) when the interface is missing.
      type: dict
    threaded:
      description:
        - The interface's C(/sys/class/net/IFACE/threaded) - C(0) softirq NAPI, C(1) threaded NAPI, C(2) threaded
          busy polling; null when the file is missing (no interface, kernel before 5.12). The fleet report flags
          threaded NAPI on kernels before 6.16 (CVE-2026-52945).
      type: int
    spread:
      description:
        - From the live table's rules of this link - C(send_rule), C(peer_endpoint), C(listen_port),
          C(peer_listen_port), C(send_ports) (where it sends to, in round-robin order), C(fold_rule),
          C(fold_from), C(fold_ports) (what it folds back) and C(fold_to).
      type: dict
live_text:
  description: The live table as text rendered from nft's normalized JSON (empty when absent).
  returned: always
  type: str
desired_text:
  description: The desired table, rendered the same way.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import check


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/wgspread/wgspread.nft"),
            family=dict(type="str", default="inet"),
            name=dict(type="str", default="wgspread"),
            tunnels=dict(type="list", elements="dict", default=[], options=dict(
                link=dict(type="str", required=True),
                interface=dict(type="str", required=True),
            )),
            idempotent=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = check(Host(module), p["path"], p["family"], p["name"], p["tunnels"], p["idempotent"])
    except CommandError as exc:
        module.fail_json(msg=str(exc), rc=exc.rc, stderr=exc.stderr)
    except ValueError as exc:
        module.fail_json(msg="unexpected output: %s" % exc)
    result["diff"] = dict(before=result["live_text"], after=result["desired_text"],
                          before_header="live table %s %s" % (p["family"], p["name"]), after_header=p["path"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
