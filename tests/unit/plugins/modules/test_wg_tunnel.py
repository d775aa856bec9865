"""wg_tunnel decides from what the host says: table-driven plans over recorded outputs."""

import json

import pytest

from ansible_collections.sitelink.wgspread.plugins.modules.wg_tunnel import Tunnel, unit_state
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import MARKER, render_config
from fakehost import FakeHost

PRIV = "QGhaKs2dC5mPHU4kqLw0jK0eVqNOuRuVC5zB0D2bD2o="
PUB = "jS4EOQJpLUGZmJ4yGGeBbIjeB2pXbnyPkJXDSQ1ZFGs="
PEER = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
PSK = "E6pRpyL0cKcbp8D3t4iJ1BMgCnRU1J2XAgZvMu52pz8="
CONF = "/etc/wireguard/wg-spoke1.conf"


def params(**changes):
    p = {
        "interface": "wg-spoke1", "state": "present", "link": "hub-spoke1", "config_dir": "/etc/wireguard",
        "private_key_path": "/k/hub-spoke1.key", "addresses": ["198.18.0.0/31"], "listen_port": 51820, "mtu": 1420,
        "peers": [{"name": "spoke1", "public_key": PEER, "preshared_key_path": "/k/hub-spoke1.psk",
                   "endpoint": "198.51.100.12:51820", "allowed_ips": ["198.18.0.1/32"], "persistent_keepalive": 25}],
    }
    p.update(changes)
    return p


def dump(keepalive="25", allowed="198.18.0.1/32", psk=PSK, port="51820", pub=PUB):
    return ("%s\t%s\t%s\toff\n%s\t%s\t198.51.100.12:51820\t%s\t1764050000\t1000\t2000\t%s\n"
            % (PRIV, pub, port, PEER, psk, allowed, keepalive))


IP_ADDR = json.dumps([{"ifindex": 7, "ifname": "wg-spoke1", "mtu": 1420, "addr_info": [
    {"family": "inet", "local": "198.18.0.0", "prefixlen": 31, "scope": "global"}]}])


def host(conf=None, live=True, wg_dump=None, ip_addr=IP_ADDR, routes4="[]"):
    files = {"/k/hub-spoke1.key": PRIV + "\n", "/k/hub-spoke1.psk": PSK + "\n"}
    if conf is not None:
        files[CONF] = conf
    commands = {
        ("wg", "pubkey"): PUB + "\n",
        ("ip", "-j", "address", "show", "dev", "wg-spoke1"): ip_addr if live else (1, "", "Device does not exist"),
        ("wg", "show", "wg-spoke1", "dump"): wg_dump or dump(),
        ("ip", "-j", "-4", "route", "show", "dev", "wg-spoke1"): routes4,
        ("ip", "-j", "-6", "route", "show", "dev", "wg-spoke1"): "[]",
        ("wg", "syncconf", "wg-spoke1", "/dev/stdin"): "",
    }
    return FakeHost(files, commands)


def in_sync_conf():
    return render_config(params(), PRIV, {PEER: PSK})


def test_new_interface_writes_the_file_and_leaves_start_to_the_service():
    h = host(live=False)
    tunnel = Tunnel(h, params(), check_mode=False)
    plan = tunnel.plan()
    assert plan["changes"] == ["config file %s" % CONF] and plan["link"] is None
    assert tunnel.apply(plan) is False
    written = h.files[CONF]
    assert written.startswith(MARKER) and "PrivateKey = %s" % PRIV in written and "PresharedKey = %s" % PSK in written
    assert "Address = 198.18.0.0/31" in written and "MTU = 1420" in written


def test_in_sync_interface_plans_nothing():
    plan = Tunnel(host(conf=in_sync_conf()), params(), check_mode=False).plan()
    assert plan["changes"] == []


# (what changed, params, live dump, expected change lines)
CHANGES = [
    ("keepalive", params(peers=[dict(params()["peers"][0], persistent_keepalive=10)]), dump(),
     ["config file %s" % CONF, "peer %s: persistent keepalive 25 -> 10" % PEER]),
    ("keepalive changed by hand", params(), dump(keepalive="off"),
     ["peer %s: persistent keepalive 0 -> 25" % PEER]),
    ("psk removed by hand", params(), dump(psk="(none)"), ["peer %s: preshared key changed" % PEER]),
    ("allowed ips by hand", params(), dump(allowed="198.18.0.1/32,10.9.0.0/16"),
     ["peer %s: allowed ips 10.9.0.0/16,198.18.0.1/32 -> 198.18.0.1/32" % PEER]),
    ("private key wiped", params(), dump(pub="(none)"), ["interface key: live none, wanted %s" % PUB]),
    ("listen port", params(), dump(port="40000"), ["listen port: live 40000, wanted 51820"]),
]


@pytest.mark.parametrize("spec, live, expected", [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_live_drift_is_planned_as_a_reload(spec, live, expected):
    plan = Tunnel(host(conf=in_sync_conf(), wg_dump=live), spec, check_mode=False).plan()
    assert plan["changes"] == expected
    assert plan["sync"] is True


def test_reload_is_hitless_and_checked_afterwards():
    spec = params(peers=[dict(params()["peers"][0], persistent_keepalive=10)])
    h = host(conf=in_sync_conf(), wg_dump=dump())
    tunnel = Tunnel(h, spec, check_mode=False)
    plan = tunnel.plan()
    h.commands[("wg", "show", "wg-spoke1", "dump")] = dump(keepalive="10")
    assert tunnel.apply(plan) is True
    assert ("wg", "syncconf", "wg-spoke1", "/dev/stdin") in h.calls
    assert not any(call[:2] in (("wg-quick", "down"), ("ip", "link")) for call in h.calls)


def test_reload_that_loses_the_key_fails_loudly():
    h = host(conf=in_sync_conf(), wg_dump=dump(keepalive="off"))
    tunnel = Tunnel(h, params(), check_mode=False)
    plan = tunnel.plan()
    h.commands[("wg", "show", "wg-spoke1", "dump")] = dump(pub="(none)")
    with pytest.raises(ValueError, match="public key is none, expected " + PUB):
        tunnel.apply(plan)


def test_mtu_address_and_route_changes_use_ip_not_a_restart():
    spec = params(mtu=1380, addresses=["198.18.0.0/31", "fd00::/127"],
                  peers=[dict(params()["peers"][0], allowed_ips=["198.18.0.1/32", "10.1.0.0/16"])])
    h = host(conf=in_sync_conf(), routes4=json.dumps([{"dst": "10.7.0.0/16", "dev": "wg-spoke1", "scope": "link"}]))
    tunnel = Tunnel(h, spec, check_mode=False)
    plan = tunnel.plan()
    assert "mtu 1420 -> 1380" in plan["changes"]
    assert "address fd00::/127: add" in plan["changes"]
    assert "route 10.1.0.0/16: add" in plan["changes"] and "route 10.7.0.0/16: remove" in plan["changes"]
    for argv in [("ip", "address", "add", "fd00::/127", "dev", "wg-spoke1"),
                 ("ip", "route", "replace", "10.1.0.0/16", "dev", "wg-spoke1"),
                 ("ip", "route", "del", "10.7.0.0/16", "dev", "wg-spoke1"),
                 ("ip", "link", "set", "dev", "wg-spoke1", "mtu", "1380")]:
        h.commands[argv] = ""
    h.commands[("wg", "show", "wg-spoke1", "dump")] = dump()
    tunnel.apply(plan)
    assert ("ip", "link", "set", "dev", "wg-spoke1", "mtu", "1380") in h.calls


def test_foreign_config_file_is_refused():
    with pytest.raises(ValueError, match="was not written by sitelink.wgspread"):
        Tunnel(host(conf="[Interface]\nPrivateKey = x\n"), params(), check_mode=False).plan()


def test_foreign_live_interface_is_refused():
    with pytest.raises(ValueError, match="exists but was not created by sitelink.wgspread"):
        Tunnel(host(conf=None, live=True), params(), check_mode=False).plan()


def test_check_mode_before_keys_exist_plans_without_commands():
    h = host(live=False)
    del h.files["/k/hub-spoke1.key"]
    plan = Tunnel(h, params(), check_mode=True).plan()
    assert plan["changes"] == ["config file (private key not generated yet)"]
    assert ("wg", "pubkey") not in h.calls


@pytest.mark.parametrize("binaries, answers, state", [
    ((), {}, {"unit_enabled": None, "unit_active": None}),  # no systemd: nothing to tell
    (("systemctl",), {"is-enabled": (0, "enabled\n", ""), "is-active": (0, "active\n", "")},
     {"unit_enabled": True, "unit_active": True}),
    (("systemctl",), {"is-enabled": (1, "disabled\n", ""), "is-active": (3, "inactive\n", "")},
     {"unit_enabled": False, "unit_active": False}),
    (("systemctl",), {"is-enabled": (1, "not-found\n", ""), "is-active": (4, "inactive\n", "")},
     {"unit_enabled": False, "unit_active": False}),
])
def test_the_state_of_the_tunnels_unit_lets_a_run_leave_a_running_one_alone(binaries, answers, state):
    gateway = FakeHost(commands=dict((("systemctl", verb, "wg-quick@wg-spoke1"), answer) for verb, answer in answers.items()))
    gateway.binaries = binaries
    assert unit_state(gateway, "wg-spoke1") == state
