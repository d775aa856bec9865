#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: rps_xps
short_description: Spread a NIC's receive and transmit work in software (RPS, RFS, XPS)
version_added: 0.2.0
description:
  - The software fallback for NICs with fewer queues than CPUs (virtual NICs, single-queue NICs).
    Sets C(rps_cpus) and C(rps_flow_cnt) of each C(/sys/class/net/DEVICE/queues/rx-N) and
    C(xps_cpus) of each C(tx-N).
  - The CPUs (the online CPUs, or O(cpus), without O(exclude_cpus)) are dealt round-robin over the
    queues, so that each queue's packets go to its own share of CPUs.
  - Masks are written as the kernel prints them, as wide as the host's possible CPUs in
    comma-separated 32-bit groups (C(ffffffff,ffffffff,ffffffff) on 96 CPUs), and compared as CPU
    sets, so a host with any number of CPUs is handled.
  - When the kernel or device cannot take a setting, that is the kernel has no RPS or XPS (the files
    are missing), the device has a single transmit queue and O(xps=on), or the files cannot be written
    (C(/sys) mounted read-only, as in most containers, C(Read-only file system)), O(on_unsupported)
    decides what happens. With C(warn) and C(skip) the module sets what it can. Settings that cannot
    be written are not counted as changes, so repeated runs stay unchanged.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  rps:
    description:
      - C(auto) turns RPS on when the device has fewer RX queues than CPUs to use, or when its
        queues are not chosen by a hash over the UDP ports (O(rss_spreads_ports=false)), and off otherwise.
      - C(on) and C(off) force it; off writes an empty mask (the kernel's default).
    type: str
    choices: [auto, "on", "off"]
    default: auto
  rss_spreads_ports:
    description:
      - Whether the NIC itself spreads received UDP flows over its RX queues by port (RSS with the
        UDP ports in the hash, see M(sitelink.wgspread.ethtool_rss) and M(sitelink.wgspread.ethtool_flow_hash)).
      - Set it to V(false) for a NIC whose driver has no RSS or cannot hash UDP on ports (C(ethtool -x)
        or C(ethtool -n DEV rx-flow-hash udp4) says C(Operation not supported)), such as veth. Its queues
        then do not follow the ports that port spreading varies, so O(rps=auto) turns RPS on even with
        a queue per CPU, and RPS's software hash over addresses and ports steers each port to a CPU.
        Each RX queue's RPS then spreads over all the CPUs (the packets may all arrive on one queue)
        instead of the queue's own share.
      - The nic_tuning role sets it from what those modules reported for the device.
    type: bool
    default: true
  xps:
    description:
      - C(auto) maps TX queues to CPUs when the device has more than one TX queue.
      - C(on) and C(off) force it; off writes an empty mask.
    type: str
    choices: [auto, "on", "off"]
    default: auto
  cpus:
    description: CPUs to spread over. Defaults to all online CPUs.
    type: list
    elements: int
  exclude_cpus:
    description: CPUs never to use.
    type: list
    elements: int
    default: []
  rps_flow_cnt:
    description:
      - Flow table size per RX queue for RFS while RPS is on (0 turns RFS off for the queue).
      - The kernel rounds it up to a power of two; the module compares with the rounded value.
    type: int
    default: 0
  rps_sock_flow_entries:
    description:
      - Global RFS socket flow table size (C(/proc/sys/net/core/rps_sock_flow_entries)), rounded up to a
        power of two by the kernel. Left alone when not given.
    type: int
  rx_queues:
    description:
      - Check mode only, ignored otherwise. Plan for this many RX queues instead of the queues the device
        has now, so that check mode predicts the masks after a channel change that a preceding
        M(sitelink.wgspread.ethtool_channels) task in check mode only reported. Queues that do not exist
        yet are taken as having empty masks.
    type: int
  tx_queues:
    description: Check mode only, ignored otherwise. As O(rx_queues), for the TX queues.
    type: int
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are one line per queue file with its CPU list.
seealso:
  - module: sitelink.wgspread.irq_affinity
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Software spreading on a single-queue virtual NIC
  sitelink.wgspread.rps_xps:
    device: eth0

- name: RPS on a veth or any NIC without RSS on UDP ports, whatever its queue count
  sitelink.wgspread.rps_xps:
    device: eth0
    rss_spreads_ports: false

- name: RPS plus RFS over CPUs 2-15
  sitelink.wgspread.rps_xps:
    device: eth0
    rps: "on"
    cpus: "{{ range(2, 16) | list }}"
    rps_flow_cnt: 4096
    rps_sock_flow_entries: 32768
"""

RETURN = r"""
queues:
  description: Per queue file, the CPUs after the task (in check mode, what they would be) and the mask written.
  returned: always
  type: list
  elements: dict
  sample: [{"file": "rx-0/rps_cpus", "cpus": [0, 1, 2, 3], "mask": "0000000f"}]
rps_enabled:
  description: Whether RPS is on after the task.
  returned: always
  type: bool
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["rx-0/rps_cpus: none -> 0-3"]
unsupported:
  description: Whether a setting could not be applied because the kernel or device lacks it.
  returned: always
  type: bool
unsupported_reason:
  description: Why.
  returned: when RV(unsupported) is true
  type: str
replay:
  description:
    - What the boot script of the nic_tuning role replays for this device (module_utils/nic_boot.py) - commands as
      lists, C(["run", ARGV...]), C(["put", VALUE, PATH]) or C(["pin", IRQ_NAME, CPU]). Only what the driver took.
  returned: success
  type: list
  elements: list
"""

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_module import nic_module
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_rps_xps import ARGUMENT_SPEC, MODULE_OPTIONS, run


def main():
    run(nic_module(ARGUMENT_SPEC, **MODULE_OPTIONS), Host)


if __name__ == "__main__":
    main()
