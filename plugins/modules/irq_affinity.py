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

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import (
    IRQBALANCE_DROPIN, assign_irqs, cpu_order, format_cpulist, irqbalance_dropin, parse_cpulist, parse_interrupts,
    parse_systemctl_show, queue_irqs,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import Unsupported
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import exit_unsupported, nic_module, plan_and_apply, report_unsupported


def device_file(host, device, name):
    """A file of the device, or of its parent (virtio-net sits below its virtio-pci device)."""
    for base in ("/sys/class/net/%s/device/" % device, "/sys/class/net/%s/device/../" % device):
        if name.endswith("/"):
            entries = host.syslist(base + name)
            if entries:
                return entries
        else:
            text = host.sysread(base + name)
            if text is not None:
                return text
    return [] if name.endswith("/") else None


class Affinity(object):
    """Decide which IRQ goes where (plan), then pin (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params

    def irqbalance_state(self):
        if not self.host.which("systemctl"):
            return {"present": False, "active": False, "enabled": False}
        rc, out, _err = self.host.run(["systemctl", "show", "-p", "LoadState", "-p", "ActiveState",
                                       "-p", "UnitFileState", "irqbalance.service"], check=False)
        state = parse_systemctl_show(out) if rc == 0 else {}
        return {"present": state.get("LoadState") == "loaded", "active": state.get("ActiveState") == "active",
                "enabled": state.get("UnitFileState") == "enabled"}

    def plan(self):
        p, host = self.p, self.host
        device = p["device"]
        if host.sysread("/sys/class/net/%s/ifindex" % device) is None:
            raise ValueError("no network device %s" % device)
        online = parse_cpulist(host.sysread("/sys/devices/system/cpu/online") or "")
        if p["cpus"] is not None:
            online = [cpu for cpu in online if cpu in p["cpus"]]
        node = device_file(host, device, "numa_node")
        node = int(node) if node is not None and node.strip() not in ("", "-1") else None
        local = parse_cpulist(host.sysread("/sys/devices/system/node/node%d/cpulist" % node) or "") if node is not None else []
        plan = {"numa_node": node, "mapping": [], "todo": [], "changes": [], "unsupported": [],
                "irqbalance": {}, "dropin": None}
        msi = [int(name) for name in device_file(host, device, "msi_irqs/") if name.isdigit()]
        queues = queue_irqs(msi, parse_interrupts(host.sysread("/proc/interrupts") or ""))
        if not queues:
            raise Unsupported("%s has no MSI/MSI-X queue IRQs to pin (virtual device or legacy interrupts)" % device)
        mapping = assign_irqs(queues, cpu_order(online, local, p["exclude_cpus"], p["numa"]))
        for irq, queue, name in queues:
            before = parse_cpulist(host.sysread("/proc/irq/%d/smp_affinity_list" % irq) or "")
            entry = {"irq": irq, "queue": queue, "name": name, "before": before, "cpu": mapping[irq]}
            plan["mapping"].append(entry)
            if before != [mapping[irq]]:
                plan["todo"].append(entry)
                plan["changes"].append("irq %d (%s): %s -> %d" % (irq, name, format_cpulist(before) or "none", mapping[irq]))
        self.plan_irqbalance(plan, sorted(mapping))
        return plan

    def plan_irqbalance(self, plan, irqs):
        state = self.irqbalance_state()
        plan["irqbalance"] = dict(state, action="none")
        mode = self.p["irqbalance"]
        if not state["present"]:
            return
        if mode == "ban":
            wanted = irqbalance_dropin(irqs)
            current = self.host.sysread(IRQBALANCE_DROPIN)
            plan["dropin"] = (current, wanted)
            if current != wanted:
                plan["changes"].append("irqbalance: ban IRQs %s (%s)" % (",".join(str(i) for i in irqs), IRQBALANCE_DROPIN))
                plan["irqbalance"]["action"] = "banned %d IRQs" % len(irqs)
        elif mode == "stop":
            if state["active"] or state["enabled"]:
                plan["changes"].append("irqbalance: stop and disable")
                plan["irqbalance"]["action"] = "stopped and disabled"
        elif state["active"]:
            plan["irqbalance"]["action"] = "left running (it may move the pinned IRQs)"

    def apply(self, plan):
        host, mode = self.host, self.p["irqbalance"]
        # irqbalance first, so that it does not move the IRQs again right after they are pinned.
        if mode == "ban" and plan["dropin"] and plan["dropin"][0] != plan["dropin"][1]:
            host.install_file(IRQBALANCE_DROPIN, plan["dropin"][1])
            host.run(["systemctl", "daemon-reload"])
            if plan["irqbalance"]["active"]:
                host.run(["systemctl", "try-restart", "irqbalance.service"])
        elif mode == "stop" and plan["irqbalance"]["action"] == "stopped and disabled":
            host.run(["systemctl", "disable", "--now", "irqbalance.service"])
        for entry in plan["todo"]:
            path = "/proc/irq/%d/smp_affinity_list" % entry["irq"]
            try:
                host.syswrite(path, "%d\n" % entry["cpu"])
            except (IOError, OSError) as exc:
                plan["unsupported"].append("irq %d (%s): the kernel refused affinity %d (%s; managed IRQ?)"
                                           % (entry["irq"], entry["name"], entry["cpu"], exc))
                entry["cpu"] = None
                continue
            now = parse_cpulist(host.sysread(path) or "")
            if now != [entry["cpu"]]:
                raise ValueError("irq %d: affinity is %s after writing %d" % (entry["irq"], format_cpulist(now), entry["cpu"]))


def lines(mapping, key):
    def value(entry):
        if key == "before":
            return format_cpulist(entry[key])
        return "unchanged" if entry["cpu"] is None else entry["cpu"]
    return "".join("%d %s: %s\n" % (e["irq"], e["name"], value(e)) for e in mapping)


def main():
    module = nic_module(
        dict(
            device=dict(type="str", required=True),
            cpus=dict(type="list", elements="int"),
            exclude_cpus=dict(type="list", elements="int", default=[]),
            numa=dict(type="str", choices=["prefer", "only", "ignore"], default="prefer"),
            irqbalance=dict(type="str", choices=["ban", "stop", "ignore"], default="ban"),
        ),
    )
    device = module.params["device"]
    affinity = Affinity(Host(module), module.params)
    try:
        plan = plan_and_apply(module, affinity, "changes")
    except Unsupported as exc:
        exit_unsupported(module, str(exc), "%s: IRQ affinity left as it is: %s" % (device, exc),
                         mapping=[], numa_node=None, irqbalance={})
    except (ValueError, CommandError, IOError, OSError) as exc:
        module.fail_json(msg="%s: %s" % (device, exc))

    refused = set(int(r.split()[1]) for r in plan["unsupported"])
    changes = [c for c in plan["changes"] if not (c.startswith("irq ") and int(c.split()[1]) in refused)]
    result = dict(changed=bool(changes), changes=changes, mapping=plan["mapping"], numa_node=plan["numa_node"],
                  irqbalance=plan["irqbalance"])
    report_unsupported(module, result, plan["unsupported"], device, device)
    result["replay"] = nic_boot.irq(result)
    if plan["irqbalance"].get("active") and module.params["irqbalance"] == "ignore":
        module.warn("irqbalance is running and will likely move the pinned IRQs (irqbalance: ignore)")
    if module._diff:
        result["diff"] = [dict(before_header="smp_affinity_list", after_header="smp_affinity_list",
                               before=lines(plan["mapping"], "before"), after=lines(plan["mapping"], "cpu"))]
        if plan["dropin"] and plan["dropin"][0] != plan["dropin"][1]:
            result["diff"].append(dict(before_header=IRQBALANCE_DROPIN, after_header=IRQBALANCE_DROPIN,
                                       before=plan["dropin"][0] or "", after=plan["dropin"][1]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
