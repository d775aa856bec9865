"""The lab as a pytest fixture: three gateway containers (hub, spoke1, spoke2) reached
over SSH, exactly as a user's gateways would be. scripts/lab brings them up."""

import json
import os
import re
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A second lab next to the default one (scripts/lab's header) sets WGSPREAD_LAB_PREFIX and
# WGSPREAD_LAB_INVENTORY (with its other WGSPREAD_LAB_* variables); the tests follow them.
INVENTORY = os.environ.get("WGSPREAD_LAB_INVENTORY") or os.path.join(ROOT, "lab", "inventory")
PREFIX = os.environ.get("WGSPREAD_LAB_PREFIX") or "wgspread-"
GATEWAYS = ("hub", "spoke1", "spoke2")
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def container(gateway):
    return PREFIX + gateway


def sh(gateway, command, check=True):
    """Run a shell command inside a gateway container; returns stdout."""
    result = subprocess.run(["podman", "exec", container(gateway), "sh", "-c", command],
                            capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError("%s: %s failed: %s%s" % (gateway, command, result.stdout, result.stderr))
    return result.stdout


class Run(object):
    def __init__(self, result):
        self.rc, self.out = result.returncode, result.stdout + result.stderr
        self.recap = dict((m.group(1), {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                        "unreachable": int(m.group(4)), "failed": int(m.group(5))})
                          for m in RECAP_RE.finditer(self.out))

    def changed(self):
        return sum(host["changed"] for host in self.recap.values())


def playbook(name, inventory=INVENTORY, *args, env_extra=None):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env.update(env_extra or {})
    result = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(ROOT, "playbooks", name)] + list(args),
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, check=False)
    return Run(result)


def adhoc(pattern, module, args=None):
    """One ad-hoc module call against the lab, as ``ansible PATTERN -m MODULE [-a JSON]``."""
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    arguments = ["-a", json.dumps(args)] if args else []
    result = subprocess.run(["ansible", "-i", INVENTORY, pattern, "-m", module] + arguments,
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    return Run(result)


def links_vars(tmp_path, links, **extra):
    """``-e @FILE`` arguments that replace wgspread_links (extra vars outrank the inventory),
    the way a user passes link variables from a file."""
    path = tmp_path / "links.json"
    path.write_text(json.dumps(dict(extra, wgspread_links=links), indent=1))
    return ["-e", "@%s" % path]


def lab_links():
    import yaml
    with open(os.path.join(INVENTORY, "group_vars", "all", "links.yml")) as handle:
        return yaml.safe_load(handle)["wgspread_links"]


def wait_booted(gateway, seconds=90):
    """Wait for systemd in a (re)started gateway: "running", or "degraded" (a unit failed)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        state = subprocess.run(["podman", "exec", container(gateway), "systemctl", "is-system-running"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    raise AssertionError("%s did not boot in %d s" % (gateway, seconds))


def wait_reachable(gateway, seconds=90):
    """Wait until Ansible reaches a (re)started gateway over SSH again; returns the seconds waited.
    After a restart the host's neighbour entry and Ansible's SSH master connection may still
    point at the old container for a while: reachability is the precondition of the next run,
    not what a test measures."""
    started = time.time()
    while True:
        run = adhoc(gateway, "ansible.builtin.ping")
        if run.rc == 0:
            return time.time() - started
        if time.time() - started > seconds:
            raise AssertionError("%s not reachable over SSH %d s after its restart: %s" % (gateway, seconds, run.out[-1000:]))
        time.sleep(2)


def lab_session():
    """Bring up a fresh lab, yield, then remove it (unless WGSPREAD_KEEP_LAB=1).
    While working on one test, WGSPREAD_REUSE_LAB=1 runs it on the lab as it is."""
    if os.environ.get("WGSPREAD_REUSE_LAB") == "1":
        yield
        return
    subprocess.run([os.path.join(ROOT, "scripts", "lab"), "down"], check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "lab"), "up", "--no-site"], check=True)
    yield
    if os.environ.get("WGSPREAD_KEEP_LAB") != "1":
        subprocess.run([os.path.join(ROOT, "scripts", "lab"), "down"], check=True)


class Pinger(object):
    """A ping every ``interval`` seconds through a tunnel, from inside a gateway, while the test
    changes something. ``result()`` gives (sent, received, longest silence in seconds): the
    longest time between two replies, i.e. the outage as the pinging side saw it (start the
    change a moment after the pinger). Late replies count as received; the silence shows the
    delay.

    ``stop()`` ends ping with SIGINT at an arbitrary moment, and ping then counts the echo still
    on its way (sent a few ms before, reply not yet back) as lost. So the pings sent after the
    last reply are not counted when they span less than the reply wait (-W, 1 s): their fate is
    unknown, not lost. A longer tail is a tunnel that broke at the end, and counts as lost."""

    REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")
    REPLY_WAIT = 1.0  # ping's -W

    def __init__(self, gateway, address, count, interval=0.01):
        self.gateway, self.address = gateway, address
        # A file, not a pipe: nobody reads a pipe until the end, and a full pipe (64 KiB, about
        # 9 s of replies) would stall ping itself and fake an outage.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.interval = interval
        self.process = subprocess.Popen(
            ["podman", "exec", container(gateway), "ping", "-D", "-n", "-i", str(interval), "-W", "%g" % self.REPLY_WAIT,
             "-c", str(count), address], stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def running(self):
        return self.process.poll() is None

    def stop(self):
        """End the pings now, as Ctrl-C would: ping prints its statistics on SIGINT."""
        sh(self.gateway, "pkill -INT -f '^ping -D -n .* %s$'" % self.address.replace(".", "[.]"))

    def result(self, timeout=180):
        self.process.wait(timeout=timeout)
        self.log.seek(0)
        out = self.output = self.log.read()
        self.log.close()
        match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert match, out[-2000:]
        sent, received = map(int, match.groups())
        replies = [m for m in map(self.REPLY.match, out.splitlines()) if m]
        answered = set(int(m.group(2)) for m in replies)
        unanswered_tail = sent - max(answered, default=0)
        if answered and 0 < unanswered_tail and unanswered_tail * self.interval < self.REPLY_WAIT:
            sent, received = sent - unanswered_tail, len(answered)
        times = sorted(float(m.group(1)) for m in replies)
        silence = max(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1 else float("inf")
        # the slowest reply tells a delayed tunnel (high) from a stalled ping process (low)
        rtt = re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/([\d.]+)/", out)
        self.max_rtt = float(rtt.group(1)) / 1000 if rtt else None
        return sent, received, silence


# One pinger per tunnel, from the spoke's end: an echo and its reply cross the tunnel both ways.
TUNNEL_PINGS = {"hub-spoke1": ("spoke1", "198.18.0.0"), "hub-spoke2": ("spoke2", "198.18.0.2")}


def ping_every_tunnel(links=None, count=6000):
    """Start a 10 ms ping through every tunnel of the lab (or the named links'); see Pinger."""
    pingers = dict((link, Pinger(*TUNNEL_PINGS[link], count=count)) for link in links or TUNNEL_PINGS)
    time.sleep(1)  # the first replies are in before the change starts
    return pingers


def stop_pings(pingers):
    """Each pinger's (sent, received, longest silence); every one must still have been running.
    The pings go on for a moment after the change: a tunnel the change broke then leaves an
    unanswered tail longer than the reply wait, which counts as lost (see Pinger)."""
    time.sleep(Pinger.REPLY_WAIT * 1.5)
    assert all(p.running() for p in pingers.values()), "a ping ended before the change did: raise its count"
    for pinger in pingers.values():
        pinger.stop()
    return dict((link, pinger.result()) for link, pinger in pingers.items())


def ping_figures(results, pingers=None):
    """{link: (sent, lost, longest silence in s[, slowest reply in s])}, for printing."""
    figures = {}
    for link, (sent, received, silence) in results.items():
        figures[link] = (sent, sent - received, round(silence, 3))
        if pingers and pingers[link].max_rtt is not None:
            figures[link] += (round(pingers[link].max_rtt, 3),)
    return figures
