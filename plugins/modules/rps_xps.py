#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: rps_xps
short_description: Spread a NIC's receive and transmit work in software (RPS, RFS, XPS)
version_added: 0.2.0
description:
  - The software fallback for NICs with fewer queues than CPUs (virtual NICs, single-queue NICs).
    Sets C(rps_cpus) and C(rps_flow_cnt) of each C(/sys/class/net/DEVICE/queues/rx-N) and
    C(xps_cpus) of each C(tx-N).
  - The CPUs (the online CPUs, or O(cpus), without O(exclude_cpus)) are dealt round-robin over the
    queues, so that each queue's packets go to its own share of CPUs.
  - Masks are written as the kernel prints them, as wide as the host's possible CPUs in
    comma-separated 32-bit groups (C(ffffffff,ffffffff,ffffffff) on 96 CPUs), and compared as CPU
    sets, so a host with any number of CPUs is handled.
  - When the kernel or device cannot take a setting, that is the kernel has no RPS or XPS (the files
    are missing), the device has a single transmit queue and O(xps=on), or the files cannot be written
    (C(/sys) mounted read-only, as in most containers, C(Read-only file system)), O(on_unsupported)
    decides what happens. With C(warn) and C(skip) the module sets what it can. Settings that cannot
    be written are not counted as changes, so repeated runs stay unchanged.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  rps:
    description:
      - C(auto) turns RPS on when the device has fewer RX queues than CPUs to use, or when its
        queues are not chosen by a hash over the UDP ports (O(rss_spreads_ports=false)), and off otherwise.
      - C(on) and C(off) force it; off writes an empty mask (the kernel's default).
    type: str
    choices: [auto, "on", "off"]
    default: auto
  rss_spreads_ports:
    description:
      - Whether the NIC itself spreads received UDP flows over its RX queues by port (RSS with the
        UDP ports in the hash, see M(sitelink.wgspread.ethtool_rss) and M(sitelink.wgspread.ethtool_flow_hash)).
      - Set it to V(false) for a NIC whose driver has no RSS or cannot hash UDP on ports (C(ethtool -x)
        or C(ethtool -n DEV rx-flow-hash udp4) says C(Operation not supported)), such as veth. Its queues
        then do not follow the ports that port spreading varies, so O(rps=auto) turns RPS on even with
        a queue per CPU, and RPS's software hash over addresses and ports steers each port to a CPU.
        Each RX queue's RPS then spreads over all the CPUs (the packets may all arrive on one queue)
        instead of the queue's own share.
      - The nic_tuning role sets it from what those modules reported for the device.
    type: bool
    default: true
  xps:
    description:
      - C(auto) maps TX queues to CPUs when the device has more than one TX queue.
      - C(on) and C(off) force it; off writes an empty mask.
    type: str
    choices: [auto, "on", "off"]
    default: auto
  cpus:
    description: CPUs to spread over. Defaults to all online CPUs.
    type: list
    elements: int
  exclude_cpus:
    description: CPUs never to use.
    type: list
    elements: int
    default: []
  rps_flow_cnt:
    description:
      - Flow table size per RX queue for RFS while RPS is on (0 turns RFS off for the queue).
      - The kernel rounds it up to a power of two; the module compares with the rounded value.
    type: int
    default: 0
  rps_sock_flow_entries:
    description:
      - Global RFS socket flow table size (C(/proc/sys/net/core/rps_sock_flow_entries)), rounded up to a
        power of two by the kernel. Left alone when not given.
    type: int
  rx_queues:
    description:
      - Check mode only, ignored otherwise. Plan for this many RX queues instead of the queues the device
        has now, so that check mode predicts the masks after a channel change that a preceding
        M(sitelink.wgspread.ethtool_channels) task in check mode only reported. Queues that do not exist
        yet are taken as having empty masks.
    type: int
  tx_queues:
    description: Check mode only, ignored otherwise. As O(rx_queues), for the TX queues.
    type: int
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are one line per queue file with its CPU list.
seealso:
  - module: sitelink.wgspread.irq_affinity
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Software spreading on a single-queue virtual NIC
  sitelink.wgspread.rps_xps:
    device: eth0

- name: RPS on a veth or any NIC without RSS on UDP ports, whatever its queue count
  sitelink.wgspread.rps_xps:
    device: eth0
    rss_spreads_ports: false

- name: RPS plus RFS over CPUs 2-15
  sitelink.wgspread.rps_xps:
    device: eth0
    rps: "on"
    cpus: "{{ range(2, 16) | list }}"
    rps_flow_cnt: 4096
    rps_sock_flow_entries: 32768
"""

RETURN = r"""
queues:
  description: Per queue file, the CPUs after the task (in check mode, what they would be) and the mask written.
  returned: always
  type: list
  elements: dict
  sample: [{"file": "rx-0/rps_cpus", "cpus": [0, 1, 2, 3], "mask": "0000000f"}]
rps_enabled:
  description: Whether RPS is on after the task.
  returned: always
  type: bool
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["rx-0/rps_cpus: none -> 0-3"]
unsupported:
  description: Whether a setting could not be applied because the kernel or device lacks it.
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
    format_cpulist, format_mask, parse_cpulist, parse_mask, possible_count, roundup_pow2, spread,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host, refusal
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import nic_module, plan_and_apply, report_unsupported

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


def main():
    module = nic_module(
        dict(
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
        ),
    )
    device = module.params["device"]
    steering = Steering(Host(module), dict(module.params, check_mode=module.check_mode))
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


if __name__ == "__main__":
    main()
