"""Operating live links on the lab: a no-op run, key rotation and a dying wireguard-go, each
while a ping runs through every tunnel every 10 ms. The figures are printed (pytest -s)."""

import time

import pytest

from labkit import GATEWAYS, INVENTORY, TUNNEL_PINGS, ping_every_tunnel, ping_figures, playbook, sh, stop_pings

INTERFACES = {"hub-spoke1": (("hub", "wg-spoke1"), ("spoke1", "wg-hub")),
              "hub-spoke2": (("hub", "wg-spoke2"), ("spoke2", "wg-hub"))}


def public_keys(link):
    """Each end's public key of the link's interface, and the key it holds for the other end."""
    keys = {}
    for gateway, interface in INTERFACES[link]:
        own = sh(gateway, "wg show %s public-key" % interface).strip()
        (peer,) = sh(gateway, "wg show %s peers" % interface).split()
        keys[gateway] = (own, peer)
    return keys


def secrets(gateway):
    """Every key file of ours on the gateway: name -> content."""
    names = sh(gateway, "ls -A /etc/wireguard/wgspread").split()
    return dict((name, sh(gateway, "cat /etc/wireguard/wgspread/" + name).strip()) for name in names)


@pytest.fixture(scope="module")
def live(rolled_out):
    run = playbook("site.yml")
    assert run.rc == 0 and run.changed() == 0, run.recap


def test_a_run_that_changes_nothing_loses_no_ping_on_any_tunnel(live):
    pingers = ping_every_tunnel()
    run = playbook("site.yml")
    results = stop_pings(pingers)
    print("no-change run, pings every 10 ms (sent, lost, longest silence s, slowest reply s): %s" % ping_figures(results, pingers))
    assert run.rc == 0 and run.changed() == 0, run.recap
    for link, (sent, received, _silence) in results.items():
        assert sent > 1000 and received == sent, (link, sent, received)


def test_rotating_all_keys_switches_both_ends_within_a_second_and_prints_nothing(live):
    before = dict((link, public_keys(link)) for link in TUNNEL_PINGS)
    old_secrets = dict((g, secrets(g)) for g in GATEWAYS)
    pingers = ping_every_tunnel()
    run = playbook("site.yml", INVENTORY, "-v", "-e", "wireguard_rotate_keys=all")
    results = stop_pings(pingers)
    print("key rotation of every link, pings every 10 ms (sent, lost, longest silence s, slowest reply s): %s" % ping_figures(results, pingers))
    assert run.rc == 0, run.out[-3000:]
    for link, (sent, received, silence) in results.items():
        assert silence < 1.0, (link, silence)
        assert received >= sent - 100, (link, sent, received)  # at 10 ms: under one second of pings
    for link in TUNNEL_PINGS:
        after = public_keys(link)
        (a, b) = [gateway for gateway, _interface in INTERFACES[link]]
        assert after[a][0] != before[link][a][0] and after[b][0] != before[link][b][0], link
        assert after[a][1] == after[b][0] and after[b][1] == after[a][0], link  # each holds the other's new key
    for gateway in GATEWAYS:
        new = secrets(gateway)
        assert sorted(new) == sorted(old_secrets[gateway]), "old or temporary key files left: %s" % sorted(new)
        for name, secret in new.items():
            assert secret != old_secrets[gateway][name], "%s:%s was not rotated" % (gateway, name)
            assert secret not in run.out, "%s:%s appears in the output" % (gateway, name)
            # no copy of the old key anywhere in our config either
            assert old_secrets[gateway][name] not in sh(gateway, "cat /etc/wireguard/wg-*.conf")
    assert secrets("hub")["hub-spoke1.psk"] == secrets("spoke1")["hub-spoke1.psk"]
    again = playbook("site.yml")
    assert again.rc == 0 and again.changed() == 0, again.recap


def test_rotating_one_link_leaves_the_other_alone(live):
    spoke2_link = public_keys("hub-spoke2")
    spoke1_link = public_keys("hub-spoke1")
    run = playbook("site.yml", INVENTORY, "-e", "wireguard_rotate_keys=hub-spoke1")
    assert run.rc == 0, run.out[-3000:]
    assert run.recap["spoke2"]["changed"] == 0, run.recap
    assert public_keys("hub-spoke2") == spoke2_link
    assert public_keys("hub-spoke1")["hub"][0] != spoke1_link["hub"][0]
    out = sh("spoke1", "ping -c 3 -i 0.2 -W 2 -q 198.18.0.0")
    assert " 0% packet loss" in out, out


@pytest.mark.parametrize("args, message", [
    (["-e", "wireguard_rotate_keys=hub-spoke9"],
     "wireguard_rotate_keys: no link is named 'hub-spoke9' (links: hub-spoke1, hub-spoke2)"),
    # spoke2 is limited out: its link cannot rotate, and no gateway changes at all
    (["-e", "wireguard_rotate_keys=all", "--limit", "hub,spoke1"],
     "wireguard_rotate_keys: link hub-spoke2: spoke2 not in this run"),
])
def test_a_rotation_that_cannot_be_done_is_refused_before_any_change(live, args, message):
    before = dict((g, secrets(g)) for g in GATEWAYS)
    run = playbook("site.yml", INVENTORY, *args)
    assert run.rc != 0 and message in run.out, run.out[-3000:]
    assert run.changed() == 0, run.recap
    assert dict((g, secrets(g)) for g in GATEWAYS) == before


def test_a_killed_wireguard_go_is_restarted_by_systemd(live):
    restarts = int(sh("hub", "systemctl show -p NRestarts --value wg-quick@wg-spoke1"))
    pingers = ping_every_tunnel(["hub-spoke1"])
    sh("hub", "kill -KILL $(pgrep -f '^wireguard-go wg-spoke1$')")
    deadline = time.time() + 20
    while "wg-spoke1" not in sh("hub", "ip -br link") and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # handshake and a few pings after it
    results = stop_pings(pingers)
    sent, received, silence = results["hub-spoke1"]
    print("wireguard-go killed on hub (wg-spoke1), pings every 10 ms: %d sent, %d lost, back after %.2f s"
          % (sent, sent - received, silence))
    assert int(sh("hub", "systemctl show -p NRestarts --value wg-quick@wg-spoke1")) == restarts + 1
    assert sh("hub", "systemctl is-active wg-quick@wg-spoke1").strip() == "active"
    assert silence < 5.0, silence
    # the restarted tunnel is the configured one: nothing for Ansible to do
    run = playbook("site.yml")
    assert run.rc == 0 and run.changed() == 0, run.recap
