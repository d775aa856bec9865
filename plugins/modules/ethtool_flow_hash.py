#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: ethtool_flow_hash
short_description: Choose the header fields a NIC hashes UDP flows on (ethtool -N rx-flow-hash)
version_added: 0.2.0
description:
  - Reads the fields with C(ethtool -n DEVICE rx-flow-hash TYPE) for each of O(flow_types) and sets
    them with C(ethtool -N DEVICE rx-flow-hash TYPE FIELDS) when they differ.
  - The default C(sdfn) hashes on source and destination address and port, which is what lets a
    tunnel spread over several UDP ports land on several receive queues. Many NICs (ixgbe for one)
    hash UDP on the addresses only (C(sd)) until told otherwise.
  - C(ethtool -N) exits 0 even when the kernel refuses the change, so the module judges by ethtool's
    messages and reads the fields again after a change; they must be what was asked for.
  - When the driver does not support flow hashing, that is it cannot report or set the fields of a
    flow type (C(Operation not supported)), O(on_unsupported) decides what happens. C(warn) and
    C(skip) leave that flow type as it is, and still configure the flow types the driver supports.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  flow_types:
    description: Flow types to configure.
    type: list
    elements: str
    choices: [udp4, udp6]
    default: [udp4, udp6]
  fields:
    description:
      - ethtool's field letters, in any order
        (C(m) L2 destination, C(v) VLAN tag, C(t) L3 protocol, C(s) IP source, C(d) IP destination,
        C(f) L4 source port, C(n) L4 destination port).
    type: str
    default: sdfn
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the field letters per flow type.
notes:
  - Requires C(ethtool) on the managed host.
seealso:
  - module: sitelink.wgspread.ethtool_rss
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Hash UDP on addresses and ports, so that spread tunnel ports reach several queues
  sitelink.wgspread.ethtool_flow_hash:
    device: eth0

- name: IPv4 only, fail on drivers that cannot
  sitelink.wgspread.ethtool_flow_hash:
    device: ens1f0
    flow_types: [udp4]
    on_unsupported: fail
"""

RETURN = r"""
fields:
  description: The field letters per supported flow type after the task (in check mode, what they would be).
  returned: always
  type: dict
  sample: {"udp4": "sdfn", "udp6": "sdfn"}
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["udp4: sd -> sdfn"]
unsupported:
  description: Whether the driver does not support flow hashing for at least one of O(flow_types).
  returned: always
  type: bool
unsupported_reason:
  description: Why, per unsupported flow type, as ethtool put it.
  returned: when RV(unsupported) is true
  type: str
  sample: "ethtool -n veth0 rx-flow-hash udp4: Cannot get RX network flow hashing options: Operation not supported"
replay:
  description:
    - What the boot script of the nic_tuning role replays for this device (module_utils/nic_boot.py) - commands as
      lists, C(["run", ARGV...]), C(["put", VALUE, PATH]) or C(["pin", IRQ_NAME, CPU]). Only what the driver took.
  returned: success
  type: list
  elements: list
"""

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import nic_module
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_flow_hash import ARGUMENT_SPEC, MODULE_OPTIONS, run


def main():
    run(nic_module(ARGUMENT_SPEC, **MODULE_OPTIONS), Host)


if __name__ == "__main__":
    main()
