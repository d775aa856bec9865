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


# All tunnels of a gateway in one call (tunnels=...): one round trip per gateway on a no-op run.

def run_tunnels(capsys, gateway, tunnels, check_mode=False, binaries=("systemctl",)):
    from ansible_collections.sitelink.wgspread.plugins.modules import wg_tunnel
    from fakehost import run_module
    gateway.binaries = binaries
    return run_module(wg_tunnel, {"tunnels": tunnels}, gateway, check_mode=check_mode, capsys=capsys)


def unit_answers(gateway, enabled="enabled", active="active"):
    gateway.commands[("systemctl", "is-enabled", "wg-quick@wg-spoke1")] = (0 if enabled == "enabled" else 1, enabled + "\n", "")
    gateway.commands[("systemctl", "is-active", "wg-quick@wg-spoke1")] = (0 if active == "active" else 3, active + "\n", "")
    return gateway


DROPIN = "/etc/systemd/system/wg-quick@wg-spoke1.service.d/wgspread-supervise.conf"


def test_one_call_in_sync_changes_nothing_and_starts_nothing(capsys):
    from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import supervise_dropin
    gateway = unit_answers(host(conf=in_sync_conf()))
    gateway.files[DROPIN] = supervise_dropin("wg-spoke1")
    result = run_tunnels(capsys, gateway, [dict(params(), supervise=True)])
    assert not result.get("failed"), result
    assert (result["changed"], result["units_to_start"], result["interfaces_down"]) == (False, [], [])
    assert [call for call in gateway.calls if call[0] in ("write", "install", "remove")] == []
    assert ("systemctl", "daemon-reload") not in gateway.calls


def test_one_call_adds_the_restart_dropin_reloads_systemd_once_and_names_what_to_restart(capsys):
    from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import supervise_dropin
    gateway = unit_answers(host(conf=in_sync_conf()), enabled="disabled", active="inactive")
    gateway.commands[("systemctl", "daemon-reload")] = ""
    result = run_tunnels(capsys, gateway, [dict(params(), supervise=True)])
    (tunnel,) = result["tunnels"]
    assert result["changed"] and tunnel["supervision_added"] and tunnel["interface_present"]
    assert gateway.files[DROPIN] == supervise_dropin("wg-spoke1") and "Restart=always" in gateway.files[DROPIN]
    assert gateway.calls.count(("systemctl", "daemon-reload")) == 1
    assert result["units_to_start"] == ["wg-spoke1"]


def test_the_dropin_goes_where_the_kernel_module_carries_the_tunnel(capsys):
    gateway = unit_answers(host(conf=in_sync_conf()))
    gateway.files[DROPIN] = "old\n"
    gateway.commands[("systemctl", "daemon-reload")] = ""
    result = run_tunnels(capsys, gateway, [dict(params(), supervise=False)])
    (tunnel,) = result["tunnels"]
    assert tunnel["supervision_changed"] and not tunnel["supervision_added"] and DROPIN not in gateway.files
    assert tunnel["changes"] == ["restart drop-in %s" % DROPIN]


def test_a_failing_tunnel_is_named_and_the_others_still_converge(capsys):
    gateway = unit_answers(host(live=False))
    bad = params(interface="wg-this-name-is-too-long")
    result = run_tunnels(capsys, gateway, [params(), bad])
    assert result["failed"] and result["msg"] == "interface: 'wg-this-name-is-too-long' is longer than 15 characters"
    assert CONF in gateway.files  # the good tunnel was written
    assert result["interfaces_down"] == ["wg-spoke1"]


def test_check_mode_does_not_start_units_of_interfaces_that_do_not_exist_yet(capsys):
    gateway = unit_answers(host(live=False), enabled="disabled", active="inactive")
    result = run_tunnels(capsys, gateway, [params()], check_mode=True)
    assert result["changed"] and result["units_to_start"] == [] and result["interfaces_down"] == ["wg-spoke1"]
    assert CONF not in gateway.files
    result = run_tunnels(capsys, gateway, [params()], check_mode=True, binaries=())
    assert result["units_to_start"] == []


def test_the_role_asks_for_every_tunnel_and_key_in_one_call():
    from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import key_specs, tunnel_specs
    tunnels = [{"link": "hub-spoke1", "peer": "spoke1", "interface": "wg-spoke1", "address": "198.18.0.0/31",
                "listen_port": 51820, "mtu": 1420, "preshared_key": True, "peer_endpoint_uri": "198.51.100.12:51820",
                "peer_allowed_ips": ["198.18.0.1/32"], "persistent_keepalive": 25},
               {"link": "hub-spoke2", "peer": "spoke2", "interface": "wg-spoke2", "address": "198.18.0.2/31",
                "listen_port": 51920, "mtu": 1420, "preshared_key": False, "peer_endpoint_uri": "198.51.100.13:51920",
                "peer_allowed_ips": ["198.18.0.3/32"], "persistent_keepalive": 0}]
    hostvars = {"spoke1": {"wireguard_public_keys": {"hub-spoke1": PEER}, "__wireguard_psks": {"hub-spoke1": PSK}},
                "spoke2": {}}
    specs = tunnel_specs(tunnels, "/k/", "/etc/wireguard", hostvars, supervise=True)
    assert specs[0] == dict(params(), supervise=True)
    assert specs[1]["peers"][0]["public_key"] == "" and specs[1]["peers"][0]["preshared_key_path"] is None
    assert key_specs(tunnels, "/k", "private", ["hub-spoke2"]) == [
        {"name": "hub-spoke1", "path": "/k/hub-spoke1.key", "kind": "private", "rotate": False},
        {"name": "hub-spoke2", "path": "/k/hub-spoke2.key", "kind": "private", "rotate": True}]
    received = key_specs(tunnels, "/k", "preshared", ["hub-spoke1"], received_from=hostvars)
    assert [(s["path"], s["rotate"], s["content"]) for s in received] == [
        ("/k/hub-spoke1.psk", False, PSK), ("/k/hub-spoke2.psk", False, None)]


def test_moving_a_live_listen_port_warns_in_check_mode_too(capsys):
    gateway = unit_answers(host(conf=in_sync_conf()))
    result = run_tunnels(capsys, gateway, [params(listen_port=21456)], check_mode=True)
    assert result["changed"] and any("the live listen port 51820 changes to 21456" in w for w in result["warnings"])
