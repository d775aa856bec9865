# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The irq affinity step of NIC tuning: what the module irq_affinity does, as ``run(module, host_class)``, so that the
module and nic_tune (every step of a gateway in one call) run the same code.

``module`` is an AnsibleModule or a nic_module.StepModule; ARGUMENT_SPEC and MODULE_OPTIONS are its
options (without on_unsupported, which nic_module adds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import (
    IRQBALANCE_DROPIN, assign_irqs, cpu_order, format_cpulist, irqbalance_dropin, parse_cpulist, parse_interrupts,
    parse_systemctl_show, queue_irqs,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import Unsupported
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import exit_unsupported, plan_and_apply, report_unsupported


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


ARGUMENT_SPEC = dict(
    device=dict(type="str", required=True),
    cpus=dict(type="list", elements="int"),
    exclude_cpus=dict(type="list", elements="int", default=[]),
    numa=dict(type="str", choices=["prefer", "only", "ignore"], default="prefer"),
    irqbalance=dict(type="str", choices=["ban", "stop", "ignore"], default="ban"),
)
MODULE_OPTIONS = dict()


def run(module, host_class):
    device = module.params["device"]
    affinity = Affinity(host_class(module), module.params)
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
