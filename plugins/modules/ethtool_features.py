#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: ethtool_features
short_description: Turn a NIC's offload features on or off (ethtool -K)
version_added: 0.2.0
description:
  - Reads the features with C(ethtool -k DEVICE) and sets those that differ with one
    C(ethtool -K DEVICE NAME on|off ...) call, then reads them again.
  - Typical use is C(rx-udp-gro-forwarding) on the underlay NIC of a host whose WireGuard runs as
    wireguard-go; the kernel then aggregates the tunnel's UDP packets (UDP GRO) on their way to
    the socket, which wireguard-go reads in batches.
  - A feature the driver does not list, a feature the driver marks C([fixed]) at the other value,
    and a feature the driver does not take (still at the old value after C(ethtool -K), which
    ethtool reports as C([requested on])) are unsupported (the driver cannot take them); O(on_unsupported)
    decides what happens. With C(warn) and C(skip) the other features are still set.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  features:
    description: Feature names as C(ethtool -k) prints them, each with the wanted state.
    type: dict
    required: true
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are one line per requested feature.
notes:
  - Requires C(ethtool) on the managed host.
seealso:
  - module: sitelink.wgspread.napi_threaded
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: UDP GRO for forwarded and tunnelled UDP on the underlay (wireguard-go)
  sitelink.wgspread.ethtool_features:
    device: eth0
    features:
      rx-udp-gro-forwarding: true
"""

RETURN = r"""
features:
  description: The requested features with their state after the task (in check mode, what it would be).
  returned: always
  type: dict
  sample: {"rx-udp-gro-forwarding": true}
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["rx-udp-gro-forwarding: off -> on"]
unsupported:
  description: Whether at least one requested feature cannot be set on this device.
  returned: always
  type: bool
unsupported_reason:
  description: Why, per feature.
  returned: when RV(unsupported) is true
  type: str
  sample: "rx-gro-hw is fixed at off"
replay:
  description:
    - What the boot script of the nic_tuning role replays for this device (module_utils/nic_boot.py) - commands as
      lists, C(["run", ARGV...]), C(["put", VALUE, PATH]) or C(["pin", IRQ_NAME, CPU]). Only what the driver took.
  returned: success
  type: list
  elements: list
"""

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import Unsupported, check_result, parse_features, run_ethtool
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import exit_unsupported, nic_module, plan_and_apply, report_unsupported


def onoff(value):
    return "on" if value else "off"


class Features(object):
    """Decide which features to switch (plan), then switch them (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params
        self.wanted = dict((name, boolean(value, strict=True)) for name, value in params["features"].items())

    def read(self):
        return parse_features(run_ethtool(self.host, ["ethtool", "-k", self.p["device"]]))

    def plan(self):
        have = self.read()
        plan = {"before": {}, "after": {}, "todo": [], "changes": [], "unsupported": []}
        for name in sorted(self.wanted):
            wanted = self.wanted[name]
            if name not in have:
                plan["unsupported"].append("%s has no feature %s" % (self.p["device"], name))
                continue
            plan["before"][name] = plan["after"][name] = have[name]["on"]
            if have[name]["on"] == wanted:
                continue
            if have[name]["fixed"]:
                plan["unsupported"].append("%s is fixed at %s" % (name, onoff(have[name]["on"])))
                continue
            plan["after"][name] = wanted
            plan["todo"].append(name)
            plan["changes"].append("%s: %s -> %s" % (name, onoff(not wanted), onoff(wanted)))
        return plan

    def apply(self, plan):
        argv = ["ethtool", "-K", self.p["device"]]
        for name in plan["todo"]:
            argv += [name, onoff(self.wanted[name])]
        # Run here, not through run_ethtool: the driver's own words go into the report below.
        rc, out, err = self.host.run(argv, check=False)
        try:
            check_result(argv, rc, out, err)
        except (Unsupported, ValueError):
            pass  # judged below by what the driver took: ethtool -K fails as a whole for one refusal
        now = self.read()
        for name in plan["todo"]:
            if now.get(name, {}).get("on") != self.wanted[name]:
                plan["unsupported"].append("%s: the driver keeps it %s (%s)"
                                           % (name, onoff(not self.wanted[name]), (err or out or "").strip().replace("\n", " ")))
                plan["after"][name] = plan["before"][name]
                plan["changes"].remove("%s: %s -> %s" % (name, onoff(not self.wanted[name]), onoff(self.wanted[name])))


def main():
    module = nic_module(
        dict(
            device=dict(type="str", required=True),
            features=dict(type="dict", required=True),
        ),
    )
    device = module.params["device"]
    try:
        plan = plan_and_apply(module, Features(Host(module), module.params), fail_prefix="%s: not supported" % device)
    except Unsupported as exc:
        # ethtool -k itself refused: the device has no feature list at all.
        exit_unsupported(module, str(exc), "%s: features left as they are: %s" % (device, exc), features={})
    except (TypeError, ValueError, CommandError) as exc:
        module.fail_json(msg="%s: %s" % (device, exc))

    result = dict(changed=bool(plan["changes"]), changes=plan["changes"], features=plan["after"])
    report_unsupported(module, result, plan["unsupported"], "%s: not supported" % device, "%s: left as it is" % device)
    result["replay"] = nic_boot.features(device, result)
    if module._diff:
        result["diff"] = dict(before="".join("%s: %s\n" % (n, onoff(v)) for n, v in sorted(plan["before"].items())),
                              after="".join("%s: %s\n" % (n, onoff(v)) for n, v in sorted(plan["after"].items())))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
