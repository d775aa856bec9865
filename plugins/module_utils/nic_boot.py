# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to replay at boot: each NIC module says what it set (``replay`` in its result), and
boot_script() turns the replays of a run into the script the nic_tuning role installs.

A replay is a list of commands, each a list of strings:
  ["run", ARGV...]          run a command (ethtool), logging a failure
  ["put", VALUE, PATH]      write VALUE to a /proc or /sys file
  ["pin", IRQ_NAME, CPU]    pin the IRQ of that name (numbers change across boots) to CPU
Only what the driver and kernel took is replayed: a step it refused has no replay.

Pure: no Ansible, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shlex

KINDS = ("combined", "rx", "tx")
# The order the role runs the steps in, which the boot script keeps: queues first (they make
# the IRQs and sysfs queues the later steps set), then what spreads over them.
STEPS = ("channels", "rss", "flow_hash", "irq", "rps_xps", "gro")


def channels(device, result):
    counts = []
    for kind in KINDS:
        if result["maximum"].get(kind) and result["channels"].get(kind) is not None:
            counts += [kind, str(result["channels"][kind])]
    return [["run", "ethtool", "-L", device] + counts] if counts else []


def rss(device, result, params):
    if not result.get("indirection_table"):
        return []
    if params.get("weights"):
        args = ["weight"] + [str(w) for w in params["weights"]]
    else:
        args = ["equal", str(params["equal"] if params.get("equal") is not None else result["rings"])]
    if params.get("hfunc") is not None:
        args += ["hfunc", params["hfunc"]]
    if params.get("hash_key") is not None:
        args += ["hkey", result["hash_key"]]
    return [["run", "ethtool", "-X", device] + args]


def flow_hash(device, result):
    return [["run", "ethtool", "-N", device, "rx-flow-hash", flow_type, fields]
            for flow_type, fields in sorted((result.get("fields") or {}).items()) if fields]


def irq(result):
    return [["pin", entry["name"], str(entry["cpu"])] for entry in result.get("mapping") or [] if entry.get("cpu") is not None]


def rps_xps(device, result, params):
    refused = result.get("unsupported_reason") or ""
    out = []
    for queue in result.get("queues") or []:
        if queue["file"] + ":" in refused:
            continue
        out.append(["put", queue["mask"], "/sys/class/net/%s/queues/%s" % (device, queue["file"])])
        if queue["file"].endswith("/rps_cpus"):
            flows = (params.get("rps_flow_cnt") or 0) if result.get("rps_enabled") else 0
            out.append(["put", str(flows), "/sys/class/net/%s/queues/%s/rps_flow_cnt" % (device, queue["file"].split("/")[0])])
    return out


def features(device, result):
    return [["run", "ethtool", "-K", device, name, "on" if on else "off"]
            for name, on in sorted((result.get("features") or {}).items())]


def napi(result):
    """{device: replay} of napi_threaded, which sets several devices in one call."""
    return dict((device, [["put", str(value), "/sys/class/net/%s/threaded" % device]])
                for device, value in sorted((result.get("threaded") or {}).items()) if value is not None)


# ---------------------------------------------------------------- the boot script

HEADER = r"""# Only what the driver and kernel took at that run is here. Every step is tried; devices
# that are not there are skipped; the exit status is 1 when a step failed.
set -u
failed=0

log() { echo "wgspread-nic-tuning: $*"; }

run() {
    if ! out=$("$@" 2>&1); then
        log "failed: $* ($out)"
        failed=1
    fi
}

put() {  # put VALUE FILE
    if ! { printf '%s\n' "$1" >"$2"; } 2>/dev/null; then
        log "failed: $1 > $2"
        failed=1
    fi
}

# shellcheck disable=SC2317  # unused where no device has queue IRQs (virtual NICs)
pin() {  # pin IRQ-NAME CPU: IRQ numbers change across reboots, names do not
    irq=$(awk -v name="$1" '$NF == name { sub(":", "", $1); print $1; exit }' /proc/interrupts)
    if [ -z "$irq" ]; then
        log "no IRQ named $1"
        failed=1
        return
    fi
    put "$2" "/proc/irq/$irq/smp_affinity_list"
}

present() {  # present DEVICE
    [ -e "/sys/class/net/$1" ] && return 0
    log "$1: not present, skipped"
    return 1
}
"""


def _line(command):
    return " ".join(shlex.quote(word) for word in [command[0]] + list(command[1:]))


def replays_by_device(step_results):
    """{device: [commands]} from the registered loop results of the NIC steps ({step: result},
    step as in STEPS), in step order; skipped and failed items are left out."""
    out = {}
    for step in STEPS:
        for item in (step_results.get(step) or {}).get("results") or []:
            if item.get("skipped") or item.get("failed"):
                continue
            out.setdefault(item["item"], []).extend(item.get("replay") or [])
    return out


def boot_script(devices, step_results, napi_result=None, rps_sock_flow_entries=None):
    """The script after its first lines (the shebang, the managed-by line and which unit runs it).

    ``devices``: the underlay devices, in order; ``step_results``: {step: registered loop};
    ``napi_result``: the registered napi_threaded result; ``rps_sock_flow_entries``: the
    global RFS table size, written when set (None: left alone).
    """
    lines = [HEADER.rstrip("\n")]
    replays = replays_by_device(step_results)
    for device in devices:
        lines += ["", "# %s" % device, "if present %s; then" % shlex.quote(device)]
        # An empty then-branch is a syntax error in sh: say so instead.
        lines += ["    " + _line(command) for command in replays.get(device, [])] or ["    :  # nothing that the driver took"]
        lines.append("fi")
    if rps_sock_flow_entries is not None:
        lines += ["", _line(["put", str(rps_sock_flow_entries), "/proc/sys/net/core/rps_sock_flow_entries"])]
    threaded = (napi_result or {}).get("replay") or {}
    for index, device in enumerate(sorted(threaded)):
        if index == 0:
            lines += ["", "# Threaded NAPI of kernel WireGuard interfaces as decided for this kernel (0: off, CVE-2026-52945)"]
        lines.append("if present %s; then" % shlex.quote(device))
        lines += ["    " + _line(command) for command in threaded[device]]
        lines.append("fi")
    lines += ["", 'exit "$failed"']
    return "\n".join(lines) + "\n"


def boot_script_of_steps(step_results, devices, napi_result=None, rps_sock_flow_entries=None):
    """boot_script() with the step results first: ``{step: registered} | nic_boot_script(devices, ...)``."""
    return boot_script(devices, step_results, napi_result, rps_sock_flow_entries)
