# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ranges of role options, checked with the plan, before any host changes.

A role's meta/argument_specs.yml checks types and choices only; an integer that is out of
range (``port_spread_calibration_factor: 0``) passed those checks and failed deep inside
the role, after the other roles had changed hosts. The fleet_plan action checks every
option here for every host of the run, on the value the argument spec converted.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# option: (lowest, highest, why the bounds); None is no bound.
RANGES = {
    "port_spread_calibration_factor": (1, 64, "candidate ports per wanted port"),
    "port_spread_calibration_packets": (1, 100000, "probe pings per candidate port"),
    "nic_tuning_rps_flow_cnt": (0, 1 << 20, "RFS flow table entries per RX queue"),
    "nic_tuning_rps_sock_flow_entries": (0, 1 << 26, "global RFS socket flow entries"),
    "nic_tuning_rss_equal": (1, 4096, "RX rings"),
}
# Options whose elements are each a count of something (>= 1) or a CPU number (>= 0).
ELEMENT_RANGES = {
    "nic_tuning_cpus": (0, 8191, "CPU numbers"),
    "nic_tuning_exclude_cpus": (0, 8191, "CPU numbers"),
}
SUBOPTION_RANGES = {
    "nic_tuning_channel_counts": (1, 4096, "queues"),
}


def _outside(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high


def range_errors(name, value):
    """Messages for ``value`` of option ``name`` (as its argument spec converted it)."""
    if value is None:
        return []
    if name in RANGES:
        low, high, what = RANGES[name]
        if _outside(value, low, high):
            return ["%s must be between %d and %d (%s), got %r" % (name, low, high, what, value)]
    if name in ELEMENT_RANGES and isinstance(value, list):
        low, high, what = ELEMENT_RANGES[name]
        bad = [item for item in value if _outside(item, low, high)]
        if bad:
            return ["%s: %s are not %s between %d and %d" % (name, ", ".join(map(repr, bad)), what, low, high)]
    if name in SUBOPTION_RANGES and isinstance(value, dict):
        low, high, what = SUBOPTION_RANGES[name]
        return ["%s.%s must be between %d and %d (%s), got %r" % (name, key, low, high, what, item)
                for key, item in sorted(value.items()) if _outside(item, low, high)]
    return []
