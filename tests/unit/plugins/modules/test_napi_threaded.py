"""napi_threaded against a fake /sys in a temporary directory: refusals never crash or count as changes."""

import errno
import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.modules import napi_threaded
from fakehost import ReplayModule, run_module
from sysroot import put, read


def device(root, name, threaded="0"):
    put(root, "/sys/class/net/%s/ifindex" % name, "7\n")
    if threaded is not None:
        put(root, "/sys/class/net/%s/threaded" % name, threaded + "\n")


def run(root, capsys, check_mode=False, diff=False, **args):
    params = dict(devices=["wg0"], threaded=None, on_unsupported=None)
    params.update(args)
    return run_module(napi_threaded, params, Host(ReplayModule(), root=str(root)),
                      check_mode=check_mode, diff=diff, capsys=capsys)


def test_turns_it_on_once(tmp_path, capsys):
    device(tmp_path, "wg0")
    result = run(tmp_path, capsys)
    assert result["changed"] is True and result["changes"] == ["wg0: threaded 0 -> 1"]
    assert read(tmp_path, "/sys/class/net/wg0/threaded") == "1"
    again = run(tmp_path, capsys)
    assert again["changed"] is False and again["threaded"] == {"wg0": 1}


def test_threaded_busy_poll_counts_as_on(tmp_path, capsys):
    device(tmp_path, "wg0", "2")
    assert run(tmp_path, capsys)["changed"] is False
    assert read(tmp_path, "/sys/class/net/wg0/threaded") == "2"


def test_check_mode_and_diff_write_nothing(tmp_path, capsys):
    device(tmp_path, "wg0")
    result = run(tmp_path, capsys, check_mode=True, diff=True)
    assert result["changed"] is True and result["diff"] == {"before": "wg0: 0\n", "after": "wg0: 1\n"}
    assert read(tmp_path, "/sys/class/net/wg0/threaded") == "0"


@pytest.mark.parametrize("mode, failed, warnings", [("warn", False, 1), ("skip", False, 0), ("fail", True, 0)])
def test_operation_not_supported_is_reported_once(tmp_path, capsys, monkeypatch, mode, failed, warnings):
    """Some kernels refuse the write (EOPNOTSUPP); all refused devices end up in one warning."""
    device(tmp_path, "wg0")
    device(tmp_path, "wg1")
    device(tmp_path, "wg2", "1")

    def refuse(self, path, text):
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
    monkeypatch.setattr(Host, "syswrite", refuse)
    result = run(tmp_path, capsys, devices=["wg0", "wg1", "wg2"], on_unsupported=mode)
    assert result.get("failed", False) is failed and result["unsupported"] is True
    assert result["changes"] == [] and not result.get("changed")
    assert result["threaded"] == {"wg0": None, "wg1": None, "wg2": 1}
    assert result["unsupported_reason"].count("Operation not supported") == 2
    assert len(result["warnings"]) == warnings


def test_read_only_sys_is_unsupported_in_check_mode_too(tmp_path, capsys, monkeypatch):
    device(tmp_path, "wg0")
    monkeypatch.setattr(Host, "syswritable", lambda self, path: False)
    for check_mode in (True, False):
        result = run(tmp_path, capsys, check_mode=check_mode)
        assert result["changed"] is False and result["unsupported"] is True
        assert "Read-only file system" in result["unsupported_reason"]


def test_kernel_without_threaded_napi(tmp_path, capsys):
    device(tmp_path, "wg0", threaded=None)
    result = run(tmp_path, capsys, on_unsupported="skip")
    assert result["changed"] is False and "no threaded NAPI" in result["unsupported_reason"]


def test_missing_device_fails(tmp_path, capsys):
    result = run(tmp_path, capsys, devices=["wg9"])
    assert result["failed"] is True and "no network device wg9" in result["msg"]
