"""wg_key decides from the key file alone: create once, keep, rotate on request, never print."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import wg_key
from fakehost import FakeHost, run_module

OLD = "QGhaKs2dC5mPHU4kqLw0jK0eVqNOuRuVC5zB0D2bD2o="
NEW = "aB5D0nvCJqY9IlCJLCS3BaR5uJ1ySLkx+mzXNOLc0W4="
OLD_PUB = "jS4EOQJpLUGZmJ4yGGeBbIjeB2pXbnyPkJXDSQ1ZFGs="
NEW_PUB = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
PSK_OLD = "E6pRpyL0cKcbp8D3t4iJ1BMgCnRU1J2XAgZvMu52pz8="
PSK_NEW = "5u2IrQ7Qy1v1B1c3n0G2xq8cCZ2nZ5cH0m0dSgq1lVg="
KEY = "/k/hub-spoke1.key"
PSK = "/k/hub-spoke1.psk"


class KeyHost(FakeHost):
    """wg genkey/genpsk answer NEW keys; wg pubkey derives from whichever key it is fed."""

    def run(self, argv, data=None, check=True):
        self.calls.append(tuple(argv))
        if argv == ["wg", "pubkey"]:
            return 0, {OLD: OLD_PUB, NEW: NEW_PUB}[data.strip()] + "\n", ""
        return 0, {"genkey": NEW, "genpsk": PSK_NEW}[argv[1]] + "\n", ""


def args(**changes):
    base = {"path": KEY, "kind": "private", "content": None, "rotate": False}
    base.update(changes)
    return base


@pytest.mark.parametrize("files, module_args, check_mode, changed, rotated, public_key, file_after", [
    # first run makes the key; later runs keep it
    ({}, args(), False, True, False, NEW_PUB, NEW),
    ({KEY: OLD + "\n"}, args(), False, False, False, OLD_PUB, OLD),
    # rotation replaces it, every time it is asked for
    ({KEY: OLD + "\n"}, args(rotate=True), False, True, True, NEW_PUB, NEW),
    # rotation in check mode: reported, nothing written, no public key to give yet
    ({KEY: OLD + "\n"}, args(rotate=True), True, True, True, "", OLD),
    ({}, args(), True, True, False, "", ""),
    # rotating a key that does not exist yet is just its creation
    ({}, args(rotate=True), False, True, False, NEW_PUB, NEW),
])
def test_private_key(capsys, files, module_args, check_mode, changed, rotated, public_key, file_after):
    host = KeyHost(files)
    result = run_module(wg_key, module_args, host, check_mode=check_mode, capsys=capsys)
    assert not result.get("failed"), result
    assert (result["changed"], result["rotated"], result["public_key"]) == (changed, rotated, public_key)
    assert host.files.get(KEY, "").strip() == file_after
    assert OLD not in str(result) and NEW not in str(result)  # the private key never leaves the host


@pytest.mark.parametrize("files, module_args, changed, rotated, psk_after", [
    ({PSK: PSK_OLD + "\n"}, args(path=PSK, kind="preshared"), False, False, PSK_OLD),
    ({PSK: PSK_OLD + "\n"}, args(path=PSK, kind="preshared", rotate=True), True, True, PSK_NEW),
    # the receiving end writes what the owning end made, rotating or not
    ({PSK: PSK_OLD + "\n"}, args(path=PSK, kind="preshared", content=PSK_NEW), True, False, PSK_NEW),
    ({PSK: PSK_NEW + "\n"}, args(path=PSK, kind="preshared", content=PSK_NEW, rotate=True), False, False, PSK_NEW),
])
def test_preshared_key(capsys, files, module_args, changed, rotated, psk_after):
    host = KeyHost(files)
    result = run_module(wg_key, module_args, host, capsys=capsys)
    assert not result.get("failed"), result
    # the receiving end's result repeats the no_log content, which Ansible masks
    returned = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" if module_args["content"] else psk_after
    assert (result["changed"], result["rotated"], result["preshared_key"]) == (changed, rotated, returned)
    assert host.files[PSK].strip() == psk_after


def test_a_private_key_cannot_be_given(capsys):
    result = run_module(wg_key, args(content=OLD), KeyHost({}), capsys=capsys)
    assert result["failed"] and result["msg"].startswith("content:")


def test_a_file_that_is_not_a_key_is_left_alone(capsys):
    host = KeyHost({KEY: "not a key\n"})
    result = run_module(wg_key, args(rotate=True), host, capsys=capsys)
    assert result["failed"] and "does not hold a WireGuard key" in result["msg"]
    assert host.files[KEY] == "not a key\n"


KEY2 = "/k/hub-spoke2.key"


def test_all_keys_of_a_gateway_in_one_call(capsys):
    """One round trip per gateway: each key is decided on its own, the public keys come back by name."""
    host = KeyHost({KEY: OLD + "\n"})
    keys = [{"name": "hub-spoke1", "path": KEY}, {"name": "hub-spoke2", "path": KEY2},
            {"name": "hub-spoke1", "path": PSK, "kind": "preshared"}]
    result = run_module(wg_key, {"keys": keys}, host, capsys=capsys)
    assert not result.get("failed"), result
    assert result["changed"] and not result["rotated"]
    assert result["changed_keys"] == ["hub-spoke2", "hub-spoke1"]
    assert result["public_keys"] == {"hub-spoke1": OLD_PUB, "hub-spoke2": NEW_PUB}
    assert result["preshared_keys"] == {"hub-spoke1": PSK_NEW}
    assert (host.files[KEY].strip(), host.files[KEY2].strip(), host.files[PSK].strip()) == (OLD, NEW, PSK_NEW)
    assert OLD not in str(result) and NEW not in str(result)


def test_one_call_with_every_key_present_changes_nothing(capsys):
    host = KeyHost({KEY: OLD + "\n", KEY2: NEW + "\n"})
    keys = [{"name": "hub-spoke1", "path": KEY}, {"name": "hub-spoke2", "path": KEY2, "rotate": False}]
    result = run_module(wg_key, {"keys": keys}, host, capsys=capsys)
    assert (result["changed"], result["changed_keys"]) == (False, [])
    assert [call for call in host.calls if call[:2] != ("wg", "pubkey")] == []


def test_a_bad_key_in_the_list_is_named(capsys):
    host = KeyHost({KEY: OLD + "\n", KEY2: "garbage\n"})
    keys = [{"name": "hub-spoke1", "path": KEY}, {"name": "hub-spoke2", "path": KEY2}]
    result = run_module(wg_key, {"keys": keys}, host, capsys=capsys)
    assert result["failed"] and result["msg"].startswith("hub-spoke2: ") and "does not hold" in result["msg"]
    keys = [{"name": "hub-spoke1", "path": KEY, "content": PSK_OLD}]
    result = run_module(wg_key, {"keys": keys}, host, capsys=capsys)
    assert result["failed"] and result["msg"].startswith("hub-spoke1: content:")


def test_path_and_keys_exclude_each_other(capsys):
    result = run_module(wg_key, {"path": KEY, "keys": [{"name": "a", "path": KEY2}]}, KeyHost({}), capsys=capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"]


@pytest.mark.parametrize("directories, check_mode, changed, calls, after", [
    ({}, False, True, [("mkdir", "/k", 0o700)], {"/k": 0o700}),            # made
    ({"/k": 0o755}, False, True, [("chmod", "/k", 0o700)], {"/k": 0o700}),  # mode put back
    ({"/k": 0o700}, False, False, [], {"/k": 0o700}),                       # left alone
    ({}, True, True, [], {}),                                               # check mode: reported only
])
def test_the_key_directory_is_made_in_the_same_call(capsys, directories, check_mode, changed, calls, after):
    host = KeyHost({KEY: OLD + "\n"})
    host.directories = dict(directories)
    result = run_module(wg_key, {"keys": [{"name": "hub-spoke1", "path": KEY}], "directory_mode": "0700"}, host,
                        check_mode=check_mode, capsys=capsys)
    assert not result.get("failed"), result
    assert result["changed"] == changed
    assert [call for call in host.calls if call[0] in ("mkdir", "chmod")] == calls
    assert (host.directories or {}) == after


def test_directory_mode_must_be_octal_and_needs_keys(capsys):
    result = run_module(wg_key, {"keys": [{"name": "a", "path": KEY}], "directory_mode": "rwx"}, KeyHost({}), capsys=capsys)
    assert result["failed"] and result["msg"] == "directory_mode: 'rwx' is not an octal number"
    result = run_module(wg_key, {"path": KEY, "directory_mode": "0700"}, KeyHost({}), capsys=capsys)
    assert result["failed"] and "directory_mode" in result["msg"]
