"""How long the fleet plan takes for a large fleet: build_plan() in Python, and playbooks/plan.yml end to end.

Synthetic fleets, valid for the plan (unique /31 transfer subnets from 100.64.0.0/10, listen
ports 20000 + 4 * slot on every gateway, so the 2 spread ports of wgspread_receive_cpus: 2 never
meet another link's port, ansible_host an IP per gateway):

  hub   one hub and N-1 spokes, one link hub-spokeK per spoke (N-1 links, N-1 tunnels on the hub)
  ring  N gateways on a ring, gateway i linked to i+1 and i+2 (2N links, 4 per gateway)
  mesh  every pair of M gateways (M (M-1) / 2 links, M-1 per gateway); Python stage only

Python stage, per shape and size (hub and ring: --sizes; mesh: --mesh-gateways):
  build_plan(links, inventory, hostvars) for all gateways, best and median of --repeat runs;
  Plan.as_dict() and its json.dumps (what the action returns), and the size of that JSON.
  Reference, in the same run: the per-host derivation before the plan, the links module of git
  commit db9381e (loaded from git into a temp dir under another module name): its
  gateway_tunnels(links, gateway, inventory, hostvars) once for every gateway, as the roles did
  (each call parsed and checked all links again). When the full run would take more than
  --reference-budget seconds (estimated from a first call), it is timed on --reference-sample
  gateways spread over the fleet and extrapolated to all of them; the table says which.
  The old and the new tunnels of a few gateways are compared, to be sure both did the same work.

ansible-playbook stage, per shape (hub, ring) and size: an inventory in a temp dir (hosts.yml
with the group gateways and per host ansible_host and wgspread_receive_cpus;
group_vars/all/links.yml with wgspread_links), then, timed, --repeat times:
    ansible-playbook playbooks/plan.yml -i INV/hosts.yml -e plan_dir=FRESH_DIR
Checked: rc 0 and the files rendered (plan.json, per gateway wgspread.nft and one .conf per
tunnel). A 2-gateway run gives the fixed cost (start-up); the marginal cost per gateway is
(t(N) - t(2)) / (N - 2), and between two sizes (t(M) - t(N)) / (M - N). For every shape and size
one more run, under a wrapper that times the action's parts in the worker (build_plan, role
checks, as_dict, rendering, file writes) and the phases before and after it, tells where the time
goes and which part grows how (not in the timed figures; the wrapper adds a little).

    .venv/bin/python benchmarks/fleet_plan.py [--shapes hub,ring,mesh] [--sizes 100,300,1000]
        [--repeat 3] [--skip-playbook] [--skip-reference] [--skip-breakdown] [--commit HEAD] [--write-doc]

Measured: this checkout as it is, or with --commit REV a clean ``git archive`` export of REV in the
temp dir (linked as ansible_collections/sitelink/wgspread there), so that edits made in the
checkout during the run are not measured.

Target (the issue): plan.yml < 60 s for 1,000 gateways, growing linearly. Not a unit test.
With --write-doc the figures section of docs/benchmarks-plan.md is replaced by this run's.
"""

import argparse
import datetime
import importlib.util
import ipaddress
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchkit
from benchkit import ROOT, first_line, loadavg

OLD_COMMIT = "db9381e"
OLD_PATH = "plugins/module_utils/links.py"
OLD_MODULE = "wgspread_links_%s" % OLD_COMMIT
CPUS = 2                      # wgspread_receive_cpus of every gateway: 2 spread ports per receiver
LISTEN_BASE, LISTEN_STEP = 20000, 4
TRANSFER = ipaddress.ip_network("100.64.0.0/10")
UNDERLAY = ipaddress.ip_address("198.18.0.1")
TARGET_GATEWAYS, TARGET_SECONDS = 1000, 60.0
BASELINE_GATEWAYS = 2
DOC = os.path.join(ROOT, "docs", "benchmarks-plan.md")
BEGIN, END = "<!-- figures: begin (benchmarks/fleet_plan.py --write-doc) -->", "<!-- figures: end -->"
# Plan keys the old gateway_tunnels() did not have; dropped before comparing old and new tunnels.
NEW_TUNNEL_KEYS = ("peer_in_run", "rotate_keys")


class Tree(object):
    """The collection measured: this checkout as it is (default), or a clean export of one commit
    (--commit: ``git archive`` into the temp dir, so that edits made meanwhile in the checkout
    are not measured). One tree per process: build_plan is imported from it."""

    def __init__(self, scratch, commit=None):
        if commit is None:
            self.root, self.collections = ROOT, benchkit.link_collection()
            self.commit = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], 10)
            status = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "plugins", "playbooks", "roles"],
                                    capture_output=True, text=True, check=False).stdout.splitlines()
            self.dirty = [line[3:] for line in status if line.strip()]
            self.label = "the checkout at commit %s" % self.commit + (
                " (with uncommitted changes in %s)" % ", ".join(self.dirty) if self.dirty else "")
        else:
            self.commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", commit + "^{commit}"],
                                         capture_output=True, text=True, check=True).stdout.strip()
            self.root = os.path.join(scratch, "tree")
            self.collections = os.path.join(scratch, "collections")
            os.makedirs(self.root)
            archive = subprocess.Popen(["git", "-C", ROOT, "archive", self.commit], stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", self.root], stdin=archive.stdout, check=True)
            archive.stdout.close()
            if archive.wait() != 0:
                raise SystemExit("git archive %s failed" % self.commit)
            link = os.path.join(self.collections, "ansible_collections", "sitelink", "wgspread")
            os.makedirs(os.path.dirname(link))
            os.symlink(self.root, link)
            self.dirty = []
            self.label = "commit %s (a clean git archive export)" % self.commit
        self.playbook = os.path.join(self.root, "playbooks", "plan.yml")
        sys.path.insert(0, self.collections)
        from ansible_collections.sitelink.wgspread.plugins.module_utils import plan
        if not os.path.realpath(plan.__file__).startswith(os.path.realpath(self.root) + os.sep):
            raise SystemExit("build_plan imported from %s, not from the tree measured (%s)" % (plan.__file__, self.root))
        self.build_plan = plan.build_plan


def log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


# ---------------------------------------------------------------- fleets

def hub(n):
    names = ["hub"] + ["spoke%04d" % i for i in range(1, n)]
    return names, [(names[0], spoke) for spoke in names[1:]]


def ring(n):
    names = ["gw%04d" % i for i in range(n)]
    return names, [(names[i], names[(i + d) % n]) for i in range(n) for d in (1, 2)]


def mesh(n):
    names = ["gw%03d" % i for i in range(n)]
    return names, [(names[i], names[j]) for i in range(n) for j in range(i + 1, n)]


SHAPES = {"hub": hub, "ring": ring, "mesh": mesh}
PLAYBOOK_SHAPES = ("hub", "ring")


def fleet(shape, n):
    """(names, hostvars, links) of one synthetic fleet."""
    names, pairs = SHAPES[shape](n)
    hostvars = dict((name, {"ansible_host": str(UNDERLAY + i), "wgspread_receive_cpus": CPUS}) for i, name in enumerate(names))
    slots, links = {}, []
    for k, (a, b) in enumerate(pairs):
        ports = {}
        for gateway in (a, b):
            ports[gateway] = LISTEN_BASE + LISTEN_STEP * slots.get(gateway, 0)
            slots[gateway] = slots.get(gateway, 0) + 1
        links.append({"name": "%s-%s" % (a, b), "gateways": [a, b],
                      "subnet": str(ipaddress.ip_network((int(TRANSFER.network_address) + 2 * k, 31))),
                      "listen_port": ports})
    return names, hostvars, links


def expected_files(names, links):
    """plan.json, a wgspread.nft per gateway with a link, a .conf per tunnel end."""
    return 1 + len(set(g for link in links for g in link["gateways"])) + 2 * len(links)


# ---------------------------------------------------------------- Python stage

def timed(function, repeat):
    times, value = [], None
    for _run in range(repeat):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return value, min(times), statistics.median(times)


def load_old(scratch):
    """The links module of OLD_COMMIT, imported as OLD_MODULE (it imports only the stdlib)."""
    source = subprocess.run(["git", "-C", ROOT, "show", "%s:%s" % (OLD_COMMIT, OLD_PATH)],
                            capture_output=True, text=True, check=True).stdout
    path = os.path.join(scratch, OLD_MODULE + ".py")
    with open(path, "w") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(OLD_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[OLD_MODULE] = module
    spec.loader.exec_module(module)
    return module


def sample_of(names, count):
    """``count`` gateways spread evenly over the fleet, the first (the hub) included."""
    if count >= len(names):
        return list(names)
    return [names[(i * len(names)) // count] for i in range(count)]


def reference(old, names, hostvars, links, budget, sample_size):
    """The old per-host derivation: gateway_tunnels() for every gateway (or a sample, extrapolated)."""
    start = time.perf_counter()
    old.gateway_tunnels(links, names[0], names, hostvars)
    probe = time.perf_counter() - start
    extrapolated = probe * len(names) > budget
    gateways = sample_of(names, sample_size) if extrapolated else list(names)
    calls = [probe]
    for gateway in gateways[1:]:
        start = time.perf_counter()
        old.gateway_tunnels(links, gateway, names, hostvars)
        calls.append(time.perf_counter() - start)
    total = statistics.mean(calls) * len(names) if extrapolated else sum(calls)
    return {"call_best": min(calls), "call_median": statistics.median(calls), "total": total,
            "timed": len(calls), "extrapolated": extrapolated}


def same_tunnels(old, plan_dict, names, hostvars, links):
    """The old and the new tunnels of a few gateways agree (new-only fields aside)."""
    for gateway in sample_of(names, 3):
        new = json.loads(json.dumps(plan_dict["gateways"][gateway]["tunnels"]))
        for tunnel in new:
            for key in NEW_TUNNEL_KEYS:
                tunnel.pop(key, None)
            tunnel["spread"].pop("calibrated", None)
        if old.gateway_tunnels(links, gateway, names, hostvars) != new:
            return False
    return True


def python_case(shape, n, args, tree, old):
    names, hostvars, links = fleet(shape, n)
    plan, best, median = timed(lambda: tree.build_plan(links, names, hostvars), args.repeat)
    text, dump_best, dump_median = timed(lambda: json.dumps(plan.as_dict()), args.repeat)
    plan_dict = json.loads(text)
    row = {"shape": shape, "gateways": len(names), "links": len(links),
           "tunnels": sum(len(part["tunnels"]) for part in plan_dict["gateways"].values()),
           "plan_best": best, "plan_median": median, "dump_best": dump_best, "dump_median": dump_median,
           "json_bytes": len(text.encode()), "reference": None, "same": None}
    if old is not None:
        row["reference"] = reference(old, names, hostvars, links, args.reference_budget, args.reference_sample)
        row["same"] = same_tunnels(old, plan_dict, names, hostvars, links)
    return row


# ---------------------------------------------------------------- ansible-playbook stage

def write_inventory(directory, shape, n):
    import yaml  # ansible-core's dependency: in the venv that runs ansible

    names, hostvars, links = fleet(shape, n)
    os.makedirs(os.path.join(directory, "group_vars", "all"))
    with open(os.path.join(directory, "hosts.yml"), "w") as handle:
        yaml.safe_dump({"all": {"children": {"gateways": {"hosts": hostvars}}}}, handle, default_flow_style=False, sort_keys=False)
    with open(os.path.join(directory, "group_vars", "all", "links.yml"), "w") as handle:
        handle.write("---\n")
        yaml.safe_dump({"wgspread_links": links}, handle, default_flow_style=False, sort_keys=False)
    return names, links


def ansible_env(scratch, tree):
    return dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                ANSIBLE_CONFIG=os.path.join(tree.root, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=tree.collections,
                ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=os.path.join(scratch, "ansible-tmp"))


def count_files(directory):
    return sum(1 for _root, _dirs, files in os.walk(directory) for name in files if not name.startswith(".wgspread-"))


def run_playbook(argv, env, log_path, timeout, cwd):
    """(rc, wall s, CPU s of ansible-playbook and its forks, peak RSS MiB) of one run."""
    with open(log_path, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def tail(path, lines=15):
    with open(path) as handle:
        return "".join(handle.readlines()[-lines:])


def playbook_case(shape, n, args, scratch, env, tree):
    case = os.path.join(scratch, "%s-%d" % (shape, n))
    names, links = write_inventory(os.path.join(case, "inventory"), shape, n)
    expected = expected_files(names, links)
    walls, cpus, rss, problems = [], [], [], []
    plan_bytes = None
    for run in range(args.repeat):
        plan_dir = os.path.join(case, "plan-%d" % run)
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), tree.playbook,
                "-i", os.path.join(case, "inventory", "hosts.yml"), "-e", "plan_dir=%s" % plan_dir]
        log_path = os.path.join(case, "run-%d.log" % run)
        rc, wall, cpu, peak = run_playbook(argv, env, log_path, args.playbook_timeout, tree.root)
        found = count_files(plan_dir)
        if rc != 0:
            problems.append("run %d: rc %d" % (run, rc))
            log("%s %d: ansible-playbook rc %d; the end of its output:\n%s" % (shape, n, rc, tail(log_path)))
        if found != expected:
            problems.append("run %d: %d files, expected %d" % (run, found, expected))
        if os.path.exists(os.path.join(plan_dir, "plan.json")):
            plan_bytes = os.path.getsize(os.path.join(plan_dir, "plan.json"))
        walls.append(wall)
        cpus.append(cpu)
        rss.append(peak)
        log("%s %d gateways, run %d: rc %d, %.2f s, %d files" % (shape, len(names), run + 1, rc, wall, found))
        shutil.rmtree(plan_dir, ignore_errors=True)
    return {"shape": shape, "gateways": len(names), "links": len(links), "wall_best": min(walls),
            "wall_median": statistics.median(walls), "cpu_median": statistics.median(cpus), "rss_max": max(rss),
            "files": expected, "plan_json_bytes": plan_bytes, "problems": problems, "inventory": os.path.join(case, "inventory")}


# A wrapper around ansible-playbook that records, with time.time(), when the process started, when the
# plan task's worker ran, and how long the action's parts took inside that worker. Untimed figures only.
WRAPPER = r'''
import time
STARTED = time.time()
import functools, importlib, json, os, sys
from ansible.executor.process import worker
from ansible.vars import hostvars as hostvars_module
OUT = os.environ["FLEET_PLAN_BREAKDOWN"]
PARTS = {}

def timed(name, function):
    @functools.wraps(function)
    def inner(*args, **kwargs):
        label = name.replace("CALLER", sys._getframe(1).f_code.co_name)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            part = PARTS.setdefault(label, [0, 0.0])
            part[0] += 1
            part[1] += time.perf_counter() - start
    return inner

original_run = worker.WorkerProcess._run

def _run(self):
    begin = time.time()
    action = importlib.import_module("ansible_collections.sitelink.wgspread.plugins.action.fleet_plan")
    plan = importlib.import_module("ansible_collections.sitelink.wgspread.plugins.module_utils.plan")
    for name in ("build_plan", "render", "role_input_errors", "gateway_files", "_write_atomic"):
        setattr(action, name, timed(name, getattr(action, name)))
    action.ActionModule.run = timed("action", action.ActionModule.run)
    plan.gateway_inputs = timed("gateway_inputs", plan.gateway_inputs)
    plan.Plan.as_dict = timed("as_dict in CALLER", plan.Plan.as_dict)
    hostvars_module.HostVars.__getitem__ = timed("hostvars", hostvars_module.HostVars.__getitem__)
    try:
        return original_run(self)
    finally:
        with open(os.path.join(OUT, "worker-%d.json" % os.getpid()), "w") as handle:
            json.dump({"begin": begin, "end": time.time(), "parts": PARTS}, handle)

worker.WorkerProcess._run = _run
from ansible.cli.playbook import main
sys.argv[0] = "ansible-playbook"
try:
    rc = main()
finally:
    with open(os.path.join(OUT, "main.json"), "w") as handle:
        json.dump({"started": STARTED, "end": time.time()}, handle)
sys.exit(rc)
'''


def breakdown(row, args, scratch, env, tree):
    """Where one playbook run's time goes: phases and the action's parts (seconds), or None."""
    directory = os.path.join(scratch, "breakdown-%s-%d" % (row["shape"], row["gateways"]))
    os.makedirs(directory)
    wrapper = os.path.join(directory, "wrapper.py")
    with open(wrapper, "w") as handle:
        handle.write(WRAPPER)
    argv = [sys.executable, wrapper, tree.playbook, "-i", os.path.join(row["inventory"], "hosts.yml"),
            "-e", "plan_dir=%s" % os.path.join(directory, "plan")]
    rc, wall, _cpu, _rss = run_playbook(argv, dict(env, FLEET_PLAN_BREAKDOWN=directory), os.path.join(directory, "run.log"),
                                        args.playbook_timeout, tree.root)
    try:
        with open(os.path.join(directory, "main.json")) as handle:
            main = json.load(handle)
        workers = []
        for name in os.listdir(directory):
            if name.startswith("worker-"):
                with open(os.path.join(directory, name)) as handle:
                    workers.append(json.load(handle))
        task = next(w for w in workers if "action" in w["parts"])
    except (OSError, ValueError, StopIteration) as exc:
        log("breakdown %s %d: no figures (rc %d, %s)" % (row["shape"], row["gateways"], rc, exc))
        return None
    parts = dict((name, {"calls": calls, "seconds": seconds}) for name, (calls, seconds) in task["parts"].items())

    def seconds(name):
        return parts.get(name, {"seconds": 0.0})["seconds"]
    render_rest = seconds("render") - seconds("_write_atomic") - seconds("gateway_files") - seconds("as_dict in render")
    return {"rc": rc, "wall": wall, "phases": [
        ("start-up: python, ansible, inventory, play, host variables (main process, before the plan task's worker)",
         task["begin"] - main["started"]),
        ("plan task outside the action: worker start, templating the arguments (wgspread_links), sending the result",
         (task["end"] - task["begin"]) - seconds("action")),
        ("action: build_plan", seconds("build_plan")),
        ("... of which gateway_inputs (each gateway's variables read once, through hostvars)", seconds("gateway_inputs")),
        ("action: role input checks (check_roles: 3 roles x every host)", seconds("role_input_errors")),
        ("action: Plan.as_dict() for the result", seconds("as_dict in run")),
        ("action: render: Plan.as_dict() again, for the files", seconds("as_dict in render")),
        ("action: render: gateway_files() for every gateway", seconds("gateway_files")),
        ("action: render: the files written (mkstemp, write, chmod, rename; plan.json, a .nft per gateway, a .conf per tunnel end)",
         seconds("_write_atomic")),
        ("action: render: the rest (json.dumps of plan.json, makedirs)", render_rest),
        ("action: the rest (argument validation, summary)",
         seconds("action") - seconds("build_plan") - seconds("role_input_errors") - seconds("render") - seconds("as_dict in run")),
        ("after the worker: result processing, register, the debug task, recap, exit", main["end"] - task["end"]),
    ], "hostvars": parts.get("hostvars")}


# ---------------------------------------------------------------- report

def facts(tree):
    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "nproc": os.cpu_count(),
            "python": platform.python_version(), "ansible": first_line([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                                                                        "--version"], 60),
            "forks": ansible_forks(tree), **benchkit.machine()}


def ansible_forks(tree):
    """forks as the playbook runs get it: ANSIBLE_FORKS, else ansible.cfg, else ansible's default."""
    if os.environ.get("ANSIBLE_FORKS"):
        return "%s (ANSIBLE_FORKS)" % os.environ["ANSIBLE_FORKS"]
    with open(os.path.join(tree.root, "ansible.cfg")) as handle:
        for line in handle:
            if line.split("=", 1)[0].strip() == "forks":
                return "%s (ansible.cfg)" % line.split("=", 1)[1].strip()
    return "5 (ansible's default)"


def mb(count):
    return "%.1f" % (count / 1e6)


def python_table(rows):
    lines = ["| shape | gateways | links | tunnel ends | build_plan best / median (s) | as_dict + json.dumps median (s) | plan JSON (MB) "
             "| old: one gateway_tunnels call, median (ms) | old: every gateway (s) | old / new |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ref = row["reference"]
        if ref is None:
            old_cells = "not run | not run | -"
        else:
            how = ("extrapolated from %d of %d gateways" % (ref["timed"], row["gateways"]) if ref["extrapolated"]
                   else "all %d gateways timed" % row["gateways"])
            old_cells = "%.1f | %.1f (%s) | %.0fx" % (1000 * ref["call_median"], ref["total"], how, ref["total"] / row["plan_median"])
        lines.append("| %s | %d | %d | %d | %.3f / %.3f | %.3f | %s | %s |" % (
            row["shape"], row["gateways"], row["links"], row["tunnels"], row["plan_best"], row["plan_median"],
            row["dump_median"], mb(row["json_bytes"]), old_cells))
    return lines


def playbook_table(rows, baseline):
    lines = ["| shape | gateways | links | wall best / median (s) | s per gateway | marginal ms per gateway | CPU s (median) "
             "| peak RSS (MiB) | files rendered | plan.json (MB) | checks |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in ([baseline] if baseline else []) + rows:
        marginal = ("%.1f" % (1000 * (row["wall_median"] - baseline["wall_median"]) / (row["gateways"] - baseline["gateways"]))
                    if baseline and row is not baseline else "-")
        lines.append("| %s | %d | %d | %.2f / %.2f | %.4f | %s | %.1f | %.0f | %d | %s | %s |" % (
            row["shape"], row["gateways"], row["links"], row["wall_best"], row["wall_median"], row["wall_median"] / row["gateways"],
            marginal, row["cpu_median"], row["rss_max"], row["files"], mb(row["plan_json_bytes"] or 0),
            "; ".join(row["problems"]) or "rc 0, file count right"))
    return lines


def verdicts(python_rows, playbook_rows):
    lines = []
    for shape in PLAYBOOK_SHAPES:
        rows = [row for row in playbook_rows if row["shape"] == shape]
        if not rows:
            continue
        at_target = [row for row in rows if row["gateways"] == TARGET_GATEWAYS]
        if at_target:
            wall = at_target[0]["wall_median"]
            lines.append("- %s, %d gateways: %.1f s (target < %.0f s): %s." % (
                shape, TARGET_GATEWAYS, wall, TARGET_SECONDS, "met" if wall < TARGET_SECONDS else "MISSED"))
        if len(rows) > 1:
            # The cost of each further gateway between two sizes, in wall and in CPU seconds: linear growth keeps it flat.
            steps = []
            for low, high in ((rows[i], rows[i + 1]) for i in range(len(rows) - 1)):
                more = high["gateways"] - low["gateways"]
                steps.append("%d -> %d: %.1f ms wall, %.1f ms CPU" % (
                    low["gateways"], high["gateways"], 1000 * (high["wall_median"] - low["wall_median"]) / more,
                    1000 * (high["cpu_median"] - low["cpu_median"]) / more))
            first, last = rows[0], rows[-1]
            lines.append("- %s growth: %d -> %d gateways (x%.1f) took x%.2f the wall time and x%.2f the CPU time; "
                         "per further gateway: %s." % (
                             shape, first["gateways"], last["gateways"], last["gateways"] / first["gateways"],
                             last["wall_median"] / first["wall_median"], last["cpu_median"] / first["cpu_median"], "; ".join(steps)))
    for row in python_rows:
        ref = row["reference"]
        if ref is not None:
            lines.append("- %s %d: the plan %.3f s vs the old per-host derivation %.1f s%s (%.0fx); tunnels the same: %s." % (
                row["shape"], row["gateways"], row["plan_median"], ref["total"], " (extrapolated)" if ref["extrapolated"] else "",
                ref["total"] / row["plan_median"], "yes" if row["same"] else "NO"))
    return lines


def breakdown_lines(shape, results):
    """One table per shape: the phases of one wrapped run per size, in seconds."""
    done = [(n, result) for n, result in results if result is not None]
    lines = ["(%s %d: no breakdown: see the log above)" % (shape, n) for n, result in results if result is None]
    if not done:
        return lines
    lines += ["| phase | " + " | ".join("%d gateways" % n for n, _result in done) + " |", "|---" * (len(done) + 1) + "|"]
    for index, (label, _value) in enumerate(done[0][1]["phases"]):
        lines.append("| %s | %s |" % (label, " | ".join("%.2f" % result["phases"][index][1] for _n, result in done)))
    lines.append("| wall time of the wrapped run (rc) | %s |" % " | ".join("%.2f (%d)" % (r["wall"], r["rc"]) for _n, r in done))
    lines.append("| `hostvars[host]` reads in the worker (Ansible works out all of one host's variables per read) | %s |" % " | ".join(
        "%d: %.2f" % (r["hostvars"]["calls"], r["hostvars"]["seconds"]) if r["hostvars"] else "-" for _n, r in done))
    return lines


def write_doc(text):
    with open(DOC) as handle:
        doc = handle.read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit("%s: no figures markers (%s ... %s)" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _old, tail_ = rest.split(END, 1)
    with open(DOC, "w") as handle:
        handle.write(head + BEGIN + "\n" + text + "\n" + END + tail_)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="hub,ring,mesh", help="of hub, ring, mesh (mesh: Python stage only)")
    parser.add_argument("--sizes", default="100,300,1000", help="gateways of hub and ring")
    parser.add_argument("--mesh-gateways", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-playbook", action="store_true")
    parser.add_argument("--skip-reference", action="store_true", help="do not time the old per-host derivation")
    parser.add_argument("--skip-breakdown", action="store_true", help="no timing-wrapper runs (one per shape and size)")
    parser.add_argument("--reference-budget", type=float, default=60.0, help="s; a longer full old run is extrapolated")
    parser.add_argument("--reference-sample", type=int, default=10, help="gateways timed when extrapolating")
    parser.add_argument("--playbook-timeout", type=float, default=900.0)
    parser.add_argument("--commit", help="measure a clean export of this commit (e.g. HEAD), not the checkout as it is")
    parser.add_argument("--write-doc", action="store_true", help="replace the figures section of docs/benchmarks-plan.md")
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error("unknown shape(s): %s" % ", ".join(unknown))
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    if any(n < BASELINE_GATEWAYS + 1 for n in sizes):
        parser.error("sizes must be > %d" % BASELINE_GATEWAYS)

    began = time.time()
    scratch = tempfile.mkdtemp(prefix="wgspread-fleet-plan-")
    try:
        tree = Tree(scratch, args.commit)
        info = facts(tree)
        load_before = loadavg()
        old = None
        if not args.skip_reference:
            try:
                old = load_old(scratch)
            except (OSError, subprocess.CalledProcessError) as exc:
                log("reference not run: cannot load %s:%s (%s)" % (OLD_COMMIT, OLD_PATH, exc))
        cases = [(shape, n) for shape in shapes if shape != "mesh" for n in sizes]
        if "mesh" in shapes:
            cases.append(("mesh", args.mesh_gateways))
        python_rows = []
        for shape, n in cases:
            log("python stage: %s %d" % (shape, n))
            python_rows.append(python_case(shape, n, args, tree, old))

        playbook_rows, baseline, breakdowns = [], None, []
        if not args.skip_playbook and any(s in PLAYBOOK_SHAPES for s in shapes):
            env = ansible_env(scratch, tree)
            log("playbook stage: baseline, %d gateways" % BASELINE_GATEWAYS)
            baseline = playbook_case("hub", BASELINE_GATEWAYS, args, scratch, env, tree)
            for shape in (s for s in shapes if s in PLAYBOOK_SHAPES):
                for n in sizes:
                    playbook_rows.append(playbook_case(shape, n, args, scratch, env, tree))
                if not args.skip_breakdown:
                    results = []
                    for row in (row for row in playbook_rows if row["shape"] == shape):
                        log("breakdown: %s %d" % (shape, row["gateways"]))
                        results.append((row["gateways"], breakdown(row, args, scratch, env, tree)))
                    breakdowns.append((shape, results))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    out = ["Run: `benchmarks/fleet_plan.py %s`, %s, %.0f s in all. Measured: %s." % (
        " ".join(sys.argv[1:]), info["date"], time.time() - began, tree.label),
        "",
        "Machine: %d CPUs (%s), kernel %s; Python %s; %s; forks %s. Load average (1/5/15 min) before: %s, after: %s." % (
            info["nproc"], info["cpu_model"], info["kernel"], info["python"], info["ansible"], info["forks"], load_before, loadavg()),
        "",
        "### Python stage: build_plan() vs the old per-host derivation (%d runs each)" % args.repeat, ""]
    out += python_table(python_rows)
    if playbook_rows:
        out += ["", "### ansible-playbook playbooks/plan.yml (wall time, %d runs each; the first row is the fixed cost)" % args.repeat, ""]
        out += playbook_table(playbook_rows, baseline)
    out += ["", "### Verdicts", ""] + verdicts(python_rows, playbook_rows)
    for shape, results in breakdowns:
        out += ["", "### Where the time goes: %s (one more run per size under the timing wrapper, seconds)" % shape, ""]
        out += breakdown_lines(shape, results)
    text = "\n".join(out)
    print(text)
    if args.write_doc:
        write_doc(text)
        log("wrote the figures section of %s" % DOC)
    failed = any(row["problems"] for row in playbook_rows + ([baseline] if baseline else []))
    failed = failed or any(row["same"] is False for row in python_rows)
    failed = failed or any(row["wall_median"] >= TARGET_SECONDS for row in playbook_rows if row["gateways"] == TARGET_GATEWAYS)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
