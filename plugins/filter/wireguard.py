# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a gateway's tunnels of the fleet plan into the arguments of one wg_key and
one wg_tunnel call (logic in module_utils.wireguard; docs beside, in NAME.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import wireguard
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


class FilterModule(object):
    def filters(self):
        return {
            "wg_key_specs": as_filter(wireguard.key_specs),
            "wg_tunnel_specs": as_filter(wireguard.tunnel_specs),
        }
