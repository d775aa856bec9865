# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which gateway releases the collection supports, read from the host's /etc/os-release.

Supported are the Debian releases the project tests (docs/lab.md): 12 (bookworm, oldstable)
and 13 (trixie, stable). Anything else, Debian derivatives and Debian testing included, is
refused before any change, with a message that names the release it found.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shlex

# VERSION_ID -> codename of each supported Debian release.
SUPPORTED_DEBIAN = {"12": "bookworm", "13": "trixie"}


def supported_releases_text():
    """'Debian 12 (bookworm) and Debian 13 (trixie)', for messages and docs."""
    names = ["Debian %s (%s)" % (version, SUPPORTED_DEBIAN[version]) for version in sorted(SUPPORTED_DEBIAN, key=int)]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def parse_os_release(text):
    """The KEY=value lines of an os-release file (os-release(5)) as a dict; quotes are removed.

    Comments, blank lines and lines without '=' are skipped; a value that does not parse as
    shell quoting is taken as written.
    """
    fields = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value]
        fields[key.strip()] = " ".join(words)
    return fields


def fields_from_facts(facts):
    """The os-release fields that Ansible's gathered facts carry (the setup module reads them
    from /etc/os-release): ID, VERSION_ID and PRETTY_NAME, where known."""
    distribution = str(facts.get("distribution") or "")
    version = str(facts.get("distribution_major_version") or "")
    fields = {}
    if distribution:
        fields["ID"] = distribution.lower()
        fields["NAME"] = distribution
        fields["PRETTY_NAME"] = " ".join(
            part for part in (distribution, str(facts.get("distribution_version") or ""),
                              "(%s)" % facts["distribution_release"] if facts.get("distribution_release") else "") if part)
    if version.isdigit():
        fields["VERSION_ID"] = version
    return fields


def release_refusal(os_release, host="this host"):
    """'' when ``os_release`` is a supported release, else the message that refuses ``host``:
    what it runs and what is supported. ``os_release``: the content of /etc/os-release, or the
    host's gathered facts (ansible_facts: no extra round trip). (A string either way: the
    fail_msg of an assert task is templated even when it passes.)"""
    from_facts = hasattr(os_release, "get")
    fields = fields_from_facts(os_release) if from_facts else parse_os_release(os_release)
    if fields.get("ID") == "debian" and fields.get("VERSION_ID") in SUPPORTED_DEBIAN:
        return ""
    if not fields and from_facts:
        found = "an unknown release (no distribution facts: gather facts before this role)"
    elif not fields:
        found = "a system without /etc/os-release"
    else:
        found = fields.get("PRETTY_NAME") or " ".join(
            part for part in (fields.get("NAME") or fields.get("ID"), fields.get("VERSION_ID")) if part) or "an unknown release"
        if fields.get("ID") == "debian" and not fields.get("VERSION_ID"):
            found += " (no VERSION_ID: Debian testing or unstable)"
    return "%s runs %s; sitelink.wgspread supports %s gateways only." % (host, found, supported_releases_text())
