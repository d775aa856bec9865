# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a gateway's tunnels into nft rule lines (logic in module_utils.nft)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import meter_counts, meter_rules, spread_rules
from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import live_fold_ports


def _spread_rules(tunnels, send=True, run_hosts=None, live_fold=None):
    try:
        return spread_rules(tunnels, send=send, run_hosts=run_hosts, live_fold=live_fold)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def _meter_rules(tunnels, cpus):
    try:
        return meter_rules(tunnels, cpus)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {
            "spread_rules": _spread_rules,
            "meter_rules": _meter_rules,
            "meter_counts": meter_counts,
            "live_fold_ports": live_fold_ports,
        }
