"""What the benchmarks share: the collection under its real name, and facts about the machine.

Not a benchmark. ``python benchmarks/X.py`` puts benchmarks/ first on sys.path, so the benchmarks
``import benchkit`` wherever they are started from.
"""

import os
import platform
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")


def link_collection():
    """Link this checkout into COLLECTIONS as ansible_collections/sitelink/wgspread, as
    tests/conftest.py and scripts/test do, and return COLLECTIONS (for sys.path or
    ANSIBLE_COLLECTIONS_PATH)."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "sitelink", "wgspread")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(ROOT, os.path.dirname(link)), link)
    return COLLECTIONS


def first_line(argv, timeout):
    """The first line a command prints on stdout, stripped; "unknown" when it cannot run,
    times out or prints nothing. For version strings."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine():
    """The kernel release and the CPU model ("?" when /proc/cpuinfo names none)."""
    with open("/proc/cpuinfo") as handle:
        cpu_model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "?")
    return {"kernel": platform.release(), "cpu_model": cpu_model}


def loadavg():
    """The 1, 5 and 15 minute load averages, as /proc/loadavg prints them."""
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


class Timeout(Exception):
    """A benchmark's own deadline (SIGALRM) or a signal ended it."""


def log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def run(argv, ns=None, stdin=None, timeout=30, check=True):
    """stdout of ``argv``, in network namespace ``ns`` if given; a failure raises with its stderr."""
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (" ".join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def remove_namespaces(namespaces, sockets):
    """Kill what runs in these network namespaces, delete them, and remove these wireguard-go
    sockets (paths): a benchmark's own leftovers, nothing else."""
    for ns in namespaces:
        if subprocess.run(["ip", "netns", "pids", ns], capture_output=True, check=False).returncode == 0:
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    for sock in sockets:
        if os.path.exists(sock):
            os.unlink(sock)
