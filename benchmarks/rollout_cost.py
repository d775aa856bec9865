"""Rollout cost: wall time of a first site.yml on bare gateways, and of a no-op re-run, for 2, 8 and 16 gateways.

For each size N, a fresh container lab (scripts/lab, its own prefix, network and subnet, so it never
meets the default lab `wgspread-*` or molecule's containers): a hub and N-1 spokes, one link
hub-spokeK per spoke (N-1 links, N-1 tunnels on the hub), booted from the shared gateway image
without WireGuard packages. Then, timed from the controller:

  first run   ansible-playbook -i INV playbooks/site.yml on the bare gateways: apt update and the
              install of wireguard-tools, wireguard-go (and python3-apt) in every container, keys,
              wg-quick@ units, the spreading table, nic_tuning. Must end with failed=0 unreachable=0,
              and every link must then pass a ping through its tunnel (from the spoke).
  no-op runs  the same command again, R times; every run must report changed=0 on every host.

Every timed run opens fresh ssh connections (its own ControlPath directory), so the first run and the
no-op runs pay the same connection setup; one extra no-op run that reuses the previous run's ssh
masters (as a re-run within ControlPersist's 60 s does) is reported on the side, not in the ratio.
Prints a table and writes docs/benchmarks-rollout.md (not with --no-doc).

    sudo .venv/bin/python benchmarks/rollout_cost.py [--sizes 2,8,16] [--repeat 3] [--no-doc] [--raise-inotify]

16 gateways need more inotify instances of root than the default fs.inotify.max_user_instances (128)
allows (see Inotify below): the benchmark checks first and stops, or with --raise-inotify raises the
limit for the run and restores it at the end.

Needs root (rootful podman) and the lab's host setup (scripts/lab up runs scripts/setup-host; the
image localhost/wgspread-gw:bookworm is built once and reused, never rebuilt or removed here).
Touches only containers wgbench-*, the podman network wgspread-bench (172.30.113.0/24) and
.cache/bench/: all removed at the end, on errors, on Ctrl-C and on timeout.
"""

import argparse
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

COLLECTIONS = benchkit.link_collection()  # the collection under its real name, for ANSIBLE_COLLECTIONS_PATH

LAB = os.path.join(ROOT, "scripts", "lab")
DOC = os.path.join(ROOT, "docs", "benchmarks-rollout.md")
IMAGE = "localhost/wgspread-gw:bookworm"
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
CPUS = os.cpu_count() or 1
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


class Timeout(Exception):
    pass


def log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def lab_env(inventory=None):
    env = dict(os.environ, WGSPREAD_LAB_PREFIX=PREFIX, WGSPREAD_LAB_NET=NET, WGSPREAD_LAB_SUBNET_PREFIX=SUBNET_PREFIX,
               WGSPREAD_LAB_SUBNET6_PREFIX=SUBNET6_PREFIX, WGSPREAD_LAB_STATE=os.path.join(STATE, "state"))
    if inventory:
        env["WGSPREAD_LAB_INVENTORY"] = inventory
    return env


def lab(*args, workdir=None, timeout=600):
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
    proc = subprocess.run([LAB, "down"], env=lab_env(), capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        log("scripts/lab down failed: %s" % (proc.stderr or proc.stdout).strip())


def leftovers():
    names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                           check=False).stdout.split()
    left = [name for name in names if name.startswith(PREFIX)]
    if subprocess.run(["podman", "network", "exists", NET], capture_output=True, check=False).returncode == 0:
        left.append("network " + NET)
    return left


# ---------------------------------------------------------------- inventory

def spoke_ip(k):
    return "%s.%d" % (SUBNET_PREFIX, 11 + k)


def tunnel_ip(k, end):
    """Address of `end` (0 = hub, 1 = spoke) on link hub-spokeK."""
    return "%d.%d.%d.%d" % (TUNNEL_BASE + (2 * (k - 1) + end,))


def write_inventory(directory, spokes):
    """hosts.yml + group_vars/all/links.yml for hub + spokes, as lab/inventory has them for the default lab."""
    hosts = ["        hub:", "          ansible_host: %s.11" % SUBNET_PREFIX]
    for k in range(1, spokes + 1):
        hosts += ["        spoke%d:" % k, "          ansible_host: %s" % spoke_ip(k)]
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
    os.makedirs(os.path.join(directory, "group_vars", "all"))
    with open(os.path.join(directory, "group_vars", "all", "links.yml"), "w") as handle:
        handle.write("\n".join(links))


# ---------------------------------------------------------------- ansible

def ansible_bin(name):
    local = os.path.join(ROOT, ".venv", "bin", name)
    return local if os.access(local, os.X_OK) else shutil.which(name) or name


def ansible_env(control_dir):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir)
    env["PATH"] = os.path.dirname(ansible_bin("ansible-playbook")) + os.pathsep + env.get("PATH", "")
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


def site(inventory, workdir, label, control_dir, cgroups):
    """One timed ansible-playbook site.yml: wall seconds, the recap, CPU seconds of ansible and of the gateways,
    and the machine's CPU busy %."""
    os.makedirs(control_dir, exist_ok=True)
    logfile = os.path.join(workdir, label + ".log")
    argv = [ansible_bin("ansible-playbook"), "-i", inventory, os.path.join(ROOT, "playbooks", "site.yml")]
    busy0, total0 = cpu_ticks()
    ctl0, gw0 = children_cpu(), gateways_cpu(cgroups)
    start = time.monotonic()
    with open(logfile, "w") as out:
        proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(control_dir), stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=1800, check=False)
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
            "cpu_gw": gw1 - gw0 if gw0 is not None else None, "tail": "".join(text.splitlines(True)[-40:])}


def check_run(run, hosts, noop):
    """Fail loudly unless every host is in the recap, unfailed, reachable (and unchanged for a no-op)."""
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


def ping_tunnels(spokes):
    """One ping per link from the spoke to the hub's tunnel address (a few tries for the first handshake)."""
    tries = {}
    for k in range(1, spokes + 1):
        for attempt in range(1, 6):
            proc = subprocess.run(["podman", "exec", "%sspoke%d" % (PREFIX, k), "ping", "-c", "1", "-W", "2", "-q", tunnel_ip(k, 0)],
                                  capture_output=True, text=True, timeout=30, check=False)
            if proc.returncode == 0:
                tries[k] = attempt
                break
        else:
            raise RuntimeError("link hub-spoke%d: no ping through the tunnel from spoke%d to %s (5 tries)"
                               % (k, k, tunnel_ip(k, 0)))
    return tries


# ---------------------------------------------------------------- inotify

# Rootful containers run as uid 0 of the host, so every gateway's systemd, dbus-daemon, logind and
# wireguard-go draw on root's one fs.inotify.max_user_instances (128 by default), together with every
# other rootful container on the host. When it runs out, systemd logs "Failed to allocate inotify fd:
# Too many open files" and wireguard-go exits at start (its UAPI socket is watched with inotify), so
# wg-quick fails with "Unable to modify interface: Protocol not supported"; and so would the other
# labs' containers. Measured on the lab image: 7 instances per booted gateway (systemd 5, dbus-daemon 1,
# systemd-logind 1), 1 per wireguard-go process (one per link end).
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


# ---------------------------------------------------------------- one size

def measure(gateways, args, workdir, inotify):
    spokes = gateways - 1
    sizedir = os.path.join(workdir, "n%d" % gateways)
    inventory = os.path.join(sizedir, "inventory")
    os.makedirs(inventory)
    write_inventory(inventory, spokes)
    hosts = ["hub"] + ["spoke%d" % k for k in range(1, spokes + 1)]

    # Fresh containers for every size: each first run starts from bare gateways.
    lab_down()
    inotify.ensure(gateways)
    start = time.monotonic()
    try:
        lab("up", str(spokes), "--no-site", workdir=sizedir)
    except RuntimeError as exc:
        # Container boot is not what is measured: one more try from scratch, and say so.
        log("%d gateways: bring-up failed, once more from scratch: %s" % (gateways, exc))
        lab_down()
        start = time.monotonic()
        lab("up", str(spokes), "--no-site", workdir=sizedir)
        boot_retry = str(exc).strip().splitlines()[-1]
    else:
        boot_retry = None
    boot = time.monotonic() - start
    log("%d gateways: containers up and answering ssh in %.0f s (not timed); first run ..." % (gateways, boot))

    cgroups = container_cgroups(hosts)
    if not cgroups:
        log("no cpuacct for the containers: gateway CPU seconds not measured")
    result = {"gateways": gateways, "links": spokes, "boot": boot, "boot_retry": boot_retry, "load_before": loadavg(),
              "others": other_containers(), "image": image_id()}
    first = site(inventory, sizedir, "first", os.path.join(sizedir, "cp-first"), cgroups)
    close_masters(os.path.join(sizedir, "cp-first"))
    check_run(first, hosts, noop=False)
    result["first"] = first
    result["changed_first"] = sum(stats["changed"] for stats in first["recap"].values())
    log("%d gateways: first run %.1f s (%d tasks changed); pinging %d tunnels"
        % (gateways, first["seconds"], result["changed_first"], spokes))
    result["ping_tries"] = ping_tunnels(spokes)

    noops = []
    for number in range(1, args.repeat + 1):
        run = site(inventory, sizedir, "noop%d" % number, os.path.join(sizedir, "cp-noop%d" % number), cgroups)
        if number < args.repeat:
            close_masters(os.path.join(sizedir, "cp-noop%d" % number))
        check_run(run, hosts, noop=True)
        noops.append(run)
        log("%d gateways: no-op run %d/%d %.1f s, changed=0 on all %d hosts" % (gateways, number, args.repeat, run["seconds"], len(hosts)))
    # Side figure: one more no-op run over the last run's ssh masters (ControlPersist), as a re-run within 60 s.
    last = os.path.join(sizedir, "cp-noop%d" % args.repeat)
    warm = site(inventory, sizedir, "noop-warm", last, cgroups)
    close_masters(last)
    check_run(warm, hosts, noop=True)
    log("%d gateways: no-op run over open ssh connections %.1f s" % (gateways, warm["seconds"]))
    result.update(noops=noops, warm=warm, load_after=loadavg())
    times = [run["seconds"] for run in noops]
    result["noop_min"], result["noop_median"] = min(times), statistics.median(times)
    result["ratio"] = result["noop_median"] / first["seconds"]
    result["cpu_first"] = cpu_total(first)
    return result


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

def table_lines(results, repeat):
    """The wall-time table (what issue 7 asks for)."""
    lines = ["| gateways | links | first run s | no-op s (min / median of %d) | no-op / first | no-op s, open ssh | "
             "load avg before -> after |" % repeat,
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| %d | %d | %.1f | %.1f / %.1f | %.2f | %.1f | %s -> %s |" % (
            r["gateways"], r["links"], r["first"]["seconds"], r["noop_min"], r["noop_median"], r["ratio"],
            r["warm"]["seconds"], r["load_before"].split()[0], r["load_after"].split()[0]))
    return lines


def median_cpu_run(r):
    """The no-op run with the median CPU seconds (the one the CPU table shows)."""
    return sorted(r["noops"], key=lambda run: cpu_total(run) or 0)[(len(r["noops"]) - 1) // 2]


def findings(results):
    """What the tables say, in words, computed from them (so a re-run cannot leave a stale claim)."""
    out = []
    ratios = [r["ratio"] for r in results]
    per_gw = [task_results(r["first"]) / float(r["gateways"]) for r in results]
    same = all(task_results(run) == task_results(r["first"]) for r in results for run in r["noops"])
    out.append("- A no-op re-run cost %.2f-%.2f of a first run in wall time. It is not cheap because it does the same "
               "work minus the changes: %.0f-%.0f task results per gateway %s (fact gathering, the up-front input "
               "checks, and for every check-and-set task a Python module sent over ssh that compares and finds nothing "
               "to do). What only the first run does (apt update and the package installs, key generation, starting "
               "the tunnels and units) is the remaining %.0f-%.0f %%."
               % (min(ratios), max(ratios), min(per_gw), max(per_gw), "in both runs" if same else "in the first run",
                  100 * (1 - max(ratios)), 100 * (1 - min(ratios))))
    cpu = [r for r in results if r["cpu_first"] and cpu_total(median_cpu_run(r)) is not None]
    if cpu:
        ctl = [run["cpu_ctl"] / r["gateways"] for r in cpu for run in (r["first"], median_cpu_run(r))]
        out.append("- CPU seconds per gateway (ansible + gateway): first run %s; no-op %s (for %s gateways); ansible's "
                   "share is %.1f-%.1f s per gateway and run, first or no-op. Per gateway both grow a little with the "
                   "size (the hub runs its per-link loop items once per spoke, and the larger sizes ran under more "
                   "load, which can inflate CPU time too); the total grows about linearly with the gateways."
                   % (", ".join("%.1f" % (r["cpu_first"] / r["gateways"]) for r in cpu),
                      ", ".join("%.1f" % (cpu_total(median_cpu_run(r)) / r["gateways"]) for r in cpu),
                      ", ".join(str(r["gateways"]) for r in cpu), min(ctl), max(ctl)))
    busy = [r["first"]["busy"] for r in results] + [statistics.median(run["busy"] for run in r["noops"]) for r in results]
    if min(busy) >= 90:
        out.append("- Every size was CPU-bound (machine CPU busy %.0f-%.0f %%, first and median no-op run): with controller and gateways on %d cores, "
                   "wall time follows the CPU seconds of all of them plus whatever else ran on the host."
                   % (min(busy), max(busy), CPUS))
    warm = ["%.1f vs %.1f s" % (r["warm"]["seconds"], r["noop_median"]) for r in results]
    if all(r["warm"]["seconds"] >= 0.9 * r["noop_median"] for r in results):
        out.append("- A no-op run over already open ssh connections was not faster (%s, open vs new): connection setup "
                   "is not where a no-op run's time goes." % "; ".join(warm))
    else:
        out.append("- A no-op run over already open ssh connections vs new ones: %s." % "; ".join(warm))
    return out


def cpu_lines(results):
    """CPU seconds: less sensitive than wall time to what else runs on the host."""
    def fmt(run):
        return "%.1f + %s" % (run["cpu_ctl"], "%.1f" % run["cpu_gw"] if run["cpu_gw"] is not None else "?")
    lines = ["| gateways | first run CPU s (ansible + gateways) | no-op CPU s (ansible + gateways; the median run) | "
             "no-op / first, CPU s | machine CPU busy, first / no-op | tasks changed, first run |",
             "|---|---|---|---|---|---|"]
    for r in results:
        middle = median_cpu_run(r)
        ratio = "%.2f" % (cpu_total(middle) / r["cpu_first"]) if r["cpu_first"] and cpu_total(middle) is not None else "?"
        lines.append("| %d | %s | %s | %s | %.0f %% / %.0f %% | %d |" % (
            r["gateways"], fmt(r["first"]), fmt(middle), ratio, r["first"]["busy"],
            statistics.median(run["busy"] for run in r["noops"]), r["changed_first"]))
    return lines


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


def commit():
    """The checkout measured: HEAD, and whether what site.yml runs (roles, playbooks, plugins) had local changes."""
    def git(*argv):
        return subprocess.run(["git", "-C", ROOT] + list(argv), capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "roles", "playbooks", "plugins")
    return head + (" with uncommitted changes to roles/playbooks/plugins" if dirty else "")


def forks():
    """The forks ansible-playbook runs with (ansible.cfg, or the environment)."""
    out = subprocess.run([ansible_bin("ansible-config"), "dump"], env=ansible_env("/tmp"), capture_output=True, text=True,
                         timeout=60, check=False).stdout
    match = re.search(r"^DEFAULT_FORKS\(([^)]*)\) = (\d+)", out, re.M)
    return (int(match.group(2)), match.group(1)) if match else (5, "default")


def busy_note(results):
    loads = [float(r["load_before"].split()[0]) for r in results]
    others = "; ".join("%d gateways: %s" % (r["gateways"], r["others"]) for r in results)
    if max(loads) >= 0.5 or any(r["others"] != "none" for r in results):
        return ("The host was not idle: the 1-min load average was %.2f-%.2f before the sizes' first runs, and other "
                "containers were running next to the benchmark's when each size started (%s): other people's tests on the "
                "same %d cores. That load competes with the gateways' apt and systemd and with ansible itself, so every "
                "wall time above carries it; the CPU-seconds table carries it much less."
                % (min(loads), max(loads), others, CPUS))
    return "The host was otherwise idle (1-min load average below 0.5 before every first run, no other containers)."


def task_results(run):
    """Task results in a run, all hosts: ok (changed included) + failed + skipped + unreachable."""
    return sum(h["ok"] + h["failed"] + h["skipped"] + h["unreachable"] for h in run["recap"].values())


def detail_lines(results):
    out = []
    for r in results:
        out.append("- %d gateways: containers ready in %.0f s (not timed%s); first run %.1f s, %d task results "
                   "(hub: %s); no-op runs %s s, %d task results each; no-op over open ssh %.1f s; "
                   "one ping through each of the %d tunnels (tries per link: %s)"
                   % (r["gateways"], r["boot"], "; a first bring-up failed and was redone: %s" % r["boot_retry"]
                      if r["boot_retry"] else "", r["first"]["seconds"], task_results(r["first"]),
                      " ".join("%s=%d" % kv for kv in r["first"]["recap"]["hub"].items()),
                      ", ".join("%.1f" % run["seconds"] for run in r["noops"]), task_results(r["noops"][0]),
                      r["warm"]["seconds"], r["links"], ", ".join(str(r["ping_tries"][k]) for k in sorted(r["ping_tries"]))))
    return out


def write_doc(results, args, meta):
    v = meta["versions"]
    by = dict((r["gateways"], r) for r in results)
    scaling = []
    sizes = sorted(by)
    if len(sizes) >= 2:
        small, large = by[sizes[0]], by[sizes[-1]]
        scaling.append("- From %d to %d gateways (%.1fx the gateways, %.0fx the links): wall time of the first run %.1fx "
                       "(%.1f -> %.1f s), of the no-op run %.1fx (%.1f -> %.1f s, medians)." % (
                           small["gateways"], large["gateways"], large["gateways"] / float(small["gateways"]),
                           large["links"] / float(small["links"]),
                           large["first"]["seconds"] / small["first"]["seconds"], small["first"]["seconds"], large["first"]["seconds"],
                           large["noop_median"] / small["noop_median"], small["noop_median"], large["noop_median"]))
        if small["cpu_first"] and large["cpu_first"]:
            scaling.append("- CPU seconds of the first run (ansible + gateways) grew %.1fx (%.0f -> %.0f s), %.1f -> %.1f s "
                           "per gateway." % (large["cpu_first"] / small["cpu_first"], small["cpu_first"], large["cpu_first"],
                                             small["cpu_first"] / small["gateways"], large["cpu_first"] / large["gateways"]))
    ino = meta["inotify"]
    if ino["raised"]:
        inotify_note = ("fs.inotify.max_user_instances was %d; the benchmark (--raise-inotify) raised it to %d for the sizes "
                        "that needed it, and it was %s" % (ino["original"], ino["raised"], ino["after"] or "changed by someone else meanwhile, so left alone"))
    else:
        inotify_note = "fs.inotify.max_user_instances = %d, enough for every size run, not changed" % ino["original"]
    images = sorted(set(r["image"] for r in results))
    image_note = ("Every size ran on the same image (%s)." % images[0] if len(images) == 1 else
                  "The image changed during the benchmark (someone rebuilt it): %s; compare sizes with care."
                  % "; ".join("%d gateways: %s" % (r["gateways"], r["image"]) for r in results))
    text = DOC_TEMPLATE.format(
        inotify_note=inotify_note, image_note=image_note, inotify_gw=INOTIFY_PER_GATEWAY,
        inotify_16=inotify_needed(16) - INOTIFY_MARGIN,
        command=meta["command"], commit=meta["commit"], date=meta["date"], elapsed=meta["elapsed"], cpus=CPUS, cpu_model=v["cpu_model"],
        mem=v["mem_gb"], kernel=v["kernel"], ansible=v["ansible"], python=v["python"], podman=v["podman"],
        forks=v["forks"][0], forks_from=v["forks"][1], image=IMAGE, image_id=v["image_id"],
        image_created=v["image_created"], image_mb=v["image_mb"], repeat=args.repeat,
        sizes=", ".join(str(s) for s in sizes), prefix=PREFIX, net=NET, subnet=SUBNET_PREFIX + ".0/24",
        table="\n".join(table_lines(results, args.repeat)), cpu_table="\n".join(cpu_lines(results)),
        details="\n".join(detail_lines(results)),
        scaling="\n".join(scaling) or "- (one size only)", findings="\n".join(findings(results)), load_start=meta["load_start"], load_end=meta["load_end"],
        busy=busy_note(results), fork_note=("%d forks cover every gateway of the largest size (%d), so no run waits for a "
                                            "free fork" % (v["forks"][0], max(sizes)) if v["forks"][0] >= max(sizes) else
                                            "%d forks are fewer than the %d gateways of the largest size: ansible runs each "
                                            "task on %d hosts at a time, so that size is fork-bound"
                                            % (v["forks"][0], max(sizes), v["forks"][0])),
    )
    with open(DOC, "w") as handle:
        handle.write(text)


DOC_TEMPLATE = """# Benchmarks: rollout cost

Written by `benchmarks/rollout_cost.py` (run: `{command}` at commit {commit}, {date}, {elapsed:.0f} s in all). Re-running it
overwrites this file. The question (issue 7): what does a first `site.yml` cost on bare gateways, what does a
no-op re-run cost, and how do both grow with the number of gateways?

## Setup

- Controller and gateways on one machine: {cpus} x {cpu_model}, {mem:.1f} GiB, kernel {kernel};
  {ansible}, Python {python}; {podman} (rootful, runc).
- forks = {forks} (from {forks_from}; the benchmark does not change it): {fork_note}. `pipelining = true`;
  ssh with ansible's default `ControlMaster=auto ControlPersist=60s`. No fact cache: every run gathers facts.
- Gateways: podman containers from `{image}` (image {image_id}, created {image_created}, {image_mb:.0f} MB), systemd as
  PID 1, sshd, python3, nftables, iproute2; no WireGuard packages (wireguard-tools and wireguard-go are the
  role's to install) and no apt lists. Brought up by `scripts/lab up N --no-site` with the benchmark's own lab
  identity (`WGSPREAD_LAB_PREFIX={prefix}`, network `{net}`, {subnet}), so it runs next to the default lab
  without touching it.
- Topology per size ({sizes} gateways): hub + N-1 spokes, one link `hub-spokeK` per spoke (so N-1 links, and
  N-1 WireGuard interfaces and wireguard-go processes on the hub), tunnel subnets 198.18.0.0/31,
  198.18.0.2/31, ..., listen port 51820 + 100 (K-1) on both ends, persistent_keepalive 25, spread ports
  `count: auto` (the receiver's {cpus} CPUs). Lab settings as `lab/inventory`: port_spread_meter true,
  nic_tuning with the role's defaults (queue counts and RPS/XPS on the lab interfaces). The inventory is
  generated per size in a temp dir.
- Host limit: {inotify_note}. Rootful containers are uid 0 of the host, so every gateway's systemd,
  dbus-daemon and logind ({inotify_gw} inotify instances per booted gateway) and every wireguard-go process
  (1 per link end, for its UAPI socket) draw on root's one limit, shared with every other container on the
  host; 16 gateways alone need about {inotify_16}, more than the default 128. Past the limit wireguard-go
  exits at start and wg-quick fails with "Unable to modify interface: Protocol not supported" (seen in a
  first attempt at 16 gateways; systemd logged "Failed to allocate inotify fd: Too many open files").
- Fresh containers for every size (`down`, then `up`): growing one lab would make the larger sizes' "first
  run" a partly repeated run on the gateways that already had WireGuard. Container boot is not timed.
- Timed from the controller (wall clock around `ansible-playbook -i INV playbooks/site.yml`):
  - first run: fact gathering, the up-front input checks, `apt` with `update_cache` (the image has no
    lists) and the install of python3-apt, wireguard-tools and wireguard-go in every container from the
    Debian mirror (through this host's package proxy, all gateways at once), key generation on the
    gateways, the `wg-*.conf` files and `wg-quick@` units (wireguard-go, no kernel module here), the
    `inet wgspread` table and its unit, nic_tuning. Required: failed=0 and unreachable=0 on every host,
    then one ping through every link's tunnel from the spoke to the hub (`podman exec`; up to 5 tries
    for the first handshake), so the time is that of a working rollout.
  - no-op runs: the same command {repeat} times; each must report changed=0 on every host, or the
    benchmark fails. Reported: min and median; the ratio is median no-op / first run.
  - every timed run opens new ssh connections (its own ControlPath dir), like a re-run more than 60 s
    later. The "open ssh" column is one more no-op run over the previous run's ssh masters, as a re-run
    within ControlPersist's 60 s sees it; it is not in the ratio.
- Also measured for every run, because wall time on a shared machine depends on what else runs: CPU
  seconds of ansible (`ansible-playbook`, its forks and their ssh clients: the benchmark's waited-for
  children, getrusage; the detached ssh ControlPersist masters are not in it) and of the gateways (every
  process in the containers: the cgroups' `cpuacct.usage`, background such as wireguard-go keepalives
  included); and the machine's CPU busy share (/proc/stat, all CPUs, everything on the host, other
  people's work included).

## Results

Wall time:

{table}

CPU seconds:

{cpu_table}

{scaling}

What the figures show:

{findings}

Per size:

{details}

## Noise

- {busy}
- {image_note}
- Load average (1/5/15 min) at the start of the benchmark: {load_start}; at the end: {load_end}. The
  wall-time table's load column is the 1-min figure just before each size's first run and after its
  last no-op run.
- The no-op figure is min and median of {repeat} runs; their spread (the per-size list above) shows the
  run-to-run noise. The first run is measured once per size (each one needs fresh containers): its
  noise is not measured here, and it includes downloads from the mirror, whose speed this benchmark
  does not control.
- Controller and gateways share the same {cpus} cores: ansible's forks and the gateways' apt, dpkg and
  systemd compete for them (machine CPU busy near 100 % means the run was CPU-bound, and then its wall
  time is roughly the CPU seconds of everything on the host divided by {cpus}). On real gateways the
  per-host work runs on each gateway's own CPUs, and only the controller's share (the "ansible" CPU
  seconds) stays on one machine, so a real first run grows less with the number of gateways than here.
"""


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,8,16", help="gateway counts (hub + spokes), 2..21")
    parser.add_argument("--repeat", type=int, default=3, help="no-op runs per size")
    parser.add_argument("--max-seconds", type=int, default=5400, help="hard limit for the whole run")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks-rollout.md")
    parser.add_argument("--raise-inotify", action="store_true",
                        help="raise fs.inotify.max_user_instances for the run when the gateways would exhaust it "
                             "(restored at the end); without it such a size fails before starting its containers")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 2 or s > 21 for s in sizes) or args.repeat < 1:
        parser.error("--sizes: 2..21 gateways each (scripts/lab: up to 20 spokes); --repeat >= 1")
    if os.geteuid() != 0:
        sys.exit("needs root (rootful podman)")
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        sys.exit("image %s missing: scripts/lab image builds it" % IMAGE)

    def on_signal(signum, _frame):
        raise Timeout("timeout" if signum == signal.SIGALRM else "signal %d" % signum)
    signal.signal(signal.SIGALRM, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)   # also when started with SIGINT ignored (a background job)
    signal.alarm(args.max_seconds)

    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "load_start": loadavg(),
            "versions": versions(), "command": " ".join(["benchmarks/rollout_cost.py"] + sys.argv[1:]), "commit": commit()}
    started = time.time()
    os.makedirs(STATE, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="run-", dir=STATE)
    results, ok = [], False
    inotify = Inotify(args.raise_inotify)
    meta["inotify"] = {"original": inotify.original, "raised": None, "after": None}
    try:
        lab_down()                                     # leftovers of an interrupted run would count against the check
        if not args.raise_inotify:                     # fail before any work, not after the small sizes
            inotify.ensure(max(sizes))
        for gateways in sizes:
            results.append(measure(gateways, args, workdir, inotify))
        ok = True
    finally:
        signal.alarm(0)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)      # a second Ctrl-C must not cut the cleanup short
        for control_dir in glob.glob(os.path.join(workdir, "n*", "cp-*")):
            close_masters(control_dir)
        lab_down()
        left = leftovers()
        if left:
            log("LEFT BEHIND: %s" % ", ".join(left))
        meta["inotify"].update(raised=inotify.raised, after=inotify.restore())
        if ok or not glob.glob(os.path.join(workdir, "n*")):
            shutil.rmtree(STATE, ignore_errors=True)
        else:
            log("not completed: ansible and lab logs kept in %s (containers and network removed)" % workdir)
    meta["load_end"] = loadavg()
    meta["elapsed"] = time.time() - started
    print("\n".join(table_lines(results, args.repeat)))
    print()
    print("\n".join(cpu_lines(results)))
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
