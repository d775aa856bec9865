# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the fleet plan (logic in module_utils.plan; docs beside, in NAME.yml).

- ``wgspread_plan | gateway_plan(inventory_hostname)``: one gateway's part of the plan.
- ``wgspread_plan | links_outside_run(ansible_play_hosts)``: the links an end of which is not in the run.
- ``wgspread_links | link_errors(groups['all'], hostvars)``: every problem of the links, as messages.
- ``wgspread_links | gateway_tunnels(gateway, groups['all'], hostvars)``: one gateway's tunnels, for a
  playbook of your own; the roles read the plan instead (sitelink.wgspread.fleet_plan).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import plan
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "gateway_plan": as_filter(plan.gateway_plan),
            "links_outside_run": as_filter(plan.links_outside_run),
            "link_errors": as_filter(plan.link_errors, "wgspread_links: "),
            "gateway_tunnels": as_filter(plan.plan_tunnels, "wgspread_links: "),
        }
