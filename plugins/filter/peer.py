# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter peer_record: what a gateway publishes for peers planned in other runs (logic and
format in module_utils/peer_record.py; docs beside, in peer_record.yml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import peer_record as records
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


def peer_record(variables, gateway, public_keys, group):
    facts = variables.get("ansible_facts") if hasattr(variables, "get") else None
    return records.make_record(gateway, variables, facts or {}, public_keys, group)


class FilterModule(object):
    def filters(self):
        return {"peer_record": as_filter(peer_record)}
