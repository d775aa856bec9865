"""A three-gateway fleet (hub, spoke1, spoke2) as FakeHosts over recorded outputs.

The nft outputs are the check-*.json fixtures (tests/unit/fixtures/nft, recorded by
record_check_fixtures.py, which imports INVENTORY, HOSTVARS and LINKS from here: change
them and the fixtures must be recorded again). The ``wg show dump`` texts are written
here in wg's format with real key pairs made for these tests.
"""

import json
import os

from ansible_collections.sitelink.wgspread.plugins.module_utils.ruleset_check import check
from ansible_collections.sitelink.wgspread.plugins.module_utils.scratch import JSON, LOAD, SPLIT, scratch_argv
from fakehost import FakeHost

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nft")
PATH = "/etc/wgspread/wgspread.nft"

INVENTORY = ["hub", "spoke1", "spoke2"]
HOSTVARS = {"hub": {"ansible_host": "198.51.100.11", "wgspread_receive_cpus": 2},
            "spoke1": {"ansible_host": "198.51.100.12", "wgspread_receive_cpus": 2},
            "spoke2": {"ansible_host": "198.51.100.13", "wgspread_receive_cpus": 2}}
LINKS = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31",
     "listen_port": {"hub": 51830, "spoke2": 51820}},
]

# (private, public) per gateway and interface; the private keys must never reach a result.
KEYS = {
    ("hub", "wg-spoke1"): ("+GTYsXT7Mev39uz4f4RUqsZX0Lyl273pJ2fe5wJEUkI=", "eo4gzoTQ+D06zxVnMFiI+tHvOLCBVG3nkaPKWkjtUDI="),
    ("hub", "wg-spoke2"): ("SEtmX7PIXzGlff8qGmUuV267ef+iqo1lfxQikM6SnGQ=", "G5Z1kjqejStv2TyTzwuIPca/qZth7r7ozt9NQUgXbUc="),
    ("spoke1", "wg-hub"): ("aOhYAgu4zWkAKWcrjq/6Zabwy6x7cM/sKBibQMEB1kc=", "HXap2DJl+nZTuZzJd3Ay4ME3JNb2SFe+fODgrFdE5ww="),
    ("spoke2", "wg-hub"): ("EEn7cZhn97TqLZa6/VwfFc2X9jSPn8vcMLy39nzAr3M=", "qjBa090aKZ7xGDJpXNqCeikhFLzzNFLYb/YH+VuljFU="),
}
OTHER_PUBLIC = "qPZNaFD7HCy5lt09oAlemeXHddXfmStKddWLz+ErgSw="
PSK = {"hub-spoke1": "EB3GBEZe5QtFxpIG+n2aoBmVeO+dWrMr+bleuhXa+Xs=", "hub-spoke2": "sHZgAkZiiot3JQtOYO2eVNqlqMenovzZkNvZnkdQqPw="}
SECRETS = [k[0] for k in KEYS.values()] + list(PSK.values())

# gateway -> [(link, interface, listen port, peer gateway, peer interface, peer endpoint)]
TUNNELS = {
    "hub": [("hub-spoke1", "wg-spoke1", 51820, "spoke1", "wg-hub", "198.51.100.12:51820"),
            ("hub-spoke2", "wg-spoke2", 51830, "spoke2", "wg-hub", "198.51.100.13:51820")],
    "spoke1": [("hub-spoke1", "wg-hub", 51820, "hub", "wg-spoke1", "198.51.100.11:51820")],
    "spoke2": [("hub-spoke2", "wg-hub", 51820, "hub", "wg-spoke2", "198.51.100.11:51830")],
}


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def dump(gateway, interface, listen_port=None, peer_key=None, endpoint=None):
    """``wg show IFACE dump`` of a healthy interface; arguments override one field."""
    for link, iface, port, peer, peer_iface, peer_endpoint in TUNNELS[gateway]:
        if iface == interface:
            private, public = KEYS[(gateway, interface)]
            return ("%s\t%s\t%d\toff\n%s\t%s\t%s\t198.18.0.1/32,10.0.0.0/24\t1764050000\t1000\t2000\t25\n"
                    % (private, public, listen_port or port, peer_key or KEYS[(peer, peer_iface)][1], PSK[link],
                       endpoint or peer_endpoint))
    raise KeyError(interface)


def gateway_host(gateway, live, desired=None, second=None, tables="check-tables-own.json", dumps=None,
                 desired_present=True, desired_answer=None):
    """A FakeHost of one gateway. ``live``/``desired``/``second``: fixture names (live None: no table).

    ``dumps``: {interface: dump text or (rc, out, err)}, default healthy ones for every tunnel.
    """
    desired = desired or live
    commands = {
        ("nft", "-j", "list", "tables"): fixture(tables),
        ("nft", "-j", "list", "table", "inet", "wgspread"): fixture(live) if live else (1, "", "No such file or directory"),
    }
    once = fixture(desired)
    commands[tuple(scratch_argv(PATH, "inet", "wgspread", (LOAD, JSON)))] = desired_answer or once
    commands[tuple(scratch_argv(PATH, "inet", "wgspread", (LOAD, JSON, LOAD, JSON)))] = desired_answer or (
        once.rstrip("\n") + "\n" + SPLIT + "\n" + fixture(second or desired))
    for _link, interface, _port, _peer, _pi, _pe in TUNNELS[gateway]:
        answer = (dumps or {}).get(interface, dump(gateway, interface))
        commands[("wg", "show", interface, "dump")] = answer
    return FakeHost({PATH: "# the rendered table"} if desired_present else {}, commands)


def tunnels_of(gateway):
    return [{"link": link, "interface": iface} for link, iface, _p, _peer, _pi, _pe in TUNNELS[gateway]]


def result(gateway, live, idempotent=True, **kwargs):
    """What nft_ruleset_check returns on this gateway (as the registered result, JSON round-tripped)."""
    host = gateway_host(gateway, live, **kwargs)
    out = check(host, PATH, "inet", "wgspread", tunnels_of(gateway), idempotent)
    return json.loads(json.dumps(dict(out, changed=False)))


def healthy():
    return {"hub": result("hub", "check-hub-live-counted.json", desired="check-hub-desired.json",
                          second="check-hub-desired-second.json"),
            "spoke1": result("spoke1", "check-spoke1.json"),
            "spoke2": result("spoke2", "check-spoke2.json")}


def ring(gateways, cpus=4, uneven_every=37, fail_every=0):
    """A ring of ``gateways`` gateways, each linked to its next one (``gateways`` links), as healthy
    gateways report it with the meter on: -> (links, inventory, hostvars, results).

    Each port of a receiver lands on one CPU, port i on CPU i % cpus, except on every
    ``uneven_every``-th link direction, where all its ports but the last land on CPU 0 (a
    reseeded RPS): those miss the limit. Every ``fail_every``-th gateway (0: none) sends to a
    wrong port on its first link. Counts differ per link so that no two rows look alike.
    The shape of the results is nft_ruleset_check's (as benchmarks/fleet_check.py makes them).
    """
    import hashlib
    import ipaddress
    from ansible_collections.sitelink.wgspread.plugins.module_utils.links import parse_links

    def key(*parts):
        import base64
        return base64.b64encode(hashlib.sha256("/".join(parts).encode()).digest()).decode()

    names = ["gw%03d" % i for i in range(gateways)]
    hostvars = dict((n, {"ansible_host": str(ipaddress.ip_address("198.18.0.1") + i), "wgspread_receive_cpus": cpus})
                    for i, n in enumerate(names))
    links = [{"name": "%s-%s" % (names[i], names[(i + 1) % gateways]), "gateways": [names[i], names[(i + 1) % gateways]],
              "subnet": str(ipaddress.ip_network((int(ipaddress.ip_address("100.64.0.0")) + 2 * i, 31))),
              "listen_port": {names[i]: 51820, names[(i + 1) % gateways]: 51830}} for i in range(gateways)]
    results, direction = {}, 0
    for link in parse_links(links, names, hostvars):
        a, b = link["gateways"]
        for me, peer in ((a, b), (b, a)):
            result = results.setdefault(me, {
                "changed": False, "in_sync": True, "table_present": True, "desired_present": True, "desired_error": None,
                "drift": {"lines": [], "diff": ""}, "foreign_tables": [], "idempotent": True,
                "idempotence": {"second_equals_first": True, "equals_live": True}, "meter": {}, "tunnels": []})
            receive = list(link["spread"]["receive_ports"][me])
            result["tunnels"].append({
                "link": link["name"], "interface": link["interfaces"][me],
                "wireguard": {"present": True, "public_key": key(me, link["name"]), "listen_port": link["listen_ports"][me],
                              "peers": [{"public_key": key(peer, link["name"]), "allowed_ips": [],
                                         "endpoint": "%s:%d" % (link["endpoints"][peer], link["listen_ports"][peer]),
                                         "latest_handshake": 1764050000}]},
                "spread": {"send_rule": True, "peer": peer, "peer_endpoint": link["endpoints"][peer],
                           "listen_port": link["listen_ports"][me], "peer_listen_port": link["listen_ports"][peer],
                           "send_ports": list(link["spread"]["receive_ports"][peer]), "fold_rule": True,
                           "fold_from": link["endpoints"][peer], "fold_ports": receive, "fold_to": link["listen_ports"][me]},
            })
            direction += 1
            uneven = uneven_every and direction % uneven_every == 0
            port_cpus = []
            for index, port in enumerate(receive):
                cpu = 0 if uneven and index < len(receive) - 1 else index % cpus
                packets = 5000 + 97 * ((direction * 7 + index * 13) % 23)
                port_cpus += [{"port": port, "cpu": c, "packets": packets if c == cpu else 0} for c in range(cpus)]
            per_cpu = [sum(p["packets"] for p in port_cpus if p["cpu"] == c) for c in range(cpus)]
            total = sum(per_cpu)
            busiest = max(range(cpus), key=lambda c: per_cpu[c])
            result["meter"][link["name"]] = {
                "link": link["name"], "packets": total,
                "ports": [{"port": p, "packets": sum(x["packets"] for x in port_cpus if x["port"] == p)} for p in receive],
                "cpus": [{"cpu": c, "packets": n} for c, n in enumerate(per_cpu)], "port_cpus": port_cpus,
                "busiest_cpu": busiest, "busiest_core_share": round(per_cpu[busiest] / total, 4)}
    if fail_every:
        for name in names[::fail_every]:
            spread = results[name]["tunnels"][0]["spread"]
            spread["send_ports"] = spread["send_ports"][:-1] + [spread["send_ports"][-1] + 100]
    return links, names, hostvars, json.loads(json.dumps(results))
