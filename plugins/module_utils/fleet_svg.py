# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's picture: how each link direction's received packets split over CPUs and ports.

One row per link and direction that the meter (port_spread_meter) counted on its receiver: a
bar of the CPUs' shares, busiest first, so the first segment's right edge is the busiest core's
share and reads against the tick of an even share (1/CPUs) and the dashed limit (1/CPUs +
fleet.SHARE_SLACK) the report judges by (fleet.spread_verdict); under it a thin bar of the ports,
each split by the CPUs its packets landed on (the per (port, CPU) counters). Rows over the limit
are red and come first; from ROWS_PER_COLUMN rows on the rows get thinner and go into columns,
so 300 links still fit one picture. Pure Python, no I/O; the text is escaped for XML.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from xml.sax.saxutils import escape, quoteattr

from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet import MIN_METERED, SHARE_SLACK, spread_verdict

# Colour of CPU n: PALETTE[n % len]; colour-blind safe (Okabe-Ito without its reds, so red says "miss").
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#56B4E9", "#F0E442", "#CC79A7", "#999933", "#332288")
MISS, MISS_BACKGROUND, MUTED = "#C62828", "#FDECEA", "#757575"
ORDER = {"uneven": 0, "even": 1, "few": 2, "one_cpu": 3}
ROWS_PER_COLUMN = 40    # up to this many rows: one column of full rows; more: compact rows in columns
MAX_COLUMNS = 4
OVERVIEW_HEIGHT = 92    # the histogram above the rows when they are in columns
FONT = "font-family='DejaVu Sans, Verdana, sans-serif'"


def directions(report):
    """[{link, sender, receiver, link_status, verdict, packets, share, cpus, ports}], one per link
    direction with meter counts on its receiver: over the limit first (the worst first), then those of
    links that fail (ports, keys...), then by verdict and name.

    ``cpus``: [(cpu, packets)] busiest first; ``ports``: [(port, [(cpu, packets)])] by port.
    """
    meters = dict((g["gateway"], g.get("meter") or {}) for g in report["gateways"])
    rows = []
    for entry in report["links"]:
        a, b = entry["gateways"]
        for sender, receiver in ((a, b), (b, a)):
            meter = meters.get(receiver, {}).get(entry["link"])
            if not meter:
                continue
            by_port = {}
            for item in meter.get("port_cpus") or []:
                by_port.setdefault(item["port"], []).append((item["cpu"], item["packets"]))
            if not by_port:  # a result from before port_cpus: the ports without their CPUs
                by_port = dict((p["port"], [(None, p["packets"])]) for p in meter.get("ports") or [])
            rows.append({
                "link": entry["link"], "sender": sender, "receiver": receiver, "link_status": entry["status"],
                "verdict": spread_verdict(meter), "packets": meter.get("packets") or 0,
                "share": meter.get("busiest_core_share"),
                "cpus": sorted(((c["cpu"], c["packets"]) for c in meter.get("cpus") or []), key=lambda c: (-c[1], c[0])),
                "ports": sorted(by_port.items()),
            })
    # Over the limit (worst first), then links that fail on other grounds (their labels are red), then the rest.
    rows.sort(key=lambda r: (r["verdict"] != "uneven", r["link_status"] != "fail", ORDER[r["verdict"]],
                             -(r["share"] or 0) if r["verdict"] == "uneven" else 0, r["link"], r["receiver"]))
    return rows


def _counts(report, rows):
    """What the header says: rows per verdict, and the directions the picture has no row for."""
    counts = dict((verdict, sum(1 for r in rows if r["verdict"] == verdict)) for verdict in ORDER)
    checked = [e for e in report["links"] if e["status"] != "unchecked"]
    counts["not_metered"] = 2 * len(checked) - sum(1 for r in rows if r["link_status"] != "unchecked")
    counts["unchecked"] = 2 * (len(report["links"]) - len(checked))
    return counts


def _fit(text, width, char_width):
    """``text`` cut with an ellipsis to about ``width`` pixels (the full text is in the row's title)."""
    room = max(int(width / char_width), 4)
    return text if len(text) <= room else text[:room - 1] + "\u2026"


def _pct(value):
    return "%d%%" % round(value * 100)


class _Canvas:
    def __init__(self):
        self.parts = []

    def add(self, text):
        self.parts.append(text)

    def rect(self, x, y, w, h, fill, extra=""):
        self.add("<rect x='%.1f' y='%.1f' width='%.2f' height='%.1f' fill='%s'%s/>" % (x, y, w, h, fill, extra))

    def line(self, x1, y1, x2, y2, stroke, width=1, extra=""):
        self.add("<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='%s'%s/>"
                 % (x1, y1, x2, y2, stroke, width, extra))

    def text(self, x, y, text, size, fill="#212121", extra=""):
        self.add("<text x='%.1f' y='%.1f' font-size='%s' fill='%s'%s>%s</text>" % (x, y, size, fill, extra, escape(text)))


def _geometry(count):
    """Sizes of one row and the number of columns for ``count`` rows."""
    if count <= ROWS_PER_COLUMN:
        return {"columns": 1, "row": 30, "bar": 14, "ports": 5, "font": 12, "label": 250, "width": 420, "note": 190,
                "segment_labels": True}
    columns = min(MAX_COLUMNS, -(-count // 100)) if count > 2 * ROWS_PER_COLUMN else 2
    return {"columns": columns, "row": 16, "bar": 8, "ports": 3, "font": 10, "label": 190, "width": 220, "note": 90,
            "segment_labels": False}


def _row(canvas, row, x, y, geo):
    """One link direction at (x, y): label, CPU bar, port bar, ticks and the share."""
    miss = row["verdict"] == "uneven"
    label = "%s: %s \u2192 %s" % (row["link"], row["sender"], row["receiver"])
    bar_x, width = x + geo["label"], geo["width"]
    total = float(row["packets"]) or 1.0
    cpus = len(row["cpus"])
    canvas.add("<g class=%s data-link=%s data-receiver=%s data-verdict=%s>" % (
        quoteattr("row " + ("miss" if miss else row["verdict"])), quoteattr(row["link"]), quoteattr(row["receiver"]),
        quoteattr(row["verdict"])))
    canvas.add("<title>%s</title>" % escape("%s: %d packets received by %s; busiest core %s%s; CPUs %s; ports %s" % (
        label, row["packets"], row["receiver"], "-" if row["share"] is None else _pct(row["share"]),
        " (even %s, limit %s)" % (_pct(1.0 / cpus), _pct(1.0 / cpus + SHARE_SLACK)) if cpus else "",
        ", ".join("cpu%s %d" % (c, n) for c, n in row["cpus"]) or "none",
        ", ".join("%s %d" % (p, sum(n for _c, n in split)) for p, split in row["ports"]) or "none")))
    if miss:
        canvas.rect(x, y, geo["label"] + width + geo["note"], geo["row"] - 2, MISS_BACKGROUND, " class='miss-band'")
    top = y + (geo["row"] - geo["bar"] - geo["ports"] - 3) / 2.0
    canvas.text(x + 4, top + geo["bar"] - 1, _fit(label, geo["label"] - 8, geo["font"] * 0.6), geo["font"],
                MISS if row["link_status"] == "fail" else "#212121",
                " font-weight='bold'" if row["link_status"] == "fail" else "")
    canvas.rect(bar_x, top, width, geo["bar"], "#EEEEEE")
    left = bar_x
    for cpu, packets in row["cpus"]:
        share = packets / total if row["packets"] else 0.0
        w = share * width
        canvas.rect(left, top, w, geo["bar"], PALETTE[cpu % len(PALETTE)],
                    " class='cpu' data-cpu='%d' data-share='%.6f'" % (cpu, share))
        if geo["segment_labels"] and w > 58:
            canvas.text(left + 3, top + geo["bar"] - 3, "cpu%d %s" % (cpu, _pct(share)), geo["font"] - 2, "#FFFFFF"
                        if cpu % len(PALETTE) in (0, 2, 5, 7) else "#212121")
        left += w
    left, port_y = bar_x, top + geo["bar"] + 1
    for index, (port, split) in enumerate(row["ports"]):
        start = left
        for cpu, packets in split:
            w = packets / total * width if row["packets"] else 0.0
            canvas.rect(left, port_y, w, geo["ports"], MUTED if cpu is None else PALETTE[cpu % len(PALETTE)],
                        " class='port' data-port='%d'" % port)
            left += w
        if index:  # a gap between ports, so that two ports on the same CPU read as two
            canvas.line(start, port_y, start, port_y + geo["ports"], "#FFFFFF", 1.5)
    if cpus:
        even_x = bar_x + width / cpus
        limit_x = bar_x + min(1.0, 1.0 / cpus + SHARE_SLACK) * width
        canvas.line(even_x, top - 2, even_x, top + geo["bar"] + geo["ports"] + 3, "#212121", 1.5, " class='target'")
        canvas.line(limit_x, top - 2, limit_x, top + geo["bar"] + geo["ports"] + 3, "#212121", 1,
                    " stroke-dasharray='3,2' class='limit'")
    note_x = bar_x + width + 8
    if row["verdict"] in ("uneven", "even"):
        note = "%s%s" % ("\u2717 " if miss else "", _pct(row["share"]))
        if geo["segment_labels"]:
            note += " of %d pkts" % row["packets"] if not miss else " > %s" % _pct(1.0 / cpus + SHARE_SLACK)
        canvas.text(note_x, top + geo["bar"] - 1, note, geo["font"], MISS if miss else "#212121",
                    " font-weight='bold' class='mark'" if miss else "")
    else:
        canvas.text(note_x, top + geo["bar"] - 1, "one CPU" if row["verdict"] == "one_cpu" else
                    ("%d pkts, not judged" % row["packets"] if geo["segment_labels"] else "few pkts"),
                    geo["font"], MUTED)
    canvas.add("</g>")


def _overview(canvas, rows, x, y):
    """For many rows: a histogram of the busiest core's excess over an even share (percentage points,
    1 per bin, the last one 40 and more) of every judged row, the limit dashed; OVERVIEW_HEIGHT tall."""
    excess = [max(0.0, r["share"] - 1.0 / len(r["cpus"])) for r in rows if r["verdict"] in ("even", "uneven")]
    bins = [0] * 41
    for value in excess:
        bins[min(int(value * 100 + 1e-9), 40)] += 1
    top = max(bins) or 1
    step, height = 18, OVERVIEW_HEIGHT - 42  # 18 px: room for a 3-digit count over each bar
    canvas.add("<g class='overview'>")
    canvas.text(x, y + 10, "Busiest core above an even share, %d judged directions (bars: how many; "
                "red: over the limit)" % len(excess), 11)
    base = y + 26 + height  # room above the bars for their counts
    for index, count in enumerate(bins):
        if count:
            h = max(1.5, count / float(top) * height)
            canvas.rect(x + index * step, base - h, step - 2, h, MISS if index >= round(SHARE_SLACK * 100) else "#9E9E9E",
                        " class='bin' data-count='%d'" % count)
            canvas.text(x + index * step, base - h - 2, str(count), 8, MUTED)
    canvas.line(x, base, x + 41 * step, base, "#212121", 1)
    limit = x + round(SHARE_SLACK * 100) * step - 1
    canvas.line(limit, y + 16, limit, base + 3, "#212121", 1, " stroke-dasharray='3,2'")
    for mark in (0, 10, 20, 30, 40):
        canvas.text(x + mark * step, base + 12, "+%d%s" % (mark, " pp or more" if mark == 40 else ""), 9, MUTED)
    canvas.add("</g>")


def fleet_svg(report):
    """The report's picture (an SVG document, a str): a header with the counts, a legend, and a row
    per metered link direction (see the module's docstring)."""
    rows = directions(report)
    counts = _counts(report, rows)
    geo = _geometry(len(rows))
    column_width = geo["label"] + geo["width"] + geo["note"] + 16
    per_column = -(-len(rows) // geo["columns"]) if rows else 0
    cpu_numbers = sorted(set(c for r in rows for c, _n in r["cpus"]))
    header = 86 + (OVERVIEW_HEIGHT + 8 if geo["columns"] > 1 else 0)
    width = max(geo["columns"] * column_width + 16, 760)
    height = header + max(per_column, 1) * geo["row"] + 16
    canvas = _Canvas()
    canvas.add("<?xml version='1.0' encoding='UTF-8'?>")
    canvas.add("<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' %s>"
               % (width, height, width, height, FONT))
    canvas.add("<title>wgspread: received packets per link direction over CPUs and ports</title>")
    canvas.rect(0, 0, width, height, "#FFFFFF")
    verdict = "PASS" if report["passed"] else "FAIL"
    canvas.text(12, 24, "Receive spread per link direction (fleet check: %s)" % verdict, 16, extra=" font-weight='bold'")
    summary = "%d link directions metered: %d over the limit (red, first), %d even, %d under %d packets (not judged)" % (
        len(rows), counts["uneven"], counts["even"], counts["few"], MIN_METERED)
    if counts["one_cpu"]:
        summary += ", %d on one CPU" % counts["one_cpu"]
    canvas.text(12, 44, summary, 12, MISS if counts["uneven"] else "#212121", " class='summary'")
    others = []
    if counts["not_metered"]:
        others.append("%d directions without meter counts (port_spread_meter off, or no table)" % counts["not_metered"])
    if counts["unchecked"]:
        others.append("%d directions of links not checked" % counts["unchecked"])
    if others:
        canvas.text(12, 60, "; ".join(others), 11, MUTED)
    # Legend: what a tick and a colour mean.
    lx, ly = 12, 76
    canvas.line(lx + 4, ly - 9, lx + 4, ly + 2, "#212121", 1.5)
    canvas.text(lx + 10, ly, "even share (1/CPUs)", 11)
    canvas.line(lx + 134, ly - 9, lx + 134, ly + 2, "#212121", 1, " stroke-dasharray='3,2'")
    canvas.text(lx + 140, ly, "limit (+%d %%)" % round(SHARE_SLACK * 100), 11)
    canvas.text(lx + 230, ly, "top bar: CPUs, busiest first; thin bar: ports, by the CPUs they land on", 11, MUTED)
    lx = 12 + 640
    for cpu in cpu_numbers[:len(PALETTE)]:
        canvas.rect(lx, ly - 9, 10, 10, PALETTE[cpu % len(PALETTE)])
        canvas.text(lx + 13, ly, "cpu%d" % cpu, 11)
        lx += 50
    if len(cpu_numbers) > len(PALETTE):
        canvas.text(lx, ly, "(colours repeat every %d CPUs)" % len(PALETTE), 11, MUTED)
    if geo["columns"] > 1:
        _overview(canvas, rows, 12, 86)
    if not rows:
        canvas.text(12, header + 12, "No meter counts: set port_spread_meter: true to see how the packets spread.", 12, MUTED)
    for index, row in enumerate(rows):
        column, place = divmod(index, per_column)
        _row(canvas, row, 8 + column * column_width, header + place * geo["row"], geo)
    canvas.add("</svg>")
    return "\n".join(canvas.parts) + "\n"
