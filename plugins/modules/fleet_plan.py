#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_plan
short_description: The fleet plan of one run, made once on the controller
version_added: 0.3.0
description:
  - Checks C(wgspread_links) against the inventory and the facts of the hosts in the run, and works out
    for every gateway its tunnels, which of them this run configures (both ends in the run) and which it
    skips, and the key rotations asked for. The result is the fleet plan; register it as C(wgspread_plan)
    and every role of this collection, C(playbooks/status.yml) and C(playbooks/validate.yml) read their
    part of it (C(wgspread_plan.gateways[inventory_hostname])) instead of deriving it again per host.
  - Runs on the controller only and connects to no host. Use it with C(run_once); the roles of this
    collection do so through their dependency on the C(sitelink.wgspread.plan) role.
  - With O(check_roles), also checks every role input of every host of the run against the roles'
    argument specs, in the same pass, so that a bad value on one host stops the run before any host changes.
  - A bad input fails the task with every problem found, each naming the link or host and the field
    (RV(errors)). No private or preshared key is ever part of the plan; C(-v) shows the summary only.
  - docs/plan.md describes the plan's fields.
author:
  - sitelink.wgspread contributors (@sitelink)
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
  check_mode:
    support: full
    details: The plan is made the same way; O(render_dir) is written in check mode too (files on the controller only).
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
    description: Target OS/families that can be operated against.
options:
  links:
    description: The site pairs, normally C({{ wgspread_links }}). docs/inventory.md describes a link's fields.
    type: raw
    required: true
  hosts:
    description:
      - The hosts of this run, normally C({{ ansible_play_hosts }}). A link with an end outside them is
        kept as it is on the end that runs (RV(gateways) lists it in C(skipped_links)).
    type: list
    elements: str
    required: true
  inventory:
    description: Every inventory hostname a link may name. Default C(groups['all']).
    type: list
    elements: str
  rotate_keys:
    description:
      - The links whose keys this run rotates (C(wireguard_rotate_keys)), a list or a comma-separated
        string of link names, or C(all). A name that is no link, or a link with an end outside the run,
        fails the task.
    type: raw
    default: []
  check_roles:
    description: Roles of this collection whose inputs are checked for every host in O(hosts).
    type: list
    elements: str
    default: []
  render_dir:
    description:
      - A directory on the controller to write the plan to, for review before a rollout (C(playbooks/plan.yml)) -
        C(plan.json), and per gateway C(GATEWAY/wgspread.nft) (the spreading table) and
        C(GATEWAY/INTERFACE.conf) (the wg-quick file, keys shown as where they are made).
    type: path
  gateway_group:
    description:
      - The inventory group of the gateways the playbooks configure (C(wgspread_hosts), default C(gateways)).
        A link to an inventory host outside it is refused, since no run would ever configure its far end.
      - Not a group name (a pattern such as C(gateways:!spoke2)), or not given, leaves that check out.
    type: str
  exchange:
    description:
      - How the two ends of a link learn each other's keys (C(wgspread_exchange); docs/architecture.md, "Sliced runs").
      - V(run), in memory between both ends of the run. A gateway that is not in O(inventory) is refused.
      - V(fact_cache), for job slices that each see part of the inventory. A link end outside O(inventory) is
        read from the record it published (the cacheable fact C(wgspread_peer_record)) in Ansible's configured
        fact cache. A link whose end has no usable record is listed in RV(waiting_links), not refused.
    type: str
    choices: [run, fact_cache]
    default: run
  psk_secret_length:
    description:
      - The length of C(wgspread_psk_secret), never the secret itself (the plan is registered and must not hold it).
      - With O(exchange=fact_cache), links with preshared keys need a secret of at least 32 characters.
    type: int
    default: 0
notes:
  - Cost is linear in the number of links (a hub with 999 spokes, a ring of 1,000 gateways x 4 links and a
    full mesh of 100 gateways each plan in well under 2 seconds; benchmarks/fleet_plan.py).
seealso:
  - module: sitelink.wgspread.nft_ruleset_check
"""

EXAMPLES = r"""
- name: Make the fleet plan
  sitelink.wgspread.fleet_plan:
    links: "{{ wgspread_links }}"
    hosts: "{{ ansible_play_hosts }}"
    rotate_keys: "{{ wireguard_rotate_keys | default([]) }}"
    check_roles: [wireguard, nic_tuning, port_spread]
  register: wgspread_plan
  run_once: true

- name: This gateway's tunnels
  ansible.builtin.debug:
    msg: "{{ wgspread_plan.gateways[inventory_hostname].tunnels | map(attribute='interface') }}"

- name: Write the plan of every gateway for review (nothing is connected to)
  sitelink.wgspread.fleet_plan:
    links: "{{ wgspread_links }}"
    hosts: "{{ groups['gateways'] }}"
    render_dir: ./wgspread-plan
  run_once: true
"""

RETURN = r"""
version:
  description: Version of the plan's format.
  returned: success
  type: int
  sample: 1
run_hosts:
  description: The hosts of the run the plan was made for.
  returned: success
  type: list
  elements: str
gateways:
  description:
    - Per gateway, its part of the plan - C(gateway), C(in_run), C(tunnels) (one per link, sorted by
      interface; fields in docs/plan.md), C(active_links) (configured by this run), C(skipped_links)
      (peer not in the run) and C(rotate_links).
    - With O(exchange=fact_cache) also C(waiting) (C(link) and C(peer) of each link waiting for its peer's
      record), and each tunnel whose peer is known from its record has that peer's C(peer_public_key).
  returned: success
  type: dict
exchange:
  description: O(exchange).
  returned: success
  type: str
  sample: run
cached_peers:
  description: The gateways outside O(inventory) known from their published records (O(exchange=fact_cache)).
  returned: success
  type: list
  elements: str
waiting_links:
  description:
    - The links an end of which has published no usable record yet (O(exchange=fact_cache)), each with
      C(link), C(gateways), C(missing) and C(summary) (the reason per missing end).
  returned: success
  type: list
  elements: dict
links:
  description: Per link, what both ends must agree on - C(name), C(gateways), C(listen_ports), C(endpoints),
    C(interfaces), C(spread) (receive ports, requests and calibration per gateway), C(missing) (ends not in the run),
    C(from_records) (the missing ends known from their published records).
  returned: success
  type: list
  elements: dict
rotate_links:
  description: Names of the links whose keys this run rotates.
  returned: success
  type: list
  elements: str
summary:
  description: One line on what the plan holds.
  returned: success
  type: str
  sample: 2 links, 3 gateways (3 in this run), 4 tunnel ends
errors:
  description: Every problem found in the inputs, when the task fails.
  returned: failure
  type: list
  elements: str
  sample: ["link hub-spoke1: listen_port must be a UDP port between 1 and 65535, got 70000"]
"""
