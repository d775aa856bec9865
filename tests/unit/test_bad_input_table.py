"""Every row of docs/bad-input.md, refused by the checks site.yml makes, with no host.

site.yml's first role (sitelink.wgspread.plan) validates its argument spec, then runs the
fleet_plan action, whose checks are the pure check_inputs() of plugins/action/fleet_plan.py.
Here each row goes through the same two steps, over the lab inventory as Ansible reads it
(InventoryManager and VariableManager, with the row's extra vars on top) and the lab's
facts (tests/unit/fixtures/lab/facts.yml), in milliseconds instead of a site.yml run on
the lab; tests/integration/test_lab_bad_input.py proves on the lab gateways, for the rows
marked ``lab`` (one per stage), that a refusal comes before any host changes.
"""

import os

import pytest
import yaml

from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import (
    check_inputs, failure_message, gateway_group,
)
from bad_input_table import FACTS, INVENTORY, ROOT, STAGES, apply_changes, table_rows

ROWS = table_rows()
with open(FACTS) as handle:
    LAB_FACTS = yaml.safe_load(handle)
with open(os.path.join(ROOT, "roles", "plan", "meta", "argument_specs.yml")) as handle:
    PLAN_SPEC = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
with open(os.path.join(ROOT, "roles", "plan", "defaults", "main.yml")) as handle:
    PLAN_DEFAULTS = yaml.safe_load(handle)


def plan_stage(extra, host_vars, facts, new_hosts):
    """What the plan role does for one row: (messages, output). ``output`` is what the run
    prints; each message names its field."""
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[INVENTORY])
    variables = VariableManager(loader=loader, inventory=inventory)
    variables._extra_vars = extra  # what -e gives a run: above every other variable
    for host, values in new_hosts.items():
        inventory.add_host(host)  # ungrouped: in the inventory, not a gateway
        for key, value in values.items():
            inventory.get_host(host).set_variable(key, value)
    inventory.reconcile_inventory()
    for host, values in host_vars.items():
        for key, value in values.items():
            inventory.get_host(host).set_variable(key, value)
    for host, recorded in LAB_FACTS.items():
        merged = dict(recorded, **facts.get(host, {}))
        variables.set_host_facts(host, merged)
    gateways = inventory.get_groups_dict()["gateways"]
    hostvars = dict((host, variables.get_vars(host=inventory.get_host(host), include_hostvars=False))
                    for host in inventory.get_groups_dict()["all"])
    first = hostvars[gateways[0]]

    # 1. The role's argument spec (Ansible validates it before the role's first task).
    given = dict((name, first[name]) for name in PLAN_SPEC if name in first)
    spec_errors = ArgumentSpecValidator(PLAN_SPEC).validate(dict(PLAN_DEFAULTS, **given)).error_messages
    if spec_errors:
        return list(spec_errors), "Validation of arguments failed:\n" + "\n".join(spec_errors)
    # 2. The fleet_plan action, as roles/plan/tasks/main.yml calls it.
    dummy, errors = check_inputs(first.get("wgspread_links", []), inventory.get_groups_dict()["all"], hostvars,
                                 gateways, first.get("wireguard_rotate_keys", []),
                                 first.get("plan_check_roles", PLAN_DEFAULTS["plan_check_roles"]),
                                 gateway_group(first.get("wgspread_hosts", "gateways"), inventory.get_groups_dict()),
                                 exchange=first.get("wgspread_exchange", PLAN_DEFAULTS["wgspread_exchange"]),
                                 psk_secret_length=len(first.get("wgspread_psk_secret") or ""))
    return errors, failure_message(errors) if errors else ""


def test_the_table_has_every_stage_and_at_least_eighty_rows():
    assert len(ROWS) >= 80
    assert [row.number for row in ROWS] == list(range(1, len(ROWS) + 1))
    assert set(row.stage for row in ROWS) == set(STAGES)
    # The lab proves "before any host changed" for one row of every stage.
    assert set(row.stage for row in ROWS if row.lab) == set(STAGES)


def test_the_lab_inventory_with_its_facts_passes():
    from bad_input_table import Row
    errors, output = plan_stage(*apply_changes(Row(0, "links", False, "none", "-e {}", "")))
    assert errors == [], output


@pytest.mark.parametrize("row", ROWS, ids=[repr(row) for row in ROWS])
def test_every_row_is_refused_in_the_plan_stage_naming_the_field(row):
    errors, output = plan_stage(*apply_changes(row))
    assert errors, "row %d (%s) was accepted" % (row.number, row.kind)
    assert row.message in output, "row %d (%s): %s" % (row.number, row.kind, output)
