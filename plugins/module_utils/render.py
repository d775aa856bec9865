# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a plan becomes on each gateway, rendered on the controller for review.

``playbooks/plan.yml`` (the ``render_dir`` option of the fleet_plan action) writes, per
gateway, the spreading table as the port_spread role renders it and each tunnel's
wg-quick file as wg_tunnel writes it, with the keys left out: private and preshared keys
never leave the gateways, and public keys are made there. Nothing here connects to a host.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import spread_rules, table_text
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import mask_secrets, render_config


def tunnel_spec(tunnel, peer_public_key):
    """The spec of wg_tunnel for one planned tunnel (interface, addresses, peers...)."""
    return {
        "interface": tunnel["interface"],
        "link": tunnel["link"],
        "addresses": [tunnel["address"]],
        "listen_port": tunnel["listen_port"],
        "mtu": tunnel["mtu"],
        "peers": [{
            "name": tunnel["peer"],
            "public_key": peer_public_key,
            "endpoint": tunnel["peer_endpoint_uri"],
            "allowed_ips": tunnel["peer_allowed_ips"],
            "persistent_keepalive": tunnel["persistent_keepalive"],
        }],
    }


def gateway_files(part, run_hosts=None):
    """{file name: text} of one gateway's plan (``Plan.as_dict()['gateways'][host]``).

    ``wgspread.nft``: the table of every tunnel (as when nothing is folded back yet);
    ``INTERFACE.conf``: the wg-quick file, keys masked the way a diff shows them.
    Raises ValueError where a tunnel cannot be rendered (e.g. a receive port set that
    needs the gateway's CPU count).
    """
    tunnels = part["tunnels"]
    files = {"wgspread.nft": table_text(spread_rules(tunnels, run_hosts=run_hosts))}
    for tunnel in tunnels:
        placeholder = "<made on %s>" % tunnel["peer"]
        presharing = {placeholder: "<made on %s>" % tunnel["gateway"]} if tunnel["preshared_key"] else {}
        config = render_config(tunnel_spec(tunnel, placeholder), "<made on %s>" % tunnel["gateway"], presharing)
        files[tunnel["interface"] + ".conf"] = ("# Rendered on the controller for review (playbooks/plan.yml): the keys are\n"
                                                "# made on the gateways, and only wg_tunnel writes them into this file.\n"
                                                + mask_secrets(config))
    return files
