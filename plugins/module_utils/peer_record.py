# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peer records: what a gateway's peers need from it when they are not in the same run.

With ``wgspread_exchange: fact_cache`` (docs/architecture.md, "Sliced runs"), every gateway
publishes at the end of site.yml one cacheable fact, ``wgspread_peer_record``, and a run
that does not have the other end of a link in its inventory (an AWX job slice) reads that
end's record from Ansible's fact cache instead of its host variables. This file owns the
format: it writes records (make_record) and reads them (check_record, record_hostvars).

A record holds only what the fleet plan reads about a peer, plus its public keys:

- ``vars``: the host variables links.py reads (wgspread_underlay_address, ansible_host,
  wgspread_site_networks, wgspread_receive_cpus);
- ``facts``: the few facts it reads (default_ipv4/6 address, processor counts, interface
  names and types, the calibration record of ansible_local.wgspread);
- ``public_keys``: {link: public key} of this gateway's ends (private keys never leave it);
- ``group``: the gateway group it was configured in, so a slice can check a peer it cannot
  see in its inventory.

No private or preshared key is ever part of a record (check_record refuses one that looks
like it carries more than the fields above). The preshared key of a link is derived by both
ends' runs from a vaulted secret instead (derive_psk), so nothing secret needs to travel.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac

RECORD_VERSION = 1
FACT_NAME = "wgspread_peer_record"
EXCHANGES = ("run", "fact_cache")
# A secret shorter than a WireGuard key's 32 bytes would make the derived keys weaker than
# the generated ones they replace.
MIN_PSK_SECRET_LENGTH = 32

RECORD_VARS = ("wgspread_underlay_address", "ansible_host", "wgspread_site_networks", "wgspread_receive_cpus")
RECORD_FACTS = ("processor_nproc", "processor_vcpus")
RECORD_KEYS = frozenset(("version", "gateway", "group", "vars", "facts", "public_keys"))
# The derivation's label: a new version of the scheme changes it, so keys of two schemes never collide.
PSK_LABEL = b"sitelink.wgspread preshared key v1\x00"


def _get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


def _plain(value):
    """Strings, numbers, booleans, lists and mappings only (host variables may be lazy objects)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def make_record(gateway, variables, facts, public_keys, group):
    """The record ``gateway`` publishes: ``variables`` its host variables (hostvars[gateway]),
    ``facts`` its ansible_facts, ``public_keys`` {link: key} (wg_key's public_keys)."""
    facts = facts if hasattr(facts, "get") else {}
    record_vars = {}
    for name in RECORD_VARS:
        value = _get(variables, name)
        if value is not None and value != "":
            record_vars[name] = _plain(value)
    record_facts = {}
    for key in ("default_ipv4", "default_ipv6"):
        address = _get(_get(facts, key) or {}, "address")
        if address:
            record_facts[key] = {"address": str(address)}
    for key in RECORD_FACTS:
        value = _get(facts, key)
        if isinstance(value, int) and not isinstance(value, bool):
            record_facts[key] = value
    interfaces = _get(facts, "interfaces")
    if isinstance(interfaces, list):
        record_facts["interfaces"] = [str(name) for name in interfaces]
        for name in interfaces:
            detail = _get(facts, str(name).replace("-", "_")) or _get(facts, str(name))
            kind = _get(detail, "type") if detail is not None else None
            if kind:
                record_facts[str(name).replace("-", "_")] = {"type": str(kind)}
    local = _get(facts, "ansible_local") or {}
    calibrated = _get(_get(local, "wgspread") or {}, "calibrated")
    if calibrated:
        record_facts["ansible_local"] = {"wgspread": {"calibrated": _plain(calibrated)}}
    return {
        "version": RECORD_VERSION,
        "gateway": gateway,
        "group": group,
        "vars": record_vars,
        "facts": record_facts,
        "public_keys": dict((str(link), str(key)) for link, key in sorted((public_keys or {}).items())),
    }


def check_record(host, record, is_public_key):
    """Why ``record`` (read from the fact cache for ``host``) cannot be used, or None.
    ``is_public_key(text)``: whether text is a WireGuard key (module_utils/wireguard.py)."""
    if not isinstance(record, dict):
        return "its record is not a mapping (%s)" % type(record).__name__
    if record.get("version") != RECORD_VERSION:
        return "its record has version %r, this collection reads version %d (run site.yml on it again)" % (
            record.get("version"), RECORD_VERSION)
    if record.get("gateway") != host:
        return "its record names another gateway, %r" % (record.get("gateway"),)
    unknown = set(record) - RECORD_KEYS
    if unknown:
        return "its record has unknown fields %s" % ", ".join(sorted(map(str, unknown)))
    for field in ("vars", "facts", "public_keys"):
        if not isinstance(record.get(field), dict):
            return "its record's %s is not a mapping" % field
    for link, key in sorted(record["public_keys"].items()):
        if not (isinstance(key, str) and is_public_key(key)):
            return "its record's public key for link %s is no WireGuard key" % link
    return None


def record_hostvars(record):
    """The record as the host variables the fleet plan reads (Ansible's hostvars shape)."""
    variables = dict(record["vars"])
    variables["ansible_facts"] = dict(record["facts"])
    return variables


def derive_psk(secret, link):
    """The preshared key of ``link``, derived from the fleet's ``secret`` (HMAC-SHA256 of the
    link's name): both ends' runs get the same key without it travelling anywhere."""
    if not isinstance(secret, str) or len(secret) < MIN_PSK_SECRET_LENGTH:
        raise ValueError("wgspread_psk_secret must be a string of at least %d characters" % MIN_PSK_SECRET_LENGTH)
    digest = hmac.new(secret.encode("utf-8"), PSK_LABEL + link.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
