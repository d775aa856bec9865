# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one NIC step of the nic_tuning role needs from the steps before it.

Pure: the role hands in the registered results of the earlier steps.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _of(registered, device):
    return [r for r in (registered or {}).get("results") or [] if r.get("item") == device]


def rss_spreads_ports(device, rss_result, flow_hash_result, flow_hash_on, fields):
    """False where the NIC cannot choose its RX queue by UDP port: its driver reported no RSS or
    no UDP flow hash (veth), or the flow hash is set to fields without both ports. Then only
    RPS steers each port to a CPU. Steps that were turned off tell nothing: the NIC is trusted."""
    refused = any(r.get("unsupported") for r in _of(rss_result, device) + _of(flow_hash_result, device))
    return not (refused or (flow_hash_on and not ("f" in fields and "n" in fields)))


def queues_after(device, channels_result, check_mode):
    """{"rx", "tx"} queue counts a channel change will leave, in check mode (where the change was
    only predicted and sysfs still shows the old queues); {} otherwise."""
    if not check_mode:
        return {}
    for r in _of(channels_result, device):
        if r.get("changed") and r.get("channels"):
            channels = r["channels"]
            return {"rx": (channels.get("combined") or 0) + (channels.get("rx") or 0),
                    "tx": (channels.get("combined") or 0) + (channels.get("tx") or 0)}
    return {}
