"""host_files writes real files (below a temporary root) and asks a replayed systemctl about units."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import host_files
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from fakehost import ReplayModule, run_module
from sysroot import put, read

UNIT = "/etc/systemd/system/wgspread-nft.service"
TABLE = "/etc/wgspread/wgspread.nft"


class Gateway(ReplayModule):
    """systemctl answers from ``units`` ({name: (enabled, active)}); validate commands pass unless
    their temporary file holds "bad"."""

    def __init__(self, units=None, binaries=("systemctl", "nft")):
        super(Gateway, self).__init__(binaries=binaries)
        self.units = dict(units or {})

    def run_command(self, argv, data=None, binary_data=False):
        argv = tuple(argv)
        self.calls.append(argv)
        if argv[:2] == ("systemctl", "is-enabled"):
            return (0, "enabled\n", "") if self.units.get(argv[2], (False, False))[0] else (1, "disabled\n", "")
        if argv[:2] == ("systemctl", "is-active"):
            return (0, "active\n", "") if self.units.get(argv[2], (False, False))[1] else (3, "inactive\n", "")
        if argv[0] == "systemctl":
            return 0, "", ""
        if argv[:3] == ("nft", "-c", "-f"):
            with open(argv[3]) as handle:
                return (1, "", "syntax error") if "bad" in handle.read() else (0, "", "")
        raise AssertionError("unexpected command %s" % " ".join(argv))


def files(table="table inet wgspread {}\n", mode="0644"):
    return [{"path": TABLE, "content": table, "validate": "nft -c -f %s", "mode": mode},
            {"path": UNIT, "content": "[Unit]\n"},
            {"path": "/etc/udev/rules.d/90-x.rules", "content": "rule\n", "skip_without_directory": True}]


def run(capsys, tmp_path, gateway, check_mode=False, diff=False, **args):
    args.setdefault("files", files())
    args.setdefault("units", [{"name": "wgspread-nft.service", "started": True}])
    return run_module(host_files, args, Host(gateway, root=str(tmp_path)), check_mode=check_mode, diff=diff,
                      capsys=capsys)


def test_first_run_writes_validates_reloads_once_and_enables_now(capsys, tmp_path):
    gateway = Gateway()
    result = run(capsys, tmp_path, gateway, diff=True)
    assert not result.get("failed"), result
    assert result["changed_files"] == [TABLE, UNIT] and result["skipped_files"] == ["/etc/udev/rules.d/90-x.rules"]
    assert read(tmp_path, TABLE) == "table inet wgspread {}" and read(tmp_path, UNIT) == "[Unit]"
    assert oct(os.stat(os.path.join(str(tmp_path), TABLE.lstrip("/"))).st_mode & 0o777) == "0o644"
    assert gateway.calls.count(("systemctl", "daemon-reload")) == 1
    assert ("systemctl", "enable", "--now", "wgspread-nft.service") in gateway.calls
    assert [d["before_header"] for d in result["diff"]] == [TABLE, UNIT]


def test_a_second_run_changes_nothing_and_only_asks(capsys, tmp_path):
    put(tmp_path, TABLE, "table inet wgspread {}\n")
    put(tmp_path, UNIT, "[Unit]\n")
    os.chmod(os.path.join(str(tmp_path), TABLE.lstrip("/")), 0o644)
    os.chmod(os.path.join(str(tmp_path), UNIT.lstrip("/")), 0o644)
    gateway = Gateway(units={"wgspread-nft.service": (True, True)})
    result = run(capsys, tmp_path, gateway)
    assert (result["changed"], result["changed_files"], result["units"]) == (
        False, [], [{"name": "wgspread-nft.service", "actions": []}])
    assert [call for call in gateway.calls if call[1] not in ("is-enabled", "is-active")] == []


@pytest.mark.parametrize("enabled, active, started, command", [
    (False, True, True, ("systemctl", "enable", "wgspread-nft.service")),
    (True, False, True, ("systemctl", "start", "wgspread-nft.service")),
    (False, False, False, ("systemctl", "enable", "wgspread-nft.service")),  # enabled only
])
def test_a_unit_gets_only_what_it_lacks(capsys, tmp_path, enabled, active, started, command):
    put(tmp_path, TABLE, "table inet wgspread {}\n")
    put(tmp_path, UNIT, "[Unit]\n")
    gateway = Gateway(units={"wgspread-nft.service": (enabled, active)})
    result = run(capsys, tmp_path, gateway, units=[{"name": "wgspread-nft.service", "started": started}])
    assert result["changed"] and gateway.calls[-1] == command


def test_content_that_fails_validation_is_not_written(capsys, tmp_path):
    put(tmp_path, TABLE, "table inet wgspread {}\n")
    result = run(capsys, tmp_path, Gateway(), files=files(table="bad table\n"))
    assert result["failed"] and result["msg"] == "files: %s: the new content fails nft -c -f %%s: syntax error" % TABLE
    assert read(tmp_path, TABLE) == "table inet wgspread {}"


def test_a_wrong_mode_is_fixed_without_rewriting(capsys, tmp_path):
    put(tmp_path, TABLE, "table inet wgspread {}\n")
    os.chmod(os.path.join(str(tmp_path), TABLE.lstrip("/")), 0o600)
    result = run(capsys, tmp_path, Gateway(binaries=()), files=files()[:1], units=[])
    assert result["changed_files"] == [TABLE]
    assert os.stat(os.path.join(str(tmp_path), TABLE.lstrip("/"))).st_mode & 0o777 == 0o644


def test_check_mode_writes_nothing_and_does_not_ask_systemd_about_a_unit_it_would_install(capsys, tmp_path):
    gateway = Gateway()
    result = run(capsys, tmp_path, gateway, check_mode=True)
    assert result["changed"] and result["changed_files"] == [TABLE, UNIT]
    assert result["units"] == [{"name": "wgspread-nft.service", "actions": ["enable", "start"]}]
    assert not os.path.exists(os.path.join(str(tmp_path), "etc"))
    assert [call for call in gateway.calls if call[0] == "systemctl"] == []


def test_without_systemd_units_are_left_out(capsys, tmp_path):
    gateway = Gateway(binaries=())
    result = run(capsys, tmp_path, gateway)
    assert result["units"] == [] and not result["daemon_reloaded"]
    assert [call for call in gateway.calls if call[0] == "systemctl"] == []


def test_a_rewritten_unit_file_is_enabled_again_for_its_new_install_targets(capsys, tmp_path):
    put(tmp_path, TABLE, "table inet wgspread {}\n")
    put(tmp_path, UNIT, "[Install]\nWantedBy=sysinit.target\n")
    gateway = Gateway(units={"wgspread-nft.service": (True, True)})
    result = run(capsys, tmp_path, gateway)
    assert result["units"] == [{"name": "wgspread-nft.service", "actions": ["enable"]}]
    assert gateway.calls[-1] == ("systemctl", "enable", "wgspread-nft.service")
    assert gateway.calls.index(("systemctl", "daemon-reload")) < gateway.calls.index(gateway.calls[-1])
