"""ethtool_rss compares tables entry by entry and sets only what differs."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules import ethtool_rss
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_rss import Rss
from fakehost import FakeHost, run_module
from ethtool_fixtures import DEFAULT_KEY, fixture


def params(**changes):
    p = dict(device="ixgbe0", equal=None, weights=None, hfunc=None, hash_key=None, on_unsupported="warn")
    p.update(changes)
    return p


def host(*answers, extra=None):
    commands = {("ethtool", "-x", "ixgbe0"): [fixture(a) for a in answers]}
    commands.update(extra or {})
    return FakeHost(commands=commands)


# (what, current, params, expected -X arguments)
PLANS = [
    ("default: equal over all 16 rings, in sync", "ixgbe/x-16rings", params(), []),
    ("default after weights: back to equal 16", "ixgbe/x-weight-7-1", params(), ["equal", "16"]),
    ("weights already in place", "ixgbe/x-weight-0-1", params(weights=[0, 1] * 8), []),
    ("key and table together", "ixgbe/x-equal-4", params(hash_key="6d:5a" * 20), ["equal", "16", "hkey", ":".join(["6d:5a"] * 20)]),
    ("same key in other spelling", "ixgbe/x-16rings", params(hash_key=DEFAULT_KEY.replace(":", "")), []),
]


@pytest.mark.parametrize("current, p, args", [x[1:] for x in PLANS], ids=[x[0] for x in PLANS])
def test_plans(current, p, args):
    assert Rss(host(current), p).plan()["args"] == args


def test_apply_sets_with_one_call_and_verifies():
    set_argv = ("ethtool", "-X", "ixgbe0", "equal", "4")
    h = host("ixgbe/x-16rings", "ixgbe/x-equal-4", extra={set_argv: ""})
    rss = Rss(h, params(equal=4))
    plan = rss.plan()
    assert plan["changes"] == ["indirection table: equal 4"]
    assert rss.apply(plan)["table"][:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert set_argv in h.calls


def test_apply_that_does_not_stick_fails():
    set_argv = ("ethtool", "-X", "ixgbe0", "equal", "4")
    h = host("ixgbe/x-16rings", "ixgbe/x-16rings", extra={set_argv: ""})
    rss = Rss(h, params(equal=4))
    with pytest.raises(ValueError, match="indirection table is not what was asked for"):
        rss.apply(rss.plan())


def test_key_is_reported_as_hex_and_diffed_in_check_mode(capsys):
    result = run_module(ethtool_rss, params(hash_key="6d5a" * 20), host("ixgbe/x-16rings"),
                        check_mode=True, diff=True, capsys=capsys)
    assert result["changed"] is True and result["hash_key"] == ":".join(["6d:5a"] * 20)
    assert "hash key: %s" % DEFAULT_KEY in result["diff"]["before"]


# (driver fixture, exit code, params, mode, failed)
UNSUPPORTED = [
    ("veth/x", params(), "warn", False),
    ("veth/x", params(), "skip", False),
    ("veth/x", params(), "fail", True),
    ("virtio_net/x-sections-unsupported", params(), "warn", False),
    ("virtio_net/x-sections-unsupported", params(hash_key="00" * 40), "fail", True),
]


@pytest.mark.parametrize("name, p, mode, failed", UNSUPPORTED, ids=["%s-%s" % (u[0], u[2]) for u in UNSUPPORTED])
def test_unsupported(name, p, mode, failed, capsys):
    h = FakeHost(commands={("ethtool", "-x", "ixgbe0"): fixture(name)})
    result = run_module(ethtool_rss, dict(p, on_unsupported=mode), h, capsys=capsys)
    assert result.get("failed", False) is failed
    assert result["unsupported"] is True and result.get("changed", False) is False
    assert bool(result["warnings"]) is (mode == "warn")
    assert not [c for c in h.calls if c[:2] == ("ethtool", "-X")]
