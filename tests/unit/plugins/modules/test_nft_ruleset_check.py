"""The module is a thin shell: arguments in, check() over the Host, the result out, never changed."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.sitelink.wgspread.plugins.modules import nft_ruleset_check
from fleetkit import gateway_host


def run_module(monkeypatch, capsys, host, **args):
    monkeypatch.setattr(nft_ruleset_check, "Host", lambda module: host)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            nft_ruleset_check.main()
    return json.loads(capsys.readouterr().out)


def test_reports_drift_as_a_diff_and_never_changes(monkeypatch, capsys):
    host = gateway_host("hub", "check-hub-live-rule-deleted.json", desired="check-hub-desired.json",
                        second="check-hub-desired-second.json")
    out = run_module(monkeypatch, capsys, host, tunnels=[{"link": "hub-spoke1", "interface": "wg-spoke1"}],
                     idempotent=True, _ansible_check_mode=True, _ansible_diff=True)
    assert out["changed"] is False and out["in_sync"] is False and out["idempotent"] is False
    assert len(out["drift"]["lines"]) == 1
    assert out["diff"]["before_header"] == "live table inet wgspread"
    assert out["diff"]["after_header"] == "/etc/wgspread/wgspread.nft"
    assert "hub-spoke2: fold back from spoke2" in out["diff"]["after"]
    assert "hub-spoke2: fold back from spoke2" not in out["diff"]["before"]
    assert [t["link"] for t in out["tunnels"]] == ["hub-spoke1"]


def test_a_ruleset_that_cannot_be_listed_fails(monkeypatch, capsys):
    host = gateway_host("hub", "check-hub-desired.json")
    host.commands[("nft", "-j", "list", "tables")] = (1, "", "Operation not permitted")
    out = run_module(monkeypatch, capsys, host)
    assert out["failed"] and "Operation not permitted" in out["msg"]


def test_tunnels_need_link_and_interface(monkeypatch, capsys):
    out = run_module(monkeypatch, capsys, gateway_host("hub", "check-hub-desired.json"), tunnels=[{"link": "hub-spoke1"}])
    assert out["failed"] and "interface" in out["msg"]
