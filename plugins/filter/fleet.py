# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fleet validator (logic in module_utils.fleet; see docs/validate.md).

- ``results | fleet_report(wgspread_links, groups['all'], hostvars, run_hosts=ansible_play_hosts_all,
  require_complete=false, query=none)``: every gateway's nft_ruleset_check result -> the report
  (``passed``, ``complete``, ``summary``, ``gateways``, ``links``, ``unchecked_links``,
  ``problems``), or what the JMESPath ``query`` selects from it.
- ``report | fleet_query(QUERY)``: a JMESPath query over a report already built.
- ``report | fleet_table``: aligned text lines for a debug task; ``report | fleet_markdown``: a document.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet import (
    FleetError, fleet_markdown, fleet_report, fleet_table, select,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError


def _fleet_report(results_by_host, links, inventory, hostvars, run_hosts=None, require_complete=False, query=None):
    try:
        report = fleet_report(results_by_host, links, inventory, hostvars, run_hosts=run_hosts,
                              require_complete=require_complete)
        return select(report, query)
    except LinkError as exc:
        raise AnsibleFilterError("wgspread_links: " + "; ".join(exc.errors)) from None
    except FleetError as exc:
        raise AnsibleFilterError("fleet_report: %s" % exc) from None


def _fleet_query(report, query):
    try:
        return select(report, query)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_query: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {
            "fleet_report": _fleet_report,
            "fleet_query": _fleet_query,
            "fleet_table": fleet_table,
            "fleet_markdown": fleet_markdown,
        }
