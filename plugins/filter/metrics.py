# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the metrics role (logic in module_utils.metrics, which is also the collector
program on the gateways; docs beside, in NAME.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import metrics
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "metrics_config": as_filter(metrics.collector_config),
            "metrics_interval": as_filter(metrics.interval_seconds),
        }
