#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: nft_table
short_description: Keep one nftables table equal to a file, atomically, touching nothing else
version_added: 0.1.0
description:
  - Makes the live table O(family) O(name) equal to the table defined in O(path), and leaves every other
    table alone (no C(flush ruleset), ever).
  - Compares in nft's own normalized JSON, not text, because nft rewrites what it is given. The wanted
    form comes from loading O(path) in a scratch network namespace (C(unshare --net)), so the live
    ruleset is never used as a scratch pad. Handles and counter values are ignored; set element order is ignored.
  - Loads with a single C(nft -f) transaction; O(path) should create, delete and re-create the table
    (C(table F N {}), C(delete table F N), C(table F N { ... })) so that the swap is atomic. If nft refuses
    the file, the old table stays in force and the task fails with nft's message.
  - After loading, the live table is read again and must equal the wanted one.
  - The table comes from a file on the host (O(path)) or from O(content). With O(content), check mode
    predicts exactly, even before the file exists (a first run in check mode).
options:
  path:
    description: File with the table, for C(nft -f). One of O(path) and O(content) is required for O(state=present).
    type: path
  content:
    description: The table as text for C(nft -f), passed on standard input. Mutually exclusive with O(path).
    type: str
  family:
    description: Table family.
    type: str
    default: inet
  name:
    description: Table name.
    type: str
    required: true
  state:
    description: C(absent) deletes the table (only this table).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the table as C(nft list table) prints it.
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Load the port-spreading table
  sitelink.wgspread.nft_table:
    path: /etc/wgspread/wgspread.nft
    name: wgspread
"""

RETURN = r"""
nft_missing:
  description: True when nft is not installed yet (possible in check mode only; the run that installs it decides).
  returned: always
  type: bool
in_sync_before:
  description: Whether the live table already equalled the file.
  returned: always
  type: bool
table:
  description: The live table after the task as nft's normalized JSON objects.
  returned: when O(state=present)
  type: list
  elements: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from ansible_collections.sitelink.wgspread.plugins.module_utils.scratch import JSON, LOAD, TEXT, load_in_scratch


def live_table(host, family, name):
    """(normalized JSON objects, text) of the live table, or (None, "") when it does not exist."""
    rc, out, _err = host.run(["nft", "-j", "list", "table", family, name], check=False)
    if rc != 0:
        return None, ""
    text = host.run(["nft", "list", "table", family, name])[1]
    return normalize(json.loads(out)), text


def wanted_table(host, source, family, name):
    """The table as nft itself renders it, loaded in a throw-away network namespace.

    ``source`` is ("path", PATH) or ("content", TEXT); content goes in on standard input.
    """
    kind, value = source
    wanted_json, text = load_in_scratch(host, family, name, (LOAD, JSON, TEXT), **{kind: value})
    return normalize(wanted_json), text


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            content=dict(type="str"),
            family=dict(type="str", default="inet"),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        mutually_exclusive=[("path", "content")],
        required_if=[("state", "present", ("path", "content"), True)],
        supports_check_mode=True,
    )
    p, host = module.params, Host(module)
    if not host.which("nft"):
        if module.check_mode:
            # A first run in check mode on a host without nftables: the real run installs it first.
            module.exit_json(changed=p["state"] == "present", nft_missing=True, in_sync_before=False)
        module.fail_json(msg="nft is not installed on this host (package nftables)")
    try:
        before, before_text = live_table(host, p["family"], p["name"])
        if p["state"] == "absent":
            changed = before is not None
            if changed and not module.check_mode:
                host.run(["nft", "delete", "table", p["family"], p["name"]])
            module.exit_json(changed=changed, nft_missing=False, in_sync_before=not changed,
                             diff=dict(before=before_text, after=""))
        if p["path"] is not None and not host.exists(p["path"]):
            module.fail_json(msg="path: %s does not exist" % p["path"])
        source = ("path", p["path"]) if p["path"] is not None else ("content", p["content"])
        wanted, wanted_text = wanted_table(host, source, p["family"], p["name"])
        changed = before != wanted
        after = before
        if changed and not module.check_mode:
            host.run(["nft", "-f", p["path"] if p["path"] is not None else "/dev/stdin"],
                     data=p["content"] if p["path"] is None else None)
            after, _text = live_table(host, p["family"], p["name"])
            if after != wanted:
                module.fail_json(msg="after loading the live table %s %s differs from the wanted one; "
                                     "another process may be changing it" % (p["family"], p["name"]))
    except CommandError as exc:
        module.fail_json(msg=str(exc), rc=exc.rc, stderr=exc.stderr)
    module.exit_json(changed=changed, nft_missing=False, in_sync_before=not changed,
                     table=wanted if changed else after,
                     diff=dict(before=before_text, after=wanted_text))


if __name__ == "__main__":
    main()
