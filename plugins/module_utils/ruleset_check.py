# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gateway's side of the fleet check: read-only, through a Host.

Reads the live table we own and the desired file (in nft's own canonical form, by loading
it in a scratch network namespace, never the live one), and tells what differs in words,
what the meter counted, which other tables exist, and what this gateway has configured
per link (ports it sends to and folds back, listen port, peer endpoint, public keys). The
controller (module_utils.fleet) then compares the two ends of every link.

Nothing here changes the host: the only commands are ``nft -j list ...``, ``wg show IFACE
dump`` and ``nft -f`` inside ``unshare --net``; the only file read is each tunnel's
``/sys/class/net/IFACE/threaded`` (threaded NAPI, CVE-2026-52945: module_utils.napi).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import json

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError
from ansible_collections.sitelink.wgspread.plugins.module_utils.scratch import JSON, LOAD, load_in_scratch
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import FOLD, SPREAD, meter_counts, normalize, parse_comment
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import parse_dump


# ---------------------------------------------------------------- reading the host

def read_live(host, family, name):
    """``nft -j list table`` decoded, or None when the table does not exist."""
    rc, out, _err = host.run(["nft", "-j", "list", "table", family, name], check=False)
    if rc != 0:
        return None
    return json.loads(out)


def read_tables(host):
    """[(family, name)] of every table in the live ruleset."""
    out = host.run(["nft", "-j", "list", "tables"])[1]
    tables = []
    for item in json.loads(out or '{"nftables": []}').get("nftables", []):
        if "table" in item:
            tables.append((item["table"]["family"], item["table"]["name"]))
    return tables


def read_desired(host, path, family, name, twice):
    """(first listing, second listing or None) of the file loaded in a scratch namespace
    (``twice``: loaded again over itself, for the idempotence check)."""
    steps = (LOAD, JSON, LOAD, JSON) if twice else (LOAD, JSON)
    listings = load_in_scratch(host, family, name, steps, path=path)
    return listings[0], (listings[1] if twice else None)


def read_threaded(host, interface):
    """The interface's /sys/class/net/IFACE/threaded as a number (0 off, 1 on, 2 busy polling);
    None when the file is missing (no interface, or a kernel before 5.12) or unreadable."""
    text = (host.sysread("/sys/class/net/%s/threaded" % interface) or "").strip()
    return int(text) if text.isdigit() else None


def read_wireguard(host, interface):
    """The interface as ``wg show dump`` has it, without the private and preshared keys."""
    rc, out, err = host.run(["wg", "show", interface, "dump"], check=False)
    if rc != 0:
        return {"present": False, "error": (err or out).strip()}
    state = parse_dump(out)
    return {
        "present": True,
        "public_key": state["public_key"],
        "listen_port": state["listen_port"],
        "peers": [{"public_key": key, "endpoint": peer["endpoint"], "allowed_ips": peer["allowed_ips"],
                   "latest_handshake": peer["latest_handshake"]}
                  for key, peer in sorted(state["peers"].items())],
    }


# ---------------------------------------------------------------- nft JSON as text

def _value(value):
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        if "set" in value:
            items = value["set"]
            if isinstance(items, list):
                return "{ %s }" % ", ".join(
                    "%s : %s" % (_value(i[0]), _value(i[1])) if isinstance(i, list) and len(i) == 2 else _value(i)
                    for i in items)
            return "@%s" % items if isinstance(items, str) else json.dumps(items, sort_keys=True)
        if "range" in value:
            return "%s-%s" % (_value(value["range"][0]), _value(value["range"][1]))
        if "prefix" in value:
            return "%s/%s" % (value["prefix"]["addr"], value["prefix"]["len"])
        if "payload" in value:
            payload = value["payload"]
            if "protocol" in payload:
                return "%s %s" % (payload["protocol"], payload["field"])
        if "meta" in value:
            return "meta %s" % value["meta"]["key"]
        if "ct" in value:
            return "ct %s" % value["ct"]["key"]
        if "numgen" in value:
            numgen = value["numgen"]
            text = "numgen %s mod %s" % (numgen.get("mode"), numgen.get("mod"))
            return text + (" offset %s" % numgen["offset"] if numgen.get("offset") else "")
        if "map" in value:
            return "%s map %s" % (_value(value["map"]["key"]), _value(value["map"]["data"]))
        return json.dumps(value, sort_keys=True)
    return str(value)


def render_expr(expr):
    """One statement of a rule as nft would print it (close enough to read; JSON when unknown)."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return json.dumps(expr, sort_keys=True)
    (kind, body), = expr.items()
    if kind == "match":
        op = body.get("op", "==")
        return "%s %s%s" % (_value(body["left"]), "" if op in ("==", "in") else op + " ", _value(body["right"]))
    if kind == "mangle":
        return "%s set %s" % (_value(body["key"]), _value(body["value"]))
    if kind == "counter":
        return "counter"
    if kind in ("notrack", "accept", "drop", "return", "continue"):
        return kind
    if kind in ("jump", "goto"):
        return "%s %s" % (kind, body.get("target"))
    return json.dumps(expr, sort_keys=True)


def render_rule(rule):
    text = " ".join(render_expr(expr) for expr in rule.get("expr", []))
    if "comment" in rule:
        text += ' comment "%s"' % rule["comment"]
    return text


def render_chain_head(chain):
    if "hook" not in chain:
        return ""
    return "type %s hook %s priority %s; policy %s;" % (
        chain.get("type"), chain.get("hook"), chain.get("prio"), chain.get("policy", "accept"))


def _parts(objects):
    """(table objects, {chain: chain object}, [(chain, rule)], other objects) in listing order."""
    tables, chains, rules, other = [], {}, [], []
    for obj in objects or []:
        if "table" in obj:
            tables.append(obj["table"])
        elif "chain" in obj:
            chains[obj["chain"]["name"]] = obj["chain"]
        elif "rule" in obj:
            rules.append((obj["rule"]["chain"], obj["rule"]))
        else:
            other.append(obj)
    return tables, chains, rules, other


def render_table(objects, family, name):
    """Normalized objects -> lines shaped like ``nft list table`` (for diffs and reports)."""
    if objects is None:
        return []
    _tables, chains, rules, other = _parts(objects)
    lines = ["table %s %s {" % (family, name)]
    for obj in other:
        lines.append("\t# %s" % json.dumps(obj, sort_keys=True))
    for chain_name, chain in chains.items():
        lines.append("\tchain %s {" % chain_name)
        head = render_chain_head(chain)
        if head:
            lines.append("\t\t" + head)
        lines += ["\t\t" + render_rule(rule) for chain_of, rule in rules if chain_of == chain_name]
        lines.append("\t}")
    lines.append("}")
    return lines


# ---------------------------------------------------------------- drift in words

def _rule_keys(rules):
    """{(chain, identity, n): (text, rule)}: a rule is known by its comment, else by its text."""
    keyed, seen = {}, {}
    for chain, rule in rules:
        text = render_rule(rule)
        identity = ("comment", rule["comment"]) if "comment" in rule else ("text", text)
        n = seen.get((chain, identity), 0)
        seen[(chain, identity)] = n + 1
        keyed[(chain, identity, n)] = (text, rule)
    return keyed


def drift_lines(desired, live, family, name):
    """What the live table has that the desired one has not, and the reverse, in words.

    ``desired`` and ``live`` are normalized objects (nft.normalize), None when absent.
    "added" is in the live table only (for example added by hand), "removed" is in the
    desired table only, "changed" is a rule with the same comment but other content.
    """
    table = "table %s %s" % (family, name)
    if desired == live:
        return []
    if live is None:
        return ["%s: missing on the live system (the desired table has %d rules)"
                % (table, len(_parts(desired)[2]))]
    if desired is None:
        return ["%s: present on the live system but no desired table to compare with" % table]
    lines = []
    d_tables, d_chains, d_rules, d_other = _parts(desired)
    l_tables, l_chains, l_rules, l_other = _parts(live)
    if d_tables != l_tables:
        lines.append("changed: %s: table attributes %s (live) vs %s (desired)"
                     % (table, json.dumps(l_tables, sort_keys=True), json.dumps(d_tables, sort_keys=True)))
    for chain in d_chains:
        if chain not in l_chains:
            lines.append("removed: chain %s" % chain)
        elif d_chains[chain] != l_chains[chain]:
            lines.append("changed: chain %s: %s (live) vs %s (desired)"
                         % (chain, render_chain_head(l_chains[chain]), render_chain_head(d_chains[chain])))
    for chain in l_chains:
        if chain not in d_chains:
            lines.append("added: chain %s" % chain)
    d_keyed, l_keyed = _rule_keys(d_rules), _rule_keys(l_rules)
    for key, (text, rule) in d_keyed.items():
        if key not in l_keyed:
            lines.append("removed: chain %s: %s" % (key[0], text))
        elif l_keyed[key][1] != rule:
            lines.append("changed: chain %s: %s (live) vs %s (desired)" % (key[0], l_keyed[key][0], text))
    for key, (text, _rule) in l_keyed.items():
        if key not in d_keyed:
            lines.append("added: chain %s: %s" % (key[0], text))
    if sorted(map(json.dumps, d_other)) != sorted(map(json.dumps, l_other)):
        lines.append("changed: %s: sets, maps or other objects differ" % table)
    if not lines:  # same rules, other order: order matters in nft
        for chain in d_chains:
            if [r for c, r in d_rules if c == chain] != [r for c, r in l_rules if c == chain]:
                lines.append("reordered: chain %s: the rules are in another order than in the desired table" % chain)
    if not lines:
        lines.append("changed: %s: the objects are listed in another order" % table)
    return lines


def drift_diff(desired, live, family, name, path):
    return "".join(difflib.unified_diff(
        [line + "\n" for line in render_table(desired, family, name)],
        [line + "\n" for line in render_table(live, family, name)],
        fromfile="desired (%s)" % path, tofile="live (%s %s)" % (family, name)))


# ---------------------------------------------------------------- meter and links

def meter(live_json):
    """{link: packets per port, per CPU, the busiest CPU and its share} from the meter counters.

    Lists of {port, packets} / {cpu, packets} rather than maps keyed by number, so that
    JMESPath queries and templates can filter and sort them.
    """
    out = {}
    for name, link in sorted(meter_counts(live_json or {}).items()):
        total = link["total"]
        busiest = max(sorted(link["cpus"]), key=lambda cpu: link["cpus"][cpu])
        out[name] = {
            "link": name,
            "packets": total,
            "ports": [{"port": p, "packets": n} for p, n in sorted(link["ports"].items())],
            "cpus": [{"cpu": c, "packets": n} for c, n in sorted(link["cpus"].items())],
            # Which CPU each port lands on: the picture of the fleet report colours ports by it.
            "port_cpus": [{"port": p, "cpu": c, "packets": n} for p, cpus in sorted(link["port_cpus"].items())
                          for c, n in sorted(cpus.items())],
            "busiest_cpu": busiest if total else None,
            "busiest_core_share": round(link["cpus"][busiest] / total, 4) if total else None,
        }
    return out


def _matches(rule):
    """{"daddr": ..., "sport": ...} of a rule's equality matches on payload fields."""
    out = {}
    for expr in rule.get("expr", []):
        match = expr.get("match") if isinstance(expr, dict) else None
        if not match or match.get("op", "==") not in ("==", "in"):
            continue
        payload = match["left"].get("payload") if isinstance(match["left"], dict) else None
        if payload and "field" in payload:
            out[payload["field"]] = match["right"]
    return out


def _mangle(rule):
    for expr in rule.get("expr", []):
        if isinstance(expr, dict) and "mangle" in expr:
            return expr["mangle"]["value"]
    return None


def _ports(value):
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("set"), list):
        return sorted(v for v in value["set"] if isinstance(v, int))
    return []


def _our_rules(live_json):
    """(rule, parsed comment) of every rule with one of our comments (nft.parse_comment)."""
    for item in (live_json or {}).get("nftables", []):
        rule = item.get("rule")
        parsed = parse_comment((rule or {}).get("comment"))
        if parsed is not None:
            yield rule, parsed


def link_rules(live_json, link):
    """What the live table does for one link: where it sends to, what it folds back."""
    out = {"send_rule": False, "fold_rule": False, "peer": None, "peer_endpoint": None, "listen_port": None,
           "peer_listen_port": None, "send_ports": [], "fold_from": None, "fold_ports": [], "fold_to": None}
    for rule, parsed in _our_rules(live_json):
        if parsed["link"] != link:
            continue
        if parsed["kind"] == SPREAD:
            matches, value = _matches(rule), _mangle(rule)
            out.update(send_rule=True, peer=parsed["peer"],
                       peer_endpoint=matches.get("daddr"), listen_port=matches.get("sport"),
                       peer_listen_port=matches.get("dport"))
            if isinstance(value, dict) and "map" in value:
                pairs = sorted(p for p in value["map"]["data"].get("set", []) if isinstance(p, list))
                out["send_ports"] = [port for _index, port in pairs]
            elif isinstance(value, int):
                out["send_ports"] = [value]
            else:
                out["send_ports"] = _ports(matches.get("dport"))
        elif parsed["kind"] == FOLD:
            matches = _matches(rule)
            out.update(fold_rule=True, fold_from=matches.get("saddr"), fold_ports=_ports(matches.get("dport")),
                       fold_to=_mangle(rule))
            out["peer"] = out["peer"] or parsed["peer"]
    return out


def live_fold_ports(live_json):
    """{link: [ports]} that the live table folds back now (from the rules' comments)."""
    out = {}
    for rule, parsed in _our_rules(live_json):
        if parsed["kind"] == FOLD:
            link = parsed["link"]
            out[link] = sorted(set(out.get(link, [])) | set(_ports(_matches(rule).get("dport"))))
    return out


# ---------------------------------------------------------------- the whole check

def check(host, path, family="inet", name="wgspread", tunnels=(), idempotent=False):
    """Everything the module returns (see its RETURN), from what the host says."""
    result = {"path": path, "table": "%s %s" % (family, name)}
    live_json = read_live(host, family, name)
    live = normalize(live_json) if live_json is not None else None
    result["table_present"] = live is not None
    result["foreign_tables"] = ["%s %s" % t for t in read_tables(host) if t != (family, name)]

    desired, desired_error, second = None, None, None
    result["desired_present"] = host.exists(path)
    if not result["desired_present"]:
        desired_error = "%s does not exist" % path
    else:
        try:
            first_json, second_json = read_desired(host, path, family, name, idempotent)
            desired = normalize(first_json)
            second = normalize(second_json) if second_json is not None else None
        except CommandError as exc:
            desired_error = "nft refuses %s: %s" % (path, (exc.stderr or exc.stdout or "").strip())
        except ValueError as exc:
            desired_error = "cannot read nft's listing of %s: %s" % (path, exc)
    result["desired_error"] = desired_error

    if desired_error:
        lines = ["desired table: %s" % desired_error]
        result["in_sync"] = False
    else:
        lines = drift_lines(desired, live, family, name)
        result["in_sync"] = desired == live
    result["drift"] = {"lines": lines,
                       "diff": "" if desired_error else drift_diff(desired, live, family, name, path)}
    result["live_text"] = "\n".join(render_table(live, family, name))
    result["desired_text"] = "\n".join(render_table(desired, family, name))

    if idempotent and desired is not None:
        result["idempotence"] = {"second_equals_first": second == desired, "equals_live": desired == live}
        result["idempotent"] = second == desired == live
    else:
        result["idempotence"] = None
        result["idempotent"] = None

    result["meter"] = meter(live_json)
    result["tunnels"] = []
    for tunnel in tunnels:
        entry = {"link": tunnel["link"], "interface": tunnel["interface"],
                 "wireguard": read_wireguard(host, tunnel["interface"]),
                 "threaded": read_threaded(host, tunnel["interface"]),
                 "spread": link_rules(live_json, tunnel["link"])}
        result["tunnels"].append(entry)
    return result
