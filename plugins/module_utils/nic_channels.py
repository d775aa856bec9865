# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ethtool channels step of NIC tuning: what the module ethtool_channels does, as ``run(module, host_class)``, so that the
module and nic_tune (every step of a gateway in one call) run the same code.

``module`` is an AnsibleModule or a nic_module.StepModule; ARGUMENT_SPEC and MODULE_OPTIONS are its
options (without on_unsupported, which nic_module adds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import parse_cpulist
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import channels_text, decide_channels, parse_channels, run_ethtool
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import all_or_nothing


class Channels(object):
    """Decide the channel counts (plan), then set them (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params

    def read(self):
        return parse_channels(run_ethtool(self.host, ["ethtool", "-l", self.p["device"]]))

    def plan(self):
        cpu_count = self.p["cpu_count"]
        if cpu_count is None:
            cpu_count = len(parse_cpulist(self.host.sysread("/sys/devices/system/cpu/online") or "0"))
        current = self.read()
        todo = decide_channels(current, cpu_count, self.p["combined"], self.p["rx"], self.p["tx"])
        after = dict(current["current"])
        after.update((kind, wanted) for kind, _have, wanted in todo)
        return {"current": current, "todo": todo, "after": after,
                "changes": ["%s %s -> %d" % (kind, "n/a" if have is None else have, wanted) for kind, have, wanted in todo]}

    def apply(self, plan):
        argv = ["ethtool", "-L", self.p["device"]]
        for kind, _have, wanted in plan["todo"]:
            argv += [kind, str(wanted)]
        run_ethtool(self.host, argv)
        now = self.read()
        wrong = ["%s is %s, wanted %d" % (kind, now["current"][kind], wanted)
                 for kind, _have, wanted in plan["todo"] if now["current"][kind] != wanted]
        if wrong:
            raise ValueError("after ethtool -L: " + "; ".join(wrong))
        plan["after"] = now["current"]
        return now["current"]


ARGUMENT_SPEC = dict(
    device=dict(type="str", required=True),
    combined=dict(type="int"),
    rx=dict(type="int"),
    tx=dict(type="int"),
    cpu_count=dict(type="int"),
)
MODULE_OPTIONS = dict()


def run(module, host_class):
    for name in ("combined", "rx", "tx", "cpu_count"):
        if module.params[name] is not None and module.params[name] < (1 if name == "cpu_count" else 0):
            module.fail_json(msg="%s: %d is not a valid count" % (name, module.params[name]))
    plan = all_or_nothing(module, Channels(host_class(module), module.params), "todo", "channels left as they are")
    after = plan["after"]
    result = dict(changed=bool(plan["todo"]), changes=plan["changes"], unsupported=False,
                  channels_before=plan["current"]["current"], channels=after, maximum=plan["current"]["max"])
    result["replay"] = nic_boot.channels(module.params["device"], result)
    if module._diff:
        result["diff"] = dict(before=channels_text(plan["current"]),
                              after=channels_text({"current": after}))
    module.exit_json(**result)
