#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: wg_key
short_description: Create WireGuard private or preshared keys on the managed host, once
version_added: 0.1.0
description:
  - Creates a WireGuard key file with mode C(0600), owned by the user running the module, if it does not exist.
  - One key (O(path)) or all keys of a gateway in one call (O(keys)), one round trip per gateway
    however many links it has.
  - An existing private key is never regenerated or replaced unless O(rotate=true); an unreadable or malformed
    one fails the task.
  - For a private key, returns the public key only. The private key never leaves the host.
  - For a preshared key, either generates it (the link's owning end) or writes the value given in O(content)
    (the other end), and returns it in RV(preshared_key) so that it can be handed to the other end in memory.
    Use C(no_log=true) on such tasks.
options:
  path:
    description:
      - Key file. Its directory must exist.
      - Exactly one of O(path) and O(keys) is required.
    type: path
  keys:
    description:
      - Several keys at once, each with the options below (as O(path), O(kind), O(content), O(rotate)).
      - Every key is decided and made on its own; the first error fails the task after the keys
        before it were made (nothing is undone, a made key is kept either way).
    type: list
    elements: dict
    version_added: 0.3.0
    suboptions:
      name:
        description: A label (the link), the key of RV(public_keys) and RV(preshared_keys).
        type: str
        required: true
      path:
        description: Key file. Its directory must exist.
        type: path
        required: true
      kind:
        description: Which key.
        type: str
        choices: [private, preshared]
        default: private
      content:
        description: As O(content).
        type: str
      rotate:
        description: As O(rotate).
        type: bool
        default: false
  directory_mode:
    description:
      - With O(keys), create the directory of each key file where it is missing, with this mode (an octal string,
        for example V("0700")), and give an existing one this mode; owned by the user running the module.
      - Default is to require the directories to exist.
    type: str
    version_added: 0.3.0
  kind:
    description: Which key.
    type: str
    choices: [private, preshared]
    default: private
  content:
    description:
      - Only for O(kind=preshared). The key both ends must share, as received from the owning end.
      - When the file holds another value, it is replaced (a preshared key that differs from the
        peer's makes the link fail, so the owning end's value wins).
    type: str
  rotate:
    description:
      - Replace an existing key with a new one (key rotation). The new key replaces the old file atomically
        (write to a temporary file with mode C(0600), then rename), so no copy of the old key is kept.
      - For O(kind=preshared) with O(content), the content wins as always, O(rotate) applies to the owning end.
      - Not idempotent on purpose, every run with O(rotate=true) makes a new key. The wireguard role sets it
        only for the links named in C(wireguard_rotate_keys).
    type: bool
    default: false
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
    details: In check mode no key is generated; RV(public_key) is empty when the key does not exist yet
      or is to be rotated.
  diff_mode:
    support: none
    details: Key material is never shown.
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Make sure the link's private key exists
  sitelink.wgspread.wg_key:
    path: /etc/wireguard/wgspread/hub-spoke1.key
  register: key

- name: Rotate the link's private key (the tunnel must then be reconfigured on both ends)
  sitelink.wgspread.wg_key:
    path: /etc/wireguard/wgspread/hub-spoke1.key
    rotate: true
  register: new_key

- name: Make sure every link's private key exists, in one call
  sitelink.wgspread.wg_key:
    keys:
      - name: hub-spoke1
        path: /etc/wireguard/wgspread/hub-spoke1.key
      - name: hub-spoke2
        path: /etc/wireguard/wgspread/hub-spoke2.key
  register: keys  # keys.public_keys['hub-spoke1']

- name: Generate the link's preshared key on its owning end
  sitelink.wgspread.wg_key:
    path: /etc/wireguard/wgspread/hub-spoke1.psk
    kind: preshared
  register: psk
  no_log: true
"""

RETURN = r"""
public_key:
  description: Public key of the private key (empty in check mode before the key exists).
  returned: when O(path) is used and O(kind=private)
  type: str
  sample: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
preshared_key:
  description: The preshared key. Secret; register it only under C(no_log).
  returned: when O(path) is used and O(kind=preshared)
  type: str
public_keys:
  description: With O(keys), the public key of each private key by its name (empty in check mode before the key exists).
  returned: when O(keys) is used
  type: dict
  sample: {hub-spoke1: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=}
preshared_keys:
  description: With O(keys), each preshared key by its name. Secret; register it only under C(no_log).
  returned: when O(keys) is used
  type: dict
created:
  description: Whether the key file was created, rotated or (preshared only) rewritten; with O(keys), whether any was.
  returned: always
  type: bool
rotated:
  description: Whether an existing key was replaced by a new one (O(rotate=true)); with O(keys), whether any was.
  returned: always
  type: bool
changed_keys:
  description: With O(keys), the names of the keys created, rotated or rewritten (or that would be, in check mode).
  returned: when O(keys) is used
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import is_wireguard_key


def ensure_key(host, path, kind, content, check_mode, rotate=False):
    """Decide, then act: returns (changed, public_key_or_psk)."""
    existing = host.read(path)
    existing = existing.strip() if existing is not None else None
    if existing is not None and not is_wireguard_key(existing):
        raise ValueError("%s exists but does not hold a WireGuard key; it was left as it is" % path)
    if rotate and content is None:
        # A rotated key is made exactly like a first one; write_private's rename drops the old one.
        existing = None

    if kind == "private":
        if existing is None:
            if check_mode:
                return True, ""
            existing = host.run(["wg", "genkey"])[1].strip()
            host.write_private(path, existing + "\n")
            changed = True
        else:
            changed = False
        return changed, host.run(["wg", "pubkey"], data=existing)[1].strip()

    if content is not None:
        if not is_wireguard_key(content):
            raise ValueError("content is not a WireGuard key")
        if existing == content.strip():
            return False, existing
        if not check_mode:
            host.write_private(path, content.strip() + "\n")
        return True, content.strip()
    if existing is not None:
        return False, existing
    if check_mode:
        return True, ""
    psk = host.run(["wg", "genpsk"])[1].strip()
    host.write_private(path, psk + "\n")
    return True, psk


def ensure_directories(host, directories, mode, check_mode):
    """Create the missing ``directories`` with ``mode`` and set it on the others: whether any changed."""
    changed = False
    for directory in directories:
        if not host.is_directory(directory):
            if not check_mode:
                host.make_directory(directory, mode)
            changed = True
        elif host.mode(directory)[0] != mode:
            if not check_mode:
                host.set_mode(directory, mode)
            changed = True
    return changed


def key_spec_errors(spec):
    if spec["kind"] == "private" and spec.get("content") is not None:
        return "content: only a preshared key can be given; private keys are made on the host"
    return None


def make_key(host, spec, check_mode):
    """One key, decided then made: {"changed", "rotated", "value"}."""
    had_key = host.read(spec["path"]) is not None
    changed, value = ensure_key(host, spec["path"], spec["kind"], spec.get("content"), check_mode,
                                rotate=spec.get("rotate", False))
    rotated = changed and had_key and spec.get("rotate", False) and spec.get("content") is None
    return {"changed": changed, "rotated": rotated, "value": value}


def main():
    key_options = dict(
        kind=dict(type="str", choices=["private", "preshared"], default="private"),
        content=dict(type="str", no_log=True),
        rotate=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            directory_mode=dict(type="str"),
            keys=dict(type="list", elements="dict", no_log=False, options=dict(
                name=dict(type="str", required=True),
                path=dict(type="path", required=True),
                **key_options)),
            **key_options
        ),
        mutually_exclusive=[("path", "keys")],
        required_by={"directory_mode": "keys"},
        required_one_of=[("path", "keys")],
        supports_check_mode=True,
    )
    p = module.params
    specs = p["keys"] if p["keys"] is not None else [
        dict(name=None, path=p["path"], kind=p["kind"], content=p["content"], rotate=p["rotate"])]
    for spec in specs:
        error = key_spec_errors(spec)
        if error:
            module.fail_json(msg=("%s: %s" % (spec["name"], error)) if spec["name"] else error)
    host = Host(module)
    if p["directory_mode"] is not None:
        try:
            mode = int(p["directory_mode"], 8)
        except ValueError:
            module.fail_json(msg="directory_mode: %r is not an octal number" % p["directory_mode"])
        directories_changed = ensure_directories(host, sorted(set(os.path.dirname(s["path"]) for s in specs)),
                                                 mode, module.check_mode)
    else:
        directories_changed = False
    made = []
    for spec in specs:
        try:
            made.append(make_key(host, spec, module.check_mode))
        except (ValueError, CommandError) as exc:
            module.fail_json(msg=("%s: %s" % (spec["name"], exc)) if spec["name"] else str(exc),
                             changed=any(key["changed"] for key in made))
    changed = directories_changed or any(key["changed"] for key in made)
    rotated = any(key["rotated"] for key in made)
    if p["keys"] is None:
        value_name = "public_key" if p["kind"] == "private" else "preshared_key"
        module.exit_json(changed=changed, created=changed, rotated=rotated, **{value_name: made[0]["value"]})
    pairs = [(spec, made[index]) for index, spec in enumerate(specs)]
    module.exit_json(
        changed=changed, created=changed, rotated=rotated,
        changed_keys=[spec["name"] for spec, key in pairs if key["changed"]],
        public_keys=dict((spec["name"], key["value"]) for spec, key in pairs if spec["kind"] == "private"),
        preshared_keys=dict((spec["name"], key["value"]) for spec, key in pairs if spec["kind"] == "preshared"))


if __name__ == "__main__":
    main()
