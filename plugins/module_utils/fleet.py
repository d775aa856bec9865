# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of the fleet check: both ends of every link, compared.

Each gateway reports what it has (module nft_ruleset_check); only the controller sees
both ends of a link. For every site pair in ``wgspread_links`` this checks, in both
directions, that the ports one end sends to are the ports the other folds back, that
listen ports, endpoints and public keys agree with each other and with the inventory,
and that both ends were checked and are in sync with their desired tables. Pure Python:
no Ansible, no I/O, so the benchmark and the unit tests feed it plain dicts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.sitelink.wgspread.plugins.module_utils.napi import finding as threaded_napi_finding
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import check_plan, endpoint_uri

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
except ImportError:  # only needed for query=
    jmespath = None
    JMESPathError = Exception

# Gateway states, from worst to best; "not_in_run" is not a failure (--limit), nor is
# "in_other_run": a gateway outside this run's inventory that its own run (another job slice,
# wgspread_exchange fact_cache) checks; this run checks its links against the plan for it.
FAILED_STATES = ("module_failed", "no_result", "fail")


class FleetError(ValueError):
    pass


def select(data, query):
    """``data`` reduced by a JMESPath expression (``query`` empty: unchanged)."""
    if not query:
        return data
    if jmespath is None:
        raise FleetError("query needs the Python library jmespath on the controller: install it into the Python "
                         "that runs Ansible (pip install jmespath), or leave query out")
    try:
        return jmespath.search(query, data)
    except JMESPathError as exc:
        raise FleetError("query %r: %s" % (query, exc)) from None


def _is_ip(text):
    try:
        ipaddress.ip_address(str(text))
        return True
    except ValueError:
        return False


def _endpoint(text):
    """'host:port' / '[v6]:port' -> (host, port); (None, None) when unset or unreadable."""
    if not text:
        return None, None
    host, _sep, port = str(text).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return host, int(port)
    except ValueError:
        return None, None


def _ports(ports):
    return ", ".join(str(p) for p in ports) or "none"


def _threaded_napi(result, kernel):
    """Lines for the WireGuard interfaces with threaded NAPI on while the gateway's kernel is
    not known safe (CVE-2026-52945, module_utils.napi); none when the kernel is not known."""
    if kernel is None:
        return []
    lines = []
    for tunnel in result.get("tunnels") or []:
        line = threaded_napi_finding(tunnel.get("interface"), tunnel.get("threaded"), kernel)
        if line:
            lines.append("%s; turn it off (nic_tuning_threaded_napi: false, the default) or accept the risk "
                         "(nic_tuning_threaded_napi_accept_risk: true)" % line)
    return lines


def _gateway(host, result, in_run, link_names, kernel=None, risk_accepted=False):
    """One gateway's own state: did the check run, is its table in sync, idempotent, and is
    threaded NAPI on where its kernel (``uname -r``) can stall a peer."""
    entry = {"gateway": host, "links": link_names, "status": "ok", "problems": [], "warnings": [], "in_sync": None,
             "drift_count": None, "drift": [], "drift_diff": "", "idempotent": None, "foreign_tables": [],
             "busiest_core_share": None, "meter": {}}
    if result is None:
        if in_run:
            entry["status"] = "no_result"
            entry["problems"].append("in the run but no result (unreachable, or failed before the check)")
        else:
            entry["status"] = "not_in_run"
        return entry
    if result.get("failed") or result.get("skipped") or "in_sync" not in result:
        entry["status"] = "module_failed" if result.get("failed") else "no_result"
        entry["problems"].append("the check did not run: %s" % (result.get("msg") or "skipped or no result"))
        return entry
    drift = (result.get("drift") or {}).get("lines") or []
    entry.update(in_sync=bool(result["in_sync"]), drift_count=len(drift), drift=list(drift),
                 drift_diff=(result.get("drift") or {}).get("diff") or "",
                 idempotent=result.get("idempotent"), foreign_tables=list(result.get("foreign_tables") or []),
                 meter=result.get("meter") or {})
    shares = [m["busiest_core_share"] for m in entry["meter"].values() if m.get("busiest_core_share") is not None]
    entry["busiest_core_share"] = max(shares) if shares else None
    if result.get("desired_error"):
        entry["problems"].append("desired table: %s" % result["desired_error"])
    if not entry["in_sync"]:
        entry["problems"].append("live table differs from the desired one (%d differences)" % len(drift))
    if entry["idempotent"] is False:
        detail = result.get("idempotence") or {}
        why = []
        if detail.get("second_equals_first") is False:
            why.append("a second load gives another table")
        if detail.get("equals_live") is False:
            why.append("the loaded table differs from the live one")
        entry["problems"].append("not idempotent%s" % (": " + ", ".join(why) if why else ""))
    for line in _threaded_napi(result, kernel):
        # A risk the operator accepted (nic_tuning_threaded_napi_accept_risk) is said, not failed.
        (entry["warnings"] if risk_accepted else entry["problems"]).append(line)
    if entry["problems"]:
        entry["status"] = "fail"
    return entry


def _end_summary(gateway, tunnel):
    """What one end of a link has configured, as the report shows it."""
    if tunnel is None:
        return {"gateway": gateway, "checked": False}
    wg, spread = tunnel.get("wireguard") or {}, tunnel.get("spread") or {}
    return {
        "gateway": gateway, "checked": True, "interface": tunnel.get("interface"),
        "interface_present": bool(wg.get("present")), "listen_port": wg.get("listen_port"),
        "public_key": wg.get("public_key"), "peer_public_keys": [p.get("public_key") for p in wg.get("peers") or []],
        "peer_endpoints": [p.get("endpoint") for p in wg.get("peers") or []],
        "send_ports": list(spread.get("send_ports") or []), "fold_ports": list(spread.get("fold_ports") or []),
        "fold_to": spread.get("fold_to"), "spread_peer_address": spread.get("peer_endpoint"),
    }


def _direction(link, x, y, tx, ty, problems):
    """Checks of the direction x -> y (x sends, y receives); tx, ty are their tunnel entries."""
    wx, wy = tx.get("wireguard") or {}, ty.get("wireguard") or {}
    sx, sy = tx.get("spread") or {}, ty.get("spread") or {}
    listen_x, listen_y = link["listen_ports"][x], link["listen_ports"][y]
    address_y = link["endpoints"][y]

    if not wx.get("present"):
        problems.append("%s: interface %s is missing%s" % (x, tx.get("interface"),
                                                           " (%s)" % wx["error"] if wx.get("error") else ""))
    elif wx.get("listen_port") != listen_x:
        problems.append("%s listens on port %s, the inventory says %d" % (x, wx.get("listen_port"), listen_x))
    if wx.get("present") and wy.get("present"):
        peers = dict((p.get("public_key"), p) for p in wx.get("peers") or [])
        if wy.get("public_key") not in peers:
            problems.append("%s has peer key %s on %s, but %s's public key is %s"
                            % (x, ", ".join(sorted(k for k in peers if k)) or "none", tx.get("interface"), y, wy.get("public_key")))
        else:
            if len(peers) > 1:
                problems.append("%s has %d peers on %s, expected only %s" % (x, len(peers), tx.get("interface"), y))
            host, port = _endpoint(peers[wy.get("public_key")].get("endpoint"))
            if host is None:
                problems.append("%s has no endpoint for %s" % (x, y))
            else:
                if _is_ip(address_y) and ipaddress.ip_address(host) != ipaddress.ip_address(address_y):
                    problems.append("%s sends to %s at %s, the inventory says %s" % (x, y, host, address_y))
                if port != wy.get("listen_port"):
                    problems.append("%s sends to %s on port %d, but %s listens on %s" % (x, y, port, y, wy.get("listen_port")))

    if not link["spread"]["enabled"]:
        if sx.get("send_rule") or sx.get("fold_rule"):
            problems.append("spreading is off for this link, but %s has spreading rules for it" % x)
        return
    expected = sorted(link["spread"]["receive_ports"].get(y) or [])
    if not sx.get("send_rule"):
        problems.append("%s has no spread rule towards %s" % (x, y))
    else:
        send = sorted(set(sx.get("send_ports") or []))
        if send != expected:
            problems.append("%s sends to ports %s of %s, the inventory says %s" % (x, _ports(send), y, _ports(expected)))
        if sx.get("peer_endpoint") != address_y:
            problems.append("%s's spread rule matches address %s, %s's underlay is %s" % (x, sx.get("peer_endpoint"), y, address_y))
        if sx.get("listen_port") != listen_x or sx.get("peer_listen_port") != listen_y:
            problems.append("%s's spread rule matches ports %s -> %s, the inventory says %d -> %d"
                            % (x, sx.get("listen_port"), sx.get("peer_listen_port"), listen_x, listen_y))
    if not sy.get("fold_rule"):
        problems.append("%s has no fold-back rule for %s" % (y, x))
    else:
        fold = sorted(sy.get("fold_ports") or [])
        if fold != expected:
            problems.append("%s folds back ports %s from %s, the inventory says %s" % (y, _ports(fold), x, _ports(expected)))
        if sy.get("fold_to") != listen_y:
            problems.append("%s folds back to port %s, it listens on %d" % (y, sy.get("fold_to"), listen_y))
        if sy.get("fold_from") != link["endpoints"][x]:
            problems.append("%s's fold-back rule matches address %s, %s's underlay is %s"
                            % (y, sy.get("fold_from"), x, link["endpoints"][x]))
    if sx.get("send_rule") and sy.get("fold_rule"):
        send, fold = set(sx.get("send_ports") or []), set(sy.get("fold_ports") or [])
        if send - fold:
            problems.append("%s sends to ports %s that %s does not fold back: those packets are lost"
                            % (x, _ports(sorted(send - fold)), y))
        if fold - send:
            problems.append("%s folds back ports %s that %s does not send to" % (y, _ports(sorted(fold - send)), x))


# A receiver's busiest core may carry this much more than an even share (1/CPUs) of a
# link's packets before the link is flagged; below MIN_METERED packets nothing is judged.
SHARE_SLACK = 0.05
MIN_METERED = 200


def spread_verdict(meter):
    """How one receiver's meter entry of one link is judged: "uneven" (the busiest core carries more
    than 1/CPUs + SHARE_SLACK), "even", "few" (under MIN_METERED packets) or "one_cpu" (nothing to spread
    over). The warnings and the picture (module_utils.fleet_svg) both judge by this."""
    cpus = len(meter.get("cpus") or [])
    share = meter.get("busiest_core_share")
    if cpus < 2:
        return "one_cpu"
    if share is None or (meter.get("packets") or 0) < MIN_METERED:
        return "few"
    return "uneven" if share > 1.0 / cpus + SHARE_SLACK else "even"


def _share_warnings(link, gateways):
    """Receivers whose busiest core carries more than 1/CPUs + 5 % of this link's packets.

    Measured by the meter (port_spread_meter) since the table was loaded. A warning, not a
    failure: it says the ports no longer land evenly (e.g. RPS reseeded by a reboot) and
    that recalibrating would help (port_spread_calibrate: always).
    """
    warnings = []
    for g in link["gateways"]:
        meter = (gateways[g].get("meter") or {}).get(link["name"]) or {}
        if spread_verdict(meter) == "uneven":
            cpus, share = len(meter["cpus"]), meter["busiest_core_share"]
            warnings.append("%s: the busiest core carries %d%% of the packets received on this link "
                            "(even: %d%% over %d CPUs); recalibrate the ports (port_spread_calibrate: always)"
                            % (g, round(share * 100), round(100.0 / cpus), cpus))
    return warnings


def _as_planned(link, end, other, other_tunnel, public_key):
    """End ``end`` of ``link`` as the plan has it (its live state is checked by its own run):
    then this run's checks of the link find exactly what its live end ``other`` does wrong,
    and the verdicts of all slices together are the verdict of one run over the fleet."""
    listen, endpoints, spread = link["listen_ports"], link["endpoints"], link["spread"]
    other_wg = (other_tunnel or {}).get("wireguard") or {}
    planned = {"link": link["name"], "interface": link["interfaces"][end],
               "wireguard": {"present": True, "public_key": public_key, "listen_port": listen[end],
                             "peers": [{"public_key": other_wg.get("public_key"),
                                        "endpoint": endpoint_uri(endpoints[other], listen[other])}]},
               "spread": {"send_rule": False, "fold_rule": False}}
    if spread["enabled"]:
        planned["spread"] = {
            "send_rule": True, "send_ports": list(spread["receive_ports"].get(other) or []),
            "peer_endpoint": endpoints[other], "listen_port": listen[end], "peer_listen_port": listen[other],
            "fold_rule": True, "fold_ports": list(spread["receive_ports"].get(end) or []), "fold_to": listen[end],
            "fold_from": endpoints[other]}
    return planned


def _link(link, gateways, tunnels, recorded_keys=None):
    a, b = link["gateways"]
    entry = {"link": link["name"], "gateways": [a, b], "status": "pass", "problems": [], "warnings": [], "missing": [],
             "ends": [_end_summary(g, tunnels.get(g, {}).get(link["name"])) for g in (a, b)]}
    states = [gateways[g]["status"] for g in (a, b)]
    if "in_other_run" in states and states != ["in_other_run", "in_other_run"]:
        end, other = (a, b) if states[0] == "in_other_run" else (b, a)
        if gateways[other]["status"] in ("ok", "fail") and link["name"] in tunnels.get(other, {}):
            tunnels = dict(tunnels)
            tunnels[end] = {link["name"]: _as_planned(link, end, other, tunnels[other][link["name"]],
                                                      (recorded_keys or {}).get((end, link["name"])))}
            entry["checked_by_own_run"] = [end]
            gateways = dict(gateways)
            gateways[end] = dict(gateways[end], status="ok")
    for g in (a, b):
        state = gateways[g]["status"]
        if state == "in_other_run":
            entry["missing"].append({"gateway": g, "reason": "outside this run's inventory; its own run checks it"})
        elif state == "not_in_run":
            entry["missing"].append({"gateway": g, "reason": "not in this run (--limit)"})
        elif state in ("no_result", "module_failed"):
            entry["missing"].append({"gateway": g, "reason": "; ".join(gateways[g]["problems"])})
    if entry["missing"]:
        entry["status"] = "unchecked"
        return entry
    for g in (a, b):
        if link["name"] not in tunnels.get(g, {}):
            entry["problems"].append("%s did not report this link (not in its tunnels:)" % g)
    if not entry["problems"]:
        ta, tb = tunnels[a][link["name"]], tunnels[b][link["name"]]
        _direction(link, a, b, ta, tb, entry["problems"])
        _direction(link, b, a, tb, ta, entry["problems"])
    entry["warnings"] = _share_warnings(link, gateways)
    if entry["problems"]:
        entry["status"] = "fail"
    return entry


def fleet_report(results_by_host, plan, run_hosts=None, require_complete=False, kernels=None, napi_risk_accepted=None):
    """Every gateway's nft_ruleset_check result -> per gateway and per link results and a verdict.

    ``results_by_host``: {inventory hostname: registered module result}. ``plan``: the
    fleet plan (``wgspread_plan``, module_utils/plan.py: what each end should have).
    ``run_hosts``: the hosts of this run (``ansible_play_hosts_all``); a gateway outside
    it is "not in the run" (--limit) and its links are listed as unchecked, not failed,
    unless ``require_complete``. Default: the hosts that have a result.
    ``kernels``: {host: ``uname -r``} (ansible_facts['kernel']): WireGuard interfaces with
    threaded NAPI on a kernel not known safe fail the gateway (CVE-2026-52945), or only warn
    for the hosts in ``napi_risk_accepted`` ({host: nic_tuning_threaded_napi_accept_risk}).
    """
    kernels, accepted = dict(kernels or {}), dict(napi_risk_accepted or {})
    results = dict(results_by_host or {})
    parsed = check_plan(plan)["links"]
    run = set(run_hosts) if run_hosts is not None else set(results)
    # wgspread_exchange fact_cache: the ends known from their records, and their public keys
    recorded = set(plan.get("cached_peers") or []) - run
    recorded_keys = {}
    for part in plan["gateways"].values():
        for tunnel in part["tunnels"]:
            if tunnel["peer"] in recorded and tunnel.get("peer_public_key"):
                recorded_keys[(tunnel["peer"], tunnel["link"])] = tunnel["peer_public_key"]
    names_by_gateway = {}
    for link in parsed:
        for g in link["gateways"]:
            names_by_gateway.setdefault(g, []).append(link["name"])
    hosts = sorted(set(names_by_gateway) | set(results))
    gateways = dict((h, _gateway(h, results.get(h), h in run, names_by_gateway.get(h, []), kernels.get(h),
                                 bool(accepted.get(h)))) for h in hosts)
    tunnels = {}
    for h in hosts:
        if gateways[h]["status"] == "not_in_run" and h in recorded:
            gateways[h]["status"] = "in_other_run"
        if gateways[h]["status"] in ("ok", "fail"):
            tunnels[h] = dict((t.get("link"), t) for t in results[h].get("tunnels") or [])
    # A link both ends of which are outside this run's inventory is another slice's to check.
    link_entries = [_link(link, gateways, tunnels, recorded_keys) for link in parsed
                    if not set(link["gateways"]) <= recorded]

    per_gateway_links = {}
    for entry in link_entries:
        for g in entry["gateways"]:
            per_gateway_links.setdefault(g, []).append(entry["status"])
    for h, entry in gateways.items():
        statuses = per_gateway_links.get(h, [])
        entry["links_passed"] = statuses.count("pass")
        entry["links_failed"] = statuses.count("fail")
        entry["links_unchecked"] = statuses.count("unchecked")

    unchecked = [{"link": e["link"], "gateways": e["gateways"], "missing": e["missing"],
                  "reason": "; ".join("%s: %s" % (m["gateway"], m["reason"]) for m in e["missing"])}
                 for e in link_entries if e["status"] == "unchecked"]
    problems = ["gateway %s: %s" % (h, p) for h in hosts for p in gateways[h]["problems"]]
    problems += ["link %s: %s" % (e["link"], p) for e in link_entries for p in e["problems"]]
    warnings = ["gateway %s: %s" % (h, w) for h in hosts for w in gateways[h]["warnings"]]
    warnings += ["link %s: %s" % (e["link"], w) for e in link_entries for w in e["warnings"]]
    complete = not unchecked
    if require_complete:
        problems += ["link %s: not checked: %s" % (u["link"], u["reason"]) for u in unchecked]
    failed_gateways = [h for h in hosts if gateways[h]["status"] in FAILED_STATES]
    failed_links = [e["link"] for e in link_entries if e["status"] == "fail"]
    return {
        "passed": not failed_gateways and not failed_links and (complete or not require_complete),
        "complete": complete,
        "summary": {
            "gateways": len(hosts),
            "gateways_ok": sum(1 for h in hosts if gateways[h]["status"] == "ok"),
            "gateways_failed": len(failed_gateways),
            "gateways_not_in_run": sum(1 for h in hosts if gateways[h]["status"] == "not_in_run"),
            "gateways_in_other_run": sum(1 for h in hosts if gateways[h]["status"] == "in_other_run"),
            "links": len(link_entries),
            "links_passed": sum(1 for e in link_entries if e["status"] == "pass"),
            "links_failed": len(failed_links),
            "links_unchecked": len(unchecked),
            "links_warned": sum(1 for e in link_entries if e["warnings"]),
        },
        "gateways": [gateways[h] for h in hosts],
        "links": link_entries,
        "unchecked_links": unchecked,
        "problems": problems,
        "warnings": warnings,
    }


# ---------------------------------------------------------------- presentation

def _yes_no(value):
    return "-" if value is None else ("yes" if value else "NO")


def _share(value):
    return "-" if value is None else "%d%%" % round(value * 100)


def gateway_rows(report):
    """[(gateway, status, links, in_sync, drift, idempotent, busiest core)] as strings."""
    rows = []
    for g in report["gateways"]:
        total = g["links_passed"] + g["links_failed"] + g["links_unchecked"]
        links = "%d/%d ok" % (g["links_passed"], total)
        if g["links_unchecked"]:
            links += ", %d unchecked" % g["links_unchecked"]
        rows.append((g["gateway"], g["status"], links, _yes_no(g["in_sync"]),
                     "-" if g["drift_count"] is None else str(g["drift_count"]),
                     _yes_no(g["idempotent"]), _share(g["busiest_core_share"])))
    return rows


HEADER = ("gateway", "status", "links", "in_sync", "drift", "idempotent", "busiest core")


def fleet_table(report):
    """The fleet as aligned text lines (for a debug task), with the verdict and every problem."""
    rows = [HEADER] + gateway_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = report["summary"]
    lines.append("")
    lines.append("%s: %d/%d links pass, %d fail, %d unchecked; %d gateways failed"
                 % ("PASS" if report["passed"] else "FAIL", s["links_passed"], s["links"], s["links_failed"],
                    s["links_unchecked"], s["gateways_failed"]))
    lines += ["  " + p for p in report["problems"]]
    lines += ["  warning: " + w for w in report.get("warnings", [])]
    lines += ["  link %s not checked: %s" % (u["link"], u["reason"]) for u in report["unchecked_links"]
              if "link %s: not checked: %s" % (u["link"], u["reason"]) not in report["problems"]]
    return lines


def _md(text):
    return str(text).replace("|", "\\|")


def fleet_markdown(report, picture=None):
    """The report as a Markdown document; ``picture``: the path of the SVG of fleet_svg (written
    beside it, e.g. "report.svg"), shown under the counts as an image."""
    s = report["summary"]
    out = ["# wgspread fleet check: %s" % ("PASS" if report["passed"] else "FAIL"), "",
           "%d gateways (%d ok, %d failed, %d not in this run), %d links (%d pass, %d fail, %d unchecked)."
           % (s["gateways"], s["gateways_ok"], s["gateways_failed"], s["gateways_not_in_run"],
              s["links"], s["links_passed"], s["links_failed"], s["links_unchecked"]), ""]
    if picture:
        out += ["![Received packets per link direction over CPUs and ports](%s)" % str(picture).replace(" ", "%20"), ""]
    out += ["## Gateways", "", "| %s |" % " | ".join(HEADER), "|%s" % ("---|" * len(HEADER))]
    out += ["| %s |" % " | ".join(_md(c) for c in row) for row in gateway_rows(report)]
    out += ["", "## Links", "", "| link | gateways | status | problems |", "|---|---|---|---|"]
    for e in report["links"]:
        notes = e["problems"] or ["%s: %s" % (m["gateway"], m["reason"]) for m in e["missing"]]
        out.append("| %s | %s | %s | %s |" % (_md(e["link"]), _md(" - ".join(e["gateways"])), e["status"], _md("; ".join(notes))))
    if report["problems"]:
        out += ["", "## Problems", ""] + ["- %s" % _md(p) for p in report["problems"]]
    if report.get("warnings"):
        out += ["", "## Warnings", ""] + ["- %s" % _md(w) for w in report["warnings"]]
    if report["unchecked_links"]:
        out += ["", "## Not checked", "", "Pairs with an end outside this run (--limit) or without a result:", ""]
        out += ["- %s (%s): %s" % (u["link"], " - ".join(u["gateways"]), u["reason"]) for u in report["unchecked_links"]]
    drifted = [g for g in report["gateways"] if g["drift"]]
    if drifted:
        out += ["", "## Drift", ""]
        for g in drifted:
            out += ["### %s" % g["gateway"], ""] + ["- %s" % _md(line) for line in g["drift"]] + [""]
            if g["drift_diff"]:
                out += ["```diff", g["drift_diff"].rstrip("\n"), "```", ""]
    metered = [g for g in report["gateways"] if g["meter"]]
    if metered:
        out += ["", "## Meter (received tunnel packets)", "",
                "| gateway | link | packets | per port | per CPU | busiest core |", "|---|---|---|---|---|---|"]
        for g in metered:
            for name, m in sorted(g["meter"].items()):
                out.append("| %s | %s | %d | %s | %s | %s |" % (
                    g["gateway"], name, m["packets"], ", ".join("%s: %s" % (p["port"], p["packets"]) for p in m["ports"]),
                    ", ".join("%s: %s" % (c["cpu"], c["packets"]) for c in m["cpus"]), _share(m["busiest_core_share"])))
    return "\n".join(out) + "\n"
