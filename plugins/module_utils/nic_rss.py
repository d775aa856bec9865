# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ethtool rss step of NIC tuning: what the module ethtool_rss does, as ``run(module, host_class)``, so that the
module and nic_tune (every step of a gateway in one call) run the same code.

``module`` is an AnsibleModule or a nic_module.StepModule; ARGUMENT_SPEC and MODULE_OPTIONS are its
options (without on_unsupported, which nic_module adds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import (
    active_hfunc, decide_rss, equal_table, normalize_key, parse_rxfh, rxfh_text, run_ethtool, weight_table,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import all_or_nothing


class Rss(object):
    """Decide the RSS settings (plan), then set them (apply). Check mode stops after plan."""

    def __init__(self, host, params):
        self.host, self.p = host, params

    def read(self):
        return parse_rxfh(run_ethtool(self.host, ["ethtool", "-x", self.p["device"]]))

    def plan(self):
        p = self.p
        current = self.read()
        equal = p["equal"]
        if equal is None and p["weights"] is None:
            equal = current["rings"]
        args, changes = decide_rss(current, equal=equal, weights=p["weights"], hfunc=p["hfunc"], key=p["hash_key"])
        after = dict(current, hfuncs=dict(current["hfuncs"]))
        if "equal" in args or "weight" in args:
            size = len(current["table"])
            after["table"] = weight_table(size, p["weights"]) if p["weights"] is not None else equal_table(size, equal)
        if "hfunc" in args:
            after["hfuncs"] = dict((name, name == p["hfunc"]) for name in current["hfuncs"])
        if "hkey" in args:
            after["key"] = normalize_key(p["hash_key"])
        return {"current": current, "after": after, "args": args, "changes": changes}

    def apply(self, plan):
        run_ethtool(self.host, ["ethtool", "-X", self.p["device"]] + plan["args"])
        now = self.read()
        for name, label in (("table", "indirection table"), ("key", "hash key")):
            if now[name] != plan["after"][name]:
                raise ValueError("after ethtool -X the %s is not what was asked for" % label)
        if active_hfunc(now) != active_hfunc(plan["after"]):
            raise ValueError("after ethtool -X the hash function is %s, wanted %s" % (active_hfunc(now), active_hfunc(plan["after"])))
        plan["after"] = now
        return now


ARGUMENT_SPEC = dict(
    device=dict(type="str", required=True),
    equal=dict(type="int"),
    weights=dict(type="list", elements="int"),
    hfunc=dict(type="str"),
    hash_key=dict(type="str", no_log=False),
)
MODULE_OPTIONS = dict(mutually_exclusive=[("equal", "weights")])


def run(module, host_class):
    if module.params["weights"] is not None and (not module.params["weights"] or min(module.params["weights"]) < 0):
        module.fail_json(msg="weights: give one non-negative weight per RX ring")
    plan = all_or_nothing(module, Rss(host_class(module), module.params), "args", "RSS left as it is")
    after = plan["after"]
    result = dict(changed=bool(plan["args"]), changes=plan["changes"], unsupported=False, rings=after["rings"],
                  indirection_table=after["table"], hfunc=active_hfunc(after), hash_key=after["key"])
    result["replay"] = nic_boot.rss(module.params["device"], result, module.params)
    if module._diff:
        result["diff"] = dict(before=rxfh_text(plan["current"]), after=rxfh_text(after))
    module.exit_json(**result)
