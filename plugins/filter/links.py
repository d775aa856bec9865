# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn ``wgspread_links`` into per-gateway tunnels (logic in module_utils.links)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import (
    LinkError, gateway_tunnels, link_errors, links_outside_run, links_to_rotate, rotation_errors,
)


def _gateway_tunnels(links, gateway, inventory, hostvars):
    try:
        return gateway_tunnels(links, gateway, inventory, hostvars)
    except LinkError as exc:
        raise AnsibleFilterError("wgspread_links: " + "; ".join(exc.errors)) from None


def _links_outside_run(links, inventory, hostvars, run_hosts):
    try:
        return links_outside_run(links, inventory, hostvars, run_hosts)
    except LinkError as exc:
        raise AnsibleFilterError("wgspread_links: " + "; ".join(exc.errors)) from None


def _links_to_rotate(links, rotate, inventory, hostvars, run_hosts):
    try:
        return links_to_rotate(links, rotate, inventory, hostvars, run_hosts)
    except LinkError as exc:
        raise AnsibleFilterError("; ".join(exc.errors)) from None


class FilterModule(object):
    def filters(self):
        return {
            "link_errors": link_errors,
            "gateway_tunnels": _gateway_tunnels,
            "links_outside_run": _links_outside_run,
            "links_to_rotate": _links_to_rotate,
            "rotation_errors": rotation_errors,
        }
