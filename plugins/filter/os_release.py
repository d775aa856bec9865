# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter that tells whether a gateway runs a supported release (logic in
module_utils.os_release; docs beside, in release_refusal.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import os_release
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "release_refusal": as_filter(os_release.release_refusal),
        }
