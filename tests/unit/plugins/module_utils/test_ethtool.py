"""ethtool parsers and decisions over outputs recorded on real drivers (see fixtures/ethtool/README.md)."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import (
    Unsupported, check_result, decide_channels, decide_rss, equal_table, normalize_fields, normalize_key,
    parse_channels, parse_features, parse_flow_hash, parse_rxfh, weight_table,
)
from ethtool_fixtures import DEFAULT_KEY, fixture


# (fixture, max, current)
CHANNELS = [
    ("veth/l", dict(rx=4, tx=4, other=None, combined=None), dict(rx=4, tx=4, other=None, combined=None)),
    ("veth/l-single-queue", dict(rx=2, tx=2, other=None, combined=None), dict(rx=1, tx=1, other=None, combined=None)),
    ("veth/l-after-L", dict(rx=4, tx=4, other=None, combined=None), dict(rx=2, tx=2, other=None, combined=None)),
    ("ena/l-combined-2-of-2", dict(rx=0, tx=0, other=0, combined=2), dict(rx=0, tx=0, other=0, combined=2)),
    ("ena/l-combined-1-of-2", dict(rx=0, tx=0, other=0, combined=2), dict(rx=0, tx=0, other=0, combined=1)),
    ("ena/l-combined-8-of-8", dict(rx=0, tx=0, other=0, combined=8), dict(rx=0, tx=0, other=0, combined=8)),
    ("virtio_net/l-combined-4-of-4", dict(rx=None, tx=None, other=None, combined=4), dict(rx=None, tx=None, other=None, combined=4)),
    ("virtio_net/l-single-queue-of-4", dict(rx=0, tx=0, other=0, combined=4), dict(rx=0, tx=0, other=0, combined=1)),
    ("mlx5/l", dict(rx=None, tx=None, other=None, combined=63), dict(rx=None, tx=None, other=None, combined=8)),
    # ConnectX-5 Ex, MLNX_OFED 5.3 mlx5_core, ioctl ethtool (0, not n/a); OFED's driver reports 512 "other".
    ("mlx5/l-connectx5ex-ofed-combined-63-of-63", dict(rx=0, tx=0, other=512, combined=63), dict(rx=0, tx=0, other=0, combined=63)),
]


@pytest.mark.parametrize("name, maximum, current", list(CHANNELS), ids=[c[0] for c in CHANNELS])
def test_parse_channels(name, maximum, current):
    parsed = parse_channels(fixture(name)[1])
    assert parsed == {"max": maximum, "current": current}


# (fixture, cpu count, explicit counts, expected (kind, have, wanted) list)
CHANNEL_DECISIONS = [
    ("virtio single queue, 8 cpus: all 4", "virtio_net/l-single-queue-of-4", 8, {}, [("combined", 1, 4)]),
    ("virtio single queue, 2 cpus: capped at cpus", "virtio_net/l-single-queue-of-4", 2, {}, [("combined", 1, 2)]),
    ("ena already at max", "ena/l-combined-2-of-2", 16, {}, []),
    ("ena reduced by hand goes back up", "ena/l-combined-1-of-2", 16, {}, [("combined", 1, 2)]),
    ("mlx5 8 of 63, 32 cpus", "mlx5/l", 32, {}, [("combined", 8, 32)]),
    ("mlx5 explicit 4", "mlx5/l", 32, {"combined": 4}, [("combined", 8, 4)]),
    ("ConnectX-5 Ex 63 of 63, 96 cpus: in sync", "mlx5/l-connectx5ex-ofed-combined-63-of-63", 96, {}, []),
    ("ConnectX-5 Ex 63 of 63, 32 cpus: down to 32", "mlx5/l-connectx5ex-ofed-combined-63-of-63", 32, {}, [("combined", 63, 32)]),
    ("ConnectX-5 Ex explicit 8", "mlx5/l-connectx5ex-ofed-combined-63-of-63", 96, {"combined": 8}, [("combined", 63, 8)]),
    ("veth has rx/tx only", "veth/l-single-queue", 8, {}, [("rx", 1, 2), ("tx", 1, 2)]),
    ("veth in sync", "veth/l", 4, {}, []),
]


@pytest.mark.parametrize("name, cpus, explicit, expected", [c[1:] for c in CHANNEL_DECISIONS],
                         ids=[c[0] for c in CHANNEL_DECISIONS])
def test_decide_channels(name, cpus, explicit, expected):
    assert decide_channels(parse_channels(fixture(name)[1]), cpus, **explicit) == expected


@pytest.mark.parametrize("name, explicit, error, match", [
    ("mlx5/l", {"combined": 64}, ValueError, "above the driver's maximum 63"),
    ("mlx5/l-connectx5ex-ofed-combined-63-of-63", {"combined": 64}, ValueError, "above the driver's maximum 63"),
    ("mlx5/l-connectx5ex-ofed-combined-63-of-63", {"rx": 1}, Unsupported, "no rx channels"),
    ("veth/l", {"combined": 2}, Unsupported, "no combined channels"),
    ("ena/l-combined-2-of-2", {"rx": 1}, Unsupported, "no rx channels"),
])
def test_decide_channels_refuses(name, explicit, error, match):
    with pytest.raises(error, match=match):
        decide_channels(parse_channels(fixture(name)[1]), 8, **explicit)


def test_no_settable_channel_is_unsupported():
    text = "Channel parameters for x:\nPre-set maximums:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\tn/a\n" \
           "Current hardware settings:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\tn/a\n"
    with pytest.raises(Unsupported, match="no settable"):
        decide_channels(parse_channels(text), 8)


# (fixture, argv, expected exception or None, match)
RESULTS = [
    ("veth/x", ["ethtool", "-x", "eth0"], Unsupported, "Cannot get RX ring count: Operation not supported"),
    ("veth/n-udp4", ["ethtool", "-n", "eth0"], Unsupported, "flow hashing options: Operation not supported"),
    ("veth/N-udp4-sdfn", ["ethtool", "-N", "eth0"], Unsupported, "Cannot change RX network flow hashing"),
    ("veth/X-equal-2", ["ethtool", "-X", "eth0"], Unsupported, "Operation not supported"),
    ("veth/L-combined-2", ["ethtool", "-L", "eth0"], ValueError, "requested channel count exceeds maximum"),
    ("other/l-unsupported", ["ethtool", "-l", "enP5p1s0"], Unsupported, "Cannot get device channel parameters"),
    ("veth/l", ["ethtool", "-l", "eth0"], None, None),
]


@pytest.mark.parametrize("name, argv, error, match", RESULTS, ids=[r[0] for r in RESULTS])
def test_check_result_classifies_failures(name, argv, error, match):
    rc, out, err = fixture(name)
    if name == "other/l-unsupported":
        rc = 1  # the source did not show the exit code; ethtool exits non-zero here
    if error is None:
        assert check_result(argv, rc, out, err) == out
    else:
        with pytest.raises(error, match=match):
            check_result(argv, rc, out, err)


def test_exit_code_zero_with_cannot_message_is_a_failure():
    rc, out, err = fixture("veth/N-udp4-sdfn")
    assert rc == 0 and err  # the recording: ethtool 6.1 exits 0 here
    with pytest.raises(Unsupported):
        check_result(["ethtool", "-N", "eth0", "rx-flow-hash", "udp4", "sdfn"], rc, out, err)


# (fixture, rings, first 16 table entries, key, active hash function)
RXFH = [
    ("ixgbe/x-16rings", 16, list(range(16)), DEFAULT_KEY, None),
    ("ixgbe/x-10rings", 10, list(range(10)) + list(range(6)), DEFAULT_KEY, None),
    ("ixgbe/x-symmetric-key", 16, list(range(16)), ":".join(["6d:5a"] * 20), None),
    ("ixgbe/x-82599-63rings-table-only", 63, list(range(16)), None, None),
    ("virtio_net/x-sections-unsupported", 2, None, None, "toeplitz"),
    ("mlx5/x", 8, list(range(8)) * 2, "7c:9c:37:de:18:dc:43:86:d9:27:0f:6f:26:03:74:b8:bf:d0:40:4b:"
     "78:72:e2:24:dc:1b:91:bb:01:1b:a7:a6:37:6c:c8:7e:d6:e3:14:17", "toeplitz"),
    # ConnectX-5 Ex: 128 entries over 63 rings (0-62, then 0 again at entry 63), a random 40-byte key.
    ("mlx5/x-connectx5ex-63rings", 63, list(range(16)), "f4:8a:21:18:f8:03:b2:75:17:45:c5:3b:c7:db:66:b4:eb:73:ea:53:"
     "7d:13:93:3b:f1:50:65:55:e1:20:d6:3d:87:52:59:f3:f8:25:f2:2c", "toeplitz"),
]


@pytest.mark.parametrize("name, rings, head, key, hfunc", RXFH, ids=[r[0] for r in RXFH])
def test_parse_rxfh(name, rings, head, key, hfunc):
    parsed = parse_rxfh(fixture(name)[1])
    assert parsed["rings"] == rings
    assert (parsed["table"][:16] if parsed["table"] else None) == head
    if parsed["table"]:
        assert len(parsed["table"]) == 128
    assert parsed["key"] == key
    assert ([n for n, on in parsed["hfuncs"].items() if on] or [None])[0] == hfunc


# ethtool's own fill algorithms must reproduce what the ixgbe driver showed after each -X, and the
# default table the mlx5 driver set up for 63 rings (the same round robin as "equal 63").
TABLES = [
    ("ixgbe/x-equal-4", lambda: equal_table(128, 4)),
    ("ixgbe/x-16rings", lambda: equal_table(128, 16)),
    ("ixgbe/x-10rings", lambda: equal_table(128, 10)),
    ("ixgbe/x-weight-0-1", lambda: weight_table(128, [0, 1] * 8)),
    ("ixgbe/x-weight-7-1", lambda: weight_table(128, [7, 1] * 8)),
    ("mlx5/x-connectx5ex-63rings", lambda: equal_table(128, 63)),
]


@pytest.mark.parametrize("name, build", TABLES, ids=[t[0] for t in TABLES])
def test_table_algorithms_match_recorded_tables(name, build):
    assert parse_rxfh(fixture(name)[1])["table"] == build()


# (what, fixture, decide_rss kwargs, expected args, expected changes)
RSS_DECISIONS = [
    ("equal over all rings: in sync", "ixgbe/x-16rings", dict(equal=16), [], []),
    ("equal 4 from 16", "ixgbe/x-16rings", dict(equal=4), ["equal", "4"], ["indirection table: equal 4"]),
    ("weights already applied", "ixgbe/x-weight-7-1", dict(weights=[7, 1] * 8), [], []),
    ("back to equal from weights", "ixgbe/x-weight-7-1", dict(equal=16), ["equal", "16"], ["indirection table: equal 16"]),
    ("key given without colons, same key", "ixgbe/x-16rings", dict(key=DEFAULT_KEY.replace(":", "").upper()), [], []),
    ("symmetric key", "ixgbe/x-16rings", dict(key="6d5a" * 20), ["hkey", ":".join(["6d:5a"] * 20)], ["hash key changed"]),
    ("mlx5 to xor", "mlx5/x", dict(equal=8, hfunc="xor"), ["hfunc", "xor"], ["hash function toeplitz -> xor"]),
    ("ConnectX-5 Ex default is equal 63: in sync", "mlx5/x-connectx5ex-63rings", dict(equal=63), [], []),
    ("ConnectX-5 Ex equal 8", "mlx5/x-connectx5ex-63rings", dict(equal=8), ["equal", "8"], ["indirection table: equal 8"]),
    ("ConnectX-5 Ex to xor", "mlx5/x-connectx5ex-63rings", dict(hfunc="xor"), ["hfunc", "xor"], ["hash function toeplitz -> xor"]),
    ("ConnectX-5 Ex same key", "mlx5/x-connectx5ex-63rings", dict(key="F48A2118F803B2751745C53BC7DB66B4EB73EA537D13933BF1506555E120D63D875259F3F825F22C"),
     [], []),
    ("virtio: only hfunc asked, already toeplitz", "virtio_net/x-sections-unsupported", dict(hfunc="toeplitz"), [], []),
]


@pytest.mark.parametrize("name, kwargs, args, changes", [d[1:] for d in RSS_DECISIONS], ids=[d[0] for d in RSS_DECISIONS])
def test_decide_rss(name, kwargs, args, changes):
    assert decide_rss(parse_rxfh(fixture(name)[1]), **kwargs) == (args, changes)


@pytest.mark.parametrize("name, kwargs, error, match", [
    ("virtio_net/x-sections-unsupported", dict(equal=2), Unsupported, "indirection table"),
    ("virtio_net/x-sections-unsupported", dict(key="00" * 40), Unsupported, "hash key"),
    ("ixgbe/x-16rings", dict(hfunc="xor"), Unsupported, "not offered"),
    ("ixgbe/x-16rings", dict(key="6d5a"), ValueError, "2 bytes, the driver's key has 40"),
    ("ixgbe/x-16rings", dict(equal=17), ValueError, "outside 1..16"),
    ("ixgbe/x-16rings", dict(weights=[1] * 17), ValueError, "17 weights for 16 RX rings"),
    ("mlx5/x-connectx5ex-63rings", dict(equal=64), ValueError, "outside 1..63"),
    ("mlx5/x-connectx5ex-63rings", dict(weights=[1] * 64), ValueError, "64 weights for 63 RX rings"),
    ("mlx5/x-connectx5ex-63rings", dict(key="6d5a" * 16), ValueError, "32 bytes, the driver's key has 40"),
])
def test_decide_rss_refuses(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        decide_rss(parse_rxfh(fixture(name)[1]), **kwargs)


@pytest.mark.parametrize("key", ["zz", "abc", ""])
def test_bad_keys(key):
    with pytest.raises(ValueError):
        normalize_key(key)


@pytest.mark.parametrize("name, fields", [
    ("ixgbe/n-udp4-sd", "sd"),
    ("ixgbe/n-udp4-sdfn", "sdfn"),
    ("mlx5/n-udp4", "sdfn"),
])
def test_parse_flow_hash(name, fields):
    assert parse_flow_hash(fixture(name)[1]) == fields


@pytest.mark.parametrize("given, normal", [("nfds", "sdfn"), ("sdfn", "sdfn"), ("ds", "sd"), ("", "")])
def test_normalize_fields(given, normal):
    assert normalize_fields(given) == normal


def test_unknown_field_letter_is_refused():
    with pytest.raises(ValueError, match="unknown rx-flow-hash field letter"):
        normalize_fields("sdx")


def test_parse_features_of_veth():
    features = parse_features(fixture("veth/k")[1])
    assert features["receive-hashing"] == {"on": False, "fixed": True}
    assert features["tx-checksum-ip-generic"] == {"on": True, "fixed": False}
    assert features["generic-receive-offload"] == {"on": False, "fixed": False}
