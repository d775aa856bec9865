# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics of a gateway's tunnels, for node_exporter's textfile collector.

This file is also the collector program on each gateway: the metrics role copies it (with
nft.py, which it imports) below /usr/local/lib/wgspread-metrics/ and a systemd timer runs
``python3 -m ansible_collections.sitelink.wgspread.plugins.module_utils.metrics CONFIG``.
So the unit tests and the gateways run the same parsing and formatting code, and the
names and labels of the metrics (docs/monitoring.md) have one owner: METRICS below.

Only the standard library and nft.py may be imported here (the gateway has no Ansible).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import os
import subprocess
import sys
import tempfile
import time

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import (
    TABLE_FAMILY, TABLE_NAME, meter_counts, normalize, table_digest,
)

# name -> (type, help). The order is the order in the file.
METRICS = (
    ("wgspread_handshake_age_seconds", "gauge",
     "Seconds since the latest WireGuard handshake of the link's peer (+Inf: no handshake yet)."),
    ("wgspread_receive_bytes_total", "counter", "Bytes received from the link's peer (wg transfer-rx)."),
    ("wgspread_transmit_bytes_total", "counter", "Bytes sent to the link's peer (wg transfer-tx)."),
    ("wgspread_peer_endpoint_info", "gauge",
     "The peer's current endpoint (address:port) as WireGuard last saw it; always 1."),
    ("wgspread_port_receive_packets_total", "counter",
     "Tunnel packets received per receive port (port_spread meter; absent when the meter is off)."),
    ("wgspread_cpu_receive_packets_total", "counter",
     "Tunnel packets received per CPU (port_spread meter; absent when the meter is off)."),
    ("wgspread_meter_cpus", "gauge", "CPUs the meter counts for the link (the fair share is 1 / this)."),
    ("wgspread_busiest_cpu_share", "gauge",
     "Share of the link's packets received on its busiest CPU since the previous run (absent without "
     "the meter, a previous run or packets in between)."),
    ("wgspread_meter_enabled", "gauge", "1 when the spreading table has the per (port, CPU) meter."),
    ("wgspread_table_present", "gauge", "1 when the spreading table (nft inet wgspread) exists."),
    ("wgspread_table_in_sync", "gauge",
     "1 when the live spreading table equals the one port_spread last loaded (digest recorded at rollout)."),
    ("wgspread_source_ok", "gauge", "1 when the collector could read the source (wg, nft, the digest port_spread recorded)."),
    ("wgspread_collector_timestamp_seconds", "gauge", "When the collector wrote this file (Unix time)."),
)
_TYPES = dict((name, kind) for name, kind, _help in METRICS)


# ------------------------------------------------------------------ parsing
def parse_wg_dump(text):
    """``wg show all dump`` -> {interface: {"listen_port", "peers": [peer, ...]}}.

    Format (man wg): an interface line has 5 tab-separated fields (interface, private key,
    public key, listen port, fwmark), a peer line 9 (interface, public key, preshared key,
    endpoint, allowed ips, latest handshake, rx bytes, tx bytes, keepalive). The private and
    preshared keys are never kept: nothing of them leaves this function.
    """
    interfaces = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) == 5:
            interfaces.setdefault(fields[0], {"peers": []})["listen_port"] = _int(fields[3])
        elif len(fields) == 9:
            endpoint = fields[3] if fields[3] != "(none)" else None
            interfaces.setdefault(fields[0], {"listen_port": None, "peers": []})["peers"].append({
                "public_key": fields[1], "endpoint": endpoint, "latest_handshake": int(fields[5]),
                "rx_bytes": int(fields[6]), "tx_bytes": int(fields[7])})
        else:
            raise ValueError("wg show all dump, line %d: %d fields, expected 5 or 9" % (number, len(fields)))
    return interfaces


def _int(text):
    return int(text) if text.isdigit() else None


def collector_config(tunnels, output, digest_file, state_file):
    """The collector's config (JSON on the gateway) from the gateway's tunnels in the fleet plan.

    Only names, never keys: the plan's tunnels carry the preshared key, the config must not.
    """
    return {
        "links": [{"link": t["link"], "interface": t["interface"], "peer": t["peer"]} for t in tunnels],
        "output": output, "digest_file": digest_file, "state_file": state_file,
        "table": {"family": TABLE_FAMILY, "name": TABLE_NAME},
    }


_INTERVAL_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def interval_seconds(interval):
    """``metrics_interval`` ("15s", "1min", "2m", "30", or a number) -> whole seconds, 1-3600.

    The timer takes it in seconds, so that a typo is refused here, naming the input, instead of
    systemd ignoring the line and never running the collector.
    """
    text = str(interval).strip()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):]
    if not number.isdigit() or unit not in _INTERVAL_UNITS or isinstance(interval, bool):
        raise ValueError("metrics_interval: %r is not a time span such as 15s, 30, 1min or 2m" % (interval,))
    seconds = int(number) * _INTERVAL_UNITS[unit]
    if not 1 <= seconds <= 3600:
        raise ValueError("metrics_interval: %r is %d s, want 1 s to 1 h" % (interval, seconds))
    return seconds


# ------------------------------------------------------------------ computing
def busiest_shares(cpu_counts, previous):
    """{link: share of the busiest CPU} over the packets counted since ``previous``.

    ``cpu_counts`` and ``previous``: {link: {cpu: packets}} (now, and at the previous run).
    A link is left out without a previous count, without packets in between, or when a
    counter went down (the table was reloaded, so the interval has no meaning).
    """
    shares = {}
    for link, cpus in cpu_counts.items():
        before = previous.get(link)
        if not before:
            continue
        deltas = [packets - before.get(cpu, 0) for cpu, packets in cpus.items()]
        if any(delta < 0 for delta in deltas) or set(before) - set(cpus) or sum(deltas) <= 0:
            continue
        shares[link] = max(deltas) / float(sum(deltas))
    return shares


def samples(config, wg_dump, nft_json, recorded_digest, previous_cpus, now):
    """-> (samples, cpu counts to keep for the next run).

    ``wg_dump``: the text of ``wg show all dump`` or None (wg failed); ``nft_json``: the
    decoded ``nft -j list table inet wgspread``, {} when the table does not exist, None when
    nft failed; ``recorded_digest``: what port_spread recorded, or None; ``previous_cpus``:
    what the previous run returned; ``now``: Unix time. Samples are (name, labels, value).
    """
    out = []
    interfaces = parse_wg_dump(wg_dump) if wg_dump is not None else {}
    for entry in config["links"]:
        labels = {"link": entry["link"], "interface": entry["interface"], "peer": entry["peer"]}
        # One peer per interface (the wireguard role's tunnels); the first stands for the link.
        peers = (interfaces.get(entry["interface"]) or {}).get("peers") or []
        if not peers:
            continue
        peer = peers[0]
        age = now - peer["latest_handshake"] if peer["latest_handshake"] else math.inf
        out.append(("wgspread_handshake_age_seconds", labels, max(age, 0)))
        out.append(("wgspread_receive_bytes_total", labels, peer["rx_bytes"]))
        out.append(("wgspread_transmit_bytes_total", labels, peer["tx_bytes"]))
        if peer["endpoint"]:
            out.append(("wgspread_peer_endpoint_info", dict(labels, endpoint=peer["endpoint"]), 1))

    counts = meter_counts(nft_json) if nft_json else {}
    our_links = set(entry["link"] for entry in config["links"])
    cpu_counts = {}
    for link in sorted(counts):
        if link not in our_links:
            continue
        for port in sorted(counts[link]["ports"]):
            out.append(("wgspread_port_receive_packets_total", {"link": link, "port": str(port)},
                        counts[link]["ports"][port]))
        for cpu in sorted(counts[link]["cpus"]):
            out.append(("wgspread_cpu_receive_packets_total", {"link": link, "cpu": str(cpu)},
                        counts[link]["cpus"][cpu]))
        out.append(("wgspread_meter_cpus", {"link": link}, len(counts[link]["cpus"])))
        cpu_counts[link] = dict((str(cpu), packets) for cpu, packets in counts[link]["cpus"].items())
    for link, share in sorted(busiest_shares(cpu_counts, previous_cpus).items()):
        out.append(("wgspread_busiest_cpu_share", {"link": link}, share))

    if nft_json is not None:
        present = bool(nft_json.get("nftables"))
        out.append(("wgspread_meter_enabled", {}, 1 if counts else 0))
        out.append(("wgspread_table_present", {}, 1 if present else 0))
        live = table_digest(normalize(nft_json)) if present else None
        out.append(("wgspread_table_in_sync", {}, 1 if live is not None and live == recorded_digest else 0))
    out.append(("wgspread_source_ok", {"source": "wg"}, 1 if wg_dump is not None else 0))
    out.append(("wgspread_source_ok", {"source": "nft"}, 1 if nft_json is not None else 0))
    out.append(("wgspread_source_ok", {"source": "digest"}, 1 if recorded_digest is not None else 0))
    out.append(("wgspread_collector_timestamp_seconds", {}, now))
    return out, cpu_counts


# ------------------------------------------------------------------ formatting
def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isnan(value):
            return "NaN"
        return repr(round(value, 6))
    return str(value)


def exposition(sample_list):
    """Samples -> the Prometheus text format (0.0.4), HELP and TYPE once per metric, in METRICS order.

    A metric without samples is left out entirely (no HELP/TYPE without a sample).
    """
    by_name = {}
    for name, labels, value in sample_list:
        if name not in _TYPES:
            raise ValueError("metric %s is not in METRICS" % name)
        by_name.setdefault(name, []).append((labels, value))
    lines = []
    for name, kind, help_text in METRICS:
        if name not in by_name:
            continue
        lines.append("# HELP %s %s" % (name, help_text.replace("\\", "\\\\").replace("\n", "\\n")))
        lines.append("# TYPE %s %s" % (name, kind))
        for labels, value in by_name[name]:
            label_text = ",".join('%s="%s"' % (key, _escape(labels[key])) for key in sorted(labels))
            lines.append("%s%s %s" % (name, "{%s}" % label_text if label_text else "", _number(value)))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the collector (on the gateway)
def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename,
    so that node_exporter never reads half a file. The temporary name does not end in .prom
    (node_exporter reads *.prom only)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".wgspread-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _run(argv):
    """stdout of a command, or None when it fails or is missing."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def collect(config, run=_run, read=_read, now=None):
    """One run: read the sources, return (the .prom text, state to keep)."""
    table = config["table"]
    wg_dump = run(["wg", "show", "all", "dump"])
    listing = run(["nft", "-j", "list", "table", table["family"], table["name"]])
    if listing is not None:
        nft_json = json.loads(listing)
    elif run(["nft", "-j", "list", "tables"]) is not None:
        nft_json = {}  # nft works, the table does not exist
    else:
        nft_json = None
    digest_text = read(config["digest_file"])
    recorded = digest_text.strip() if digest_text else None
    state_text = read(config["state_file"])
    previous = (json.loads(state_text).get("cpus") or {}) if state_text else {}
    sample_list, cpus = samples(config, wg_dump, nft_json, recorded, previous, time.time() if now is None else now)
    return exposition(sample_list), {"cpus": cpus}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m ansible_collections.sitelink.wgspread.plugins.module_utils.metrics CONFIG.json\n")
        return 2
    with open(argv[0]) as handle:
        config = json.load(handle)
    text, state = collect(config)
    write_atomically(config["state_file"], json.dumps(state, sort_keys=True) + "\n")
    write_atomically(config["output"], text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())  # a program here, not a module: no exit_json
