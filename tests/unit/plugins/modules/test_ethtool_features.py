"""ethtool_features decides from veth's recorded ethtool -k; fixed and missing features are unsupported."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import ethtool_features
from ethtool_fixtures import fixture
from fakehost import FakeHost, run_module

K = ("ethtool", "-k", "eth0")


def features_text(**changes):
    text = fixture("veth/k")[1]
    for name, value in changes.items():
        text = text.replace("%s: %s" % (name.replace("_", "-"), "off" if value == "on" else "on"),
                            "%s: %s" % (name.replace("_", "-"), value))
    return text


def run(h, capsys, check_mode=False, diff=False, **args):
    params = dict(device="eth0", features={"rx-udp-gro-forwarding": True}, on_unsupported=None)
    params.update(args)
    return run_module(ethtool_features, params, h, check_mode=check_mode, diff=diff, capsys=capsys)


def test_turns_on_udp_gro_forwarding_and_reads_it_back(capsys):
    h = FakeHost(commands={K: [features_text(), features_text(rx_udp_gro_forwarding="on")],
                           ("ethtool", "-K", "eth0", "rx-udp-gro-forwarding", "on"): ""})
    result = run(h, capsys)
    assert result["changed"] is True and result["changes"] == ["rx-udp-gro-forwarding: off -> on"]
    assert result["features"] == {"rx-udp-gro-forwarding": True}


def test_in_sync_changes_nothing(capsys):
    h = FakeHost(commands={K: features_text(rx_udp_gro_forwarding="on")})
    assert run(h, capsys)["changed"] is False
    assert [c for c in h.calls if c[1] == "-K"] == []


def test_check_mode_and_diff_run_no_set_command(capsys):
    h = FakeHost(commands={K: features_text()})
    result = run(h, capsys, check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["diff"] == {"before": "rx-udp-gro-forwarding: off\n", "after": "rx-udp-gro-forwarding: on\n"}
    assert [c for c in h.calls if c[1] == "-K"] == []


@pytest.mark.parametrize("features, reason", [
    ({"rx-gro-hw": True}, "rx-gro-hw is fixed at off"),
    ({"no-such-feature": True}, "eth0 has no feature no-such-feature"),
])
def test_fixed_and_missing_features_are_unsupported(capsys, features, reason):
    h = FakeHost(commands={K: features_text()})
    result = run(h, capsys, features=features)
    assert result["changed"] is False and result["unsupported"] is True and reason in result["unsupported_reason"]
    assert len(result["warnings"]) == 1


def test_feature_the_driver_does_not_take_is_unsupported_not_changed(capsys):
    h = FakeHost(commands={K: [features_text(), features_text()],
                           ("ethtool", "-K", "eth0", "rx-udp-gro-forwarding", "on"):
                               (0, "Actual changes:\nrx-udp-gro-forwarding: off [requested on]\n", "")})
    result = run(h, capsys, on_unsupported="skip")
    assert result["changed"] is False and result["unsupported"] is True and result["changes"] == []
    assert result["features"] == {"rx-udp-gro-forwarding": False}


def test_fail_mode_fails(capsys):
    h = FakeHost(commands={K: features_text()})
    result = run(h, capsys, features={"rx-gro-hw": True}, on_unsupported="fail")
    assert result["failed"] is True
