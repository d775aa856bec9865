"""nft_table: the module that swaps the live table decides from nft's own JSON of both sides,
loads only when they differ, checks the result, and never touches another table."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import nft_table
from ansible_collections.sitelink.wgspread.plugins.module_utils.scratch import JSON, LOAD, SPLIT, TEXT, scratch_argv
from fakehost import FakeHost, run_module

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nft")
PATH = "/etc/wgspread/wgspread.nft"
LIST_JSON = ("nft", "-j", "list", "table", "inet", "wgspread")
LIST_TEXT = ("nft", "list", "table", "inet", "wgspread")
LIVE_TEXT = "table inet wgspread {\n\t# the live table as nft prints it\n}\n"
WANTED_TEXT = "table inet wgspread {\n\t# the wanted table as nft prints it\n}\n"


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class NftHost(FakeHost):
    binaries = ("nft",)


def host(live, wanted, after=None, path=PATH):
    """A gateway whose live table is ``live`` (None: absent) and whose file nft reads as ``wanted``."""
    listings = [live] if after is None else [live, after]
    commands = {
        LIST_JSON: [(0, fixture(t), "") if t else (1, "", "Error: No such file or directory") for t in listings],
        LIST_TEXT: LIVE_TEXT,
        tuple(scratch_argv(path, "inet", "wgspread", (LOAD, JSON, TEXT))): fixture(wanted) + SPLIT + "\n" + WANTED_TEXT,
        ("nft", "-f", path): "",
        ("nft", "delete", "table", "inet", "wgspread"): "",
    }
    return NftHost(files={PATH: "# the rendered file\n"}, commands=commands)


def args(**changes):
    base = {"path": PATH, "content": None, "family": "inet", "name": "wgspread", "state": "present"}
    base.update(changes)
    return base


@pytest.mark.parametrize("live, wanted, after, check_mode, changed, loaded", [
    # in sync, though counters, handles and set order differ: nothing is loaded
    ("wgspread-live-counted-reordered.json", "wgspread-live.json", None, False, False, False),
    # a port set changed: loaded, and the table read again equals the wanted one
    ("wgspread-live-port-changed.json", "wgspread-live.json", "wgspread-live.json", False, True, True),
    # no table yet
    (None, "wgspread-live.json", "wgspread-live.json", False, True, True),
    # check mode: reported, not loaded
    ("wgspread-live-port-changed.json", "wgspread-live.json", None, True, True, False),
])
def test_the_table_is_loaded_only_when_it_differs(capsys, live, wanted, after, check_mode, changed, loaded):
    gateway = host(live, wanted, after)
    result = run_module(nft_table, args(), gateway, check_mode=check_mode, diff=True, capsys=capsys)
    assert not result.get("failed"), result
    assert result["changed"] is changed and result["in_sync_before"] is (not changed)
    assert (("nft", "-f", PATH) in gateway.calls) is loaded
    assert result["diff"] == {"before": LIVE_TEXT if live else "", "after": WANTED_TEXT}
    # only our table is listed, and only our file is loaded live (others only in a scratch namespace)
    ours = {LIST_JSON, LIST_TEXT, ("nft", "-f", PATH)}
    assert all(call in ours or call[:2] == ("unshare", "--net") for call in gateway.calls), gateway.calls


def test_a_table_that_someone_else_changes_meanwhile_fails_the_task(capsys):
    gateway = host("wgspread-live-port-changed.json", "wgspread-live.json", after="wgspread-live-port-changed.json")
    result = run_module(nft_table, args(), gateway, capsys=capsys)
    assert result["failed"] and "differs from the wanted one; another process may be changing it" in result["msg"]


def test_a_ruleset_nft_refuses_fails_with_nfts_message_and_the_live_table_stays(capsys):
    gateway = host("wgspread-live.json", "wgspread-live.json")
    gateway.commands[tuple(scratch_argv(PATH, "inet", "wgspread", (LOAD, JSON, TEXT)))] = (
        1, "", "/etc/wgspread/wgspread.nft:3:1-5: Error: syntax error")
    result = run_module(nft_table, args(), gateway, capsys=capsys)
    assert result["failed"] and "syntax error" in result["stderr"]
    assert ("nft", "-f", PATH) not in gateway.calls


def test_content_goes_in_on_standard_input(capsys):
    gateway = host("wgspread-live-port-changed.json", "wgspread-live.json", after="wgspread-live.json", path="/dev/stdin")
    result = run_module(nft_table, args(path=None, content="table inet wgspread {}\n"), gateway, capsys=capsys)
    assert result["changed"] and ("nft", "-f", "/dev/stdin") in gateway.calls


@pytest.mark.parametrize("live, changed", [("wgspread-live.json", True), (None, False)])
def test_absent_deletes_our_table_only(capsys, live, changed):
    gateway = host(live, "wgspread-live.json")
    result = run_module(nft_table, args(path=None, state="absent"), gateway, capsys=capsys)
    assert result["changed"] is changed
    assert (("nft", "delete", "table", "inet", "wgspread") in gateway.calls) is changed


def test_without_nft_a_check_run_reports_and_a_real_run_fails(capsys):
    gateway = host("wgspread-live.json", "wgspread-live.json")
    gateway.binaries = ()
    result = run_module(nft_table, args(), gateway, check_mode=True, capsys=capsys)
    assert result["changed"] and result["nft_missing"]
    result = run_module(nft_table, args(), gateway, capsys=capsys)
    assert result["failed"] and "nft is not installed on this host (package nftables)" in result["msg"]


def test_a_missing_file_is_named(capsys):
    gateway = host("wgspread-live.json", "wgspread-live.json")
    gateway.files = {}
    result = run_module(nft_table, args(), gateway, capsys=capsys)
    assert result["failed"] and result["msg"] == "path: %s does not exist" % PATH
