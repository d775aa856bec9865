# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure CPU logic: cpu lists, the kernel's cpumask text, /proc/interrupts, which queue IRQ
goes to which CPU, RPS/XPS masks, and the irqbalance drop-in.

Nothing here touches the host; the modules read /proc and /sys through the Host seam.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

IRQBALANCE_DROPIN = "/etc/systemd/system/irqbalance.service.d/wgspread-banirq.conf"
IRQBALANCE_MARKER = "# Managed by sitelink.wgspread"
# Names of a device's IRQs that serve no queue (virtio config, mlx5 async, ena management...).
NON_QUEUE_RE = re.compile(r"config|async|mgmnt|mgmt|misc|ctrl|aenq|lsc|other", re.IGNORECASE)
# The queue number ends the name before "@" (what follows is the PCI address: its function number,
# "...00.0", is no queue; recorded: mlx5_pages_eq@pci:0000:01:00.0 and mlx5_cmd_eq@pci:... of old kernels).
QUEUE_INDEX_RE = re.compile(r"[-_.][A-Za-z]*(\d+)$")


def parse_cpulist(text):
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11]. Empty text is no CPU."""
    cpus = set()
    for part in (text or "").strip().split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            first, last = part.split("-", 1)
            cpus.update(range(int(first), int(last) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def format_cpulist(cpus):
    """[0, 1, 2, 3, 8] -> '0-3,8' (the form of smp_affinity_list)."""
    cpus = sorted(set(cpus))
    ranges = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in ranges)


def format_mask(cpus, nr_cpus):
    """The cpumask as the kernel prints it for ``nr_cpus`` possible CPUs: hex in comma-separated
    32-bit groups, the first group only as wide as needed (2 CPUs: '3'; 96 CPUs:
    'ffffffff,ffffffff,ffffffff')."""
    if nr_cpus < 1:
        raise ValueError("nr_cpus must be at least 1")
    if cpus and max(cpus) >= nr_cpus:
        raise ValueError("CPU %d is not below the %d possible CPUs" % (max(cpus), nr_cpus))
    value = 0
    for cpu in cpus:
        value |= 1 << cpu
    groups = []
    chunk = nr_cpus % 32 or 32
    for start in range(((nr_cpus + 31) // 32 - 1) * 32, -1, -32):
        groups.append("%0*x" % ((chunk + 3) // 4, (value >> start) & ((1 << chunk) - 1)))
        chunk = 32
    return ",".join(groups)


def parse_mask(text):
    """Kernel cpumask text ('ff,00000001', '0', '00000000,00000000') -> sorted CPU list."""
    compact = (text or "").strip().replace(",", "")
    if not compact:
        return []
    if not re.match(r"^[0-9a-fA-F]+$", compact):
        raise ValueError("not a cpumask: %r" % text)
    value = int(compact, 16)
    return [bit for bit in range(value.bit_length()) if value >> bit & 1]


def possible_count(possible_text):
    """/sys/devices/system/cpu/possible ('0-127') -> nr_cpu_ids (128): the width of every mask."""
    cpus = parse_cpulist(possible_text)
    if not cpus:
        raise ValueError("no possible CPUs in %r" % possible_text)
    return max(cpus) + 1


def parse_interrupts(text):
    """/proc/interrupts -> {irq: {"name": action, "counts": [per CPU]}} for numbered IRQs only."""
    lines = text.splitlines()
    if not lines:
        return {}
    ncpus = len(lines[0].split())
    irqs = {}
    for line in lines[1:]:
        match = re.match(r"^\s*(\d+):\s+(.*)$", line)
        if not match:
            continue
        fields = match.group(2).split()
        counts = [int(f) for f in fields[:ncpus] if f.isdigit()]
        rest = fields[len(counts):]
        irqs[int(match.group(1))] = {"name": rest[-1] if rest else "", "counts": counts}
    return irqs


def queue_index(name):
    """The queue number in an IRQ's action name, or None for IRQs that serve no queue.

    'virtio6-input.3' -> 3, 'eth0-TxRx-3' -> 3, 'mlx5_comp3@pci:0000:81:00.0' -> 3,
    'virtio6-config' -> None, 'mlx5_async0@pci:...' -> None, 'mlx5_cmd_eq@pci:...' -> None, 'eth0' -> None.
    """
    base = name.split("@", 1)[0]
    if NON_QUEUE_RE.search(base):
        return None
    match = QUEUE_INDEX_RE.search(base)
    return int(match.group(1)) if match else None


def queue_irqs(msi_irqs, interrupts):
    """[(irq, queue, name)] of the device's queue IRQs, by queue then IRQ number.

    ``msi_irqs``: the IRQ numbers listed in the device's msi_irqs directory;
    ``interrupts``: parse_interrupts() of /proc/interrupts.
    """
    found = []
    for irq in sorted(msi_irqs):
        entry = interrupts.get(irq)
        if entry is None:
            continue
        queue = queue_index(entry["name"])
        if queue is not None:
            found.append((irq, queue, entry["name"]))
    return sorted(found, key=lambda item: (item[1], item[0]))


def cpu_order(online, local=None, exclude=(), numa="prefer"):
    """CPUs to hand out, in order: the NIC's NUMA node first (``numa=prefer``), only the node
    (``only``) or all online CPUs by number (``ignore``); never an excluded CPU."""
    exclude = set(exclude)
    online = [c for c in sorted(online) if c not in exclude]
    local = [c for c in sorted(local or []) if c in online]
    if numa == "ignore" or not local:
        if numa == "only" and not local:
            raise ValueError("numa=only but the NIC's NUMA node has no usable CPU")
        return online
    if numa == "only":
        return local
    return local + [c for c in online if c not in local]


def assign_irqs(queues, order):
    """One queue per CPU: queue N's IRQs go to order[N % len(order)]. -> {irq: cpu}."""
    if not order:
        raise ValueError("no CPU left to assign IRQs to (all excluded?)")
    numbers = sorted(set(queue for _irq, queue, _name in queues))
    slot = dict((queue, order[i % len(order)]) for i, queue in enumerate(numbers))
    return dict((irq, slot[queue]) for irq, queue, _name in queues)


def spread(cpus, parts):
    """Split the CPU list into ``parts`` groups round-robin (queue i gets every parts-th CPU)."""
    return [[cpu for n, cpu in enumerate(cpus) if n % parts == i] for i in range(parts)]


def roundup_pow2(value):
    """rps_flow_cnt and rps_sock_flow_entries as the kernel stores them (0 stays 0)."""
    if value <= 0:
        return 0
    power = 1
    while power < value:
        power <<= 1
    return power


def irqbalance_dropin(irqs):
    """systemd drop-in that starts irqbalance with --banirq for each pinned IRQ.

    ExecStart is replaced (keeping $IRQBALANCE_ARGS from the distribution's environment file)
    because an Environment= line would lose against EnvironmentFile=.
    """
    bans = " ".join("--banirq=%d" % irq for irq in sorted(irqs))
    return ("%s. Local edits are overwritten.\n"
            "# IRQs pinned by sitelink.wgspread.irq_affinity; irqbalance must leave them alone.\n"
            "[Service]\n"
            "ExecStart=\n"
            "ExecStart=/usr/sbin/irqbalance --foreground $IRQBALANCE_ARGS %s\n" % (IRQBALANCE_MARKER, bans))


def parse_systemctl_show(text):
    """``systemctl show -p LoadState -p ActiveState -p UnitFileState UNIT`` -> dict."""
    result = {}
    for line in text.splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            result[name.strip()] = value.strip()
    return result
