"""ethtool_flow_hash: sdfn by default, judged by ethtool's messages, not only its exit code."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import ethtool_flow_hash
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_flow_hash import FlowHash
from fakehost import FakeHost, run_module
from ethtool_fixtures import fixture


def params(**changes):
    p = dict(device="eth0", flow_types=["udp4"], fields="sdfn", on_unsupported="warn")
    p.update(changes)
    return p


def get(flow):
    return ("ethtool", "-n", "eth0", "rx-flow-hash", flow)


def put(flow, fields="sdfn"):
    return ("ethtool", "-N", "eth0", "rx-flow-hash", flow, fields)


def test_ixgbe_default_sd_becomes_sdfn_and_is_verified():
    h = FakeHost(commands={get("udp4"): [fixture("ixgbe/n-udp4-sd"), fixture("ixgbe/n-udp4-sdfn")], put("udp4"): ""})
    flow = FlowHash(h, params())
    plan = flow.plan()
    assert plan["changes"] == ["udp4: sd -> sdfn"]
    flow.apply(plan)
    assert put("udp4") in h.calls


@pytest.mark.parametrize("fields, expected", [("sdfn", []), ("nfds", []), ("sd", ["udp4: sdfn -> sd"])])
def test_plans(fields, expected):
    h = FakeHost(commands={get("udp4"): fixture("ixgbe/n-udp4-sdfn")})
    assert FlowHash(h, params(fields=fields)).plan()["changes"] == expected


def test_set_that_does_not_stick_fails():
    h = FakeHost(commands={get("udp4"): [fixture("ixgbe/n-udp4-sd"), fixture("ixgbe/n-udp4-sd")], put("udp4"): ""})
    flow = FlowHash(h, params())
    with pytest.raises(ValueError, match="hashes on 'sd', wanted 'sdfn'"):
        flow.apply(flow.plan())


def test_refused_set_with_exit_code_zero_is_unsupported_not_changed(capsys):
    # Reading works (mlx5 fixture) but the set is refused the way veth refuses it: rc 0, "Cannot change".
    h = FakeHost(commands={get("udp4"): fixture("ixgbe/n-udp4-sd"), put("udp4"): fixture("veth/N-udp4-sdfn")})
    result = run_module(ethtool_flow_hash, params(), h, capsys=capsys)
    assert result.get("changed", False) is False and result["unsupported"] is True
    assert "Cannot change RX network flow hashing options" in result["unsupported_reason"]


@pytest.mark.parametrize("mode, failed", [("warn", False), ("skip", False), ("fail", True)])
def test_veth_read_unsupported(mode, failed, capsys):
    h = FakeHost(commands={get("udp4"): fixture("veth/n-udp4"), get("udp6"): fixture("veth/n-udp4")})
    result = run_module(ethtool_flow_hash, params(flow_types=["udp4", "udp6"], on_unsupported=mode), h, capsys=capsys)
    assert result.get("failed", False) is failed
    assert result["unsupported"] is True and result.get("changed", False) is False
    assert not [c for c in h.calls if c[1] == "-N"]


def test_supported_type_is_set_while_other_is_unsupported(capsys):
    h = FakeHost(commands={get("udp4"): [fixture("ixgbe/n-udp4-sd"), fixture("ixgbe/n-udp4-sdfn")], put("udp4"): "",
                           get("udp6"): fixture("veth/n-udp4")})
    result = run_module(ethtool_flow_hash, params(flow_types=["udp4", "udp6"]), h, diff=True, capsys=capsys)
    assert result["changed"] is True and result["fields"] == {"udp4": "sdfn"} and result["unsupported"] is True
    assert result["diff"] == {"before": "udp4: sd\n", "after": "udp4: sdfn\n"}
