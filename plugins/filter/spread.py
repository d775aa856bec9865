# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a gateway's tunnels into nft rules and back (logic in module_utils.nft
and module_utils.ruleset_check; docs beside, in NAME.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import nft
from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import live_fold_ports
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "spread_rules": as_filter(nft.spread_rules),
            "spread_table": as_filter(nft.table_text),
            "meter_rules": as_filter(nft.meter_rules),
            "meter_counts": as_filter(nft.meter_counts),
            "table_digest": as_filter(nft.table_digest),
            "live_fold_ports": as_filter(live_fold_ports),
        }
