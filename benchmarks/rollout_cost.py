"""Rollout cost: wall time of a first site.yml on bare gateways and of a no-op re-run, next to the most used public
WireGuard role (githubixx/ansible-role-wireguard 18.3.0) on the same kind of gateways, for 3 and 32 gateways.

For each size N, and for each of the two products in turn, a fresh container lab (scripts/lab, its own prefix,
network and subnet, so it never meets the default lab `wgspread-*` or molecule's containers): a hub and N-1
spokes, booted from the shared gateway image without WireGuard packages. Then, timed from the controller:

  ours        ansible-playbook -i INV playbooks/site.yml of the commit measured (a `git archive` export, linked as
              ansible_collections/sitelink/wgspread; its ansible.cfg): one link hub-spokeK per spoke (N-1 links,
              N-1 WireGuard interfaces on the hub), with port spreading and nic_tuning.
  reference   ansible-playbook -i INV reference.yml: a play over the same inventory with the role
              githubixx.ansible_role_wireguard (tag 18.3.0, exported from a git mirror into the temp dir; never
              committed here), hub-and-spoke by its `wireguard_as_spoke` on the spokes: one interface wg0 per
              gateway, the hub with N-1 peers on it. Plain WireGuard: it does no port spreading or NIC tuning.
              It cannot run here as it comes, so (untimed, before its first run) every gateway gets lsb-release
              (its Debian branch reads ansible_facts.lsb.id), wireguard-go (no kernel module here; wg-quick falls
              back to it) and a stub package that provides `wireguard-modules` (Debian's `wireguard` package
              depends on it; on a real gateway the kernel package provides it); its modprobe task is turned off
              by its own variable wireguard_install_kernel_module=false (it retries for minutes and fails here).

  first run   on the bare gateways: apt update and the package installs, keys, units. Must end with failed=0
              unreachable=0, and every link must then pass a ping through its tunnel (from the spoke).
  no-op runs  the same command again, R times; ours must report changed=0 on every host (or the benchmark fails);
              the reference's changed count is reported, with the tasks that changed.

Every timed run opens fresh ssh connections (its own ControlPath directory), so the first run and the no-op runs
pay the same connection setup; for sizes up to --open-ssh-up-to gateways, one extra no-op run that reuses the
previous run's ssh masters (as a re-run within ControlPersist's 60 s does) is reported on the side. With
--profile, one more no-op run per product with the ansible.posix.profile_tasks callback names the tasks where the
time goes (not in the figures). Prints the figures side by side and writes docs/benchmarks-rollout.md (not with
--no-doc).

    sudo .venv/bin/python benchmarks/rollout_cost.py [--sizes 3,32] [--repeat 2] [--commit HEAD] [--raise-inotify]
        [--profile] [--open-ssh-up-to 16] [--reference-git MIRROR] [--max-seconds 3000] [--no-doc] [--keep-logs]

32 gateways need more inotify instances of root than the default fs.inotify.max_user_instances (128) allows (see
Inotify below): the benchmark checks first and stops, or with --raise-inotify raises the limit for the run and
restores it at the end.

Needs root (rootful podman) and the lab's host setup (scripts/lab up runs scripts/setup-host; the image
localhost/wgspread-gw:bookworm is built once and reused, never rebuilt or removed here). Touches only containers
wgbench-*, the podman network wgspread-bench (172.30.113.0/24) and .cache/bench/: all removed at the end, on
errors, on Ctrl-C and on timeout.
"""

import argparse
import concurrent.futures
import datetime
import glob
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import benchkit
from benchkit import ROOT, first_line, loadavg

DOC = os.path.join(ROOT, "docs", "benchmarks-rollout.md")
# The suite the recorded figures were measured on (scripts/lab's default is now trixie): pinned,
# so that a new run compares with the old ones.
SUITE = "bookworm"
IMAGE = "localhost/wgspread-gw:" + SUITE
# The benchmark's own lab identity (scripts/lab's WGSPREAD_LAB_* variables). The subnet is private
# (RFC 1918): on this host every RFC 5737 range is taken (192.0.2.0/24: the host's own address,
# 198.51.100.0/24: the default lab, 203.0.113.0/24: the address the package mirror and PyPI resolve
# to, which scripts/lab refuses), and 198.18.0.0/15 holds the tunnel addresses and molecule's networks.
PREFIX = "wgbench-"
NET = "wgspread-bench"
SUBNET_PREFIX = "172.30.113"
SUBNET6_PREFIX = "2001:db8:5113:"  # the default lab has 2001:db8:5100::/64
STATE = os.path.join(ROOT, ".cache", "bench")
TUNNEL_BASE = (198, 18, 0)          # link K: 198.18.0.(2K-2)/31, hub .(2K-2), spokeK .(2K-1)
LISTEN_BASE, LISTEN_STEP = 51820, 100
# Up to 32 gateways (31 spokes) every address derivation holds: lab addresses SUBNET.(11+K) (.42 at K=31) and
# IPv6 ...::(11+K); the MACs scripts/lab derives from them (02:57:<the four IPv4 octets>, unique per address);
# tunnel /31s 198.18.0.(2K-2) (.60/.61 at K=31, inside 198.18.0.0/26); listen ports 51820 + 100 (K-1) (54820 at
# K=31) with the spread ports listen port + 0..CPUs-1, apart from the next link's as long as CPUs < 100; the
# reference's tunnel addresses 10.113.0.(1+K)/24. scripts/lab itself allows 20 spokes (MAX_SPOKES): the
# benchmark runs a copy of the measured commit's scripts/lab with that one constant raised to the spokes needed.
MAX_GATEWAYS = 32
CPUS = os.cpu_count() or 1
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)
TASK_RE = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \*+$")
CHANGED_RE = re.compile(r"^changed: \[([^\]]+)\]")
PROFILE_RE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$")

# The reference row: the most used public WireGuard role, at a fixed tag, from a git mirror (never committed here).
REF_NAME, REF_VERSION, REF_ROLE = "githubixx/ansible-role-wireguard", "18.3.0", "githubixx.ansible_role_wireguard"
REF_MIRROR = "/work/.mirror/githubixx+ansible-role-wireguard/repo"
REF_SUBNET = "10.113.0"             # its tunnel addresses (wg0, /24): hub .1, spokeK .(1+K); unused by the lab and the host
REF_PORT = 51820
# Untimed, on every gateway of the reference's lab before its first run (see prepare_reference).
REF_PREINSTALL = ("lsb-release", "wireguard-go")
STUB = "wgbench-wireguard-modules"
# The role's variables for this lab (besides the per-host wireguard_address, wireguard_endpoint, wireguard_as_spoke).
REF_VARS = {
    "wireguard_interface": "wg0",
    "wireguard_port": REF_PORT,
    "wireguard_persistent_keepalive": 25,   # as ours (persistent_keepalive: 25 per link)
    # Its own switch for hosts that cannot load modules: the modprobe task (retries 10 x 10 s, then fails
    # where the kernel has no WireGuard module, as here) is skipped; wg-quick falls back to wireguard-go.
    "wireguard_install_kernel_module": False,
}

LAB = os.path.join(ROOT, "scripts", "lab")   # replaced in main() by the copy from the commit measured


class Timeout(Exception):
    pass


def log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def git(*argv, cwd=ROOT):
    return subprocess.run(["git", "-C", cwd] + list(argv), capture_output=True, text=True, timeout=60, check=False).stdout.strip()


def extract(git_dir, commit, dest):
    """git archive COMMIT | tar -x -C DEST."""
    os.makedirs(dest)
    archive = subprocess.Popen(["git", "-C", git_dir, "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        raise RuntimeError("git -C %s archive %s failed" % (git_dir, commit))


# ---------------------------------------------------------------- what is measured

class Tree:
    """The product measured: a clean `git archive` export of one commit (edits made in the checkout meanwhile are
    not measured), linked as ansible_collections/sitelink/wgspread in a collections path of its own; its
    playbooks/site.yml, its ansible.cfg, and its scripts/lab (a copy, MAX_SPOKES raised to what the sizes need)."""

    def __init__(self, workdir, rev, spokes):
        self.commit = git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
        if not self.commit:
            raise RuntimeError("--commit %s: not a commit of %s" % (rev, ROOT))
        self.short = self.commit[:7]
        self.subject = git("log", "-1", "--format=%s", self.commit)
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "roles", "playbooks", "plugins", "ansible.cfg")
        self.checkout_note = "" if head == self.commit and not dirty else " (the checkout was at %s%s)" % (
            head[:7], " with uncommitted changes to roles/playbooks/plugins/ansible.cfg" if dirty else "")
        self.root = os.path.join(workdir, "tree")
        extract(ROOT, self.commit, self.root)
        self.collections = os.path.join(workdir, "collections")
        link = os.path.join(self.collections, "ansible_collections", "sitelink", "wgspread")
        os.makedirs(os.path.dirname(link))
        os.symlink(self.root, link)
        self.playbook = os.path.join(self.root, "playbooks", "site.yml")
        self.config = os.path.join(self.root, "ansible.cfg")
        self.lab, self.max_spokes = lab_copy(self.root, workdir, spokes)

    def check_resolves(self, env):
        """sitelink.wgspread must come from the export and from nowhere else (~/.ansible/collections may hold another)."""
        out = subprocess.run([ansible_bin("ansible-galaxy"), "collection", "list", "sitelink.wgspread"], env=env,
                             capture_output=True, text=True, timeout=120, check=False).stdout
        paths = [line[2:].strip() for line in out.splitlines() if line.startswith("# ")]
        want = os.path.join(self.collections, "ansible_collections")
        if paths != [want]:
            raise RuntimeError("sitelink.wgspread resolves from %s, want only %s" % (paths or "nowhere", want))


def lab_copy(tree_root, workdir, spokes):
    """The commit's scripts/lab with MAX_SPOKES raised to `spokes` (nothing else changed), next to a link to this
    checkout's scripts/setup-host (the export has no .venv: its own setup-host would build one)."""
    with open(os.path.join(tree_root, "scripts", "lab")) as handle:
        text = handle.read()
    match = re.search(r"^MAX_SPOKES=(\d+)$", text, re.M)
    if not match:
        raise RuntimeError("scripts/lab of the commit measured has no MAX_SPOKES=N line")
    limit = int(match.group(1))
    directory = os.path.join(workdir, "lab", "scripts")
    os.makedirs(directory)
    path = os.path.join(directory, "lab")
    with open(path, "w") as handle:
        handle.write(text[:match.start()] + "MAX_SPOKES=%d" % max(limit, spokes) + text[match.end():])
    os.chmod(path, 0o755)
    os.symlink(os.path.join(ROOT, "scripts", "setup-host"), os.path.join(directory, "setup-host"))
    return path, limit


class Reference:
    """githubixx/ansible-role-wireguard at tag 18.3.0, exported from a git mirror into the temp dir as
    roles/githubixx.ansible_role_wireguard, and the play that runs it (as its README shows: hosts + roles)."""

    def __init__(self, workdir, mirror):
        if not os.path.isdir(mirror):
            raise RuntimeError("no git mirror of %s at %s (git clone --mirror https://github.com/%s MIRROR; --reference-git MIRROR)"
                               % (REF_NAME, mirror, REF_NAME))
        self.commit = git("rev-parse", "--verify", "--quiet", "refs/tags/%s^{commit}" % REF_VERSION, cwd=mirror)
        if not self.commit:
            raise RuntimeError("%s: no tag %s in %s" % (REF_NAME, REF_VERSION, mirror))
        self.roles = os.path.join(workdir, "roles")
        self.root = os.path.join(self.roles, REF_ROLE)
        extract(mirror, self.commit, self.root)
        with open(os.path.join(self.root, "CHANGELOG.md")) as handle:
            latest = re.search(r"^## (\S+)", handle.read(), re.M)
        if not latest or latest.group(1) != REF_VERSION:
            raise RuntimeError("%s tag %s: CHANGELOG.md's latest entry is %s" % (REF_NAME, REF_VERSION, latest and latest.group(1)))
        self.playbook = os.path.join(workdir, "reference.yml")
        with open(self.playbook, "w") as handle:
            handle.write("\n".join([
                "---",
                "# Written by benchmarks/rollout_cost.py: the reference row, %s %s as its README uses it." % (REF_NAME, REF_VERSION),
                "- name: WireGuard by %s %s" % (REF_ROLE, REF_VERSION),
                "  hosts: gateways",
                "  roles:",
                "    - %s" % REF_ROLE, ""]))
        self.stub = build_stub(workdir)


def build_stub(workdir):
    """An empty package that provides wireguard-modules: Debian's `wireguard` (what the role installs) depends on
    `wireguard-modules | wireguard-dkms`; on a real gateway the installed kernel package (linux-image-*) provides
    wireguard-modules, a container has no kernel package, and apt would pull in a whole linux-image for it."""
    pkg = os.path.join(workdir, "stub")
    os.makedirs(os.path.join(pkg, "DEBIAN"))
    with open(os.path.join(pkg, "DEBIAN", "control"), "w") as handle:
        handle.write("\n".join([
            "Package: %s" % STUB, "Version: 1.0", "Architecture: all", "Maintainer: benchmarks/rollout_cost.py <root@localhost>",
            "Provides: wireguard-modules (= 1.0.0)", "Priority: optional", "Section: kernel",
            "Description: stands in for the kernel package's Provides: wireguard-modules (lab gateways have no kernel package)", ""]))
    deb = os.path.join(workdir, STUB + ".deb")
    proc = subprocess.run(["dpkg-deb", "--root-owner-group", "--build", pkg, deb], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError("dpkg-deb --build %s: %s" % (pkg, proc.stderr.strip()))
    return deb


def prepare_reference(hosts, stub):
    """Untimed, on every gateway of the reference's lab: the stub package, then lsb-release and wireguard-go from the
    mirror, then the apt lists removed again (the image has none: the reference's first run pays its apt update
    as ours does)."""
    script = ("set -e; dpkg -i /tmp/%s.deb >/dev/null; rm -f /tmp/%s.deb; apt-get -q update >/dev/null; "
              "DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends %s >/dev/null; "
              "apt-get clean; rm -rf /var/lib/apt/lists/*; dpkg-query -W %s %s"
              % (STUB, STUB, " ".join(REF_PREINSTALL), STUB, " ".join(REF_PREINSTALL)))

    def one(host):
        name = PREFIX + host
        subprocess.run(["podman", "cp", stub, "%s:/tmp/%s.deb" % (name, STUB)], capture_output=True, timeout=60, check=True)
        proc = subprocess.run(["podman", "exec", name, "sh", "-c", script], capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise RuntimeError("%s: preparing for the reference failed: %s" % (name, (proc.stderr or proc.stdout).strip()[-500:]))
        return proc.stdout.split()

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        installed = list(pool.map(one, hosts))
    versions = installed[0]     # dpkg-query -W: "package version" pairs, the same on every gateway
    return ", ".join("%s %s" % (versions[i], versions[i + 1]) for i in range(0, len(versions), 2))


# ---------------------------------------------------------------- lab

def lab_env(inventory=None):
    env = dict(os.environ, WGSPREAD_LAB_SUITE=SUITE, WGSPREAD_LAB_PREFIX=PREFIX, WGSPREAD_LAB_NET=NET, WGSPREAD_LAB_SUBNET_PREFIX=SUBNET_PREFIX,
               WGSPREAD_LAB_SUBNET6_PREFIX=SUBNET6_PREFIX, WGSPREAD_LAB_STATE=os.path.join(STATE, "state"))
    if inventory:
        env["WGSPREAD_LAB_INVENTORY"] = inventory
    return env


def lab(*args, workdir=None, timeout=900):
    """scripts/lab with the benchmark's identity; its chatter goes to a log file in workdir."""
    out = open(os.path.join(workdir, "lab.log"), "a") if workdir else subprocess.DEVNULL
    try:
        proc = subprocess.run([LAB] + list(args), env=lab_env(), stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                              timeout=timeout, check=False)
    finally:
        if workdir:
            out.close()
    if proc.returncode != 0:
        tail = ""
        if workdir:
            with open(os.path.join(workdir, "lab.log")) as handle:
                tail = "".join(handle.readlines()[-15:])
        raise RuntimeError("scripts/lab %s failed (rc=%d):\n%s" % (" ".join(args), proc.returncode, tail))


def lab_down():
    """Remove the benchmark's containers and network (never the image, never another prefix)."""
    proc = subprocess.run([LAB, "down"], env=lab_env(), capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        log("scripts/lab down failed: %s" % (proc.stderr or proc.stdout).strip())


def leftovers():
    names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                           check=False).stdout.split()
    left = [name for name in names if name.startswith(PREFIX)]
    if subprocess.run(["podman", "network", "exists", NET], capture_output=True, check=False).returncode == 0:
        left.append("network " + NET)
    return left


# ---------------------------------------------------------------- inventories

def spoke_ip(k):
    return "%s.%d" % (SUBNET_PREFIX, 11 + k)


def host_ip(host):
    return "%s.11" % SUBNET_PREFIX if host == "hub" else spoke_ip(int(host[5:]))


def tunnel_ip(k, end):
    """Address of `end` (0 = hub, 1 = spoke) on link hub-spokeK."""
    return "%d.%d.%d.%d" % (TUNNEL_BASE + (2 * (k - 1) + end,))


def write_hosts(directory, spokes):
    """hosts.yml for hub + spokes, as lab/inventory has it for the default lab (the same for both products)."""
    hosts = ["        hub:", "          ansible_host: %s.11" % SUBNET_PREFIX]
    for k in range(1, spokes + 1):
        hosts += ["        spoke%d:" % k, "          ansible_host: %s" % spoke_ip(k)]
    os.makedirs(os.path.join(directory, "group_vars", "all"))
    with open(os.path.join(directory, "hosts.yml"), "w") as handle:
        handle.write("\n".join([
            "# Written by benchmarks/rollout_cost.py: the containers %shub, %sspoke1.. on %s (%s.0/24)."
            % (PREFIX, PREFIX, NET, SUBNET_PREFIX),
            "all:", "  children:", "    gateways:", "      hosts:"] + hosts + [
            "      vars:",
            "        ansible_user: root",
            "        ansible_ssh_private_key_file: %s" % os.path.join(STATE, "state", "ssh", "id_ed25519"),
            "        # Lab only, as in lab/inventory/hosts.yml: fresh host keys on every `up`.",
            "        ansible_ssh_common_args: >-",
            "          -o StrictHostKeyChecking=no",
            "          -o UserKnownHostsFile=/dev/null",
            "          -o LogLevel=ERROR",
            "        ansible_python_interpreter: /usr/bin/python3", ""]))


def write_links(directory, spokes):
    """group_vars/all/links.yml for ours: one link hub-spokeK per spoke, as lab/inventory has them."""
    links = ["---", "wgspread_links:"]
    for k in range(1, spokes + 1):
        # Listen ports 100 apart per link: each link's spread ports (listen port + 0..CPUs-1) stay apart.
        links += ["  - name: hub-spoke%d" % k,
                  "    gateways: [hub, spoke%d]" % k,
                  "    subnet: %s/31" % tunnel_ip(k, 0),
                  "    listen_port: %d" % (LISTEN_BASE + LISTEN_STEP * (k - 1)),
                  "    persistent_keepalive: 25"]
    # The lab's own settings otherwise (role defaults: nic_tuning sets queue counts and RPS/XPS).
    links += ["", "# The same lab settings as lab/inventory/group_vars/all/links.yml.",
              "port_spread_meter: true", ""]
    with open(os.path.join(directory, "group_vars", "all", "links.yml"), "w") as handle:
        handle.write("\n".join(links))


def write_reference_vars(directory, spokes):
    """group_vars/all/wireguard.yml and host_vars/HOST.yml for the reference role: hub-and-spoke by its
    wireguard_as_spoke (spokes peer with the hub only, the hub with every spoke), one interface wg0 each."""
    with open(os.path.join(directory, "group_vars", "all", "wireguard.yml"), "w") as handle:
        handle.write("---\n# %s %s, for the lab (benchmarks/rollout_cost.py).\n" % (REF_NAME, REF_VERSION) + "".join(
            "%s: %s\n" % (key, str(value).lower() if isinstance(value, bool) else value) for key, value in REF_VARS.items()))
    os.makedirs(os.path.join(directory, "host_vars"))
    for k in range(0, spokes + 1):
        host = "hub" if k == 0 else "spoke%d" % k
        lines = ["---", "wireguard_address: %s.%d/24" % (REF_SUBNET, 1 + k), "wireguard_endpoint: %s" % host_ip(host)]
        if k:
            lines.append("wireguard_as_spoke: true")
        with open(os.path.join(directory, "host_vars", host + ".yml"), "w") as handle:
            handle.write("\n".join(lines + [""]))


def product_ours(tree, sizedir, spokes):
    inventory = os.path.join(sizedir, "ours", "inventory")
    write_hosts(inventory, spokes)
    write_links(inventory, spokes)
    return {"key": "ours", "title": "sitelink.wgspread %s" % tree.short, "inventory": inventory, "playbook": tree.playbook,
            "pings": [("spoke%d" % k, tunnel_ip(k, 0)) for k in range(1, spokes + 1)], "prepare": None, "strict_noop": True,
            "interfaces_hub": spokes}


def product_reference(reference, sizedir, spokes):
    inventory = os.path.join(sizedir, "reference", "inventory")
    write_hosts(inventory, spokes)
    write_reference_vars(inventory, spokes)
    return {"key": "reference", "title": "%s %s" % (REF_NAME, REF_VERSION), "inventory": inventory, "playbook": reference.playbook,
            "pings": [("spoke%d" % k, "%s.1" % REF_SUBNET) for k in range(1, spokes + 1)],
            "prepare": lambda hosts: prepare_reference(hosts, reference.stub), "strict_noop": False, "interfaces_hub": 1}


# ---------------------------------------------------------------- ansible

TREE = None          # the Tree measured (set in main)
ROLES = None         # the reference's roles path (set in main)


def ansible_bin(name):
    local = os.path.join(ROOT, ".venv", "bin", name)
    return local if os.access(local, os.X_OK) else shutil.which(name) or name


def ansible_env(control_dir, profile=False):
    """The same environment for both products: the export's ansible.cfg, its collections path only, the
    reference's roles path, a ControlPath directory of the run's own."""
    env = dict(os.environ, ANSIBLE_CONFIG=TREE.config, ANSIBLE_COLLECTIONS_PATH=TREE.collections, ANSIBLE_ROLES_PATH=ROLES,
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir)
    env["PATH"] = os.path.dirname(ansible_bin("ansible-playbook")) + os.pathsep + env.get("PATH", "")
    if profile:
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    return env


def close_masters(control_dir):
    """End the ssh ControlPersist masters of one run (they would linger 60 s otherwise)."""
    for sock in glob.glob(os.path.join(control_dir, "*")):
        subprocess.run(["ssh", "-o", "ControlPath=" + sock, "-O", "exit", "lab"], capture_output=True, timeout=10, check=False)


def cpu_ticks():
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def container_cgroups(hosts):
    """cpuacct.usage file of each gateway container (cgroup v1 here, cgroup v2 as a fallback)."""
    paths = []
    for host in hosts:
        cgroup = subprocess.run(["podman", "container", "inspect", PREFIX + host, "--format", "{{.State.CgroupPath}}"],
                                capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        for path in ("/sys/fs/cgroup/cpuacct%s/cpuacct.usage" % cgroup, "/sys/fs/cgroup%s/cpu.stat" % cgroup):
            if cgroup and os.path.exists(path):
                paths.append(path)
                break
    return paths if len(paths) == len(hosts) else None


def gateways_cpu(paths):
    """CPU seconds used so far by every process in the gateway containers, or None when unknown."""
    if not paths:
        return None
    total = 0.0
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        if path.endswith("cpuacct.usage"):
            total += int(text) / 1e9
        else:
            total += int(re.search(r"^usage_usec (\d+)", text, re.M).group(1)) / 1e6
    return total


def changed_tasks(text):
    """{task name: hosts that reported changed} from the default callback's output."""
    tasks, task = {}, None
    for line in text.splitlines():
        match = TASK_RE.match(line)
        if match:
            task = match.group(1)
            continue
        match = CHANGED_RE.match(line)
        if match and task:
            hosts = tasks.setdefault(task, [])
            if match.group(1) not in hosts:
                hosts.append(match.group(1))
    return tasks


def profile_top(text):
    """profile_tasks' summary after the recap: [(task, seconds)], slowest first."""
    tail = text.split("PLAY RECAP", 1)[-1]
    rows = [(m.group(1).strip(), float(m.group(2))) for m in (PROFILE_RE.match(line) for line in tail.splitlines()) if m]
    return sorted(rows, key=lambda row: -row[1])


def site(product, workdir, label, control_dir, cgroups, profile=False):
    """One timed ansible-playbook run of a product: wall seconds, the recap, CPU seconds of ansible and of the
    gateways, the machine's CPU busy %, the tasks that changed."""
    os.makedirs(control_dir, exist_ok=True)
    logfile = os.path.join(workdir, label + ".log")
    argv = [ansible_bin("ansible-playbook"), "-i", product["inventory"], product["playbook"]]
    busy0, total0 = cpu_ticks()
    ctl0, gw0 = children_cpu(), gateways_cpu(cgroups)
    start = time.monotonic()
    with open(logfile, "w") as out:
        proc = subprocess.run(argv, cwd=TREE.root, env=ansible_env(control_dir, profile), stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=2400, check=False)
    seconds = time.monotonic() - start
    busy1, total1 = cpu_ticks()
    ctl1, gw1 = children_cpu(), gateways_cpu(cgroups)
    with open(logfile) as handle:
        text = handle.read()
    recap = dict((m.group(1), dict(zip(("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"),
                                       map(int, m.groups()[1:]), strict=True)))
                 for m in RECAP_RE.finditer(text.split("PLAY RECAP", 1)[-1]))
    return {"label": label, "seconds": seconds, "rc": proc.returncode, "recap": recap, "log": logfile,
            "busy": 100.0 * (busy1 - busy0) / max(1, total1 - total0), "cpu_ctl": ctl1 - ctl0,
            "cpu_gw": gw1 - gw0 if gw0 is not None else None, "tail": "".join(text.splitlines(True)[-40:]),
            "changed": sum(stats["changed"] for stats in recap.values()), "changed_tasks": changed_tasks(text),
            "profile": profile_top(text) if profile else None}


def check_run(run, hosts, noop):
    """Fail loudly unless every host is in the recap, unfailed, reachable (and unchanged for a no-op of ours)."""
    problems = []
    if run["rc"] != 0:
        problems.append("ansible-playbook exited %d" % run["rc"])
    for host in hosts:
        stats = run["recap"].get(host)
        if stats is None:
            problems.append("%s: not in PLAY RECAP" % host)
            continue
        for key in ("failed", "unreachable") + (("changed",) if noop else ()):
            if stats[key]:
                problems.append("%s: %s=%d" % (host, key, stats[key]))
    if problems:
        raise RuntimeError("%s: %s (log %s)\n%s" % (run["label"], "; ".join(problems), run["log"], run["tail"]))


def ping_tunnels(pings):
    """One ping per link from the spoke to the hub's tunnel address (a few tries for the first handshake)."""
    tries = []
    for host, address in pings:
        for attempt in range(1, 6):
            proc = subprocess.run(["podman", "exec", PREFIX + host, "ping", "-c", "1", "-W", "2", "-q", address],
                                  capture_output=True, text=True, timeout=30, check=False)
            if proc.returncode == 0:
                tries.append(attempt)
                break
        else:
            raise RuntimeError("%s: no ping through the tunnel to the hub's %s (5 tries)" % (host, address))
    return tries


def check_topology(product, hosts):
    """What the first run built, from `wg show all peers` in the containers: on the hub the product's number of
    interfaces with one peer per spoke in all; on each spoke one interface with one peer (the hub)."""
    found = {}
    for host in hosts:
        out = subprocess.run(["podman", "exec", PREFIX + host, "wg", "show", "all", "peers"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.split("\n")
        pairs = [line.split("\t") for line in out if line.strip()]
        found[host] = (len(set(pair[0] for pair in pairs)), len(pairs))
    want = dict((host, (product["interfaces_hub"], len(hosts) - 1) if host == "hub" else (1, 1)) for host in hosts)
    wrong = ["%s: %d interfaces, %d peers (want %d, %d)" % ((host,) + found[host] + want[host]) for host in hosts if found[host] != want[host]]
    if wrong:
        raise RuntimeError("%s: the first run did not build the topology measured: %s" % (product["key"], "; ".join(wrong)))
    return "hub: %d interface%s, %d peers; every spoke: 1 interface, 1 peer" % (
        want["hub"][0], "s" if want["hub"][0] > 1 else "", want["hub"][1])


# ---------------------------------------------------------------- inotify

# Rootful containers run as uid 0 of the host, so every gateway's systemd, dbus-daemon, logind and
# wireguard-go draw on root's one fs.inotify.max_user_instances (128 by default), together with every
# other rootful container on the host. When it runs out, systemd logs "Failed to allocate inotify fd:
# Too many open files" and wireguard-go exits at start (its UAPI socket is watched with inotify), so
# wg-quick fails with "Unable to modify interface: Protocol not supported"; and so would the other
# labs' containers. Measured on the lab image: 7 instances per booted gateway (systemd 5, dbus-daemon 1,
# systemd-logind 1), 1 per wireguard-go process (one per link end; the reference: one per gateway).
INOTIFY_LIMIT = "/proc/sys/fs/inotify/max_user_instances"
INOTIFY_PER_GATEWAY, INOTIFY_PER_LINK, INOTIFY_MARGIN = 7, 2, 16


def inotify_limit():
    with open(INOTIFY_LIMIT) as handle:
        return int(handle.read())


def inotify_used():
    """inotify fds held by root's processes (an upper bound of root's instances: a forked fd counts twice)."""
    used = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as handle:
                if next(line for line in handle if line.startswith("Uid:")).split()[1] != "0":
                    continue
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "anon_inode:inotify":
                    used += 1
        except (OSError, StopIteration):
            continue
    return used


def inotify_needed(gateways):
    return gateways * INOTIFY_PER_GATEWAY + (gateways - 1) * INOTIFY_PER_LINK + INOTIFY_MARGIN


class Inotify:
    """Checks root's inotify headroom for a size; with --raise-inotify raises the limit for the run and
    restores it at the end (unless root then uses more than the old limit allowed: cutting others off)."""

    def __init__(self, allow_raise):
        self.allow_raise, self.original, self.raised = allow_raise, inotify_limit(), None

    def ensure(self, gateways):
        limit, used, need = inotify_limit(), inotify_used(), inotify_needed(gateways)
        if used + need <= limit:
            return
        if not self.allow_raise:
            raise RuntimeError(
                "%d gateways need about %d inotify instances of root (all rootful containers share them), %d of "
                "fs.inotify.max_user_instances=%d are in use: the gateways (and other labs' containers) would fail "
                "to start wireguard-go. Run with --raise-inotify (raises the limit for the run, restores it at the "
                "end) or raise it yourself (sysctl fs.inotify.max_user_instances=%d)" % (gateways, need, used, limit, used + need))
        target = (used + need + 128 + 63) // 64 * 64     # 128 spare: other labs may grow meanwhile
        log("raising fs.inotify.max_user_instances %d -> %d for the run (%d in use, %d gateways need about %d)"
            % (limit, target, used, gateways, need))
        with open(INOTIFY_LIMIT, "w") as handle:
            handle.write("%d\n" % target)
        self.raised = target

    def restore(self):
        if self.raised is None or inotify_limit() != self.raised:
            return None                 # not raised by us, or changed by someone else since
        used = inotify_used()
        if used > self.original:
            log("fs.inotify.max_user_instances kept at %d: root uses %d instances now, more than the old limit %d"
                % (self.raised, used, self.original))
            return "kept at %d (root used %d instances after the run, more than the old limit)" % (self.raised, used)
        with open(INOTIFY_LIMIT, "w") as handle:
            handle.write("%d\n" % self.original)
        log("fs.inotify.max_user_instances restored to %d" % self.original)
        return "restored to %d after the run" % self.original


# ---------------------------------------------------------------- one size, one product

def measure_product(product, gateways, args, sizedir, inotify):
    """Fresh containers, (untimed) preparation, the timed first run, the pings, the timed no-op runs."""
    key, spokes = product["key"], gateways - 1
    pdir = os.path.join(sizedir, key)
    hosts = ["hub"] + ["spoke%d" % k for k in range(1, spokes + 1)]
    what = "%d gateways, %s" % (gateways, key)

    lab_down()
    inotify.ensure(gateways)
    start = time.monotonic()
    try:
        lab("up", str(spokes), "--no-site", workdir=pdir)
    except RuntimeError as exc:
        # Container boot is not what is measured: one more try from scratch, and say so.
        log("%s: bring-up failed, once more from scratch: %s" % (what, exc))
        lab_down()
        start = time.monotonic()
        lab("up", str(spokes), "--no-site", workdir=pdir)
        boot_retry = str(exc).strip().splitlines()[-1]
    else:
        boot_retry = None
    boot = time.monotonic() - start
    result = {"key": key, "title": product["title"], "gateways": gateways, "links": spokes, "boot": boot, "boot_retry": boot_retry,
              "interfaces_hub": product["interfaces_hub"], "prepare": None, "prepared": None}
    if product["prepare"]:
        start = time.monotonic()
        result["prepared"] = product["prepare"](hosts)
        prepare_seconds = time.monotonic() - start
        result["prepare"] = prepare_seconds
        log("%s: prepared in %.0f s (not timed): %s" % (what, prepare_seconds, result["prepared"]))
    log("%s: containers up and answering ssh in %.0f s (not timed); first run ..." % (what, boot))

    cgroups = container_cgroups(hosts)
    if not cgroups:
        log("no cpuacct for the containers: gateway CPU seconds not measured")
    result.update(load_before=loadavg(), others=other_containers(), image=image_id())
    first = site(product, pdir, "first", os.path.join(pdir, "cp-first"), cgroups)
    close_masters(os.path.join(pdir, "cp-first"))
    check_run(first, hosts, noop=False)
    result["first"] = first
    log("%s: first run %.1f s (%d tasks changed); pinging %d tunnels, counting interfaces and peers" % (
        what, first["seconds"], first["changed"], spokes))
    result["ping_tries"] = ping_tunnels(product["pings"])
    result["built"] = check_topology(product, hosts)

    noops = []
    for number in range(1, args.repeat + 1):
        control = os.path.join(pdir, "cp-noop%d" % number)
        run = site(product, pdir, "noop%d" % number, control, cgroups)
        if number < args.repeat or gateways > args.open_ssh_up_to:
            close_masters(control)
        check_run(run, hosts, noop=product["strict_noop"])
        noops.append(run)
        log("%s: no-op run %d/%d %.1f s, changed=%d (all %d hosts)" % (what, number, args.repeat, run["seconds"], run["changed"], len(hosts)))
    result["warm"] = None
    if gateways <= args.open_ssh_up_to:
        # Side figure: one more no-op run over the last run's ssh masters (ControlPersist), as a re-run within 60 s.
        last = os.path.join(pdir, "cp-noop%d" % args.repeat)
        warm = site(product, pdir, "noop-warm", last, cgroups)
        close_masters(last)
        check_run(warm, hosts, noop=product["strict_noop"])
        result["warm"] = warm
        log("%s: no-op run over open ssh connections %.1f s" % (what, warm["seconds"]))
    result["profile"] = None
    if args.profile:
        control = os.path.join(pdir, "cp-profile")
        run = site(product, pdir, "noop-profile", control, cgroups, profile=True)
        close_masters(control)
        check_run(run, hosts, noop=product["strict_noop"])
        result["profile"] = run
        log("%s: profiled no-op run %.1f s (not in the figures); slowest task %s" % (what, run["seconds"], run["profile"][:1]))
    result.update(noops=noops, load_after=loadavg())
    times = [run["seconds"] for run in noops]
    result["noop_min"], result["noop_median"] = min(times), statistics.median(times)
    result["ratio"] = result["noop_median"] / first["seconds"]
    result["cpu_first"] = cpu_total(first)
    result["noop_changed"] = [run["changed"] for run in noops]
    return result


def measure(gateways, args, workdir, inotify, tree, reference):
    """Both products on fresh labs of the same size, ours first, then the reference."""
    sizedir = os.path.join(workdir, "n%d" % gateways)
    os.makedirs(sizedir)
    ours = measure_product(product_ours(tree, sizedir, gateways - 1), gateways, args, sizedir, inotify)
    ref = measure_product(product_reference(reference, sizedir, gateways - 1), gateways, args, sizedir, inotify)
    lab_down()
    return {"gateways": gateways, "links": gateways - 1, "ours": ours, "reference": ref}


def cpu_total(run):
    return run["cpu_ctl"] + run["cpu_gw"] if run["cpu_gw"] is not None else None


def image_id():
    return subprocess.run(["podman", "image", "inspect", IMAGE, "--format", "{{.Id}}"], capture_output=True, text=True,
                          timeout=30, check=False).stdout.strip()[:12] or "?"


def other_containers():
    """Running containers that are not the benchmark's, by name prefix (what else shares the host)."""
    names = subprocess.run(["podman", "ps", "--format", "{{.Names}}"], capture_output=True, text=True,
                           timeout=30, check=False).stdout.split()
    groups = {}
    for name in names:
        if not name.startswith(PREFIX):
            key = name.split("-", 1)[0] + "-*" if "-" in name else name
            groups[key] = groups.get(key, 0) + 1
    return ", ".join("%d %s" % (n, key) for key, n in sorted(groups.items())) or "none"


# ---------------------------------------------------------------- report

def task_results(run):
    """Task results in a run, all hosts: ok (changed included) + failed + skipped + unreachable."""
    return sum(h["ok"] + h["failed"] + h["skipped"] + h["unreachable"] for h in run["recap"].values())


def median_cpu_run(p):
    """The no-op run with the median CPU seconds (the one the CPU table shows)."""
    return sorted(p["noops"], key=lambda run: cpu_total(run) or 0)[(len(p["noops"]) - 1) // 2]


def verdict(r):
    """Target: our no-op run at most the reference's time for the same gateways (medians)."""
    ours, ref = r["ours"]["noop_median"], r["reference"]["noop_median"]
    if ours <= ref:
        return "met: %.1f s below (%.0f %% less)" % (ref - ours, 100 * (ref - ours) / ref)
    return "missed: %.1f s above (+%.0f %%)" % (ours - ref, 100 * (ours - ref) / ref)


def changes(p):
    return ", ".join(str(n) for n in p["noop_changed"])


def runs(p):
    return "%d run%s" % (len(p["noops"]), "s" if len(p["noops"]) > 1 else "")


def table_lines(results):
    """The figures side by side (what the issue asks for)."""
    lines = ["| gateways | first run s, ours / reference | no-op s, ours (min / median) | no-op s, reference (min / median) | "
             "no-op, ours / reference (medians) | target: our no-op <= reference's | changed per no-op run, ours / reference |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        o, f = r["ours"], r["reference"]
        lines.append("| %d | %.1f / %.1f | %.1f / %.1f (%s) | %.1f / %.1f (%s) | %.2f | %s | %s / %s |" % (
            r["gateways"], o["first"]["seconds"], f["first"]["seconds"], o["noop_min"], o["noop_median"], runs(o),
            f["noop_min"], f["noop_median"], runs(f), o["noop_median"] / f["noop_median"], verdict(r), changes(o), changes(f)))
    return lines


def topology(p):
    if p["key"] == "ours":
        return "hub + %d spokes, %d links: %d interfaces on the hub, 1 per spoke; spreading, nic_tuning" % (
            p["links"], p["links"], p["links"])
    return "hub + %d spokes (wireguard_as_spoke): wg0 on each, %d peers on the hub's" % (p["links"], p["links"])


def product_lines(results):
    lines = ["| gateways | product | topology | first run s | no-op s (each run) | no-op / first | no-op s, open ssh | "
             "task results, first / each no-op | changed, first run | load avg before -> after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for p in (r["ours"], r["reference"]):
            lines.append("| %d | %s | %s | %.1f | %s | %.2f | %s | %d / %s | %d | %s -> %s |" % (
                r["gateways"], p["title"], topology(p), p["first"]["seconds"], ", ".join("%.1f" % run["seconds"] for run in p["noops"]),
                p["ratio"], "%.1f" % p["warm"]["seconds"] if p["warm"] else "not run", task_results(p["first"]),
                ", ".join(str(task_results(run)) for run in p["noops"]), p["first"]["changed"],
                p["load_before"].split()[0], p["load_after"].split()[0]))
    return lines


def cpu_lines(results):
    """CPU seconds: less sensitive than wall time to what else runs on the host."""
    def fmt(run):
        return "%.1f + %s" % (run["cpu_ctl"], "%.1f" % run["cpu_gw"] if run["cpu_gw"] is not None else "?")
    lines = ["| gateways | product | first run CPU s (ansible + gateways) | no-op CPU s (ansible + gateways; the median run) | "
             "no-op CPU s per gateway | machine CPU busy, first / no-op |",
             "|---|---|---|---|---|---|"]
    for r in results:
        for p in (r["ours"], r["reference"]):
            middle = median_cpu_run(p)
            per_gw = "%.2f" % (cpu_total(middle) / r["gateways"]) if cpu_total(middle) is not None else "?"
            lines.append("| %d | %s | %s | %s | %s | %.0f %% / %.0f %% |" % (
                r["gateways"], p["key"], fmt(p["first"]), fmt(middle), per_gw, p["first"]["busy"],
                statistics.median(run["busy"] for run in p["noops"])))
    return lines


def role_of(task):
    return task.split(" : ", 1)[0] if " : " in task else "(play)"


def profile_lines(results, top=8):
    """Where a no-op run's time goes, from the extra profiled run (wall time per task, all hosts together)."""
    out = []
    for r in results:
        for p in (r["ours"], r["reference"]):
            run = p["profile"]
            if not run:
                continue
            rows = run["profile"]
            total = sum(seconds for _task, seconds in rows) or 1.0
            roles = {}
            for task, seconds in rows:
                roles[role_of(task)] = roles.get(role_of(task), 0.0) + seconds
            out.append("- %d gateways, %s (profiled no-op run %.1f s, %d tasks, task times add up to %.1f s):" % (
                r["gateways"], p["key"], run["seconds"], len(rows), total))
            out.append("  - by role: %s" % "; ".join("%s %.1f s (%.0f %%)" % (role, s, 100 * s / total)
                                                     for role, s in sorted(roles.items(), key=lambda kv: -kv[1])))
            out.append("  - slowest tasks: %s" % "; ".join("`%s` %.1f s" % (task, s) for task, s in rows[:top]))
    return out or ["- (not run: --profile)"]


def findings(results, forks):
    """What the tables say, in words, computed from them (so a re-run cannot leave a stale claim)."""
    out = []
    for r in results:
        o, f = r["ours"], r["reference"]
        n = float(r["gateways"])
        tr_o, tr_f = task_results(o["noops"][0]) / n, task_results(f["noops"][0]) / n
        line = ("- %d gateways: our no-op run %.1f s (median), the reference's %.1f s: target %s. Ours runs %.0f task results per "
                "gateway in a no-op, the reference %.0f (%.1fx); per task result and gateway that is %.2f s vs %.2f s of wall time."
                % (r["gateways"], o["noop_median"], f["noop_median"], verdict(r), tr_o, tr_f, tr_o / tr_f,
                   o["noop_median"] / tr_o, f["noop_median"] / tr_f))
        co, cf = cpu_total(median_cpu_run(o)), cpu_total(median_cpu_run(f))
        if co is not None and cf is not None:
            line += (" CPU seconds of a no-op (ansible + gateways): %.1f vs %.1f (%.1fx; ansible's share %.1f vs %.1f)."
                     % (co, cf, co / cf, median_cpu_run(o)["cpu_ctl"], median_cpu_run(f)["cpu_ctl"]))
        first_ours, first_ref = o["first"]["seconds"], f["first"]["seconds"]
        line += " First run: ours %.1f s, the reference %.1f s (%.2fx)." % (first_ours, first_ref, first_ours / first_ref)
        if r["gateways"] > forks:
            line += (" With %d forks for %d gateways every task runs in %d rounds, for both." % (forks, r["gateways"],
                                                                                                 -(-r["gateways"] // forks)))
        out.append(line)
    for r in results:
        f = r["reference"]
        changed = [run for run in f["noops"] if run["changed"]]
        if changed:
            tasks = {}
            for run in changed:
                for task, hosts in run["changed_tasks"].items():
                    tasks.setdefault(task, set()).update(hosts)
            out.append("- Finding: the reference's no-op runs at %d gateways reported changed=%s: %s." % (
                r["gateways"], changes(f), "; ".join("`%s` on %d hosts" % (task, len(hosts)) for task, hosts in sorted(tasks.items()))))
        else:
            out.append("- The reference's no-op runs at %d gateways reported changed=0 on every host, as ours did." % r["gateways"])
    return out + profile_findings(results)


def role_times(run):
    roles = {}
    for task, seconds in run["profile"]:
        roles[role_of(task)] = roles.get(role_of(task), 0.0) + seconds
    return roles


def profile_findings(results):
    """From the profiled no-op runs: ours split into what the reference also does and what it has no equivalent for,
    and how our slowest task at the largest size grew from the smallest."""
    out = []
    profiled = [r for r in results if r["ours"]["profile"] and r["reference"]["profile"]]
    for r in profiled:
        ours, ref = role_times(r["ours"]["profile"]), sum(role_times(r["reference"]["profile"]).values())
        extra = sum(seconds for role, seconds in ours.items() if role.endswith((".nic_tuning", ".port_spread")))
        total = sum(ours.values())
        base = total - extra
        out.append("- %d gateways, profiled no-op runs (task times): ours' play tasks (fact gathering, the post-task) + plan + "
                   "wireguard %.1f s, its nic_tuning + port_spread (nothing like them in the reference) %.1f s (%.0f %% of %.1f s); "
                   "the reference %.1f s. Our WireGuard part alone is %.0f %% %s the reference's whole run." % (
                       r["gateways"], base, extra, 100 * extra / total, total, ref, abs(100 * (base - ref) / ref),
                       "below" if base <= ref else "above"))
    if len(profiled) >= 2:
        small, large = profiled[0], profiled[-1]
        task, seconds = large["ours"]["profile"]["profile"][0]
        before = dict(small["ours"]["profile"]["profile"]).get(task)
        if before:
            growth, more = seconds / before, large["gateways"] / float(small["gateways"])
            out.append("- Our slowest task at %d gateways, `%s`, took %.1f s; at %d gateways %.1f s (%.1fx for %.1fx the gateways: %s)." % (
                large["gateways"], task, seconds, small["gateways"], before, growth, more,
                "faster than the gateways, as a task that loops over each host's links does, the hub having one item per spoke"
                if growth > 1.2 * more else "about in step with the gateways"))
    return out


def busy_note(results):
    runs = [p for r in results for p in (r["ours"], r["reference"])]
    loads = [float(p["load_before"].split()[0]) for p in runs]
    others = "; ".join("%d gateways, %s: %s" % (p["gateways"], p["key"], p["others"]) for p in runs)
    if max(loads) >= 0.5 or any(p["others"] != "none" for p in runs):
        return ("The host was not idle: the 1-min load average was %.2f-%.2f before the first runs, and other containers were "
                "running next to the benchmark's (%s). That load competes with the gateways' apt and systemd and with ansible "
                "itself, so every wall time above carries it; the CPU-seconds table carries it much less." % (min(loads), max(loads), others))
    return "The host was otherwise idle (1-min load average below 0.5 before every first run, no other containers)."


def detail_lines(results):
    out = []
    for r in results:
        for p in (r["ours"], r["reference"]):
            out.append("- %d gateways, %s: containers ready in %.0f s (not timed%s)%s; first run %.1f s (hub: %s); pings through the "
                       "%d tunnels, tries per link: %s; built (wg show): %s" % (
                           r["gateways"], p["key"], p["boot"], "; a first bring-up failed and was redone: %s" % p["boot_retry"]
                           if p["boot_retry"] else "", "; prepared in %.0f s (not timed): %s" % (p["prepare"], p["prepared"])
                           if p["prepare"] is not None else "", p["first"]["seconds"],
                           " ".join("%s=%d" % kv for kv in p["first"]["recap"]["hub"].items()), p["links"],
                           ", ".join(str(t) for t in p["ping_tries"]), p["built"]))
    return out


def reference_note(meta):
    return ("%s at tag %s (commit %s), exported from a git mirror into the temp dir as roles/%s (not committed here). "
            "Run as it comes except: its modprobe task off by its own variable `wireguard_install_kernel_module: false` (the "
            "kernel here has no WireGuard module; the task retries 10 x 10 s, then fails); pre-installed on its gateways before "
            "its first run, not timed: %s from the Debian mirror (lsb-release: its Debian branch reads ansible_facts.lsb.id, "
            "undefined without it; wireguard-go: wg-quick's userspace fallback, since the role installs only `wireguard`) and "
            "`%s`, an empty package that provides `wireguard-modules` (Debian's `wireguard` depends on `wireguard-modules | "
            "wireguard-dkms`, which a real gateway's linux-image-* provides; without it apt would install a kernel package "
            "in every container: `apt-get install -s wireguard` in the lab image picks linux-image-6.12-rt-amd64 with "
            "initramfs-tools and udev, 13 packages); then the apt lists are removed again, so its first run pays apt update like ours."
            % (REF_NAME, REF_VERSION, meta["ref_commit"][:12], REF_ROLE, ", ".join(REF_PREINSTALL), STUB))


def write_doc(results, args, meta):
    v = meta["versions"]
    ino = meta["inotify"]
    if ino["raised"]:
        inotify_note = ("fs.inotify.max_user_instances was %d; the benchmark (--raise-inotify) raised it to %d for the sizes "
                        "that needed it, and it was %s" % (ino["original"], ino["raised"], ino["after"] or "changed by someone else meanwhile, so left alone"))
    else:
        inotify_note = "fs.inotify.max_user_instances = %d, enough for every size run, not changed" % ino["original"]
    images = sorted(set(p["image"] for r in results for p in (r["ours"], r["reference"])))
    image_note = ("Every lab ran on the same image (%s)." % images[0] if len(images) == 1 else
                  "The image changed during the benchmark (someone rebuilt it): %s; compare with care." % ", ".join(images))
    sizes = [r["gateways"] for r in results]
    forks = v["forks"][0]
    text = DOC_TEMPLATE.format(
        inotify_note=inotify_note, image_note=image_note, inotify_gw=INOTIFY_PER_GATEWAY, inotify_32=inotify_needed(32) - INOTIFY_MARGIN,
        command=meta["command"], commit=meta["commit"], date=meta["date"], elapsed=meta["elapsed"], cpus=CPUS, cpu_model=v["cpu_model"],
        mem=v["mem_gb"], kernel=v["kernel"], ansible=v["ansible"], python=v["python"], podman=v["podman"],
        forks=forks, forks_from=v["forks"][1], image=IMAGE, image_id=v["image_id"],
        image_created=v["image_created"], image_mb=v["image_mb"],
        repeat=", ".join("%d at %d gateways" % (len(r["ours"]["noops"]), r["gateways"]) for r in results),
        sizes=" and ".join(str(s) for s in sizes), prefix=PREFIX, net=NET, subnet=SUBNET_PREFIX + ".0/24",
        max_spokes=meta["max_spokes"], ref_name=REF_NAME, ref_version=REF_VERSION, ref_role=REF_ROLE, ref_subnet=REF_SUBNET,
        ref_port=REF_PORT, reference_note=reference_note(meta), open_ssh=args.open_ssh_up_to,
        table="\n".join(table_lines(results)), product_table="\n".join(product_lines(results)), cpu_table="\n".join(cpu_lines(results)),
        details="\n".join(detail_lines(results)), profile="\n".join(profile_lines(results)),
        findings="\n".join(findings(results, forks)), load_start=meta["load_start"], load_end=meta["load_end"],
        busy=busy_note(results), fork_note=("%d forks cover every gateway of the largest size (%d)" % (forks, max(sizes))
                                            if forks >= max(sizes) else
                                            "%d forks are fewer than the %d gateways of the largest size: ansible runs each task on "
                                            "%d hosts at a time, so that size is fork-bound, for both products" % (forks, max(sizes), forks)),
    )
    with open(DOC, "w") as handle:
        handle.write(text)


DOC_TEMPLATE = """# Benchmarks: rollout cost, next to {ref_name} {ref_version}

Written by `benchmarks/rollout_cost.py` (run: `{command}`, {date}, {elapsed:.0f} s in all). Re-running it overwrites
this file. The question: what does a first `site.yml` cost on bare gateways and what does a no-op re-run cost, for
{sizes} gateways, next to the most used public WireGuard role, {ref_name} at {ref_version}, run on the same
kind of gateways in the same benchmark run? Target: our no-op run at most the reference's time for the same
gateways, with changed=0 on every host.

Measured: commit {commit}, a clean `git archive` export linked as `ansible_collections/sitelink/wgspread`
(`ANSIBLE_COLLECTIONS_PATH` = that path only; checked with `ansible-galaxy collection list` before the first run), run
with the export's `ansible.cfg` and `playbooks/site.yml`, so edits made in the checkout during the run are not measured.

## Results

{table}

The target compares the median no-op runs (the min / median columns show the run-to-run noise). Per product:

{product_table}

CPU seconds:

{cpu_table}

What the figures show:

{findings}

Where a no-op run's time goes (one more no-op run per product and size with `ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks`,
not in the figures above; the time of a task is from its start to the next task's start, all hosts together):

{profile}

Why the two differ: both no-op runs do the same kind of work, a Python module sent over ssh per task and host
that compares and finds nothing to do, so a no-op's time follows the number of task results per gateway (and
the hub's per-link loop items), not what the tasks do. The reference is one role that configures one interface
from one template per host (fact gathering twice: the play's and the role's own `setup` task; `apt` with
`update_cache` and no `cache_valid_time`, so an apt update on every host in every run, including the no-op;
`wg --help`, `stat`, `slurp`, `wg pubkey`, the template, a file and a service task). Ours also checks every input
up front (plan role), keeps one interface, key and unit per link, and its no-op checks the spreading table and its
unit (port_spread) and the NIC settings and their boot unit (nic_tuning), which the reference does not have; on the
hub, the per-link loop items grow with the spokes.

## Setup

- Controller and gateways on one machine: {cpus} x {cpu_model}, {mem:.1f} GiB, kernel {kernel};
  {ansible}, Python {python}; {podman} (rootful, runc).
- The same ansible-playbook, environment and `ansible.cfg` (the export's) for both products: forks = {forks} (from
  {forks_from}; the benchmark does not change it): {fork_note}. `pipelining = true`; ssh with ansible's default
  `ControlMaster=auto ControlPersist=60s`. No fact cache: every run gathers facts.
- Gateways: podman containers from `{image}` (image {image_id}, created {image_created}, {image_mb:.0f} MB), systemd as
  PID 1, sshd, python3, nftables, iproute2; no WireGuard packages and no apt lists. Brought up by a copy of the commit's
  `scripts/lab up N --no-site` with the benchmark's own lab identity (`WGSPREAD_LAB_PREFIX={prefix}`, network `{net}`,
  {subnet}), so it runs next to the default lab without touching it. `scripts/lab` allows {max_spokes} spokes
  (MAX_SPOKES); the copy has only that constant raised for the largest size, and every address the lab and both
  inventories derive holds up to 32 gateways (lab addresses .11-.42, MACs from them, tunnel /31s up to
  198.18.0.60/31, listen ports up to 54820 + the spread ports).
- Fresh containers for every size and every product (`down`, then `up`), ours first, then the reference: a first
  run always starts from bare gateways. Container boot and the reference's preparation are not timed.
- Topology per size, the closest equivalents the two offer:
  - ours: hub + N-1 spokes, one link `hub-spokeK` per spoke (N-1 links: N-1 WireGuard interfaces and wireguard-go
    processes on the hub, one on each spoke), tunnel subnets 198.18.0.0/31, 198.18.0.2/31, ..., listen port
    51820 + 100 (K-1) on both ends, persistent_keepalive 25, spread ports `count: auto` (the receiver's {cpus} CPUs),
    port_spread_meter true, nic_tuning with the role's defaults, as `lab/inventory`.
  - reference: the same hosts, hub-and-spoke by the role's `wireguard_as_spoke: true` on every spoke (a spoke peers
    with the hub only, the hub with every spoke): one interface `wg0` per gateway (one wireguard-go process each),
    the hub with N-1 peers on it; `wireguard_address` {ref_subnet}.1/24 (hub), {ref_subnet}.(1+K)/24 (spokeK),
    `wireguard_endpoint` the container's lab address, `wireguard_port` {ref_port}, `wireguard_persistent_keepalive` 25,
    `wireguard_interface` wg0; the play `hosts: gateways` / `roles: [{ref_role}]`, as its README shows. Plain
    WireGuard: it does no port spreading and no NIC tuning, so its row is the cost of a WireGuard rollout alone.
- The reference, exactly: {reference_note} This spares its first run the wireguard-go install that ours pays (a 0.9 MB
  package from the mirror); its no-op runs are not affected.
- Timed from the controller (wall clock around `ansible-playbook -i INV PLAYBOOK`):
  - first run: everything from fact gathering to the last handler on bare gateways, the package installs from the
    Debian mirror included. Required: failed=0 and unreachable=0 on every host, then one ping through every link's
    tunnel from the spoke to the hub's tunnel address (`podman exec`; up to 5 tries for the first handshake), so
    the time is that of a working rollout.
  - no-op runs: the same command again ({repeat}); ours must report changed=0 on every host, or the
    benchmark fails; the reference's changed count is reported with the tasks that changed. Reported: min and
    median.
  - every timed run opens new ssh connections (its own ControlPath dir), like a re-run more than 60 s later. The
    "open ssh" column (sizes up to {open_ssh} gateways) is one more no-op run over the previous run's ssh masters, as a
    re-run within ControlPersist's 60 s sees it; not in the target.
- Also measured for every run: CPU seconds of ansible (`ansible-playbook`, its forks and their ssh clients: the
  benchmark's waited-for children, getrusage; the detached ssh ControlPersist masters are not in it) and of the
  gateways (every process in the containers: the cgroups' `cpuacct.usage`, background such as wireguard-go
  keepalives included); and the machine's CPU busy share (/proc/stat, all CPUs, everything on the host).
- Host limit: {inotify_note}. Rootful containers are uid 0 of the host, so every gateway's systemd, dbus-daemon and
  logind ({inotify_gw} inotify instances per booted gateway) and every wireguard-go process (1 per link end, for its
  UAPI socket) draw on root's one limit, shared with every other container on the host; 32 gateways of ours alone
  need about {inotify_32}, more than the default 128. Past the limit wireguard-go exits at start and wg-quick fails
  with "Unable to modify interface: Protocol not supported".

Per size:

{details}

## Noise

- {busy}
- {image_note}
- Load average (1/5/15 min) at the start of the benchmark: {load_start}; at the end: {load_end}. The per-product
  table's load column is the 1-min figure just before each first run and after the last no-op run.
- The first run is measured once per size and product (each needs fresh containers): its noise is not measured
  here, and it includes downloads from the mirror, whose speed this benchmark does not control.
- Controller and gateways share the same {cpus} cores: ansible's forks and the gateways' apt, dpkg and systemd
  compete for them (machine CPU busy near 100 % means the run was CPU-bound, and then its wall time is roughly the
  CPU seconds of everything on the host divided by {cpus}). On real gateways the per-host work runs on each
  gateway's own CPUs, and only the controller's share (the "ansible" CPU seconds) stays on one machine.
"""


# ---------------------------------------------------------------- main

def versions():
    image = first_line(["podman", "image", "inspect", IMAGE, "--format", "{{.Id}} {{.Created}} {{.Size}}"], 30).split()
    return dict(benchkit.machine(), **{
        "mem_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2.0 ** 30,
        "ansible": first_line([ansible_bin("ansible-playbook"), "--version"], 30),
        "python": platform.python_version(),
        "podman": first_line(["podman", "--version"], 30),
        "image_id": image[0][:12] if image else "?",
        "image_created": image[1] if len(image) > 1 else "?",
        "image_mb": int(image[-1]) / 1e6 if image and image[-1].isdigit() else 0,
        "forks": forks(),
    })


def forks():
    """The forks ansible-playbook runs with (the export's ansible.cfg, or the environment)."""
    out = subprocess.run([ansible_bin("ansible-config"), "dump"], env=ansible_env("/tmp"), cwd=TREE.root, capture_output=True,
                         text=True, timeout=60, check=False).stdout
    match = re.search(r"^DEFAULT_FORKS\(([^)]*)\) = (\d+)", out, re.M)
    if not match:
        return 5, "default"
    source = match.group(1)
    if source.startswith(TREE.root + os.sep):
        source = "the export's " + os.path.relpath(source, TREE.root)
    return int(match.group(2)), source


def parse_repeat(text, sizes, parser):
    values = [int(v) for v in text.split(",")]
    if len(values) == 1:
        values *= len(sizes)
    if len(values) != len(sizes) or min(values) < 1:
        parser.error("--repeat: one count >= 1, or one per size (--sizes %s)" % ",".join(map(str, sizes)))
    return dict(zip(sizes, values, strict=True))


def main():
    global LAB, TREE, ROLES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,32", help="gateway counts (hub + spokes), 2..%d" % MAX_GATEWAYS)
    parser.add_argument("--repeat", default="2,1", help="no-op runs per size: one count, or one per size (default 2,1)")
    parser.add_argument("--commit", default="HEAD", help="the commit measured (a clean git archive export of it; default HEAD)")
    parser.add_argument("--reference-git", default=REF_MIRROR, help="a git clone or mirror of %s with tag %s" % (REF_NAME, REF_VERSION))
    parser.add_argument("--profile", action="store_true",
                        help="one more no-op run per product and size with ansible.posix.profile_tasks (not in the figures)")
    parser.add_argument("--open-ssh-up-to", type=int, default=16, metavar="N",
                        help="the side no-op run over open ssh masters only for sizes up to N gateways (default 16)")
    parser.add_argument("--max-seconds", type=int, default=3000, help="hard limit for the whole run")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks-rollout.md")
    parser.add_argument("--keep-logs", action="store_true", help="keep .cache/bench/run-*/ (inventories, exports, ansible logs)")
    parser.add_argument("--raise-inotify", action="store_true",
                        help="raise fs.inotify.max_user_instances for the run when the gateways would exhaust it "
                             "(restored at the end); without it such a size fails before starting its containers")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 2 or s > MAX_GATEWAYS for s in sizes):
        parser.error("--sizes: 2..%d gateways each" % MAX_GATEWAYS)
    repeats = parse_repeat(args.repeat, sizes, parser)
    if os.geteuid() != 0:
        sys.exit("needs root (rootful podman)")
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        sys.exit("image %s missing: WGSPREAD_LAB_SUITE=%s scripts/lab image builds it" % (IMAGE, SUITE))

    def on_signal(signum, _frame):
        raise Timeout("timeout" if signum == signal.SIGALRM else "signal %d" % signum)
    signal.signal(signal.SIGALRM, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)   # also when started with SIGINT ignored (a background job)
    signal.alarm(args.max_seconds)

    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "load_start": loadavg(),
            "command": " ".join(["benchmarks/rollout_cost.py"] + sys.argv[1:])}
    started = time.time()
    os.makedirs(STATE, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="run-", dir=STATE)
    results, ok = [], False
    inotify = Inotify(args.raise_inotify)
    meta["inotify"] = {"original": inotify.original, "raised": None, "after": None}
    try:
        tree = Tree(workdir, args.commit, max(sizes) - 1)
        LAB, TREE = tree.lab, tree
        reference = Reference(workdir, args.reference_git)
        ROLES = reference.roles
        tree.check_resolves(ansible_env(os.path.join(workdir, "cp-check")))
        meta.update(versions=versions(), commit="%s (%s)%s" % (tree.commit[:12], tree.subject, tree.checkout_note),
                    commit_full=tree.commit, ref_commit=reference.commit, max_spokes=tree.max_spokes)
        log("measuring commit %s; reference %s %s (commit %s)" % (meta["commit"], REF_NAME, REF_VERSION, reference.commit[:12]))
        lab_down()                                     # leftovers of an interrupted run would count against the check
        if not args.raise_inotify:                     # fail before any work, not after the small sizes
            inotify.ensure(max(sizes))
        for gateways in sizes:
            args.repeat = repeats[gateways]
            results.append(measure(gateways, args, workdir, inotify, tree, reference))
        ok = True
    finally:
        signal.alarm(0)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)      # a second Ctrl-C must not cut the cleanup short
        for control_dir in glob.glob(os.path.join(workdir, "n*", "*", "cp-*")):
            close_masters(control_dir)
        lab_down()
        left = leftovers()
        if left:
            log("LEFT BEHIND: %s" % ", ".join(left))
        meta["inotify"].update(raised=inotify.raised, after=inotify.restore())
        if not ok and glob.glob(os.path.join(workdir, "n*")):
            log("not completed: ansible and lab logs kept in %s (containers and network removed)" % workdir)
        elif not args.keep_logs:
            shutil.rmtree(STATE, ignore_errors=True)
    meta["load_end"] = loadavg()
    meta["elapsed"] = time.time() - started
    print("\n".join(table_lines(results)))
    print()
    print("\n".join(product_lines(results)))
    print()
    print("\n".join(cpu_lines(results)))
    print()
    print("\n".join(findings(results, meta["versions"]["forks"][0])))
    print()
    print("\n".join(profile_lines(results)))
    print()
    print("measured: commit %s; reference: %s" % (meta["commit"], reference_note(meta)))
    print("forks %d (%s); %d CPUs; load average at start %s, at end %s; %.0f s"
          % (meta["versions"]["forks"][0], meta["versions"]["forks"][1], CPUS, meta["load_start"], meta["load_end"], meta["elapsed"]))
    if not args.no_doc:
        write_doc(results, args, meta)
        print("wrote %s" % os.path.relpath(DOC, ROOT))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Timeout as exc:
        sys.exit("rollout_cost: stopped (%s); lab removed" % exc)
    except RuntimeError as exc:
        sys.exit("rollout_cost: FAILED: %s" % exc)
