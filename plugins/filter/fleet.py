# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fleet validator (logic in module_utils.fleet; see docs/validate.md; docs beside, in NAME.yml).

- ``results | fleet_report(wgspread_plan, run_hosts=ansible_play_hosts_all, require_complete=false,
  query=none, kernels=none, napi_risk_accepted=none)``: every gateway's nft_ruleset_check result -> the report (``passed``, ``complete``,
  ``summary``, ``gateways``, ``links``, ``unchecked_links``, ``problems``), or what the JMESPath
  ``query`` selects from it.
- ``report | fleet_query(QUERY)``: a JMESPath query over a report already built.
- ``report | fleet_table``: aligned text lines for a debug task; ``report | fleet_markdown(picture=none)``: a document.
- ``report | fleet_svg``: the picture of how each link direction's packets split over CPUs and ports (module_utils.fleet_svg).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils import fleet, fleet_svg
from ansible_collections.sitelink.wgspread.plugins.plugin_utils.filtering import as_filter


def _fleet_report(results_by_host, plan, run_hosts=None, require_complete=False, query=None, kernels=None,
                  napi_risk_accepted=None):
    report = fleet.fleet_report(results_by_host, plan, run_hosts=run_hosts, require_complete=require_complete,
                                kernels=kernels, napi_risk_accepted=napi_risk_accepted)
    return fleet.select(report, query)


class FilterModule(object):
    def filters(self):
        return {
            "fleet_report": as_filter(_fleet_report, "fleet_report: "),
            "fleet_query": as_filter(fleet.select, "fleet_query: "),
            "fleet_table": as_filter(fleet.fleet_table),
            "fleet_markdown": as_filter(fleet.fleet_markdown),
            "fleet_svg": as_filter(fleet_svg.fleet_svg),
        }
