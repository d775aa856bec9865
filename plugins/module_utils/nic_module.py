# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the NIC modules' main() share, so that on_unsupported means the same in every one of
them (ethtool_channels, ethtool_rss, ethtool_flow_hash, ethtool_features, and the sysfs ones,
irq_affinity, rps_xps and napi_threaded): their AnsibleModule with the option (nic_module),
exit_unsupported and report_unsupported, and the step between the two, plan then apply
(plan_and_apply; all_or_nothing for the modules that can do nothing when the driver refuses).

The doc fragment sitelink.wgspread.on_unsupported documents the option.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import Unsupported
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError

# As the doc fragment sitelink.wgspread.on_unsupported documents it.
ON_UNSUPPORTED = dict(type="str", choices=["fail", "warn", "skip"], default="warn")


def nic_module(argument_spec, **kwargs):
    """The AnsibleModule of a NIC module: its own ``argument_spec`` plus on_unsupported (last),
    with check mode supported, as every NIC module supports it. ``kwargs`` go to AnsibleModule
    (for example mutually_exclusive)."""
    return AnsibleModule(argument_spec=dict(argument_spec, on_unsupported=dict(ON_UNSUPPORTED)),
                         supports_check_mode=True, **kwargs)


def exit_unsupported(module, reason, warning, fail_msg=None, **result):
    """End a NIC module whose device cannot do what was asked, as its on_unsupported says.

    ``fail`` fails with ``fail_msg`` (default "DEVICE: REASON"); ``warn`` and ``skip`` end
    unchanged, ``warn`` with ``warning``. Every way reports unsupported and the reason;
    ``result`` adds the module's own keys (their empty values) to the unchanged result.
    """
    common = dict(changes=[], unsupported=True, unsupported_reason=reason)
    if module.params["on_unsupported"] == "fail":
        module.fail_json(msg=fail_msg or "%s: %s" % (module.params["device"], reason), **common)
    if module.params["on_unsupported"] == "warn":
        module.warn(warning)
    module.exit_json(changed=False, **dict(common, **result))


def report_unsupported(module, result, reasons, fail_prefix, warn_prefix=None):
    """Add what a NIC module could not do to ``result``, and act as its on_unsupported says.

    For modules that do what they can and list the rest (``reasons``, one per refusal);
    exit_unsupported is for the ones that could do nothing. Sets ``unsupported`` and, when
    there are reasons, ``unsupported_reason``; then ``fail`` fails with "FAIL_PREFIX: REASONS",
    ``warn`` warns "WARN_PREFIX: REASONS", ``skip`` returns silently, as without reasons.
    """
    result["unsupported"] = bool(reasons)
    if not reasons:
        return
    result["unsupported_reason"] = "; ".join(reasons)
    if module.params["on_unsupported"] == "fail":
        module.fail_json(msg="%s: %s" % (fail_prefix, result["unsupported_reason"]), **result)
    if module.params["on_unsupported"] == "warn":
        module.warn("%s: %s" % (warn_prefix, result["unsupported_reason"]))


def plan_and_apply(module, worker, pending="todo", fail_prefix=None):
    """The middle of a NIC module's main(): ``worker.plan()``, then ``worker.apply(plan)`` unless
    in check mode or the plan's ``pending`` list (what is to be done) is empty.

    ``fail_prefix`` is for the modules that do what they can and list the rest in
    ``plan["unsupported"]``: with on_unsupported=fail, what the plan already found fails the task
    ("FAIL_PREFIX: REASONS", report_unsupported) before anything is changed.
    Returns the plan, which apply brings up to date with what it did. Exceptions are the
    caller's: which ones mean "fail the task", and how Unsupported ends it, differ per module.
    """
    plan = worker.plan()
    if fail_prefix and plan["unsupported"] and module.params["on_unsupported"] == "fail":  # before anything is changed
        report_unsupported(module, dict(changes=[]), plan["unsupported"], fail_prefix)
    if plan[pending] and not module.check_mode:
        worker.apply(plan)
    return plan


def all_or_nothing(module, worker, pending, left_as_is):
    """plan_and_apply for the modules that can do nothing when the driver refuses one thing
    (ethtool_channels, ethtool_rss); their apply sets ``plan["after"]`` to what it reads back.

    Unsupported, from plan or apply, ends the module (exit_unsupported): ``fail`` with "DEVICE:
    not supported by the driver: REASON", ``warn`` with "DEVICE: LEFT_AS_IS, not supported by
    the driver: REASON". ValueError and CommandError fail it with "DEVICE: ERROR".
    Returns the plan; its ``after`` is the state after the task (in check mode, the planned one).
    """
    device = module.params["device"]
    try:
        plan = plan_and_apply(module, worker, pending)
    except Unsupported as exc:
        exit_unsupported(module, str(exc), "%s: %s, not supported by the driver: %s" % (device, left_as_is, exc),
                         fail_msg="%s: not supported by the driver: %s" % (device, exc))
    except (ValueError, CommandError) as exc:
        module.fail_json(msg="%s: %s" % (device, exc))
    return plan


class StepEnd(Exception):
    """How a step run by StepModule ends: its result, as exit_json or fail_json would return it."""

    def __init__(self, result):
        super(StepEnd, self).__init__(result.get("msg", ""))
        self.result = result


class StepModule(object):
    """Enough of an AnsibleModule for a NIC step's run(module, host_class), inside another module
    (nic_tune: every step of a gateway in one call).

    Its params are ``params`` checked against the step's ARGUMENT_SPEC (plus on_unsupported) the
    way AnsibleModule checks them, defaults filled in; a bad one raises ValueError naming it.
    Commands go through ``outer``; warnings are handed to ``outer.warn``; exit_json and
    fail_json raise StepEnd with the step's result (``failed`` set by fail_json).
    """

    def __init__(self, outer, argument_spec, params, options=None):
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        spec = dict(argument_spec, on_unsupported=dict(ON_UNSUPPORTED))
        from ansible.module_utils.errors import UnsupportedError
        validated = ArgumentSpecValidator(spec, **(options or {})).validate(params)
        if validated.error_messages:
            # AnsibleModule's words: it names an unknown option only after "Unsupported parameters".
            raise ValueError("; ".join(("Unsupported parameters: " if isinstance(error, UnsupportedError) else "")
                                       + error.msg for error in validated.errors.errors))
        self.outer, self.params = outer, validated.validated_parameters
        self.check_mode, self._diff = outer.check_mode, outer._diff

    def run_command(self, *args, **kwargs):
        return self.outer.run_command(*args, **kwargs)

    def get_bin_path(self, *args, **kwargs):
        return self.outer.get_bin_path(*args, **kwargs)

    def warn(self, message):
        self.outer.warn(message)

    def exit_json(self, **result):
        raise StepEnd(result)

    def fail_json(self, **result):
        raise StepEnd(dict(result, failed=True))


def run_step(outer, host_class, run, argument_spec, options, params):
    """One NIC step's result for ``params``, as the step's own module would return it."""
    try:
        step = StepModule(outer, argument_spec, params, options)
    except ValueError as exc:
        return dict(failed=True, changed=False, msg="%s: %s" % (params.get("device"), exc))
    try:
        run(step, host_class)
    except StepEnd as end:
        return end.result
    raise AssertionError("a NIC step ended without exit_json or fail_json")
