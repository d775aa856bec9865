# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tunnel report of playbooks/status.yml: what ping, wg and the meter said, in words.

Pure: the tunnel_status module runs the commands (all pings of a batch at once, one ``wg
show all latest-handshakes``, one listing of the meter chain) and hands their output here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import meter_counts

SPLIT = "----8<----"
_SENT_RE = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT_RE = re.compile(r"= [0-9.]+/([0-9.]+)/")


def ping_script(count, interval):
    """``sh -c SCRIPT sh ADDRESS...``: one quiet ping per address, all at once; their
    summaries in the order given, separated by SPLIT lines."""
    ping = 'ping -q -n -c %d -i %s -W 1 "$a" >"$d/$i" 2>&1 &' % (count, interval)
    return ('d=$(mktemp -d) || exit 1; trap \'rm -rf "$d"\' EXIT; '
            'i=0; for a in "$@"; do %s i=$((i+1)); done; wait; '
            'i=0; for a in "$@"; do [ "$i" -gt 0 ] && echo "%s"; cat "$d/$i"; i=$((i+1)); done' % (ping, SPLIT))


def split_pings(out, count):
    """The ``count`` ping summaries of one ping_script run."""
    pieces = out.split(SPLIT + "\n") if count else []
    if len(pieces) != count:
        raise ValueError("expected %d ping summaries, got %d" % (count, len(pieces)))
    return pieces


def parse_ping(text):
    """{"sent", "received", "rtt_avg_ms"} from ping's summary; zeros and None where it has none."""
    sent = _SENT_RE.search(text or "")
    rtt = _RTT_RE.search(text or "")
    return {"sent": int(sent.group(1)) if sent else 0, "received": int(sent.group(2)) if sent else 0,
            "rtt_avg_ms": float(rtt.group(1)) if rtt else None}


def parse_handshakes(text):
    """{interface: latest handshake (epoch seconds, 0 = never)} from ``wg show all
    latest-handshakes`` (one peer per interface here; the latest one counts)."""
    out = {}
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit():
            out[fields[0]] = max(out.get(fields[0], 0), int(fields[2]))
    return out


def _spread_words(tunnel, counts):
    spread = tunnel.get("spread") or {}
    if not spread.get("enabled"):
        return "spreading off"
    if tunnel["link"] in counts:
        c = counts[tunnel["link"]]
        return "received per port %s, per cpu %s" % (
            " ".join("%d:%d" % item for item in sorted(c["ports"].items())),
            " ".join("%d:%d" % item for item in sorted(c["cpus"].items())))
    return "receives on ports %s (no meter)" % ",".join(str(p) for p in spread.get("receive_ports") or [])


def report(tunnels, pings, handshakes, now, meter_json=None, count=None):
    """Per tunnel: what was measured, and the report line.

    ``pings``: {link: ping summary text}; ``count``: pings asked per tunnel (the line's
    denominator, also when ping said nothing); ``handshakes``: parse_handshakes(); ``now``: epoch
    seconds on the gateway; ``meter_json``: ``nft -j list chain inet wgspread rx_per_cpu``
    decoded, or None without the meter.
    """
    counts = meter_counts(meter_json) if meter_json else {}
    out = []
    for tunnel in tunnels:
        ping = parse_ping(pings.get(tunnel["link"]))
        last = handshakes.get(tunnel["interface"], 0)
        age = int(now) - last if last > 0 else None
        line = "%s: %s -> %s (%s): handshake %s, ping %d/%d replies, %s ms; %s" % (
            tunnel["link"], tunnel["interface"], tunnel["peer"], tunnel["peer_tunnel_ip"],
            "%d s ago" % age if age is not None else "never",
            ping["received"], count if count is not None else ping["sent"], "%.3f" % ping["rtt_avg_ms"] if ping["rtt_avg_ms"] is not None else "-",
            _spread_words(tunnel, counts))
        out.append({"link": tunnel["link"], "interface": tunnel["interface"], "peer": tunnel["peer"],
                    "handshake_age": age, "ping": ping, "meter": counts.get(tunnel["link"]), "line": line})
    return out
