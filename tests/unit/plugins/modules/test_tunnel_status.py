"""tunnel_status: one call per gateway, pings in batches, nothing changed, no key returned."""

import os

from ansible_collections.sitelink.wgspread.plugins.modules import tunnel_status
from ansible_collections.sitelink.wgspread.plugins.module_utils.status import SPLIT, ping_script
from fakehost import FakeHost, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "status")
PING = open(os.path.join(FIXTURES, "ping-5-of-5.stdout")).read()
HANDSHAKES = "wg-spoke1\teo4gzoTQ+D06zxVnMFiI+tHvOLCBVG3nkaPKWkjtUDI=\t1764049900\n"


def tunnel(n):
    return {"link": "hub-s%d" % n, "interface": "wg-s%d" % n, "peer": "s%d" % n, "peer_tunnel_ip": "198.18.0.%d" % (2 * n + 1),
            "spread": {"enabled": True, "receive_ports": [51820]}}


def host(tunnels, batch):
    commands = {("wg", "show", "all", "latest-handshakes"): HANDSHAKES,
                ("nft", "-j", "list", "chain", "inet", "wgspread", "rx_per_cpu"): (1, "", "Error: No such file or directory"),
                ("date", "+%s"): "1764050000\n"}
    for start in range(0, len(tunnels), batch):
        part = tunnels[start:start + batch]
        argv = ("sh", "-c", ping_script(5, 0.005), "sh") + tuple(t["peer_tunnel_ip"] for t in part)
        commands[argv] = (SPLIT + "\n").join([PING] * len(part))
    return FakeHost(commands=commands)


def test_a_hub_is_pinged_in_batches_and_reported_in_order(capsys):
    tunnels = [tunnel(n) for n in range(5)]
    gateway = host(tunnels, 2)
    result = run_module(tunnel_status, {"tunnels": tunnels, "pings": 5, "parallel": 2}, gateway, capsys=capsys)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert [t["link"] for t in result["tunnels"]] == ["hub-s%d" % n for n in range(5)]
    assert all(t["ping"]["received"] == 5 for t in result["tunnels"])
    pings = [call for call in gateway.calls if call[0] == "sh"]
    assert [len(call) - 4 for call in pings] == [2, 2, 1]  # three batches: 2 + 2 + 1 tunnels
    assert result["tunnels"][0]["line"].startswith("hub-s0: wg-s0 -> s0 (198.18.0.1): handshake never, ping 5/5 replies")


def test_a_tunnel_without_its_fields_is_named(capsys):
    result = run_module(tunnel_status, {"tunnels": [{"link": "x"}]}, host([], 1), capsys=capsys)
    assert result["failed"] and result["msg"] == "tunnels[0]: interface, peer, peer_tunnel_ip missing"
