#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: nic_tune
short_description: Run every NIC tuning step on every underlay device of a host, in one call
version_added: 0.3.0
description:
  - Runs, for each of O(devices), the steps of M(sitelink.wgspread.ethtool_channels),
    M(sitelink.wgspread.ethtool_rss), M(sitelink.wgspread.ethtool_flow_hash),
    M(sitelink.wgspread.irq_affinity) and M(sitelink.wgspread.rps_xps), in that order, each step over
    all devices before the next (as a task per step looping over the devices would). It is the same
    code as those modules, with the same options and results; only the round trips are fewer (one per
    host instead of one per step and device).
  - A step whose option is V(null) (the default) is not run.
  - RPS/XPS follows from the steps before it, as the nic_tuning role wires it - where RSS or the flow hash
    reported the device unsupported, or the flow hash leaves out the ports, RPS alone steers each port
    (C(rss_spreads_ports=false)); in check mode it plans over the queue counts the channel step would leave.
    Both can be set in O(rps_xps) instead.
  - The first step that fails ends the module (the steps after it do not run), naming the device and the step.
options:
  devices:
    description: Network interface names.
    type: list
    elements: str
    required: true
  channels:
    description: The options of M(sitelink.wgspread.ethtool_channels) except C(device) and C(on_unsupported).
    type: dict
  rss:
    description: The options of M(sitelink.wgspread.ethtool_rss) except C(device) and C(on_unsupported).
    type: dict
  flow_hash:
    description: The options of M(sitelink.wgspread.ethtool_flow_hash) except C(device) and C(on_unsupported).
    type: dict
  irq_affinity:
    description: The options of M(sitelink.wgspread.irq_affinity) except C(device) and C(on_unsupported).
    type: dict
  rps_xps:
    description: The options of M(sitelink.wgspread.rps_xps) except C(device) and C(on_unsupported).
    type: dict
  on_unsupported:
    description:
      - The O(sitelink.wgspread.ethtool_channels#module:on_unsupported) of every step - what to do when a device, its
        driver or the kernel cannot do what a step asks. C(fail) fails the module at that step, C(warn) goes on
        with a warning, C(skip) goes on silently. Each step's result says C(unsupported) and why, as the step's
        module returns them.
    type: str
    choices: [fail, warn, skip]
    default: warn
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per step and device that changes, as the step's module shows it.
notes:
  - Requires C(ethtool) on the managed host for the ethtool steps.
seealso:
  - module: sitelink.wgspread.ethtool_channels
  - module: sitelink.wgspread.ethtool_rss
  - module: sitelink.wgspread.ethtool_flow_hash
  - module: sitelink.wgspread.irq_affinity
  - module: sitelink.wgspread.rps_xps
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Tune the underlay NICs
  sitelink.wgspread.nic_tune:
    devices: [eth0, eth1]
    channels: {}
    rss: {}
    flow_hash: {fields: sdfn}
    irq_affinity: {exclude_cpus: [0]}
    rps_xps: {rps: true, xps: true}
  register: tuned  # tuned.steps.rss.results[0].indirection_table
"""

RETURN = r"""
steps:
  description:
    - Per step (C(channels), C(rss), C(flow_hash), C(irq_affinity), C(rps_xps)), what a task of the step's module
      looping over O(devices) would register - C(results), one per device with C(item) the device and the keys the
      module returns (C(replay) for the boot script among them), and C(changed); C(skipped=true) and no results for
      a step that was not run.
  returned: always
  type: dict
  sample: {channels: {changed: false, results: [{item: eth0, changed: false, channels: {combined: 2}}]}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils import (
    nic_channels, nic_flow_hash, nic_irq, nic_rps_xps, nic_rss, nic_steps,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import ON_UNSUPPORTED, run_step

# (name, its module_utils) in the order the steps run: queues first (RSS spreads over them), the
# flow hash and RSS before RPS/XPS (which decides from what they reported).
STEPS = (("channels", nic_channels), ("rss", nic_rss), ("flow_hash", nic_flow_hash),
         ("irq_affinity", nic_irq), ("rps_xps", nic_rps_xps))


def step_params(name, options, device, steps, p, check_mode):
    """The options of step ``name`` for ``device``; RPS/XPS gets what the steps before it found."""
    # A null option is an option not given (the role passes its variables as they are).
    params = dict((key, value) for key, value in options.items() if value is not None)
    params.update(device=device, on_unsupported=p["on_unsupported"])
    if name == "rps_xps":
        flow_hash = p["flow_hash"]
        if options.get("rss_spreads_ports") is None:
            params["rss_spreads_ports"] = nic_steps.rss_spreads_ports(
                device, steps["rss"], steps["flow_hash"], flow_hash is not None,
                (flow_hash or {}).get("fields") or nic_flow_hash.ARGUMENT_SPEC["fields"]["default"])
        after = nic_steps.queues_after(device, steps["channels"], check_mode)
        for kind in ("rx", "tx"):
            if kind in after and options.get("%s_queues" % kind) is None:
                params["%s_queues" % kind] = after[kind]
    return params


def main():
    module = AnsibleModule(
        argument_spec=dict(
            devices=dict(type="list", elements="str", required=True),
            on_unsupported=dict(ON_UNSUPPORTED),
            **dict((name, dict(type="dict")) for name, _step in STEPS)
        ),
        supports_check_mode=True,
    )
    p = module.params
    steps = dict((name, dict(skipped=True, changed=False, results=[])) for name, _step in STEPS)
    diffs = []
    for name, step in STEPS:
        if p[name] is None:
            continue
        steps[name] = dict(changed=False, results=[])
        for device in p["devices"]:
            params = step_params(name, p[name], device, steps, p, module.check_mode)
            result = run_step(module, Host, step.run, step.ARGUMENT_SPEC, step.MODULE_OPTIONS, params)
            result["item"] = device
            if "diff" in result:
                diff = result.pop("diff")
                diffs.append(dict(diff, before_header="%s %s" % (device, name), after_header="%s %s" % (device, name)))
            steps[name]["results"].append(result)
            steps[name]["changed"] = steps[name]["changed"] or bool(result.get("changed"))
            if result.get("failed"):
                module.fail_json(msg="%s: %s" % (name, result.get("msg")), steps=steps,
                                 changed=any(s["changed"] for s in steps.values()))
    summary = dict(changed=any(s["changed"] for s in steps.values()), steps=steps)
    if diffs:
        summary["diff"] = diffs
    module.exit_json(**summary)


if __name__ == "__main__":
    main()
