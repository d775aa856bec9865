"""Verify the nic_tuning gateways after converge: queues, RPS/XPS masks, GRO, persistence.

testinfra runs every command through Ansible here (seconds each), so each gateway's state is
read once, in one command, and the tests check that reading.
"""

import json
import re

# Queue counts asked for per gateway (None: the default, as many as the veth has, up to the CPUs).
ASKED = {"mol-nic-a": None, "mol-nic-b": (1, 2)}
QUEUES = "/sys/class/net/eth1/queues"
SCRIPT = "/etc/wgspread/nic-tuning.sh"
RULE = "/etc/udev/rules.d/90-wgspread-nic-tuning.rules"

# Runs on the gateway: everything the tests look at, as JSON.
READ_STATE = r"""
import glob, json, os, subprocess
def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}
def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None
queues = "/sys/class/net/eth1/queues"
print(json.dumps({
    "channels": run("ethtool", "-l", "eth1")["out"],
    "features": run("ethtool", "-k", "eth1")["out"],
    "online": read("/sys/devices/system/cpu/online"),
    "queues": sorted(os.listdir(queues)),
    "masks": {path[len(queues) + 1:]: read(path) for path in
              glob.glob(queues + "/*/rps_cpus") + glob.glob(queues + "/*/xps_cpus")},
    "script": read("SCRIPT"),
    "script_mode": oct(os.stat("SCRIPT").st_mode & 0o7777) if os.path.exists("SCRIPT") else None,
    "script_syntax": run("sh", "-n", "SCRIPT")["rc"],
    "rule": read("RULE"),
    "enabled": run("systemctl", "is-enabled", "wgspread-nic-tuning.service")["out"].strip(),
}))
""".replace("SCRIPT", SCRIPT).replace("RULE", RULE)

_STATES = {}


def name(host):
    return host.backend.get_hostname()


def state(host):
    if name(host) not in _STATES:
        _STATES[name(host)] = json.loads(host.check_output("python3 -c %s", READ_STATE))
    return _STATES[name(host)]


def cpulist(text):
    cpus = []
    for part in text.strip().split(","):
        if "-" in part:
            first, last = part.split("-")
            cpus += range(int(first), int(last) + 1)
        elif part:
            cpus.append(int(part))
    return cpus


def mask_cpus(text):
    value = int(text.strip().replace(",", "") or "0", 16)
    return [bit for bit in range(value.bit_length()) if value >> bit & 1]


def channels(ethtool_l):
    current = ethtool_l.split("Current hardware settings:")[1]
    return int(re.search(r"RX:\s+(\d+)", current).group(1)), int(re.search(r"TX:\s+(\d+)", current).group(1))


def expected_queues(host):
    asked = ASKED[name(host)]
    if asked:
        return asked
    count = min(4, len(cpulist(state(host)["online"])))
    return count, count


def spread(cpus, parts):
    return [[cpu for n, cpu in enumerate(cpus) if n % parts == i] for i in range(parts)]


def test_underlay_has_the_queue_counts(host):
    rx, tx = expected_queues(host)
    assert channels(state(host)["channels"]) == (rx, tx)
    assert state(host)["queues"] == sorted(["rx-%d" % i for i in range(rx)] + ["tx-%d" % i for i in range(tx)])


def test_rps_and_xps_masks_are_as_decided(host):
    cpus, masks = cpulist(state(host)["online"]), state(host)["masks"]
    rx, tx = expected_queues(host)
    # rps: auto. veth reports no RSS (its queues are not chosen by port), so RPS is on whatever
    # the queue count, and every RX queue spreads over all the CPUs.
    for i in range(rx):
        assert mask_cpus(masks["rx-%d/rps_cpus" % i]) == cpus
    for i, wanted in enumerate(spread(cpus, tx)):  # xps: auto, more than one TX queue
        assert mask_cpus(masks["tx-%d/xps_cpus" % i]) == wanted


def test_udp_gro_forwarding_only_under_the_wireguard_go_tunnel(host):
    wanted = "on" if name(host) == "mol-nic-b" else "off"
    assert "rx-udp-gro-forwarding: %s" % wanted in state(host)["features"]


def test_script_holds_what_was_applied(host):
    text = state(host)["script"]
    assert state(host)["script_mode"] == "0o755" and state(host)["script_syntax"] == 0
    rx, tx = expected_queues(host)
    assert "    run ethtool -L eth1 rx %d tx %d\n" % (rx, tx) in text
    for queue, mask in state(host)["masks"].items():
        assert "    put %s %s/%s\n" % (mask.strip(), QUEUES, queue) in text
    # veth has no RSS, no flow hashing and no queue IRQs: nothing of those is persisted.
    assert "ethtool -X" not in text and "ethtool -N" not in text and "\n    pin " not in text
    assert ("    run ethtool -K eth1 rx-udp-gro-forwarding on\n" in text) is (name(host) == "mol-nic-b")


def test_boot_unit_is_enabled_and_udev_rule_where_udev_is(host):
    assert state(host)["enabled"] == "enabled"
    rule = state(host)["rule"]
    if name(host) == "mol-nic-a":
        assert 'KERNEL=="eth1"' in rule and 'ENV{SYSTEMD_WANTS}+="wgspread-nic-tuning.service"' in rule
    else:
        assert rule is None


def test_unit_reapplies_the_tuning(host):
    """What a reboot does to a veth (queues back to 4/4, empty masks), then the unit."""
    restore = host.run(
        "ethtool -L eth1 rx 4 tx 4 && for f in %s/*/rps_cpus %s/*/xps_cpus; do echo 0 > $f; done"
        " && ethtool -l eth1 | grep -A2 Current"
        " && systemctl start wgspread-nic-tuning.service; echo rc=$?; ethtool -l eth1; grep . %s/*/*_cpus",
        QUEUES, QUEUES, QUEUES)
    assert "RX:\t\t4\nTX:\t\t4" in restore.stdout and "rc=0" in restore.stdout, restore.stdout
    after = restore.stdout.split("rc=0", 1)[1] + "\n"  # testinfra strips the last newline
    assert channels(after) == expected_queues(host)
    for queue, mask in state(host)["masks"].items():
        assert "%s/%s:%s\n" % (QUEUES, queue, mask.strip()) in after
