"""What the spreading rules and the per-(port, CPU) meter cost: CPU seconds per GB, interleaved A/B/C.

One lab for the whole run: two network namespaces, A (sender, wgo-a) and B (receiver, wgo-b),
a veth pair, one wireguard-go tunnel, an iperf3 server on B. Every process of both ends is pinned
with taskset (A's wireguard-go and iperf3 client on --cpu-a, B's wireguard-go and iperf3 server
on --cpu-b) and B's RPS sends every received packet to --rps-cpu, so that in every variant the
same work runs on the same CPUs and only the nft rules differ:

  none    no table inet wgspread (one UDP flow 51820 -> 51820)
  rules   the rules nft.spread_rules() generates (spread.count auto: 2 ports), on both ends
  meter   the same rules and, on B, the meter chain nft.meter_rules() (per (port, CPU) counters)
  wide    (--wide-cpus N) the same rules and the meter chain a host of N CPUs with N ports gets
          (N x N rules, every received packet runs through all of them; only 2 x 2 of them count)

Each round runs the three variants once, in a rotated order (none/rules/meter, rules/meter/none,
...), so that load from elsewhere on the host falls on all of them alike; each run is one iperf3
TCP transfer through the tunnel. Figures per run: CPU s/GB of the whole machine (/proc/stat busy
ticks / GB received, as spreading_bench.py), CPU s/GB of the lab (utime+stime of both wireguard-go
and both iperf3, plus irq and softirq time, where B's prerouting rules run), and Mbit/s. Printed: per variant median, IQR and min-max; per
pair (rules vs none, meter vs rules) the median of the per-round paired differences with a
bootstrap 95 % interval, and whether 0 is inside it. Writes docs/benchmarks-overhead.md.

    .venv/bin/python benchmarks/overhead_bench.py [--rounds 12] [--seconds 5] [--no-doc]

Needs root, iproute2, nft, wireguard-tools, wireguard-go, iperf3, taskset. Touches nothing outside
the namespaces wgo-a and wgo-b (addresses 198.18.210.0/24 and 198.18.211.0/24, wireguard-go sockets
/var/run/wireguard/wgo0.sock and wgo1.sock), all removed at the end, on errors, on Ctrl-C and on timeout.
Names and addresses differ from spreading_bench.py's, so both can run at once (though not
usefully: each is the other's noise).
"""

import argparse
import datetime
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import benchkit
from benchkit import ROOT, Timeout, first_line, loadavg, log, remove_namespaces, run

sys.path.insert(0, benchkit.link_collection())

from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import plan_tunnels as gateway_tunnels  # noqa: E402
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import counters, meter_rules, spread_rules  # noqa: E402

NS_A, NS_B = "wgo-a", "wgo-b"
VETH_A, VETH_B = "wgova", "wgovb"
WG_A, WG_B = "wgo0", "wgo1"
UNDER_A, UNDER_B = "198.18.210.1", "198.18.210.2"
TUNNEL_SUBNET = "198.18.211.0/24"
LISTEN = 51820
IPERF_PORT = 5201
WG_SOCK_DIR = "/var/run/wireguard"
DOC = os.path.join(ROOT, "docs", "benchmarks-overhead.md")
CPUS = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
VARIANTS = ["none", "rules", "meter"]  # "wide" is added with --wide-cpus
PAIRS = [("rules", "none", "the spreading rules"), ("meter", "rules", "the meter"), ("meter", "none", "rules and meter")]
WIDE_PAIR = ("wide", "rules", "a many-core host's meter")


def link_tunnels():
    """(tunnel at A, tunnel at B) of the benchmark link, spread.count auto, by plan.plan_tunnels()."""
    link = {"name": "overhead", "gateways": ["a", "b"], "subnet": TUNNEL_SUBNET, "listen_port": LISTEN,
            "interfaces": {"a": WG_A, "b": WG_B}, "spread": {}}
    hostvars = {"a": {"ansible_host": UNDER_A, "wgspread_receive_cpus": CPUS},
                "b": {"ansible_host": UNDER_B, "wgspread_receive_cpus": CPUS}}
    return (gateway_tunnels([link], "a", ["a", "b"], hostvars)[0], gateway_tunnels([link], "b", ["a", "b"], hostvars)[0])


def table_text(chains):
    """One transaction that (re)creates table inet wgspread: chains = [(name, hook, priority, [rules])]."""
    body = "\n".join("\tchain %s {\n\t\ttype filter hook %s priority %s; policy accept;\n%s\t}\n"
                     % (name, hook, priority, "".join("\t\t%s\n" % r for r in rules)) for name, hook, priority, rules in chains)
    return "table inet wgspread {}\ndelete table inet wgspread\ntable inet wgspread {\n%s}\n" % body


def wide_meter(tunnel, cpus):
    """The meter chain of a receiver with ``cpus`` CPUs and as many ports: what each packet runs through there."""
    wide = dict(tunnel, spread=dict(tunnel["spread"], receive_ports=list(range(LISTEN, LISTEN + cpus))))
    return meter_rules([wide], cpus)


def set_variant(variant, tunnel_a, tunnel_b, wide_cpus=0):
    """Load the variant's tables, receiver first (so a spread packet always finds its fold-back)."""
    for ns, tunnel in ((NS_B, tunnel_b), (NS_A, tunnel_a)):
        if variant == "none":
            run(["nft", "-f", "-"], ns=ns, stdin="table inet wgspread {}\ndelete table inet wgspread\n")
            continue
        rules = spread_rules([tunnel])
        chains = [("output", "output", "raw", rules["output"]), ("prerouting", "prerouting", "raw", rules["prerouting"])]
        if variant == "meter" and ns == NS_B:
            chains.append(("rx_per_cpu", "prerouting", "-350", meter_rules([tunnel], CPUS)))
        if variant == "wide" and ns == NS_B:
            chains.append(("rx_per_cpu", "prerouting", "-350", wide_meter(tunnel, wide_cpus)))
        run(["nft", "-f", "-"], ns=ns, stdin=table_text(chains))


class Lab:
    def __init__(self, workdir, args):
        self.workdir, self.args = workdir, args
        self.procs = {}

    def spawn(self, name, argv, ns, cpu):
        out = open(os.path.join(self.workdir, name + ".log"), "w")
        # ip netns exec and taskset exec the program: the Popen pid is the program's.
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(cpu)] + argv, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def up(self):
        cleanup()
        for ns in (NS_A, NS_B):
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "set", "lo", "up"], ns=ns)
        run(["ip", "link", "add", VETH_A, "numrxqueues", "2", "numtxqueues", "2", "type", "veth",
             "peer", "name", VETH_B, "numrxqueues", "2", "numtxqueues", "2", "netns", NS_B], ns=NS_A)
        run(["ip", "addr", "add", UNDER_A + "/24", "dev", VETH_A], ns=NS_A)
        run(["ip", "addr", "add", UNDER_B + "/24", "dev", VETH_B], ns=NS_B)
        run(["ip", "link", "set", VETH_A, "up"], ns=NS_A)
        run(["ip", "link", "set", VETH_B, "up"], ns=NS_B)
        for queue in ("rx-0", "rx-1"):  # every received packet on one CPU, whatever its port
            run(["sh", "-c", "echo %x > /sys/class/net/%s/queues/%s/rps_cpus" % (1 << self.args.rps_cpu, VETH_B, queue)], ns=NS_B)
        run(["ping", "-c", "1", "-W", "2", UNDER_B], ns=NS_A)
        tunnel_a, tunnel_b = link_tunnels()
        keys = {}
        for ns, tunnel, cpu in ((NS_A, tunnel_a, self.args.cpu_a), (NS_B, tunnel_b, self.args.cpu_b)):
            ifname = tunnel["interface"]
            proc = self.spawn("wireguard-go-" + ifname, ["wireguard-go", "-f", ifname], ns, cpu)
            sock = os.path.join(WG_SOCK_DIR, ifname + ".sock")
            deadline = time.time() + 10
            while not os.path.exists(sock):
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("wireguard-go %s did not start (see %s)" % (ifname, self.workdir))
                time.sleep(0.05)
            run(["ip", "addr", "add", tunnel["address"], "dev", ifname], ns=ns)
            run(["ip", "link", "set", ifname, "mtu", str(tunnel["mtu"]), "up"], ns=ns)
            private = run(["wg", "genkey"]).strip()
            path = os.path.join(self.workdir, ifname + ".key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(private + "\n")
            keys[ifname] = run(["wg", "pubkey"], stdin=private + "\n").strip()
            run(["wg", "set", ifname, "private-key", path, "listen-port", str(tunnel["listen_port"])], ns=ns)
        for ns, tunnel, peer in ((NS_A, tunnel_a, WG_B), (NS_B, tunnel_b, WG_A)):
            run(["wg", "set", tunnel["interface"], "peer", keys[peer], "endpoint", tunnel["peer_endpoint_uri"],
                 "allowed-ips", ",".join(tunnel["peer_allowed_ips"]), "persistent-keepalive", "25"], ns=ns)
        self.spawn("iperf3-server", ["iperf3", "-s", "-p", str(IPERF_PORT)], NS_B, self.args.cpu_b)
        time.sleep(0.3)
        deadline = time.time() + 15
        while subprocess.run(["ip", "netns", "exec", NS_A, "ping", "-c", "1", "-W", "1", tunnel_a["peer_tunnel_ip"]],
                             capture_output=True, timeout=5, check=False).returncode != 0:
            if time.time() > deadline:
                raise RuntimeError("no ping through the tunnel")
        return tunnel_a, tunnel_b

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        cleanup()


def cleanup():
    """Remove this benchmark's namespaces (killing what runs in them) and its wireguard-go sockets, nothing else."""
    remove_namespaces((NS_A, NS_B), [os.path.join(WG_SOCK_DIR, ifname + ".sock") for ifname in (WG_A, WG_B)])


def busy_ticks():
    """(busy, irq + softirq) ticks of the whole machine."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], fields[5] + fields[6]


def proc_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def children_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(lab, target, args):
    """One iperf3 TCP run: machine and lab CPU seconds per GB, Mbit/s."""
    daemons = [lab.procs[name].pid for name in ("wireguard-go-" + WG_A, "wireguard-go-" + WG_B, "iperf3-server")]
    machine0, daemons0, client0 = busy_ticks(), sum(proc_ticks(p) for p in daemons), children_seconds()
    out = run(["taskset", "-c", str(args.cpu_a), "iperf3", "-c", target, "-p", str(IPERF_PORT), "-t", str(args.seconds),
               "-P", str(args.streams), "-J", "--connect-timeout", "3000"], ns=NS_A, timeout=args.seconds + 20, check=False)
    machine1, daemons1, client1 = busy_ticks(), sum(proc_ticks(p) for p in daemons), children_seconds()
    result = json.loads(out)
    if "error" in result:
        raise RuntimeError("iperf3: %s" % result["error"])
    gigabytes = result["end"]["sum_received"]["bytes"] / 1e9
    # The receive path's nft rules run in softirq on the RPS CPU, charged to no process: the lab
    # figure adds the machine's irq + softirq time (mostly this tunnel's, some of other tenants').
    return {"machine": (machine1[0] - machine0[0]) / float(TICK) / gigabytes,
            "lab": ((daemons1 - daemons0 + machine1[1] - machine0[1]) / float(TICK) + (client1 - client0)) / gigabytes,
            "mbps": result["end"]["sum_received"]["bits_per_second"] / 1e6}


def meter_packets():
    total = 0
    for comment, packets in counters(json.loads(run(["nft", "-j", "list", "table", "inet", "wgspread"], ns=NS_B))).items():
        if " cpu " in comment:
            total += packets
    return total


# ---------------------------------------------------------------- statistics

def quartiles(values):
    ordered = sorted(values)
    if len(ordered) < 4:
        return ordered[0], statistics.median(ordered), ordered[-1]
    q = statistics.quantiles(ordered, n=4, method="inclusive")
    return q[0], q[1], q[2]


def bootstrap_median(values, rng, resamples=4000):
    """The 2.5 and 97.5 percentiles of the median of ``values`` resampled with replacement."""
    medians = sorted(statistics.median([rng.choice(values) for _value in values]) for _resample in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def summarize(runs, seed=16):
    """Per variant and metric: median, IQR, min, max; per pair and metric: paired per-round
    differences in % of the base's run, their median and bootstrap 95 % interval."""
    rng = random.Random(seed)
    out = {"variants": {}, "pairs": {}}
    for variant in VARIANTS:
        out["variants"][variant] = {}
        for metric in ("machine", "lab", "mbps"):
            values = [r[variant][metric] for r in runs]
            low, median, high = quartiles(values)
            out["variants"][variant][metric] = {"median": median, "q1": low, "q3": high, "min": min(values), "max": max(values)}
    for this, base, _name in PAIRS:
        out["pairs"][(this, base)] = {}
        for metric in ("machine", "lab", "mbps"):
            diffs = [100.0 * (r[this][metric] - r[base][metric]) / r[base][metric] for r in runs]
            low, high = bootstrap_median(diffs, rng)
            out["pairs"][(this, base)][metric] = {"median": statistics.median(diffs), "low": low, "high": high,
                                                  "min": min(diffs), "max": max(diffs), "within_noise": low <= 0 <= high}
    return out


def lines(summary, rounds):
    out = ["| variant | CPU s/GB machine: median (IQR; min-max) | CPU s/GB lab: median (IQR; min-max) | Mbit/s: median (IQR) |",
           "|---|---|---|---|"]
    for variant in VARIANTS:
        v = summary["variants"][variant]
        out.append("| %s | %.2f (%.2f-%.2f; %.2f-%.2f) | %.2f (%.2f-%.2f; %.2f-%.2f) | %.0f (%.0f-%.0f) |" % (
            variant, v["machine"]["median"], v["machine"]["q1"], v["machine"]["q3"], v["machine"]["min"], v["machine"]["max"],
            v["lab"]["median"], v["lab"]["q1"], v["lab"]["q3"], v["lab"]["min"], v["lab"]["max"],
            v["mbps"]["median"], v["mbps"]["q1"], v["mbps"]["q3"]))
    out += ["", "Paired differences (per round, in %% of the base run; median, bootstrap 95 %% interval of the median, "
            "min-max; %d rounds):" % rounds, "",
            "| difference | CPU s/GB machine | CPU s/GB lab | Mbit/s |", "|---|---|---|---|"]
    for this, base, name in PAIRS:
        p = summary["pairs"][(this, base)]
        cells = ["%+.1f %% [%+.1f, %+.1f] (%+.1f..%+.1f)%s" % (
            p[m]["median"], p[m]["low"], p[m]["high"], p[m]["min"], p[m]["max"], ", within noise" if p[m]["within_noise"] else "")
            for m in ("machine", "lab", "mbps")]
        out.append("| %s (%s vs %s) | %s |" % (name, this, base, " | ".join(cells)))
    return out


DOC_TEMPLATE = """# Benchmarks: the cost of the spreading rules and of the meter

Written by `benchmarks/overhead_bench.py` (run: `{command}`, {date}, {elapsed:.0f} s). Re-running it
overwrites this file. Summary and decision: [benchmarks.md](benchmarks.md#cost-of-the-spreading-rules-and-of-the-meter).

## Setup

- One lab for the whole run: namespaces `wgo-a` (sender, underlay {under_a}) and `wgo-b` (receiver,
  {under_b}), a veth pair, one wireguard-go tunnel (`{wggo}`, `wgo0` / `wgo1`, listen port 51820,
  MTU 1420), built from a link run through `plan.plan_tunnels()`.
- Pinned (taskset): A's wireguard-go and iperf3 client on CPU {cpu_a}, B's wireguard-go and iperf3 server
  on CPU {cpu_b}; RPS on B's veth sends every received packet to CPU {rps_cpu}, whatever its port. So the
  rules' split over CPUs plays no part: only their own cost is measured.
- Variants, swapped by reloading table `inet wgspread` on both ends (receiver first) between runs:
  `none` (no table), `rules` (`nft.spread_rules()`, spread.count auto = {cpus} ports, on both ends),
  `meter` (the same and, on B, `nft.meter_rules()`: {meter_rules} counter rules per received packet's chain){wide}.
- Each round runs the variants in a rotated order; each run is `iperf3 -c ... -P {streams} -t {seconds}`
  (TCP through the tunnel, A -> B). {rounds} rounds.
- CPU s/GB machine: busy ticks of the whole machine (/proc/stat) during the run / GB received; it
  includes every other process on the host. CPU s/GB lab: utime+stime of both wireguard-go and
  both iperf3 processes plus the machine's irq and softirq time (where B's prerouting rules, the
  fold-back and the meter, run: on the RPS CPU, charged to no process) / GB. The machine figure
  is near 2 CPUs x run time / GB whenever the host is saturated (it was: other agents' load), so
  it follows throughput; the lab figure is the one that says what the rules cost.

Machine: {cpus} x {cpu_model}, kernel {kernel}; {iperf}; {nft}.
Load average (1/5/15 min) before the run: {load_before}; after: {load_after}. The benchmark itself
keeps both CPUs busy; other agents' tests ran on the same host during the run.

## Results

{table}

Meter check: the meter counted {meter_packets} packets in the last `meter` run (it was on).

Per run (round: {variants}, CPU s/GB machine):

{per_round}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=5, help="length of each iperf3 run")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--cpu-a", type=int, default=0, help="CPU of A's wireguard-go and iperf3 client")
    parser.add_argument("--cpu-b", type=int, default=min(1, CPUS - 1), help="CPU of B's wireguard-go and iperf3 server")
    parser.add_argument("--rps-cpu", type=int, default=min(1, CPUS - 1), help="CPU of B's receive path (RPS)")
    parser.add_argument("--wide-cpus", type=int, default=0,
                        help="also run variant wide: the meter of a host with this many CPUs and ports (0: not)")
    parser.add_argument("--max-seconds", type=int, default=1200, help="hard limit for the whole run")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks-overhead.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    if args.wide_cpus:
        VARIANTS.append("wide")
        PAIRS.append(WIDE_PAIR)
    for tool in ("ip", "nft", "wg", "wireguard-go", "iperf3", "taskset"):
        if not shutil.which(tool):
            sys.exit("%s not found" % tool)

    def on_signal(signum, _frame):
        raise Timeout("timeout" if signum == signal.SIGALRM else "signal %d" % signum)
    signal.signal(signal.SIGALRM, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.alarm(args.max_seconds)
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "load_before": loadavg(),
            "command": " ".join(["benchmarks/overhead_bench.py"] + sys.argv[1:])}
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="wgo-bench-")
    lab = Lab(workdir, args)
    runs, meter_seen = [], 0
    try:
        tunnel_a, tunnel_b = lab.up()
        target = tunnel_a["peer_tunnel_ip"]
        set_variant("none", tunnel_a, tunnel_b)
        measure(lab, target, argparse.Namespace(**dict(vars(args), seconds=2)))  # warm-up, not counted
        for number in range(args.rounds):
            order = VARIANTS[number % len(VARIANTS):] + VARIANTS[:number % len(VARIANTS)]
            results = {}
            for variant in order:
                set_variant(variant, tunnel_a, tunnel_b, args.wide_cpus)
                results[variant] = measure(lab, target, args)
                if variant == "meter":
                    meter_seen = meter_packets()
            runs.append(results)
            log("round %d (%s): %s; load %s" % (number + 1, "/".join(order), ", ".join(
                "%s %.2f/%.2f s/GB %.0f Mbit/s" % (v, results[v]["machine"], results[v]["lab"], results[v]["mbps"]) for v in VARIANTS), loadavg()))
    finally:
        signal.alarm(0)
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
    meta["load_after"] = loadavg()
    meta["elapsed"] = time.time() - started
    summary = summarize(runs)
    table = lines(summary, len(runs))
    print("\n".join(table))
    print("meter packets in the last meter run: %d; load average before: %s, after: %s; %.0f s"
          % (meter_seen, meta["load_before"], meta["load_after"], meta["elapsed"]))
    if not args.no_doc:
        machine = benchkit.machine()
        tunnel_b = link_tunnels()[1]
        text = DOC_TEMPLATE.format(
            command=meta["command"], date=meta["date"], elapsed=meta["elapsed"], under_a=UNDER_A, under_b=UNDER_B,
            wggo=first_line(["wireguard-go", "--version"], 10), cpu_a=args.cpu_a, cpu_b=args.cpu_b, rps_cpu=args.rps_cpu,
            cpus=CPUS, meter_rules=len(meter_rules([tunnel_b], CPUS)), streams=args.streams, seconds=args.seconds,
            rounds=len(runs), cpu_model=machine["cpu_model"], kernel=machine["kernel"],
            iperf=first_line(["iperf3", "--version"], 10), nft=first_line(["nft", "--version"], 10),
            load_before=meta["load_before"], load_after=meta["load_after"], table="\n".join(table), meter_packets=meter_seen,
            wide=(", `wide` (the same rules and the meter chain of a host with %d CPUs and %d ports: %d rules, every "
                  "received packet runs through all of them, 4 of them count)" % (args.wide_cpus, args.wide_cpus,
                                                                                  len(wide_meter(tunnel_b, args.wide_cpus)))
                  if args.wide_cpus else ""),
            variants=" / ".join(VARIANTS),
            per_round="\n".join("- %d: %s" % (i + 1, " / ".join("%.2f" % r[v]["machine"] for v in VARIANTS))
                                for i, r in enumerate(runs)))
        with open(DOC, "w") as handle:
            handle.write(text)
        print("wrote %s" % os.path.relpath(DOC, ROOT))


if __name__ == "__main__":
    main()
