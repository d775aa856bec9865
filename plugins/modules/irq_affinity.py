#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: irq_affinity
short_description: Pin a NIC's queue interrupts to CPUs, one queue per CPU, NUMA-local first
version_added: 0.2.0
description:
  - Finds the device's IRQs in C(/sys/class/net/DEVICE/device/msi_irqs) (for virtio, in the PCI
    device above it) and their names in C(/proc/interrupts). IRQs whose name carries a queue
    number (C(eth0-TxRx-3), C(virtio0-input.3), C(mlx5_comp3@pci:...)) are queue IRQs; others
    (config, async, management) are left alone.
  - Gives queue N the N-th CPU of the list below, wrapping around; all IRQs of one queue (for
    example virtio's input.N and output.N) go to the same CPU. The list is the online CPUs, or
    O(cpus), without O(exclude_cpus), the NIC's NUMA node first (O(numa)).
  - Writes C(/proc/irq/N/smp_affinity_list) where it differs, reads it back, and returns the mapping.
  - Detects irqbalance (through systemd), which would otherwise move the pinned IRQs again within
    seconds, and handles it as O(irqbalance) says.
  - IRQs whose affinity the kernel manages itself (the write fails, typically with EIO) and devices
    without MSI/MSI-X queue IRQs (veth, most virtual NICs without virtio-pci) are unsupported; then
    O(on_unsupported) decides what happens. With C(warn) and C(skip) the module pins what it can.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  cpus:
    description: CPUs the IRQs may go to. Defaults to all online CPUs.
    type: list
    elements: int
  exclude_cpus:
    description: CPUs never to use (for example those reserved for WireGuard's crypto workers or housekeeping).
    type: list
    elements: int
    default: []
  numa:
    description:
      - C(prefer) hands out the CPUs of the NIC's NUMA node first, then the others.
      - C(only) uses the NIC's node alone (more queues than CPUs there share CPUs).
      - C(ignore) hands out CPUs by number.
      - Without NUMA information (C(numa_node) is -1 or missing), all three hand out CPUs by number.
    type: str
    choices: [prefer, only, ignore]
    default: prefer
  irqbalance:
    description:
      - What to do about a running or enabled irqbalance service.
      - C(ban) (default) installs the systemd drop-in
        C(/etc/systemd/system/irqbalance.service.d/wgspread-banirq.conf) that starts irqbalance with
        C(--banirq) for each pinned IRQ, reloads systemd and restarts irqbalance if it runs. irqbalance
        keeps balancing every other IRQ of the host. IRQ numbers can change when the driver is reloaded
        or the host reboots; the drop-in is rewritten on the next run.
      - C(stop) stops and disables irqbalance (C(systemctl disable --now irqbalance)). No IRQ of the host
        is balanced any more, and devices added later keep the kernel's default affinity.
      - C(ignore) leaves irqbalance alone and warns when it runs; it will likely undo the pinning.
    type: str
    choices: [ban, stop, ignore]
    default: ban
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are one line per queue IRQ (number, name, CPUs), and the irqbalance drop-in when it changes.
notes:
  - Affinity written to C(/proc/irq) does not survive a reboot or a driver reload; run the module at boot
    (for example from the role) to keep it.
seealso:
  - module: sitelink.wgspread.ethtool_channels
  - module: sitelink.wgspread.rps_xps
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: One queue per CPU, NUMA-local first, keep irqbalance away from these IRQs
  sitelink.wgspread.irq_affinity:
    device: eth0
  register: pinned

- name: Leave CPU 0 to the system, stop irqbalance altogether
  sitelink.wgspread.irq_affinity:
    device: ens1f0
    exclude_cpus: [0]
    irqbalance: stop
"""

RETURN = r"""
mapping:
  description: Every queue IRQ with its queue, name, CPUs before and the CPU after the task.
  returned: always
  type: list
  elements: dict
  sample: [{"irq": 53, "queue": 0, "name": "virtio6-input.0", "before": [0, 1, 2, 3], "cpu": 0}]
numa_node:
  description: The NIC's NUMA node, null when the kernel reports none.
  returned: always
  type: int
irqbalance:
  description: What was found of irqbalance and what was done.
  returned: always
  type: dict
  sample: {"present": true, "active": true, "action": "banned 4 IRQs"}
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["irq 53 (virtio6-input.0): 0-3 -> 0"]
unsupported:
  description: Whether the device has no queue IRQs or the kernel refused the affinity of at least one.
  returned: always
  type: bool
unsupported_reason:
  description: Why.
  returned: when RV(unsupported) is true
  type: str
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
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_irq import ARGUMENT_SPEC, MODULE_OPTIONS, run


def main():
    run(nic_module(ARGUMENT_SPEC, **MODULE_OPTIONS), Host)


if __name__ == "__main__":
    main()
