"""What the NIC modules replay at boot, and the script the nic_tuning role makes of it."""

import subprocess

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils import nic_boot

PARAMS = {"equal": None, "weights": None, "hfunc": None, "hash_key": None, "rps_flow_cnt": 4096}


@pytest.mark.parametrize("replay, expected", [
    (nic_boot.channels("eth0", {"maximum": {"combined": 8, "rx": 0, "tx": 0}, "channels": {"combined": 2, "rx": 0, "tx": 0}}),
     [["run", "ethtool", "-L", "eth0", "combined", "2"]]),
    # a kind the NIC does not have (maximum 0) is not replayed; nothing at all: no command
    (nic_boot.channels("eth0", {"maximum": {"rx": 4, "tx": 4}, "channels": {"rx": 2, "tx": None}}),
     [["run", "ethtool", "-L", "eth0", "rx", "2"]]),
    (nic_boot.channels("eth0", {"maximum": {"combined": 0}, "channels": {"combined": 1}}), []),
    (nic_boot.rss("eth0", {"rings": 4, "indirection_table": [0, 1, 2, 3], "hash_key": "6d:5a"}, PARAMS),
     [["run", "ethtool", "-X", "eth0", "equal", "4"]]),
    (nic_boot.rss("eth0", {"rings": 4, "indirection_table": [0, 1], "hash_key": "6d:5a"},
                  dict(PARAMS, weights=[7, 1], hfunc="toeplitz", hash_key="6d:5a")),
     [["run", "ethtool", "-X", "eth0", "weight", "7", "1", "hfunc", "toeplitz", "hkey", "6d:5a"]]),
    (nic_boot.rss("eth0", {"rings": 1, "indirection_table": [], "hash_key": None}, PARAMS), []),
    (nic_boot.flow_hash("eth0", {"fields": {"udp6": "sdfn", "udp4": "sdfn"}}),
     [["run", "ethtool", "-N", "eth0", "rx-flow-hash", "udp4", "sdfn"], ["run", "ethtool", "-N", "eth0", "rx-flow-hash", "udp6", "sdfn"]]),
    (nic_boot.irq({"mapping": [{"name": "mlx5_comp0@pci:0000:3b:00.0", "cpu": 2}, {"name": "x", "cpu": None}]}),
     [["pin", "mlx5_comp0@pci:0000:3b:00.0", "2"]]),
    # a queue file the kernel refused is not replayed; RPS off writes a flow count of 0
    (nic_boot.rps_xps("eth0", {"queues": [{"file": "rx-0/rps_cpus", "mask": "3"}, {"file": "tx-0/xps_cpus", "mask": "1"}],
                               "rps_enabled": False, "unsupported_reason": "tx-0/xps_cpus: Read-only file system"}, PARAMS),
     [["put", "3", "/sys/class/net/eth0/queues/rx-0/rps_cpus"], ["put", "0", "/sys/class/net/eth0/queues/rx-0/rps_flow_cnt"]]),
    (nic_boot.features("eth0", {"features": {"rx-udp-gro-forwarding": True, "rx-gro-list": False}}),
     [["run", "ethtool", "-K", "eth0", "rx-gro-list", "off"], ["run", "ethtool", "-K", "eth0", "rx-udp-gro-forwarding", "on"]]),
])
def test_each_step_replays_what_it_set(replay, expected):
    assert replay == expected


def test_napi_replays_per_device_what_the_kernel_took():
    assert nic_boot.napi({"threaded": {"wg-a": 1, "wg-b": None}}) == {"wg-a": [["put", "1", "/sys/class/net/wg-a/threaded"]]}


def test_the_boot_script_keeps_the_step_order_quotes_and_skips_what_did_not_run():
    steps = {
        "rps_xps": {"results": [{"item": "eth0", "replay": [["put", "3", "/sys/class/net/eth0/queues/rx-0/rps_cpus"]]}]},
        "channels": {"results": [{"item": "eth0", "replay": [["run", "ethtool", "-L", "eth0", "combined", "2"]]},
                                 {"item": "eth 1", "failed": True, "replay": [["run", "never"]]}]},
        "irq": {"results": [{"item": "eth0", "skipped": True}]},
    }
    script = nic_boot.boot_script(["eth0", "eth 1"], steps, {"replay": {"wg-a": [["put", "1", "/sys/class/net/wg-a/threaded"]]}}, 32768)
    body = script[script.index("# eth0"):]
    assert body == ("# eth0\nif present eth0; then\n    run ethtool -L eth0 combined 2\n"
                    "    put 3 /sys/class/net/eth0/queues/rx-0/rps_cpus\nfi\n\n"
                    "# eth 1\nif present 'eth 1'; then\n    :  # nothing that the driver took\nfi\n\n"
                    "put 32768 /proc/sys/net/core/rps_sock_flow_entries\n\n"
                    "# Threaded NAPI of kernel WireGuard interfaces as decided for this kernel (0: off, CVE-2026-52945)\n"
                    "if present wg-a; then\n"
                    "    put 1 /sys/class/net/wg-a/threaded\nfi\n\nexit \"$failed\"\n")
    # the shell reads it (the role's template task checks the same with sh -n)
    subprocess.run(["sh", "-n", "/dev/stdin"], input="#!/bin/sh\n" + script, text=True, check=True)


def test_threaded_napi_turned_off_is_replayed_as_0():
    """The nic_tuning role writes 0 on kernels not known safe; the boot script keeps it off
    (also where the kernel would turn it on by itself at each boot)."""
    replay = nic_boot.napi({"threaded": {"wg-a": 0, "wg-b": None}})
    assert replay == {"wg-a": [["put", "0", "/sys/class/net/wg-a/threaded"]]}
    script = nic_boot.boot_script([], {}, {"replay": replay})
    assert "if present wg-a; then\n    put 0 /sys/class/net/wg-a/threaded\nfi\n" in script
