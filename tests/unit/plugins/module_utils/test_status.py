"""The status report: ping's summary, wg's handshakes and the meter, in one line per tunnel."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.status import (
    parse_handshakes, parse_ping, report, split_pings,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(*path):
    with open(os.path.join(FIXTURES, *path)) as handle:
        return handle.read()


@pytest.mark.parametrize("name, parsed", [
    ("ping-5-of-5.stdout", {"sent": 5, "received": 5, "rtt_avg_ms": 0.060}),
    ("ping-0-of-3.stdout", {"sent": 3, "received": 0, "rtt_avg_ms": None}),
    ("ping-unreachable.stdout", {"sent": 0, "received": 0, "rtt_avg_ms": None}),
])
def test_ping_summaries(name, parsed):
    assert parse_ping(fixture("status", name)) == parsed


def test_the_pings_of_a_batch_come_back_in_the_order_asked():
    first, second = split_pings(fixture("status", "ping-script-2-addresses.stdout"), 2)
    assert "--- 127.0.0.1 ping statistics ---" in first and "--- 127.0.0.2 ping statistics ---" in second
    assert parse_ping(second) == {"sent": 4, "received": 4, "rtt_avg_ms": 0.038}
    with pytest.raises(ValueError, match="expected 3 ping summaries, got 2"):
        split_pings(fixture("status", "ping-script-2-addresses.stdout"), 3)


def test_handshakes_per_interface_never_is_zero():
    text = ("wg-spoke1\teo4gzoTQ+D06zxVnMFiI+tHvOLCBVG3nkaPKWkjtUDI=\t1764050000\n"
            "wg-spoke2\tG5Z1kjqejStv2TyTzwuIPca/qZth7r7ozt9NQUgXbUc=\t0\n"
            "wg-other\tqPZNaFD7HCy5lt09oAlemeXHddXfmStKddWLz+ErgSw=\t1764049000\n")
    assert parse_handshakes(text) == {"wg-spoke1": 1764050000, "wg-spoke2": 0, "wg-other": 1764049000}
    assert parse_handshakes("") == {}


TUNNELS = [
    {"link": "hub-spoke1", "interface": "wg-spoke1", "peer": "spoke1", "peer_tunnel_ip": "198.18.0.1",
     "spread": {"enabled": True, "receive_ports": [51820, 51823]}},
    {"link": "hub-spoke2", "interface": "wg-spoke2", "peer": "spoke2", "peer_tunnel_ip": "198.18.0.3",
     "spread": {"enabled": True, "receive_ports": [51920, 51922]}},
    {"link": "hub-spoke3", "interface": "wg-spoke3", "peer": "spoke3", "peer_tunnel_ip": "198.18.0.5",
     "spread": {"enabled": False, "receive_ports": []}},
]


def test_one_line_per_tunnel_with_the_meter_where_there_is_one():
    meter = {"nftables": [{"rule": {"comment": "hub-spoke1 port %d cpu %d" % (port, cpu),
                                    "expr": [{"counter": {"packets": 5 if (port == 51820) == (cpu == 0) else 0, "bytes": 0}}]}}
                          for port in (51820, 51823) for cpu in (0, 1)]}
    pings = {"hub-spoke1": fixture("status", "ping-5-of-5.stdout"), "hub-spoke2": fixture("status", "ping-0-of-3.stdout")}
    handshakes = {"wg-spoke1": 1764049924, "wg-spoke2": 0}
    lines = [entry["line"] for entry in report(TUNNELS, pings, handshakes, 1764050000, meter, count=5)]
    assert lines == [
        "hub-spoke1: wg-spoke1 -> spoke1 (198.18.0.1): handshake 76 s ago, ping 5/5 replies, 0.060 ms; "
        "received per port 51820:5 51823:5, per cpu 0:5 1:5",
        "hub-spoke2: wg-spoke2 -> spoke2 (198.18.0.3): handshake never, ping 0/5 replies, - ms; "
        "receives on ports 51920,51922 (no meter)",
        "hub-spoke3: wg-spoke3 -> spoke3 (198.18.0.5): handshake never, ping 0/5 replies, - ms; spreading off",
    ]
    first = report(TUNNELS, pings, handshakes, 1764050000, meter, count=5)[0]
    assert first["handshake_age"] == 76 and first["meter"]["total"] == 10
