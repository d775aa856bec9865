"""ethtool_channels decides from recorded ethtool -l outputs; unsupported drivers never crash it."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import ethtool_channels
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_channels import Channels
from fakehost import FakeHost, run_module
from ethtool_fixtures import fixture

ONLINE = "/sys/devices/system/cpu/online"


def params(**changes):
    p = dict(device="eth0", combined=None, rx=None, tx=None, cpu_count=None, on_unsupported="warn")
    p.update(changes)
    return p


def host(before, after=None, cpus="0-7", set_argv=None, set_answer=""):
    commands = {("ethtool", "-l", "eth0"): [fixture(before)] + ([fixture(after)] if after else [])}
    if set_argv:
        commands[tuple(set_argv)] = set_answer
    return FakeHost(files={ONLINE: cpus + "\n"}, commands=commands)


def test_single_queue_virtio_goes_to_its_maximum_and_is_verified():
    h = host("virtio_net/l-single-queue-of-4", "virtio_net/l-combined-4-of-4",
             set_argv=["ethtool", "-L", "eth0", "combined", "4"])
    channels = Channels(h, params())
    plan = channels.plan()
    assert plan["changes"] == ["combined 1 -> 4"]
    assert channels.apply(plan)["combined"] == 4
    assert ("ethtool", "-L", "eth0", "combined", "4") in h.calls


def test_change_that_does_not_stick_fails():
    h = host("ena/l-combined-1-of-2", "ena/l-combined-1-of-2", set_argv=["ethtool", "-L", "eth0", "combined", "2"])
    channels = Channels(h, params())
    with pytest.raises(ValueError, match="combined is 1, wanted 2"):
        channels.apply(channels.plan())


@pytest.mark.parametrize("before, cpus, expected", [
    ("ena/l-combined-2-of-2", "0-15", []),
    ("virtio_net/l-single-queue-of-4", "0-1", ["combined 1 -> 2"]),
    ("veth/l-single-queue", "0-7", ["rx 1 -> 2", "tx 1 -> 2"]),
])
def test_plans(before, cpus, expected):
    assert Channels(host(before, cpus=cpus), params()).plan()["changes"] == expected


def test_check_mode_runs_no_set_command(capsys):
    h = host("virtio_net/l-single-queue-of-4")
    result = run_module(ethtool_channels, params(), h, check_mode=True, diff=True, capsys=capsys)
    assert result["changed"] is True and result["channels"]["combined"] == 4
    assert result["diff"] == {"before": "rx: 0\ntx: 0\nother: 0\ncombined: 1\n", "after": "rx: 0\ntx: 0\nother: 0\ncombined: 4\n"}
    assert not [c for c in h.calls if c[:2] == ("ethtool", "-L")]


UNSUPPORTED = [
    ("warn", False, 1),
    ("skip", False, 0),
    ("fail", True, 0),
]


@pytest.mark.parametrize("mode, failed, warnings", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_operation_not_supported_per_on_unsupported(mode, failed, warnings, capsys):
    rc, out, err = fixture("other/l-unsupported")
    h = FakeHost(files={ONLINE: "0-3"}, commands={("ethtool", "-l", "eth0"): (1, out, err)})
    result = run_module(ethtool_channels, params(on_unsupported=mode), h, capsys=capsys)
    assert result.get("failed", False) is failed
    assert result["unsupported"] is True and "Operation not supported" in result["unsupported_reason"]
    assert result.get("changed", False) is False
    assert len(result.get("warnings", [])) == warnings


@pytest.mark.parametrize("name", ["mlx5/l", "mlx5/l-connectx5ex-ofed-combined-63-of-63"])
def test_too_many_requested_fails_even_with_warn(name, capsys):
    result = run_module(ethtool_channels, params(combined=64), host(name), capsys=capsys)
    assert result["failed"] is True and "above the driver's maximum 63" in result["msg"]
