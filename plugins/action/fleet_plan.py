# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of sitelink.wgspread.fleet_plan: the fleet plan, made on the controller (docs in
plugins/modules/fleet_plan.py; the logic in module_utils/plan.py and render.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile
import time

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.utils.yaml import from_yaml
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import cache_loader
from ansible.utils.display import Display

from ansible_collections.sitelink.wgspread.plugins.module_utils.links import GatewayGroup, LinkError
from ansible_collections.sitelink.wgspread.plugins.module_utils.peer_record import FACT_NAME
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan, outside_ends
from ansible_collections.sitelink.wgspread.plugins.module_utils.render import gateway_files
from ansible_collections.sitelink.wgspread.plugins.module_utils.role_inputs import range_errors

display = Display()

ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")
# Hosts named per message before "and N more": a fleet-wide mistake stays one line.
HOSTS_NAMED = 5


def _role_options(role):
    """The options of a role's main entry point, from its meta/argument_specs.yml."""
    path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
    try:
        with open(path) as handle:
            specs = from_yaml(handle.read(), file_name=path)
    except (IOError, OSError) as exc:
        raise AnsibleError("fleet_plan: check_roles: no argument specs for role %r (%s)" % (role, exc)) from None
    return specs["argument_specs"]["main"]["options"]


def _named(hosts):
    hosts = sorted(hosts)
    if len(hosts) <= HOSTS_NAMED:
        return ", ".join(hosts)
    return "%s and %d more" % (", ".join(hosts[:HOSTS_NAMED]), len(hosts) - HOSTS_NAMED)


def role_input_errors(roles, hosts, host_variables):
    """Every role's inputs checked for every host of the run, in one pass on the controller.

    ``host_variables(host)`` gives a host's variables (Ansible's hostvars[host]). A value a
    host does not set is left to the role's default; ``wgspread_links`` is the plan's.
    Messages that several hosts share are given once, naming the hosts.
    """
    specs = [(role, _role_options(role)) for role in roles]
    by_message = {}
    for host in hosts:
        variables = host_variables(host)
        for role, options in specs:
            given = {}
            for name in options:
                if name == "wgspread_links" or name not in variables:
                    continue
                try:
                    given[name] = variables[name]
                except AnsibleError as exc:
                    by_message.setdefault("role %s: %s cannot be worked out: %s" % (role, name, exc), []).append(host)
            # One option at a time: a message of the validator that does not name its
            # option ("dictionary requested, ...") is then given its name, and a value the
            # validator cannot take at all (False for a mapping with suboptions makes it
            # raise) is refused naming the option, not with a traceback.
            for name in sorted(given):
                for message in _option_errors(name, options[name], given[name]):
                    by_message.setdefault("role %s: %s" % (role, message), []).append(host)
    return ["%s (on %s)" % (message, _named(found)) for message, found in sorted(by_message.items())]


def gateway_group(name, groups):
    """The GatewayGroup ``name`` of ``groups`` (Ansible's groups), or None where ``name`` is
    no group (wgspread_hosts may be a pattern): then any inventory host may be a gateway."""
    if isinstance(name, str) and isinstance(groups, dict) and name in groups:
        return GatewayGroup(name, groups[name])
    return None


def check_inputs(links, inventory, hostvars, run_hosts, rotate_keys=(), check_roles=(), gateway_hosts=None,
                 exchange="run", peer_records=None, psk_secret_length=None):
    """(plan, errors): every check the action makes before any host changes, as a pure call
    (tests/unit/test_bad_input_table.py runs docs/bad-input.md through it). ``plan`` is None
    when the links do not parse; ``errors`` lists every message."""
    errors = []
    try:
        plan = build_plan(plain(links), plain(inventory), hostvars, run_hosts=plain(run_hosts),
                          rotate=plain(rotate_keys), gateway_hosts=gateway_hosts, exchange=exchange,
                          peer_records=plain(peer_records or {}), psk_secret_length=psk_secret_length)
    except LinkError as exc:
        plan = None
        errors.extend(exc.errors)
    if check_roles:
        errors.extend(role_input_errors(check_roles, run_hosts, lambda host: hostvars[host]))
    return plan, errors


def expiry_warning(timeout):
    """What a fact cache timeout does to sliced runs: when a gateway's cached facts are older
    than it, Ansible drops them (its record with them) as soon as that gateway's facts are
    gathered again, and until its run publishes the record anew, the other slices see none."""
    return ("wgspread_exchange fact_cache: fact_caching_timeout is %s s; a gateway whose record is older than that "
            "loses it from the cache when its facts are next gathered, and its links in other slices wait (their "
            "spreading on the far end is dropped) until its run publishes it again. Set fact_caching_timeout = 0 "
            "(docs/execution-environment.md)" % timeout)


def read_peer_records(hosts, cache=None, retry_after=0.5):
    """({host: record}, [warnings]): the records ``hosts`` published (wgspread_exchange
    fact_cache), read from Ansible's configured fact cache (fact_caching in ansible.cfg, or
    ANSIBLE_CACHE_PLUGIN*). A host without one is absent; the plan reports its links as waiting.

    Records are read whatever fact_caching_timeout says (the plugin is asked with timeout 0):
    a record is replaced by its gateway's next run, and one that "expired" because a schedule
    ran less often than the timeout would otherwise turn live links into waiting ones. An entry
    that cannot be read (a file a concurrent slice is writing) is tried once more."""
    warnings = []
    if not hosts:
        return {}, warnings
    if cache is None:
        if C.CACHE_PLUGIN in ("memory", "ansible.builtin.memory"):
            warnings.append("wgspread_exchange fact_cache: the fact cache is %r, which keeps nothing between runs, so "
                            "the gateways outside this run (%s) stay unknown; configure a shared fact cache "
                            "(docs/execution-environment.md)" % (C.CACHE_PLUGIN, _named(hosts)))
        elif int(C.CACHE_PLUGIN_TIMEOUT or 0) != 0:
            warnings.append(expiry_warning(C.CACHE_PLUGIN_TIMEOUT))
        try:
            cache = cache_loader.get(C.CACHE_PLUGIN, _timeout=0)
        except Exception:  # a plugin without a timeout option
            cache = cache_loader.get(C.CACHE_PLUGIN)
    records = {}
    for host in hosts:
        for attempt in (1, 2):
            try:
                facts = cache.get(host)
            except KeyError:
                facts = None
            except Exception as exc:  # a cache file half written by a concurrent slice, a backend down
                if attempt == 1:
                    time.sleep(retry_after)
                    continue
                warnings.append("wgspread_exchange fact_cache: the cached facts of %s cannot be read (%s); "
                                "its links wait for the next run" % (host, exc))
                facts = None
            break
        record = facts.get(FACT_NAME) if isinstance(facts, dict) else None
        if record is not None:
            records[host] = record
    return records, warnings


def failure_message(errors):
    return "wgspread inputs: %d problem(s), no host was changed: %s" % (len(errors), "; ".join(errors))


def _option_errors(name, spec, value):
    """Messages for one role option's value: its argument spec, then its range."""
    if spec.get("options") and spec.get("type") == "dict" and not isinstance(value, dict):
        return ["%s must be a mapping (of %s), got %r" % (name, ", ".join(sorted(spec["options"])), value)]
    try:
        validated = ArgumentSpecValidator({name: spec}).validate({name: value})
    except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
        return ["%s %r cannot be taken as type %s: %s" % (name, value, spec.get("type", "raw"), exc)]
    messages = [message if name in message else "%s: %s" % (name, message) for message in validated.error_messages]
    if messages:
        return messages
    return range_errors(name, validated.validated_parameters.get(name))


def _write_atomic(path, text):
    directory = os.path.dirname(path)
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=".wgspread-")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.chmod(scratch, 0o644)
    os.rename(scratch, path)


def plain(value):
    """``value`` as plain JSON data. Ansible 2.19 hands strings over tagged with their origin,
    and tagged strings are several times slower to copy than plain ones; the plan of a large
    fleet copies many of them (measured: as_dict() of a 1,000-gateway hub, 1.16 s tagged
    against 0.15 s plain)."""
    return json.loads(json.dumps(value, default=str))


def render(plan_dict, directory):
    """plan.json and every gateway's files below ``directory``; returns the count of files."""
    os.makedirs(directory, exist_ok=True)
    _write_atomic(os.path.join(directory, "plan.json"), json.dumps(plan_dict, indent=1, sort_keys=True) + "\n")
    written = 1
    for gateway, part in plan_dict["gateways"].items():
        gateway_dir = os.path.join(directory, gateway)
        os.makedirs(gateway_dir, exist_ok=True)
        try:
            files = gateway_files(part)
        except ValueError as exc:
            raise AnsibleError("fleet_plan: gateway %s: %s" % (gateway, exc)) from None
        for name, text in files.items():
            _write_atomic(os.path.join(gateway_dir, name), text)
            written += 1
    return written


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        links=dict(type="raw", required=True),
        hosts=dict(type="list", elements="str", required=True),
        inventory=dict(type="list", elements="str"),
        rotate_keys=dict(type="raw", default=[]),
        check_roles=dict(type="list", elements="str", default=[]),
        render_dir=dict(type="path"),
        gateway_group=dict(type="str"),
        exchange=dict(type="str", default="run", choices=["run", "fact_cache"]),
        psk_secret_length=dict(type="int", default=0),
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        hostvars = task_vars.get("hostvars", {})
        inventory = args["inventory"] if args["inventory"] is not None else task_vars.get("groups", {}).get("all", [])
        run_hosts = args["hosts"]

        records = {}
        if args["exchange"] == "fact_cache":
            records, warnings = read_peer_records(outside_ends(plain(args["links"]), plain(inventory)))
            for warning in warnings:
                display.warning(warning)
        plan, errors = check_inputs(args["links"], inventory, hostvars, run_hosts, args["rotate_keys"],
                                    args["check_roles"],
                                    gateway_group(args["gateway_group"], task_vars.get("groups", {})),
                                    exchange=args["exchange"], peer_records=records,
                                    psk_secret_length=args["psk_secret_length"])
        if errors:
            result.update(failed=True, errors=errors, msg=failure_message(errors))
            return result

        plan_dict = plan.as_dict()
        tunnels = sum(len(part["tunnels"]) for part in plan_dict["gateways"].values())
        skipped = sorted(set(link for part in plan_dict["gateways"].values() if part["in_run"]
                             for link in part["skipped_links"]))
        summary = "%d links, %d gateways (%d in this run), %d tunnel ends" % (
            len(plan_dict["links"]), len(plan_dict["gateways"]),
            sum(1 for part in plan_dict["gateways"].values() if part["in_run"]), tunnels)
        if skipped:
            summary += "; %d links have an end outside this run: %s" % (len(skipped), _named(skipped))
        if plan_dict["cached_peers"]:
            summary += "; %d gateways outside this run known from their published records" % len(plan_dict["cached_peers"])
        if plan_dict["waiting_links"]:
            summary += "; %d links wait for their peer's record: %s" % (
                len(plan_dict["waiting_links"]), _named(w["link"] for w in plan_dict["waiting_links"]))
        if plan_dict["rotate_links"]:
            summary += "; rotating the keys of %s" % _named(plan_dict["rotate_links"])
        if args["render_dir"]:
            summary += "; %d files written to %s" % (render(plan_dict, args["render_dir"]), args["render_dir"])
        result.update(plan_dict)
        result.update(changed=False, summary=summary)
        # The plan of a large fleet is large: -v shows the summary, not the whole plan
        # (register it and read wgspread_plan, or write it with render_dir).
        result["_ansible_verbose_override"] = True
        display.vv("fleet_plan: " + summary)
        return result
