#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_files
short_description: Write a role's files on the host and enable its systemd units, in one call
version_added: 0.3.0
description:
  - Writes each file of O(files) whose content or mode differs, atomically (a temporary file
    beside it, then a rename), creating its directory with mode C(0755) where needed. A file
    with O(files[].validate) is checked before it replaces the old one.
  - Then, under systemd, reloads systemd once if a file below C(/etc/systemd/system) changed, and
    enables (and with O(units[].started) starts) each unit of O(units) that is not yet. A unit
    whose file it rewrote is enabled again, so that new C(WantedBy=) targets of the file get
    their links too.
  - One round trip for what would otherwise be a task per directory, file and unit; the roles
    persist their state (boot units, scripts, udev rules, the nft file) with one call each.
  - Files and units not named are left alone; nothing is ever removed.
options:
  files:
    description: The files, in the order they are written.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole content.
        type: str
        required: true
      mode:
        description: The file's mode, as an octal string.
        type: str
        default: "0644"
      validate:
        description:
          - A command that must succeed on the new content before it is written, C(%s) standing for a
            temporary file that holds it (for example C(nft -c -f %s)). Split on spaces, run without a shell.
          - In check mode it runs too, except where its program is not installed yet (a real run installs it first).
        type: str
      skip_without_directory:
        description:
          - Leave the file out when its directory does not exist (instead of creating the directory), for
            files only a service that may be missing reads (a udev rule on a host without udev).
        type: bool
        default: false
  units:
    description: systemd units to enable (and start). Ignored, with RV(units) empty, on a host without systemd.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The unit.
        type: str
        required: true
      started:
        description: Start the unit too when it is not active.
        type: bool
        default: false
extends_documentation_fragment:
  - sitelink.wgspread.attributes
attributes:
  check_mode:
    support: full
    details: A unit whose file is to be written is reported as to be enabled without asking systemd, which cannot know it yet.
  diff_mode:
    support: full
    details: One diff per file that changes. Do not pass secrets; the content is shown.
author:
  - sitelink.wgspread contributors (@sitelink)
"""

EXAMPLES = r"""
- name: Persist the spreading table and load it at boot
  sitelink.wgspread.host_files:
    files:
      - path: /etc/wgspread/wgspread.nft
        content: "{{ lookup('ansible.builtin.template', 'wgspread.nft.j2') }}"
        validate: nft -c -f %s
      - path: /etc/systemd/system/wgspread-nft.service
        content: "{{ lookup('ansible.builtin.template', 'wgspread-nft.service.j2') }}"
    units:
      - name: wgspread-nft.service
        started: true
"""

RETURN = r"""
changed_files:
  description: The files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
skipped_files:
  description: The files left out because their directory does not exist (O(files[].skip_without_directory)).
  returned: always
  type: list
  elements: str
units:
  description: What was done (or would be) to each unit, C(enabled), C(started), both or nothing.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The unit.
      type: str
    actions:
      description: C(enable) and/or C(start).
      type: list
      elements: str
daemon_reloaded:
  description: Whether systemd was reloaded (a unit file changed).
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError, Host

UNIT_DIR = "/etc/systemd/system/"


def file_plan(host, spec):
    """(what to do, the file's content now): None when the file is as wanted, else "skip", "write"
    or "chmod"; the content is None when the file does not exist (or is skipped)."""
    directory = os.path.dirname(spec["path"])
    if spec["skip_without_directory"] and not os.path.isdir(host.at(directory)):
        return "skip", None
    current = host.sysread(spec["path"])
    if current != spec["content"]:
        return "write", current
    if host.mode(host.at(spec["path"]))[0] != int(spec["mode"], 8):
        return "chmod", current
    return None, current


def unit_actions(host, unit, started, unit_file_changed, check_mode):
    """What a unit needs: enable and/or start (asked of systemctl, which answers without changing)."""
    if check_mode and unit_file_changed:
        return ["enable"] + (["start"] if started else [])
    actions = []
    # A rewritten unit file may name new [Install] targets (WantedBy=): only enabling it again
    # links it into them; is-enabled says "enabled" as soon as any one link exists.
    if unit_file_changed or host.run(["systemctl", "is-enabled", unit], check=False)[1].strip() != "enabled":
        actions.append("enable")
    if started and host.run(["systemctl", "is-active", unit], check=False)[1].strip() != "active":
        actions.append("start")
    return actions


def converge(module, host):
    p, check_mode = module.params, module.check_mode
    result = dict(changed=False, changed_files=[], skipped_files=[], units=[], daemon_reloaded=False)
    diffs = []
    for spec in p["files"]:
        try:
            mode = int(spec["mode"], 8)
        except ValueError:
            module.fail_json(msg="files: %s: mode %r is not an octal number" % (spec["path"], spec["mode"]))
        action, current = file_plan(host, spec)
        if action == "skip":
            result["skipped_files"].append(spec["path"])
            continue
        if action is None:
            continue
        argv = [word for word in (spec.get("validate") or "").split(" ") if word]
        if argv and "%s" not in argv:
            module.fail_json(msg="files: %s: validate must contain %%s" % spec["path"])
        if action == "write" and argv and not (check_mode and not host.which(argv[0])):
            rc, out, err = host.validate(spec["content"], argv)
            if rc != 0:
                module.fail_json(msg="files: %s: the new content fails %s: %s"
                                     % (spec["path"], spec["validate"], (err or out).strip()), **result)
        result["changed_files"].append(spec["path"])
        if module._diff:
            diffs.append(dict(before_header=spec["path"], after_header=spec["path"],
                              before=current or "", after=spec["content"]))
        if not check_mode:
            if action == "write":
                host.install_file(spec["path"], spec["content"], mode)
            else:
                os.chmod(host.at(spec["path"]), mode)
    units_changed = [path for path in result["changed_files"] if path.startswith(UNIT_DIR)]
    if host.which("systemctl"):
        if units_changed and not check_mode:
            host.run(["systemctl", "daemon-reload"])
            result["daemon_reloaded"] = True
        for unit in p["units"]:
            actions = unit_actions(host, unit["name"], unit["started"],
                                   any(os.path.basename(path) == unit["name"] for path in units_changed), check_mode)
            result["units"].append(dict(name=unit["name"], actions=actions))
            if actions and not check_mode:
                verb = ["enable", "--now"] if actions == ["enable", "start"] else actions
                host.run(["systemctl"] + verb + [unit["name"]])
    result["changed"] = bool(result["changed_files"]) or any(u["actions"] for u in result["units"])
    if diffs:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str", required=True),
                mode=dict(type="str", default="0644"),
                validate=dict(type="str"),
                skip_without_directory=dict(type="bool", default=False),
            )),
            units=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                started=dict(type="bool", default=False),
            )),
        ),
        supports_check_mode=True,
    )
    try:
        result = converge(module, Host(module))
    except (CommandError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
