# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the port_spread role's calibration (logic in module_utils.calibration; docs beside, in NAME.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import calibration
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "links_to_calibrate": as_filter(calibration.links_to_calibrate),
            "calibration_probe_links": as_filter(calibration.probe_links),
            "calibrate": as_filter(calibration.calibrate),
        }
