#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: napi_threaded
short_description: Run network devices' NAPI polling in kernel threads (/sys/class/net/DEVICE/threaded)
version_added: 0.2.0
description:
  - For each of O(devices), reads C(/sys/class/net/DEVICE/threaded) and writes C(1) (or C(0)) when it differs.
  - With threaded NAPI each NAPI instance of the device is polled by its own kernel thread
    (C(napi/DEVICE-N)) that the scheduler can move between CPUs, instead of in the softirq of the
    CPU that raised it. For kernel WireGuard, whose receive path is one NAPI instance per peer,
    this spreads the tunnel's receive work over more CPUs.
  - On kernels before 6.16 threaded NAPI on a WireGuard interface can stop a peer's receive side for good
    under load (CVE-2026-52945). This module writes what it is told; the nic_tuning role decides per kernel
    (filter C(sitelink.wgspread.threaded_napi_decision), docs/nic_tuning.md) and, by default, writes C(0)
    on every kernel not known safe.
  - Any non-zero value counts as on (newer kernels also know C(2), threaded busy polling), so a
    device already threaded is left alone.
  - When the kernel cannot take the setting for a device, that is it has no threaded NAPI (the file
    is missing, kernels before 5.12), answers C(Operation not supported) (some kernels do, for example
    for a WireGuard interface without peers), or C(/sys) is read-only (containers), O(on_unsupported)
    decides what happens, once for all devices. C(fail) fails the task after setting the other
    devices, C(warn) sets the others and warns once (one warning that names them all), C(skip) sets
    the others silently. In check mode only a missing file and a read-only C(/sys) can be told in advance.
options:
  devices:
    description: Network interface names. Each must exist.
    type: list
    elements: str
    required: true
  threaded:
    description: Whether NAPI polling of the devices runs in kernel threads.
    type: bool
    default: true
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are one line per device with the value of its C(threaded) file.
seealso:
  - module: sitelink.wgspread.rps_xps
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Threaded NAPI on kernel WireGuard interfaces, quietly skipped where the kernel cannot
  sitelink.wgspread.napi_threaded:
    devices: [wg-site2, wg-site3]
    on_unsupported: skip
  register: napi
"""

RETURN = r"""
threaded:
  description: Per device, the value of its C(threaded) file after the task (in check mode, what it would be); null where unsupported.
  returned: always
  type: dict
  sample: {"wg-site2": 1, "wg-site3": null}
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["wg-site2: threaded 0 -> 1"]
unsupported:
  description: Whether the kernel cannot take the setting for at least one device.
  returned: always
  type: bool
unsupported_reason:
  description: Why, per device, in the kernel's words where it gave any.
  returned: when RV(unsupported) is true
  type: str
  sample: "wg-site3: writing /sys/class/net/wg-site3/threaded: Operation not supported"
replay:
  description:
    - Per device, what the boot script of the nic_tuning role writes again at boot (module_utils/nic_boot.py) -
      commands as lists, C(["put", VALUE, PATH]). Devices the kernel refused have none.
  returned: success
  type: dict
  sample: {"wg-spoke1": [["put", "1", "/sys/class/net/wg-spoke1/threaded"]]}
"""

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host, refusal
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import nic_module, plan_and_apply, report_unsupported


def path(device):
    return "/sys/class/net/%s/threaded" % device


class Threaded(object):
    """Decide per device (plan), then write (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params

    def plan(self):
        plan = {"before": {}, "after": {}, "todo": [], "changes": [], "unsupported": []}
        for device in self.p["devices"]:
            if self.host.sysread("/sys/class/net/%s/ifindex" % device) is None:
                raise ValueError("no network device %s" % device)
            text = self.host.sysread(path(device))
            if text is None:
                plan["unsupported"].append("%s: the kernel has no threaded NAPI (no %s)" % (device, path(device)))
                plan["after"][device] = None
                continue
            if not text.strip().isdigit():
                raise ValueError("unexpected content of %s: %r" % (path(device), text[:40]))
            have = int(text.strip())
            wanted = (have or 1) if self.p["threaded"] else 0
            plan["before"][device] = plan["after"][device] = have
            if wanted == have:
                continue
            if not self.host.syswritable(path(device)):
                plan["unsupported"].append("%s: %s cannot be written (Read-only file system)" % (device, path(device)))
                plan["after"][device] = None
                continue
            plan["after"][device] = wanted
            plan["todo"].append(device)
            plan["changes"].append("%s: threaded %d -> %d" % (device, have, wanted))
        return plan

    def apply(self, plan):
        for device in plan["todo"]:
            wanted = plan["after"][device]
            try:
                self.host.syswrite(path(device), "%d\n" % wanted)
            except (IOError, OSError) as exc:
                words = refusal(exc)
                if words is None:
                    raise
                plan["unsupported"].append("%s: writing %s: %s" % (device, path(device), words))
                plan["changes"].remove("%s: threaded %d -> %d" % (device, plan["before"][device], wanted))
                plan["after"][device] = None
                continue
            now = int((self.host.sysread(path(device)) or "-1").strip())
            if now != wanted:
                raise ValueError("%s is %d after writing %d" % (path(device), now, wanted))


def text(values):
    return "".join("%s: %s\n" % (device, "unsupported" if value is None else value) for device, value in sorted(values.items()))


def main():
    module = nic_module(
        dict(
            devices=dict(type="list", elements="str", required=True),
            threaded=dict(type="bool", default=True),
        ),
    )
    threaded = Threaded(Host(module), module.params)
    try:
        plan = plan_and_apply(module, threaded)
    except (ValueError, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))

    result = dict(changed=bool(plan["changes"]), changes=plan["changes"], threaded=plan["after"])
    report_unsupported(module, result, plan["unsupported"], "threaded NAPI not supported", "threaded NAPI left as it is")
    result["replay"] = nic_boot.napi(result)
    if module._diff:
        before = dict((device, plan["before"].get(device)) for device in plan["after"])
        result["diff"] = dict(before=text(before), after=text(plan["after"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
