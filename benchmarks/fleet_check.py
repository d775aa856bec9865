"""How long the controller's side of the fleet check takes for a large fleet.

A synthetic fleet: GATEWAYS gateways on a ring, each linked to its two neighbours on
either side (so every gateway has 4 links, GATEWAYS * 2 links in all), 4 receive CPUs
each, so 4 spread ports per receiver. Every gateway's nft_ruleset_check result is made up
as a healthy gateway would report it (with meter counters), and --faults of them get a
changed port map. Timed: fleet_report (which compares both ends of every link against the fleet
plan, made once in the setup), then the text table, the Markdown and the JSON the
playbook writes. Not timed: building the results.

    .venv/bin/python benchmarks/fleet_check.py [--gateways 1000] [--faults 10] [--repeat 5]

Target: fleet_report < 2 s for 1,000 gateways x 4 links on a 2-core machine. Not a unit test.
"""

import argparse
import base64
import hashlib
import ipaddress
import json
import os
import platform
import statistics
import sys
import time

import benchkit

# The collection under its real name, as tests/conftest.py and scripts/test link it.
sys.path.insert(0, benchkit.link_collection())

from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet import (  # noqa: E402
    fleet_markdown, fleet_report, fleet_table,
)
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import parse_links  # noqa: E402
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan  # noqa: E402

CPUS = 4
NEIGHBOURS = (1, 2)  # gateway i links to i+1 and i+2 (and so i-1 and i-2 link to it)


def key(*parts):
    return base64.b64encode(hashlib.sha256("/".join(parts).encode()).digest()).decode()


def fleet(gateways):
    names = ["gw%04d" % i for i in range(gateways)]
    underlay = ipaddress.ip_address("198.18.0.1")
    hostvars = dict((name, {"ansible_host": str(underlay + i), "wgspread_receive_cpus": CPUS})
                    for i, name in enumerate(names))
    transfer = ipaddress.ip_network("100.64.0.0/10")
    links = []
    for i in range(gateways):
        for d in NEIGHBOURS:
            j = (i + d) % gateways
            # slot of the link on each end: i -> i+d is slot d-1 at i, slot d+1 at i+d
            links.append({
                "name": "%s-%s" % (names[i], names[j]),
                "gateways": [names[i], names[j]],
                "subnet": str(ipaddress.ip_network((int(transfer.network_address) + 2 * len(links), 31))),
                "listen_port": {names[i]: 51820 + 10 * (d - 1), names[j]: 51820 + 10 * (d + 1)},
            })
    return names, hostvars, links


def uri(host, port):
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def results_for(links, inventory, hostvars, faults):
    """{gateway: result} as healthy gateways report it; ``faults`` gateways send to a wrong port."""
    results = {}
    for link in parse_links(links, inventory, hostvars):
        a, b = link["gateways"]
        for me, peer in ((a, b), (b, a)):
            result = results.setdefault(me, {
                "changed": False, "in_sync": True, "table_present": True, "desired_present": True,
                "desired_error": None, "drift": {"lines": [], "diff": ""}, "foreign_tables": ["inet filter"],
                "idempotent": True, "idempotence": {"second_equals_first": True, "equals_live": True},
                "meter": {}, "tunnels": []})
            receive = link["spread"]["receive_ports"][me]
            send = list(link["spread"]["receive_ports"][peer])
            result["tunnels"].append({
                "link": link["name"], "interface": link["interfaces"][me],
                "wireguard": {"present": True, "public_key": key(me, link["name"]), "listen_port": link["listen_ports"][me],
                              "peers": [{"public_key": key(peer, link["name"]), "allowed_ips": [],
                                         "endpoint": uri(link["endpoints"][peer], link["listen_ports"][peer]),
                                         "latest_handshake": 1764050000}]},
                "spread": {"send_rule": True, "peer": peer, "peer_endpoint": link["endpoints"][peer],
                           "listen_port": link["listen_ports"][me], "peer_listen_port": link["listen_ports"][peer],
                           "send_ports": send, "fold_rule": True, "fold_from": link["endpoints"][peer],
                           "fold_ports": list(receive), "fold_to": link["listen_ports"][me]},
            })
            cpus = [1000 * (c + 1) for c in range(CPUS)]
            result["meter"][link["name"]] = {
                "packets": sum(cpus), "ports": [{"port": p, "packets": sum(cpus) // len(receive)} for p in receive],
                "cpus": [{"cpu": c, "packets": n} for c, n in enumerate(cpus)],
                "busiest_cpu": CPUS - 1, "busiest_core_share": round(cpus[-1] / sum(cpus), 4)}
    for name in sorted(results)[:faults]:
        spread = results[name]["tunnels"][0]["spread"]
        spread["send_ports"] = spread["send_ports"][:-1] + [spread["send_ports"][-1] + 100]
    return json.loads(json.dumps(results))  # plain JSON data, as registered results are


def timed(function, repeat):
    times, value = [], None
    for _run in range(repeat):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return value, min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--faults", type=int, default=10, help="gateways with a changed port map")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    names, hostvars, links = fleet(args.gateways)
    results = results_for(links, names, hostvars, args.faults)
    plan = build_plan(links, names, hostvars).as_dict()
    setup = time.perf_counter() - start
    print("setup: %d gateways x %d links = %d links, %d spread ports per receiver, %d faulty gateways; "
          "python %s on %s, %d CPUs; built in %.2f s"
          % (len(names), 2 * len(NEIGHBOURS), len(links), CPUS, args.faults, platform.python_version(),
             platform.machine(), os.cpu_count(), setup))

    report, best, median = timed(lambda: fleet_report(results, plan, run_hosts=names), args.repeat)
    print("fleet_report:   best %.3f s, median %.3f s (%d runs)  -> passed=%s, %d links fail, %d problems"
          % (best, median, args.repeat, report["passed"], report["summary"]["links_failed"], len(report["problems"])))
    for label, function in (("fleet_table", lambda: fleet_table(report)), ("fleet_markdown", lambda: fleet_markdown(report)),
                            ("json.dumps", lambda: json.dumps(report, indent=2))):
        _value, best_, median_ = timed(function, args.repeat)
        print("%-15s best %.3f s, median %.3f s" % (label + ":", best_, median_))
    print("target: fleet_report < 2 s -> %s" % ("met" if median < 2 else "MISSED"))
    return 0 if median < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
