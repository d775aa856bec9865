# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rps xps step of NIC tuning: what the module rps_xps does, as ``run(module, host_class)``, so that the
module and nic_tune (every step of a gateway in one call) run the same code.

``module`` is an AnsibleModule or a nic_module.StepModule; ARGUMENT_SPEC and MODULE_OPTIONS are its
options (without on_unsupported, which nic_module adds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import (
    format_cpulist, format_mask, parse_cpulist, parse_mask, possible_count, roundup_pow2, spread,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import refusal
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import plan_and_apply, report_unsupported

SOCK_FLOW = "/proc/sys/net/core/rps_sock_flow_entries"


class Steering(object):
    """Decide every queue file's value (plan), then write (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params
        self.base = "/sys/class/net/%s/queues/" % params["device"]

    def plan(self):
        p, host = self.p, self.host
        entries = host.syslist(self.base)
        if not entries:
            raise ValueError("no network device %s (or it has no queues)" % p["device"])
        rx = sorted((e for e in entries if e.startswith("rx-")), key=lambda e: int(e[3:]))
        tx = sorted((e for e in entries if e.startswith("tx-")), key=lambda e: int(e[3:]))
        # Check mode after a channel change that was only predicted: plan for the queues there will be.
        self.assumed = set()
        if p.get("check_mode"):
            rx = self.assume(rx, "rx", p.get("rx_queues"))
            tx = self.assume(tx, "tx", p.get("tx_queues"))
        nr_cpus = possible_count(host.sysread("/sys/devices/system/cpu/possible") or "0")
        cpus = parse_cpulist(host.sysread("/sys/devices/system/cpu/online") or "")
        if p["cpus"] is not None:
            cpus = [c for c in cpus if c in p["cpus"]]
        cpus = [c for c in cpus if c not in p["exclude_cpus"]]
        if not cpus:
            raise ValueError("no CPU left to spread over")
        rps_on = {"on": True, "off": False}.get(p["rps"], len(rx) < len(cpus) or not p["rss_spreads_ports"])
        xps_on = {"on": True, "off": False}.get(p["xps"], len(tx) > 1)
        plan = {"todo": [], "queues": [], "changes": [], "unsupported": [], "rps_enabled": rps_on, "nr_cpus": nr_cpus}
        # Queues that are not chosen by port may carry every flow (veth: all on rx-0), so then
        # each queue's RPS spreads over all the CPUs; otherwise each queue gets its own share.
        if not rps_on:
            rx_sets = [[]] * len(rx)
        elif p["rss_spreads_ports"]:
            rx_sets = spread(cpus, len(rx))
        else:
            rx_sets = [cpus] * len(rx)
        for index, queue in enumerate(rx):
            wanted = rx_sets[index]
            self.want_mask(plan, "%s/rps_cpus" % queue, wanted, "RPS")
            self.want_number(plan, "%s/rps_flow_cnt" % queue, roundup_pow2(p["rps_flow_cnt"]) if rps_on else 0, "RFS")
        if xps_on or p["xps"] == "off":
            tx_sets = spread(cpus, len(tx)) if xps_on else [[]] * len(tx)
            for index, queue in enumerate(tx):
                self.want_mask(plan, "%s/xps_cpus" % queue, tx_sets[index], "XPS (single TX queue or kernel without XPS)")
        if p["rps_sock_flow_entries"] is not None:
            self.want_number(plan, SOCK_FLOW, roundup_pow2(p["rps_sock_flow_entries"]), "RFS")
        return plan

    def assume(self, queues, kind, count):
        """The queue names of ``kind`` if the device had ``count`` queues (check mode only)."""
        if count is None or count < 1 or not queues:
            return queues
        names = ["%s-%d" % (kind, i) for i in range(count)]
        self.assumed.update((name, queues[0]) for name in names if name not in queues)
        return names

    def path(self, name):
        return name if name.startswith("/") else self.base + name

    def current(self, name):
        """The file's text; for a queue assumed in check mode, its sibling's file as a stand-in
        ("0": a new queue starts with empty masks)."""
        queue, _sep, leaf = name.partition("/")
        stand_in = dict(self.assumed).get(queue)
        if stand_in is not None:
            return None if self.host.sysread(self.path(stand_in + "/" + leaf)) is None else "0"
        return self.host.sysread(self.path(name))

    def writable(self, name):
        queue, _sep, leaf = name.partition("/")
        stand_in = dict(self.assumed).get(queue)
        return self.host.syswritable(self.path(stand_in + "/" + leaf if stand_in else name))

    def want(self, plan, name, value, change):
        if not self.writable(name):
            plan["unsupported"].append("%s: cannot be written (Read-only file system)" % name)
            return False
        plan["todo"].append((name, value))
        plan["changes"].append(change)
        return True

    def existing(self, plan, name, wanted, feature):
        """The file's text (see current), or None when the kernel has no such file: then, if
        something other than empty or 0 is wanted, the kernel lacks ``feature`` (unsupported)."""
        text = self.current(name)
        if text is None and wanted:
            plan["unsupported"].append("%s: no %s" % (name, feature))
        return text

    def want_mask(self, plan, name, wanted, feature):
        text = self.existing(plan, name, wanted, feature)
        if text is None:
            return
        have = parse_mask(text)
        mask = format_mask(wanted, plan["nr_cpus"])
        queue = {"file": name, "cpus": wanted, "mask": mask, "before": have}
        plan["queues"].append(queue)
        if have != sorted(wanted):
            change = "%s: %s -> %s" % (name, format_cpulist(have) or "none", format_cpulist(wanted) or "none")
            if not self.want(plan, name, mask, change):
                queue.update(cpus=have, mask=format_mask(have, plan["nr_cpus"]))

    def want_number(self, plan, name, wanted, feature):
        text = self.existing(plan, name, wanted, feature)
        if text is None:
            return
        have = int(text.strip() or 0)
        if have != wanted:
            self.want(plan, name, str(wanted), "%s: %d -> %d" % (name, have, wanted))

    def apply(self, plan):
        """Write every planned value; a write the kernel refuses (read-only /sys, not supported)
        becomes unsupported and no change."""
        for index, (name, value) in enumerate(plan["todo"]):
            try:
                self.host.syswrite(self.path(name), value + "\n")
            except (IOError, OSError) as exc:
                words = refusal(exc)
                if words is None:
                    raise
                plan["unsupported"].append("%s: %s" % (name, words))
                plan["changes"][index] = None
                for queue in plan["queues"]:
                    if queue["file"] == name:
                        queue.update(cpus=queue["before"], mask=format_mask(queue["before"], plan["nr_cpus"]))
        plan["changes"] = [change for change in plan["changes"] if change is not None]


ARGUMENT_SPEC = dict(
    device=dict(type="str", required=True),
    rps=dict(type="str", choices=["auto", "on", "off"], default="auto"),
    xps=dict(type="str", choices=["auto", "on", "off"], default="auto"),
    rss_spreads_ports=dict(type="bool", default=True),
    cpus=dict(type="list", elements="int"),
    exclude_cpus=dict(type="list", elements="int", default=[]),
    rps_flow_cnt=dict(type="int", default=0),
    rps_sock_flow_entries=dict(type="int"),
    rx_queues=dict(type="int"),
    tx_queues=dict(type="int"),
)
MODULE_OPTIONS = dict()


def run(module, host_class):
    device = module.params["device"]
    steering = Steering(host_class(module), dict(module.params, check_mode=module.check_mode))
    try:
        plan = plan_and_apply(module, steering, fail_prefix="%s: not supported" % device)
    except (ValueError, IOError, OSError) as exc:
        module.fail_json(msg="%s: %s" % (device, exc))

    queues = [dict((k, v) for k, v in q.items() if k != "before") for q in plan["queues"]]
    result = dict(changed=bool(plan["changes"]), changes=plan["changes"], queues=queues,
                  rps_enabled=plan["rps_enabled"])
    # Failing here (on_unsupported: fail) means refusals found while writing: what could be written is.
    report_unsupported(module, result, plan["unsupported"], "%s: not supported" % device, "%s: left as it is" % device)
    result["replay"] = nic_boot.rps_xps(device, result, module.params)
    if module._diff:
        result["diff"] = dict(
            before="".join("%s: %s\n" % (q["file"], format_cpulist(q["before"]) or "none") for q in plan["queues"]),
            after="".join("%s: %s\n" % (q["file"], format_cpulist(q["cpus"]) or "none") for q in plan["queues"]))
    module.exit_json(**result)
