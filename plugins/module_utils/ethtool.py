# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure ethtool logic: parsers for ``ethtool -l/-x/-n rx-flow-hash/-k`` and the decisions
"what has to change".

Nothing here runs a command. The NIC modules feed it what ethtool printed and act on what it
decides, so tests can feed outputs recorded on real drivers.

What the NIC modules do with Unsupported (on_unsupported) is in nic_module.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

UNSUPPORTED_RE = re.compile(r"Operation not supported|not supported", re.IGNORECASE)

# ethtool's rx-flow-hash field letters, in the order ethtool documents them, and the line
# ``ethtool -n DEV rx-flow-hash TYPE`` prints for each.
FLOW_FIELDS = "mvtsdfn"
FLOW_LABELS = {
    "L2DA": "m",
    "VLAN tag": "v",
    "L3 proto": "t",
    "IP SA": "s",
    "IP DA": "d",
    "L4 bytes 0 & 1 [TCP/UDP src port]": "f",
    "L4 bytes 2 & 3 [TCP/UDP dst port]": "n",
}
CHANNEL_KINDS = ("rx", "tx", "other", "combined")


class Unsupported(Exception):
    """The driver does not support the operation (ethtool said so, or exposes nothing to set)."""


def run_ethtool(host, argv):
    """Run ethtool through the host seam and classify the result (see check_result)."""
    rc, out, err = host.run(argv, check=False)
    return check_result(argv, rc, out, err)


def is_unsupported(text):
    return bool(text) and bool(UNSUPPORTED_RE.search(text))


def check_result(argv, rc, out, err):
    """Classify an ethtool result: raise Unsupported or ValueError, or return stdout.

    ``ethtool -N`` exits 0 even when the kernel refused the change (recorded on veth with
    ethtool 6.1: "Cannot change RX network flow hashing options: Operation not supported",
    rc 0), so stderr lines starting with "Cannot" count as failure whatever the exit code.
    """
    failed = rc != 0 or any(line.startswith(("Cannot ", "netlink error")) for line in (err or "").splitlines())
    if not failed:
        return out
    message = ((err or "") + (out or "")).strip().replace("\n", " ") or "exit code %d" % rc
    if is_unsupported(err) or is_unsupported(out):
        raise Unsupported("%s: %s" % (" ".join(argv), message))
    raise ValueError("%s failed (rc=%d): %s" % (" ".join(argv), rc, message))


# ---------------------------------------------------------------- channels (ethtool -l / -L)

def _channel_value(text):
    text = text.strip()
    return None if text == "n/a" else int(text)


def parse_channels(text):
    """``ethtool -l DEV`` -> {"max": {rx, tx, other, combined}, "current": {...}}.

    "n/a" (netlink ethtool) becomes None; old ioctl ethtool prints 0 for the same thing.
    """
    result = {"max": {}, "current": {}}
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Pre-set maximums"):
            section = "max"
        elif stripped.startswith("Current hardware settings"):
            section = "current"
        elif section and ":" in stripped:
            name, value = stripped.split(":", 1)
            if name.lower() in CHANNEL_KINDS:
                result[section][name.lower()] = _channel_value(value)
    if not result["max"] or not result["current"]:
        raise ValueError("unexpected ethtool -l output: %r" % text[:200])
    for section in result.values():
        for kind in CHANNEL_KINDS:
            section.setdefault(kind, None)
    return result


def decide_channels(channels, cpu_count, combined=None, rx=None, tx=None):
    """What ``ethtool -L`` must set: an ordered dict-like list of (kind, current, wanted).

    Without explicit counts: "as many as the NIC allows, up to the CPU count", in combined
    channels when the driver has them, else separate rx and tx channels.
    Raises Unsupported when the driver exposes no settable channel, ValueError when an explicit
    count is above the driver's maximum.
    """
    maximum, current = channels["max"], channels["current"]
    usable = dict((kind, maximum[kind] or 0) for kind in CHANNEL_KINDS)
    wanted = {}
    if combined is None and rx is None and tx is None:
        if usable["combined"] > 0:
            wanted["combined"] = min(usable["combined"], cpu_count)
        elif usable["rx"] > 0 or usable["tx"] > 0:
            for kind in ("rx", "tx"):
                if usable[kind] > 0:
                    wanted[kind] = min(usable[kind], cpu_count)
        else:
            raise Unsupported("the driver exposes no settable rx, tx or combined channels")
    else:
        for kind, value in (("combined", combined), ("rx", rx), ("tx", tx)):
            if value is None:
                continue
            if usable[kind] == 0 and value > 0:
                raise Unsupported("the driver has no %s channels (maximum %s)" % (kind, maximum[kind] or "n/a"))
            if value > usable[kind]:
                raise ValueError("%s %d is above the driver's maximum %d" % (kind, value, usable[kind]))
            wanted[kind] = value
    return [(kind, current[kind], wanted[kind]) for kind in ("combined", "rx", "tx")
            if kind in wanted and (current[kind] or 0) != wanted[kind]]


def channels_text(channels):
    """A short, stable text of the current channels (for diffs)."""
    return "".join("%s: %s\n" % (kind, "n/a" if channels["current"][kind] is None else channels["current"][kind])
                   for kind in CHANNEL_KINDS)


# ---------------------------------------------------------------- RSS (ethtool -x / -X)

def normalize_key(key):
    """Hex key, with or without colons, -> lowercase colon-separated bytes (ethtool's form)."""
    compact = re.sub(r"[\s:]", "", key or "").lower()
    if not compact or len(compact) % 2 or not re.match(r"^[0-9a-f]+$", compact):
        raise ValueError("hash_key must be hex bytes (for example 6d:5a:56:da... or 6d5a56da...), got %r" % key)
    return ":".join(compact[i:i + 2] for i in range(0, len(compact), 2))


def parse_rxfh(text):
    """``ethtool -x DEV`` -> {rings, table (list or None), key (str or None), hfuncs {name: bool}}.

    Sections the driver cannot report print "Operation not supported" (netlink ethtool) and
    come back as None.
    """
    result = {"rings": None, "table": None, "key": None, "hfuncs": {}}
    section = None
    table = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        head = re.match(r"^RX flow hash indirection table for \S+ with (\d+) RX ring\(s\)", stripped)
        if head:
            result["rings"] = int(head.group(1))
            section = "table"
            continue
        if stripped.startswith("RSS hash key:"):
            section = "key"
            continue
        if stripped.startswith("RSS hash function:"):
            section = "hfunc"
            continue
        if stripped.startswith("RSS input transformation:"):
            section = None
            continue
        if is_unsupported(stripped):
            continue
        if section == "table":
            row = re.match(r"^(\d+):\s*(.*)$", stripped)
            if not row:
                raise ValueError("unexpected indirection table line: %r" % stripped)
            if int(row.group(1)) != len(table):
                raise ValueError("indirection table row %s out of order" % row.group(1))
            table += [int(v) for v in row.group(2).split()]
        elif section == "key":
            result["key"] = normalize_key(stripped)
        elif section == "hfunc":
            name, _sep, state = stripped.partition(":")
            result["hfuncs"][name.strip()] = state.strip() == "on"
    if result["rings"] is None:
        raise ValueError("unexpected ethtool -x output: %r" % text[:200])
    result["table"] = table or None
    return result


def equal_table(size, queues):
    """The table ``ethtool -X DEV equal N`` writes."""
    return [i % queues for i in range(size)]


def weight_table(size, weights):
    """The table ``ethtool -X DEV weight W0 W1 ...`` writes (ethtool's own fill algorithm)."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("weights must not all be 0")
    table, partial, queue = [], 0, -1
    for i in range(size):
        while i >= size * partial // total:
            queue += 1
            partial += weights[queue]
        table.append(queue)
    return table


def active_hfunc(rxfh):
    on = [name for name, state in rxfh["hfuncs"].items() if state]
    return on[0] if on else None


def decide_rss(rxfh, equal=None, weights=None, hfunc=None, key=None):
    """(ethtool -X arguments after the device, list of change lines). Empty when in sync."""
    args, changes = [], []
    if weights is not None or equal is not None:
        if rxfh["table"] is None:
            raise Unsupported("the driver does not report or set an RSS indirection table")
        size = len(rxfh["table"])
        if weights is not None:
            if len(weights) > rxfh["rings"]:
                raise ValueError("%d weights for %d RX rings" % (len(weights), rxfh["rings"]))
            wanted, spec = weight_table(size, weights), ["weight"] + [str(w) for w in weights]
        else:
            if equal < 1 or equal > rxfh["rings"]:
                raise ValueError("equal %d is outside 1..%d (the RX rings)" % (equal, rxfh["rings"]))
            wanted, spec = equal_table(size, equal), ["equal", str(equal)]
        if wanted != rxfh["table"]:
            args += spec
            changes.append("indirection table: %s" % " ".join(spec))
    if hfunc is not None:
        if hfunc not in rxfh["hfuncs"]:
            raise Unsupported("hash function %s is not offered (driver offers: %s)"
                              % (hfunc, ", ".join(sorted(rxfh["hfuncs"])) or "none"))
        current = active_hfunc(rxfh)
        if current != hfunc:
            args += ["hfunc", hfunc]
            changes.append("hash function %s -> %s" % (current, hfunc))
    if key is not None:
        key = normalize_key(key)
        if rxfh["key"] is None:
            raise Unsupported("the driver does not report or set an RSS hash key")
        if len(key) != len(rxfh["key"]):
            raise ValueError("hash_key has %d bytes, the driver's key has %d"
                             % ((len(key) + 1) // 3, (len(rxfh["key"]) + 1) // 3))
        if key != rxfh["key"]:
            args += ["hkey", key]
            changes.append("hash key changed")
    return args, changes


def rxfh_text(rxfh):
    lines = ["rings: %s" % rxfh["rings"], "hash function: %s" % active_hfunc(rxfh), "hash key: %s" % rxfh["key"]]
    table = rxfh["table"] or []
    for start in range(0, len(table), 8):
        lines.append("%5d: %s" % (start, " ".join("%5d" % v for v in table[start:start + 8])))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- flow hash (ethtool -n/-N rx-flow-hash)

def normalize_fields(fields):
    """'nfsd' -> 'sdfn' (ethtool's order); rejects letters ethtool does not know."""
    fields = fields or ""
    unknown = sorted(set(fields) - set(FLOW_FIELDS))
    if unknown:
        raise ValueError("unknown rx-flow-hash field letter(s) %s (known: %s)" % (", ".join(unknown), FLOW_FIELDS))
    return "".join(letter for letter in FLOW_FIELDS if letter in fields)


def parse_flow_hash(text):
    """``ethtool -n DEV rx-flow-hash TYPE`` -> the field letters in ethtool's order ('' for None)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or "use these fields for computing Hash flow key" not in lines[0]:
        raise ValueError("unexpected rx-flow-hash output: %r" % text[:200])
    letters = ""
    for line in lines[1:]:
        if line == "None":
            continue
        if line not in FLOW_LABELS:
            raise ValueError("unknown rx-flow-hash field %r" % line)
        letters += FLOW_LABELS[line]
    return normalize_fields(letters)


# ---------------------------------------------------------------- features (ethtool -k)

def parse_features(text):
    """``ethtool -k DEV`` -> {feature: {"on": bool, "fixed": bool}}."""
    features = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([\w-]+):\s+(on|off)(\s+\[fixed\])?\s*$", line)
        if match:
            features[match.group(1)] = {"on": match.group(2) == "on", "fixed": bool(match.group(3))}
    return features
