# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the nic_tuning role (logic in module_utils.nic_boot, module_utils.nic_steps and module_utils.napi;
docs beside, in NAME.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import napi, nic_boot, nic_steps
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "nic_boot_script": as_filter(nic_boot.boot_script_of_steps),
            "nic_rss_spreads_ports": as_filter(nic_steps.rss_spreads_ports),
            "nic_queues_after": as_filter(nic_steps.queues_after),
            "threaded_napi_decision": as_filter(napi.decide),
        }
