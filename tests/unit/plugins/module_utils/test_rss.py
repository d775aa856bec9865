"""Toeplitz RSS hash against the published verification vectors, and the choice of spread ports.

Vectors: Microsoft's "Verifying the RSS Hash Calculation" (RSS specification, Windows driver
docs), the same table as the Intel 82599 datasheet section 7.1.2.8.3 "RSS Verification
Suite". Taken from the copy in DPDK, repository DPDK/dpdk, app/test/test_thash.c (v4_tbl,
v6_tbl: "From 82599 Datasheet 7.1.2.8.3 RSS Verification Suite"), cross-checked against
Knot DNS's Toeplitz test and the Microsoft table as quoted by a FreeBSD test program
(``testrss``: "Verifying the RSS Hash Calculation", msdn link) for IPv4.
"""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import equal_table, parse_rxfh
from ansible_collections.sitelink.wgspread.plugins.module_utils.rss import (
    MICROSOFT_KEY, choose_ports, choose_ports_from_counts, from_rxfh, hash_input, key_bytes, plan_ports,
    plan_ports_from_counts, port_cpus, port_queues, queue_of, rss_hash, toeplitz_hash,
)
from ethtool_fixtures import DEFAULT_KEY, text

KEY_HEX = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"

# (source ip, source port, destination ip, destination port, IP-only hash, IP+ports hash)
VECTORS = [
    ("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178),
    ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea),
    ("24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a),
    ("38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176, 0xafc7327f),
    ("153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5, 0x10e828a2),
    ("3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5, 0x40207d3d),
    ("3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0x0f0c461c, 0xdde51bbf),
    ("3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985, 0x02d1feef),
]

# A key with the single bit 126 set (byte 15 = 0x02): for IPv4 the hash is the destination
# port's lowest bit (the only input bit whose 32-bit key window holds bit 126 is input bit 95,
# and it lands on the hash's bit 0). Even ports -> table[0], odd ports -> table[1].
PARITY_KEY = bytes(bytearray(15) + bytearray([0x02]) + bytearray(24))
A, B = "198.51.100.11", "198.51.100.12"


def reference_toeplitz(key, data):
    """The specification's loop, written differently: a 32-bit window shifted one key bit per input bit."""
    key_bits = "".join(format(b, "08b") for b in bytearray(key))
    window = int(key_bits[:32], 2)
    result = 0
    for i, bit in enumerate("".join(format(b, "08b") for b in bytearray(data))):
        if bit == "1":
            result ^= window
        window = ((window << 1) & 0xFFFFFFFF) | int(key_bits[32 + i])
    return result


@pytest.mark.parametrize("src, sport, dst, dport, ip_only, with_ports", VECTORS)
def test_published_verification_vectors(src, sport, dst, dport, ip_only, with_ports):
    assert rss_hash(MICROSOFT_KEY, src, dst) == ip_only
    assert rss_hash(MICROSOFT_KEY, src, dst, sport, dport) == with_ports
    assert reference_toeplitz(MICROSOFT_KEY, hash_input(src, dst, sport, dport)) == with_ports


@pytest.mark.parametrize("key", [MICROSOFT_KEY, KEY_HEX, DEFAULT_KEY, DEFAULT_KEY.upper(), list(bytearray(MICROSOFT_KEY))])
def test_key_forms(key):
    assert key_bytes(key) == MICROSOFT_KEY
    assert rss_hash(key, "66.9.149.187", "161.142.100.80", 2794, 1766) == 0x51ccc178


def test_input_layout_is_network_byte_order():
    assert hash_input("1.2.3.4", "5.6.7.8", 0x1234, 0xabcd) == bytes(bytearray([1, 2, 3, 4, 5, 6, 7, 8, 0x12, 0x34, 0xab, 0xcd]))
    assert len(hash_input("::1", "::2", 1, 2)) == 36
    assert len(hash_input("::1", "::2")) == 32


@pytest.mark.parametrize("call, match", [
    (lambda: hash_input("1.2.3.4", "::1"), "mix IPv4 and IPv6"),
    (lambda: hash_input("1.2.3.4", "5.6.7.8", 1), "both ports"),
    (lambda: hash_input("1.2.3.4", "5.6.7.8", 1, 70000), "not 0-65535"),
    (lambda: toeplitz_hash(MICROSOFT_KEY[:16], bytes(bytearray(36))), "too short"),
    (lambda: key_bytes("6d:5a:zz"), "hex bytes"),
    (lambda: key_bytes([1, 256]), "byte values"),
    (lambda: key_bytes(42), "must be bytes"),
    (lambda: queue_of(1, []), "empty"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_random_inputs_match_the_reference_loop():
    import random
    rng = random.Random(7)
    for _case in range(200):
        key = bytes(bytearray(rng.randrange(256) for _byte in range(40)))
        data = bytes(bytearray(rng.randrange(256) for _byte in range(rng.choice([8, 12, 32, 36]))))
        assert toeplitz_hash(key, data) == reference_toeplitz(key, data)


@pytest.mark.parametrize("hash_value, table, queue", [
    (0x51ccc178, equal_table(128, 4), 0x78 % 4),          # index = hash & 127
    (0x51ccc17f, equal_table(128, 4), 3),
    (0xffffffff, [0] * 127 + [5], 5),                      # the last entry
    (0x00000080, [1] + [0] * 127, 1),                      # bit 7 is above a 128-entry table
    (10, [0, 1, 2, 3, 4, 5], 4),                           # other sizes: hash % size (10 % 6)
])
def test_queue_is_the_table_entry_at_the_hash_low_bits(hash_value, table, queue):
    assert queue_of(hash_value, table) == queue


def test_parity_key_sends_even_ports_to_the_first_entry():
    assert port_queues(A, B, 51820, PARITY_KEY, [0, 1], range(51820, 51824)) == {51820: 0, 51821: 1, 51822: 0, 51823: 1}


# (table, candidates, options, expected ports, missing) with PARITY_KEY: queue = table[dport & 1]
CHOICES = [
    ("two queues, one each", [0, 1], range(51820, 51830), {"count_per_queue": 1}, [51820, 51821], []),
    ("two queues, two each", [0, 1], range(51820, 51830), {"count_per_queue": 2}, [51820, 51821, 51822, 51823], []),
    ("candidate order is the preference", [0, 1], [51829, 51820, 51822, 51827], {"count_per_queue": 1}, [51820, 51829], []),
    ("four ports in total", [1, 0], range(51820, 51830), {"n_ports": 4}, [51820, 51821, 51822, 51823], []),
    ("odd total: the earliest candidate gets the extra port", [0, 1], range(51820, 51830), {"n_ports": 3}, [51820, 51821, 51822], []),
    ("a queue short of candidates: the others get as few", [0, 1], [51820, 51822, 51824, 51821], {"count_per_queue": 3},
     [51820, 51821], []),
    ("n_ports fills the short queue first, then the others", [0, 1], [51820, 51822, 51824, 51821], {"n_ports": 4},
     [51820, 51821, 51822, 51824], []),
    ("queues 2 and 3 are never reached", equal_table(128, 4), range(51820, 51830), {"count_per_queue": 1},
     [51820, 51821], [2, 3]),
    ("queues on two CPUs: both reached", equal_table(128, 4), range(51820, 51830),
     {"count_per_queue": 2, "queue_to_cpu": {0: 0, 1: 1, 2: 0, 3: 1}}, [51820, 51821, 51822, 51823], []),
    ("two queues on one CPU count as one", [0, 1], range(51820, 51830), {"n_ports": 2, "queue_to_cpu": [0, 0]},
     [51820, 51821], []),
    ("a table that always picks queue 0", [0, 0, 1, 1], range(51820, 51830), {"count_per_queue": 1}, [51820], [1]),
]


@pytest.mark.parametrize("name, table, candidates, options, expected, missing", CHOICES, ids=[c[0] for c in CHOICES])
def test_choose_ports(name, table, candidates, options, expected, missing):
    assert choose_ports(A, B, 51820, PARITY_KEY, table, candidates, **options) == expected
    assert plan_ports(A, B, 51820, PARITY_KEY, table, candidates, **options)["missing"] == missing


@pytest.mark.parametrize("options, match", [
    ({}, "either a count"),
    ({"count_per_queue": 1, "n_ports": 2}, "either a count"),
    ({"count_per_queue": 0}, "at least 1"),
    ({"n_ports": 11}, "only 10 candidates"),
    ({"n_ports": 1, "queue_to_cpu": {0: 0}}, "queue 1 has no CPU"),
])
def test_choose_ports_refuses(options, match):
    with pytest.raises(ValueError, match=match):
        choose_ports(A, B, 51820, PARITY_KEY, [0, 1], range(51820, 51830), **options)


def test_choose_ports_refuses_a_bad_candidate():
    with pytest.raises(ValueError, match="not 1-65535"):
        choose_ports(A, B, 51820, PARITY_KEY, [0, 1], [0, 51820], count_per_queue=1)


@pytest.mark.parametrize("fixture", ["ixgbe/x-equal-4.stdout", "ixgbe/x-16rings.stdout", "ixgbe/x-weight-7-1.stdout",
                                     "mlx5/x.stdout", "mlx5/x-connectx5ex-63rings.stdout"])
@pytest.mark.parametrize("per_queue", [1, 2])
def test_real_tables_and_keys_give_every_queue_the_same_number_of_the_lowest_ports(fixture, per_queue):
    key, table = from_rxfh(parse_rxfh(text(fixture)))
    candidates = list(range(51820, 51820 + 64 * len(set(table))))
    plan = plan_ports(A, B, 51820, key, table, candidates, count_per_queue=per_queue)
    queues = port_queues(A, B, 51820, key, table, candidates)
    assert plan["even"] and not plan["missing"]
    assert sorted(plan["by_target"]) == sorted(set(table))
    for queue, ports in plan["by_target"].items():
        assert ports == [p for p in candidates if queues[p] == queue][:per_queue]
    assert plan["busiest_share"] == 1.0 / len(set(table))


def test_consecutive_ports_with_the_default_key_crowd_one_queue():
    """Why choosing matters: with the Microsoft key and 4 queues, 51820-51827 all hash to one queue."""
    key, table = from_rxfh(parse_rxfh(text("ixgbe/x-equal-4.stdout")))
    assert set(port_queues(A, B, 51820, key, table, range(51820, 51828)).values()) == {2}
    assert choose_ports(A, B, 51820, key, table, range(51820, 51900), count_per_queue=1) == [51820, 51828, 51832, 51836]


def test_from_rxfh_refuses_what_it_cannot_predict():
    rxfh = parse_rxfh(text("mlx5/x.stdout"))
    with pytest.raises(ValueError, match="not toeplitz"):
        from_rxfh(dict(rxfh, hfuncs={"toeplitz": False, "xor": True}))
    with pytest.raises(ValueError, match="no RSS hash key"):
        from_rxfh(dict(rxfh, key=None))
    with pytest.raises(ValueError, match="no RSS indirection table"):
        from_rxfh(parse_rxfh(text("virtio_net/x-sections-unsupported.stdout")))


# ---------------------------------------------------------------- from measured counters

# {(port, cpu): packets} as the meter chain counts them during a calibration probe
PROBE = {
    (51820, 0): 1000, (51820, 1): 0,
    (51821, 0): 998, (51821, 1): 2,      # 99.8 % on CPU 0: clear enough
    (51822, 0): 0, (51822, 1): 1000,
    (51823, 0): 500, (51823, 1): 500,    # split: not trusted
    (51824, 1): 1000,
    (51825, 0): 0, (51825, 1): 0,        # nothing came: not trusted
    (51826, 0): 1000,
    (51827, 1): 1000,
}


def test_port_cpus_keeps_ports_with_a_clear_cpu():
    assert port_cpus(PROBE) == {51820: 0, 51821: 0, 51822: 1, 51824: 1, 51826: 0, 51827: 1}
    assert port_cpus(PROBE, min_share=0.5)[51823] == 0   # a tie goes to the lower CPU
    assert 51821 not in port_cpus(PROBE, min_share=0.999)
    assert port_cpus(PROBE, min_packets=1001) == {}


# (n_cpus, ports_per_cpu, expected ports, missing)
FROM_COUNTS = [
    (2, 1, [51820, 51822], []),
    (2, 2, [51820, 51821, 51822, 51824], []),
    (2, 3, [51820, 51821, 51822, 51824, 51826, 51827], []),
    (2, 4, [51820, 51821, 51822, 51824, 51826, 51827], []),     # 3 clear ports per CPU at most: 3 each
    (3, 1, [51820, 51822], [2]),                               # nothing landed on CPU 2
    ([0, 1], 1, [51820, 51822], []),
]


@pytest.mark.parametrize("n_cpus, per_cpu, expected, missing", FROM_COUNTS)
def test_choose_ports_from_counts(n_cpus, per_cpu, expected, missing):
    assert choose_ports_from_counts(PROBE, n_cpus, per_cpu) == expected
    plan = plan_ports_from_counts(PROBE, n_cpus, per_cpu)
    assert plan["missing"] == missing
    assert plan["even"] == (not missing)


def test_choose_ports_from_counts_with_a_total():
    plan = plan_ports_from_counts(PROBE, 2, n_ports=3)
    assert plan["ports"] == [51820, 51821, 51822]
    assert plan["busiest_share"] == pytest.approx(2 / 3.0)


@pytest.mark.parametrize("counts, n_cpus, match", [
    ({(51820, 3): 10}, 2, r"CPU\(s\) 3 outside"),
    ({(51820, 0): -1}, 2, "negative"),
    ({(51820, 0): 0}, 2, "no candidate port"),
    (PROBE, [], "no CPUs"),
])
def test_choose_ports_from_counts_refuses(counts, n_cpus, match):
    with pytest.raises(ValueError, match=match):
        choose_ports_from_counts(counts, n_cpus, 1)
