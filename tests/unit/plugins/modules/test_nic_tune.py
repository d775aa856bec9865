"""nic_tune runs the NIC steps' own code over every device in one call, against recorded ethtool
outputs and a fake /sys: the same results a task per step would register, and RPS/XPS wired to
what RSS and the flow hash found."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.modules import nic_tune
from ethtool_fixtures import fixture
from fakehost import ReplayModule, run_module
from sysroot import put

VETH = {
    ("ethtool", "-l", "eth0"): fixture("veth/l-single-queue"),
    ("ethtool", "-x", "eth0"): fixture("veth/x"),
    ("ethtool", "-n", "eth0", "rx-flow-hash", "udp4"): fixture("veth/n-udp4"),
    ("ethtool", "-n", "eth0", "rx-flow-hash", "udp6"): fixture("veth/n-udp4"),
}


def veth(root, queues=1):
    """A veth with ``queues`` rx and tx queues on a 2-CPU host."""
    put(root, "/sys/devices/system/cpu/possible", "0-1\n")
    put(root, "/sys/devices/system/cpu/online", "0-1\n")
    put(root, "/proc/sys/net/core/rps_sock_flow_entries", "0\n")
    for i in range(queues):
        put(root, "/sys/class/net/eth0/queues/rx-%d/rps_cpus" % i, "0\n")
        put(root, "/sys/class/net/eth0/queues/rx-%d/rps_flow_cnt" % i, "0\n")
        put(root, "/sys/class/net/eth0/queues/tx-%d/xps_cpus" % i, "0\n")
    return Host(ReplayModule(dict(VETH)), root=str(root))


ALL_STEPS = dict(channels={}, rss={}, flow_hash={"fields": "sdfn"}, rps_xps={"rps": "auto", "xps": "auto"})


def test_every_step_in_one_call_registers_what_a_task_per_step_would(tmp_path, capsys):
    result = run_module(nic_tune, dict(ALL_STEPS, devices=["eth0"], on_unsupported="skip"), veth(tmp_path),
                        check_mode=True, capsys=capsys)
    assert not result.get("failed"), result
    steps = result["steps"]
    assert set(steps) == {"channels", "rss", "flow_hash", "irq_affinity", "rps_xps"}
    assert steps["irq_affinity"] == {"skipped": True, "changed": False, "results": []}
    (channels,) = steps["channels"]["results"]
    assert channels["item"] == "eth0" and channels["channels"]["rx"] == 2 and channels["changed"]
    # veth has no RSS and no UDP flow hash: both say so, and RPS alone steers the ports...
    assert steps["rss"]["results"][0]["unsupported"] and steps["flow_hash"]["results"][0]["unsupported"]
    (rps,) = steps["rps_xps"]["results"]
    assert rps["rps_enabled"] is True
    # ...over the two queues the channel step will leave (check mode: sysfs still shows one)
    assert sorted(q["file"] for q in rps["queues"] if q["file"].startswith("rx-")) == ["rx-0/rps_cpus", "rx-1/rps_cpus"]
    assert result["changed"] is True


def test_steps_that_are_off_do_not_run(tmp_path, capsys):
    gateway = veth(tmp_path)
    result = run_module(nic_tune, {"devices": ["eth0"], "rps_xps": {"rps": "auto"}}, gateway, capsys=capsys)
    assert [call for call in gateway.module.calls if call[0] == "ethtool"] == []
    assert result["steps"]["channels"]["skipped"] and len(result["steps"]["rps_xps"]["results"]) == 1


def test_a_failing_step_names_the_step_and_the_device_and_stops(tmp_path, capsys):
    result = run_module(nic_tune, dict(ALL_STEPS, devices=["eth0"], on_unsupported="fail"), veth(tmp_path),
                        check_mode=True, capsys=capsys)
    assert result["failed"] and result["msg"].startswith("rss: eth0: not supported by the driver")
    assert "results" not in result["steps"]["rps_xps"] or result["steps"]["rps_xps"]["results"] == []


@pytest.mark.parametrize("options, message", [
    ({"rss": {"equal": 2, "weights": [1, 1]}}, "rss: eth0: parameters are mutually exclusive: equal|weights"),
    ({"channels": {"combined": "many"}}, "channels: eth0: "),
    ({"flow_hash": {"typo": 1}}, "flow_hash: eth0: Unsupported parameters"),
])
def test_a_bad_step_option_is_named(tmp_path, capsys, options, message):
    result = run_module(nic_tune, dict(options, devices=["eth0"]), veth(tmp_path), capsys=capsys)
    assert result["failed"] and result["msg"].startswith(message), result["msg"]
