# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ethtool flow hash step of NIC tuning: what the module ethtool_flow_hash does, as ``run(module, host_class)``, so that the
module and nic_tune (every step of a gateway in one call) run the same code.

``module`` is an AnsibleModule or a nic_module.StepModule; ARGUMENT_SPEC and MODULE_OPTIONS are its
options (without on_unsupported, which nic_module adds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import Unsupported, normalize_fields, parse_flow_hash, run_ethtool
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import plan_and_apply, report_unsupported


class FlowHash(object):
    """Decide the fields per flow type (plan), then set them (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params
        self.wanted = normalize_fields(params["fields"])

    def read(self, flow_type):
        return parse_flow_hash(run_ethtool(self.host, ["ethtool", "-n", self.p["device"], "rx-flow-hash", flow_type]))

    def plan(self):
        plan = {"before": {}, "todo": [], "unsupported": [], "changes": []}
        for flow_type in self.p["flow_types"]:
            try:
                have = self.read(flow_type)
            except Unsupported as exc:
                plan["unsupported"].append(str(exc))
                continue
            plan["before"][flow_type] = have
            if have != self.wanted:
                plan["todo"].append(flow_type)
                plan["changes"].append("%s: %s -> %s" % (flow_type, have or "none", self.wanted))
        plan["after"] = dict((t, self.wanted if t in plan["todo"] else f) for t, f in plan["before"].items())
        return plan

    def apply(self, plan):
        for flow_type in plan["todo"]:
            try:
                run_ethtool(self.host, ["ethtool", "-N", self.p["device"], "rx-flow-hash", flow_type, self.wanted])
            except Unsupported as exc:
                # Reading works but setting does not (or not these fields): same handling as reading.
                plan["unsupported"].append(str(exc))
                plan["after"][flow_type] = plan["before"][flow_type]
                plan["changes"].remove("%s: %s -> %s" % (flow_type, plan["before"][flow_type] or "none", self.wanted))
                continue
            now = self.read(flow_type)
            if now != self.wanted:
                raise ValueError("after ethtool -N, %s hashes on %r, wanted %r" % (flow_type, now, self.wanted))
        return plan


def text(fields):
    return "".join("%s: %s\n" % (t, fields[t] or "none") for t in sorted(fields))


ARGUMENT_SPEC = dict(
    device=dict(type="str", required=True),
    flow_types=dict(type="list", elements="str", choices=["udp4", "udp6"], default=["udp4", "udp6"]),
    fields=dict(type="str", default="sdfn"),
)
MODULE_OPTIONS = dict()


def run(module, host_class):
    device = module.params["device"]
    try:
        plan = plan_and_apply(module, FlowHash(host_class(module), module.params), fail_prefix="%s: not supported by the driver" % device)
    except (ValueError, CommandError) as exc:
        module.fail_json(msg="%s: %s" % (device, exc))

    result = dict(changed=bool(plan["changes"]), changes=plan["changes"], fields=plan["after"])
    report_unsupported(module, result, plan["unsupported"], "%s: not supported by the driver" % device,
                       "%s: rx-flow-hash left as it is where the driver does not support it" % device)
    result["replay"] = nic_boot.flow_hash(device, result)
    if module._diff:
        result["diff"] = dict(before=text(plan["before"]), after=text(plan["after"]))
    module.exit_json(**result)
