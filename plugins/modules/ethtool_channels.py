#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: ethtool_channels
short_description: Set a NIC's number of combined, rx and tx queues (ethtool -L)
version_added: 0.2.0
description:
  - Reads the channel counts with C(ethtool -l DEVICE) and sets them with C(ethtool -L DEVICE) when they differ.
  - Without O(combined), O(rx) or O(tx), uses as many queues as the NIC allows, up to the number of
    online CPUs (or O(cpu_count)). Drivers with combined channels get combined channels; drivers that
    only have separate rx and tx channels (for example veth) get those.
  - After a change the counts are read again and must be what was asked for.
  - Changing the channel count makes most drivers reset the device's queues, a short interruption of
    traffic on that NIC.
  - When the driver does not support channels, that is it cannot report or set them (C(Operation not
    supported), or no settable channel at all), O(on_unsupported) decides what happens; the module never
    fails with a traceback. With C(warn) and C(skip) the task succeeds unchanged.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  combined:
    description: Number of combined (rx+tx) channels.
    type: int
  rx:
    description: Number of rx-only channels.
    type: int
  tx:
    description: Number of tx-only channels.
    type: int
  cpu_count:
    description:
      - The CPU count that caps the default queue count.
      - Defaults to the number of CPUs in C(/sys/devices/system/cpu/online).
    type: int
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the current channel counts.
notes:
  - Requires C(ethtool) on the managed host.
seealso:
  - module: sitelink.wgspread.ethtool_rss
  - module: sitelink.wgspread.irq_affinity
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: As many combined queues as the NIC allows, up to the CPU count
  sitelink.wgspread.ethtool_channels:
    device: eth0

- name: Exactly 8 combined queues, fail if the driver cannot
  sitelink.wgspread.ethtool_channels:
    device: ens1f0
    combined: 8
    on_unsupported: fail
"""

RETURN = r"""
channels_before:
  description: Current channel counts before the task (null where the driver says n/a).
  returned: unless unsupported
  type: dict
  sample: {"combined": 2, "rx": null, "tx": null, "other": 1}
channels:
  description: Current channel counts after the task (in check mode, what they would be).
  returned: unless unsupported
  type: dict
  sample: {"combined": 8, "rx": null, "tx": null, "other": 1}
maximum:
  description: The driver's pre-set maximums.
  returned: unless unsupported
  type: dict
  sample: {"combined": 8, "rx": null, "tx": null, "other": 1}
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["combined 2 -> 8"]
unsupported:
  description: Whether the driver does not support the operation.
  returned: always
  type: bool
unsupported_reason:
  description: Why, as ethtool or the module put it.
  returned: when RV(unsupported) is true
  type: str
  sample: "ethtool -l eth0: Cannot get device channel parameters : Operation not supported"
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
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_channels import ARGUMENT_SPEC, MODULE_OPTIONS, run


def main():
    run(nic_module(ARGUMENT_SPEC, **MODULE_OPTIONS), Host)


if __name__ == "__main__":
    main()
