#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: ethtool_rss
short_description: Set a NIC's RSS indirection table, hash function and hash key (ethtool -X)
version_added: 0.2.0
description:
  - Reads the RSS configuration with C(ethtool -x DEVICE) and sets what differs with one
    C(ethtool -X DEVICE ...) call.
  - The indirection table is compared entry by entry with the table C(ethtool -X equal N) or
    C(ethtool -X weight ...) would write, so a table that is already right is not rewritten.
  - Without O(equal) and O(weights), the table spreads equally over all the device's RX rings.
  - The hash key is accepted as hex bytes, with or without colons, and reported as
    lowercase colon-separated hex, as ethtool prints it.
  - After a change the configuration is read again and must be what was asked for.
  - When the driver does not support RSS, that is it cannot report or set what was asked for
    (C(Operation not supported), no table, no key, or a hash function it does not offer),
    O(on_unsupported) decides what happens. With C(warn) and C(skip) the task succeeds unchanged.
options:
  device:
    description: Network interface name.
    type: str
    required: true
  equal:
    description:
      - Spread the table equally over the first O(equal) RX rings.
      - Defaults to all RX rings when O(weights) is not given.
    type: int
  weights:
    description: Relative weight of each RX ring (ring 0 first); rings beyond the list get none.
    type: list
    elements: int
  hfunc:
    description: Hash function, one the driver lists under C(RSS hash function) (for example C(toeplitz), C(xor)). Unchanged when not given.
    type: str
  hash_key:
    description: RSS hash key as hex bytes, with the driver's key length. Unchanged when not given.
    type: str
extends_documentation_fragment:
  - sitelink.wgspread.attributes
  - sitelink.wgspread.on_unsupported
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the ring count, hash function, hash key and indirection table.
notes:
  - Requires C(ethtool) on the managed host.
seealso:
  - module: sitelink.wgspread.ethtool_channels
  - module: sitelink.wgspread.ethtool_flow_hash
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Spread RSS equally over all RX rings
  sitelink.wgspread.ethtool_rss:
    device: eth0

- name: Symmetric Toeplitz key, twice the weight on ring 0
  sitelink.wgspread.ethtool_rss:
    device: ens1f0
    weights: [2, 1, 1, 1]
    hfunc: toeplitz
    hash_key: "6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a:6d:5a"
"""

RETURN = r"""
rings:
  description: Number of RX rings.
  returned: unless unsupported
  type: int
  sample: 16
indirection_table:
  description: The indirection table after the task (in check mode, what it would be); null when the driver does not report it.
  returned: unless unsupported
  type: list
  elements: int
hfunc:
  description: The active hash function after the task.
  returned: unless unsupported
  type: str
  sample: toeplitz
hash_key:
  description: The hash key after the task, lowercase colon-separated hex; null when the driver does not report it.
  returned: unless unsupported
  type: str
  sample: "6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa"
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["indirection table: equal 16"]
unsupported:
  description: Whether the driver does not support what was asked for.
  returned: always
  type: bool
unsupported_reason:
  description: Why, as ethtool or the module put it.
  returned: when RV(unsupported) is true
  type: str
  sample: "ethtool -x veth0: Cannot get RX ring count: Operation not supported"
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
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_rss import ARGUMENT_SPEC, MODULE_OPTIONS, run


def main():
    run(nic_module(ARGUMENT_SPEC, **MODULE_OPTIONS), Host)


if __name__ == "__main__":
    main()
