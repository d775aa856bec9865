"""rps_xps against a fake /sys in a temporary directory: masks for any CPU count."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.modules import rps_xps
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_rps_xps import Steering
from fakehost import ReplayModule, run_module
from sysroot import put, read


def tree(root, rx, tx, possible, online=None, zero="0", xps=True):
    put(root, "/sys/devices/system/cpu/possible", possible + "\n")
    put(root, "/sys/devices/system/cpu/online", (online or possible) + "\n")
    for i in range(rx):
        put(root, "/sys/class/net/eth0/queues/rx-%d/rps_cpus" % i, zero + "\n")
        put(root, "/sys/class/net/eth0/queues/rx-%d/rps_flow_cnt" % i, "0\n")
    for i in range(tx):
        os.makedirs(os.path.join(str(root), "sys/class/net/eth0/queues/tx-%d" % i))
        if xps:
            put(root, "/sys/class/net/eth0/queues/tx-%d/xps_cpus" % i, zero + "\n")
    put(root, "/proc/sys/net/core/rps_sock_flow_entries", "0\n")


def params(**changes):
    p = dict(device="eth0", rps="auto", xps="auto", cpus=None, exclude_cpus=[], rps_flow_cnt=0,
             rps_sock_flow_entries=None, on_unsupported="warn", rss_spreads_ports=True)
    p.update(changes)
    return p


def host(root):
    return Host(ReplayModule(), root=str(root))


# (what, rx, tx, possible, params, file -> expected text after apply)
CASES = [
    ("single queue, 128 CPUs: all of them, > 64 CPU mask", 1, 1, "0-127", params(),
     {"rx-0/rps_cpus": "ffffffff,ffffffff,ffffffff,ffffffff"}),
    ("96 CPUs minus CPU 0", 1, 1, "0-95", params(exclude_cpus=[0]),
     {"rx-0/rps_cpus": "ffffffff,ffffffff,fffffffe"}),
    ("2 queues on 8 CPUs: dealt round-robin, XPS too", 2, 2, "0-7", params(),
     {"rx-0/rps_cpus": "55", "rx-1/rps_cpus": "aa", "tx-0/xps_cpus": "55", "tx-1/xps_cpus": "aa"}),
    ("as many queues as CPUs: RPS stays off", 4, 4, "0-3", params(),
     {"rx-0/rps_cpus": "0", "tx-3/xps_cpus": "8"}),
    ("a queue per CPU but no RSS on ports (veth): RPS on, every queue over all CPUs", 2, 2, "0-1",
     params(rss_spreads_ports=False),
     {"rx-0/rps_cpus": "3", "rx-1/rps_cpus": "3", "tx-0/xps_cpus": "1", "tx-1/xps_cpus": "2"}),
    ("no RSS on ports, 2 queues on 96 CPUs: every queue over all of them", 2, 2, "0-95",
     params(rss_spreads_ports=False),
     {"rx-0/rps_cpus": "ffffffff,ffffffff,ffffffff", "rx-1/rps_cpus": "ffffffff,ffffffff,ffffffff"}),
    ("no RSS on ports but RPS forced off", 2, 2, "0-1", params(rss_spreads_ports=False, rps="off"),
     {"rx-0/rps_cpus": "0", "rx-1/rps_cpus": "0"}),
    ("RFS flow count rounded up like the kernel", 1, 1, "0-3", params(rps_flow_cnt=3000),
     {"rx-0/rps_flow_cnt": "4096", "rx-0/rps_cpus": "f"}),
]


@pytest.mark.parametrize("rx, tx, possible, p, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_apply(tmp_path, rx, tx, possible, p, expected):
    tree(tmp_path, rx, tx, possible)
    steering = Steering(host(tmp_path), p)
    steering.apply(steering.plan())
    for name, value in expected.items():
        assert read(tmp_path, "/sys/class/net/eth0/queues/" + name) == value
    assert Steering(host(tmp_path), p).plan()["changes"] == []  # idempotent


def test_kernel_style_mask_of_same_cpus_is_in_sync(tmp_path):
    tree(tmp_path, 1, 1, "0-95", zero="ffffffff,ffffffff,ffffffff")
    assert Steering(host(tmp_path), params()).plan()["changes"] == []


def test_check_mode_and_diff(tmp_path, capsys):
    tree(tmp_path, 1, 1, "0-7")
    result = run_module(rps_xps, params(rps_sock_flow_entries=30000), host(tmp_path), check_mode=True, diff=True, capsys=capsys)
    assert result["changed"] is True and result["rps_enabled"] is True
    assert result["changes"] == ["rx-0/rps_cpus: none -> 0-7", "/proc/sys/net/core/rps_sock_flow_entries: 0 -> 32768"]
    assert result["diff"]["after"] == "rx-0/rps_cpus: 0-7\n"
    assert read(tmp_path, "/sys/class/net/eth0/queues/rx-0/rps_cpus") == "0"


@pytest.mark.parametrize("mode, failed", [("warn", False), ("fail", True)])
def test_single_tx_queue_has_no_xps(tmp_path, capsys, mode, failed):
    tree(tmp_path, 1, 1, "0-3", xps=False)  # the kernel answers ENOENT for xps_cpus of a single-queue device
    result = run_module(rps_xps, params(xps="on", on_unsupported=mode), host(tmp_path), capsys=capsys)
    assert result.get("failed", False) is failed and result["unsupported"] is True
    assert "tx-0/xps_cpus: no XPS" in result["unsupported_reason"]
    if not failed:
        assert read(tmp_path, "/sys/class/net/eth0/queues/rx-0/rps_cpus") == "f"


def test_off_clears(tmp_path):
    tree(tmp_path, 1, 1, "0-3", zero="f")
    steering = Steering(host(tmp_path), params(rps="off"))
    steering.apply(steering.plan())
    assert read(tmp_path, "/sys/class/net/eth0/queues/rx-0/rps_cpus") == "0"


def test_read_only_sys_is_unsupported_and_no_change(tmp_path, capsys, monkeypatch):
    """Containers mount /sys read-only: nothing is written, nothing counts as changed, in check mode too."""
    tree(tmp_path, 1, 2, "0-3")
    monkeypatch.setattr(Host, "syswritable", lambda self, path: False)
    for check_mode in (True, False):
        result = run_module(rps_xps, params(), host(tmp_path), check_mode=check_mode, capsys=capsys)
        assert result["changed"] is False and result["changes"] == [] and result["unsupported"] is True
        assert "rx-0/rps_cpus: cannot be written (Read-only file system)" in result["unsupported_reason"]
        assert len(result["warnings"]) == 1
    assert read(tmp_path, "/sys/class/net/eth0/queues/rx-0/rps_cpus") == "0"


def test_write_refused_by_the_kernel_is_unsupported(tmp_path, capsys, monkeypatch):
    import errno

    tree(tmp_path, 1, 1, "0-3")

    def refuse(self, path, text):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(Host, "syswrite", refuse)
    result = run_module(rps_xps, params(on_unsupported="skip"), host(tmp_path), capsys=capsys)
    assert result["changed"] is False and result["changes"] == [] and result["unsupported"] is True
    assert "Read-only file system" in result["unsupported_reason"]
    assert result["queues"][0]["cpus"] == []


def test_check_mode_plans_for_the_queues_after_a_channel_change(tmp_path, capsys):
    """4 queues now, 1 RX and 2 TX after the (only predicted) ethtool -L: masks for those."""
    tree(tmp_path, 4, 4, "0-3")
    result = run_module(rps_xps, params(rx_queues=1, tx_queues=2), host(tmp_path), check_mode=True, diff=True,
                        capsys=capsys)
    assert [q["file"] for q in result["queues"]] == ["rx-0/rps_cpus", "tx-0/xps_cpus", "tx-1/xps_cpus"]
    assert result["changes"] == ["rx-0/rps_cpus: none -> 0-3", "tx-0/xps_cpus: none -> 0,2", "tx-1/xps_cpus: none -> 1,3"]
    grown = run_module(rps_xps, params(rx_queues=6, tx_queues=4), host(tmp_path), check_mode=True, capsys=capsys)
    assert "rx-5/rps_cpus" in [q["file"] for q in grown["queues"]]
    # outside check mode the device's own queues count
    real = run_module(rps_xps, params(rx_queues=1, tx_queues=2), host(tmp_path), check_mode=False, capsys=capsys)
    assert len([q for q in real["queues"] if q["file"].startswith("tx-")]) == 4
