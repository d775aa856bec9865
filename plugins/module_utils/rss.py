# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which receive queue (or CPU) a spread port lands on, and a choice of ports that lands evenly.

Port spreading sends one tunnel over N destination ports round robin, so each port carries
1/N of the packets. The receiver's core for a port is fixed by its receive hash:

- Hardware RSS: Toeplitz hash of (source IP, destination IP, source port, destination port),
  each in network byte order, with the NIC's key; the queue is
  ``indirection_table[hash % len(table)]`` (``ethtool -x`` prints both). Drivers and NICs
  index the table with the hash's low bits, ``hash & (size - 1)``, and every table size
  seen in practice is a power of two, where that is the same as ``hash % size``; for any
  other size ``%`` is this module's assumption. The NIC must hash UDP on ports
  (``ethtool -N DEV rx-flow-hash udp4 sdfn``), else use the 2-tuple (IP-only) variant,
  where all ports of one peer land on one queue and no choice of ports helps.
- Software RPS: a jhash of the same fields with a random per-boot seed, then
  ``rps_map[(hash * len(rps_map)) >> 32]``. It cannot be computed offline: measure it
  (per (port, CPU) counters, nft ``meta cpu``) and choose with choose_ports_from_counts().

Choosing: with N ports spread round robin, a core's share of the tunnel is the number of
its ports / N. So the choice gives every queue (or CPU) the same number of ports, or as
close as the candidates allow, preferring candidates in the order given (low ports, next
to the listen port, when the candidates are ``range(listen_port, ...)``). Everything is
deterministic: the same inputs give the same ports on both ends of a link.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.sitelink.wgspread.plugins.module_utils.ethtool import normalize_key

# The key of Microsoft's RSS specification, also many drivers' default (ixgbe, i40e before
# random keys, DPDK's default_rss_key); used by the published verification vectors.
MICROSOFT_KEY = bytes(bytearray.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"))


# ---------------------------------------------------------------- Toeplitz hash

def key_bytes(key):
    """An RSS key as bytes: bytes, a list of byte values, or hex (``6d:5a:...`` as ethtool prints it, or ``6d5a...``)."""
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if isinstance(key, str):
        return bytes(bytearray.fromhex(normalize_key(key).replace(":", "")))
    if isinstance(key, (list, tuple)):
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in key):
            raise ValueError("an RSS key given as a list must hold byte values 0-255")
        return bytes(bytearray(key))
    raise ValueError("an RSS key must be bytes, hex text or a list of bytes, got %s" % type(key).__name__)


def toeplitz_hash(key, data):
    """The 32-bit Toeplitz hash of ``data`` (bytes) with ``key``, as RSS hardware computes it.

    For every set bit of the input, left to right (most significant bit of the first byte
    first), the result is XORed with the 32 key bits that start at that bit's position.
    The key must be at least 4 bytes longer than the input (40 bytes cover IPv6 with ports).
    """
    key = key_bytes(key)
    data = bytes(bytearray(data))
    key_bits = len(key) * 8
    if key_bits < len(data) * 8 + 32:
        raise ValueError("an RSS key of %d bytes is too short for %d input bytes (needs %d)"
                         % (len(key), len(data), len(data) + 4))
    key_int = int.from_bytes(key, "big")
    result = 0
    for index, byte in enumerate(bytearray(data)):
        for bit in range(8):
            if byte & (0x80 >> bit):
                position = index * 8 + bit
                result ^= (key_int >> (key_bits - 32 - position)) & 0xFFFFFFFF
    return result


def hash_input(src_ip, dst_ip, src_port=None, dst_port=None):
    """RSS input bytes: source IP, destination IP[, source port, destination port], network byte order.

    Without ports: the 2-tuple (IP-only) input that NICs use for UDP unless told to hash ports.
    """
    src, dst = ipaddress.ip_address(str(src_ip)), ipaddress.ip_address(str(dst_ip))
    if src.version != dst.version:
        raise ValueError("source %s and destination %s mix IPv4 and IPv6" % (src, dst))
    data = src.packed + dst.packed
    if src_port is None and dst_port is None:
        return data
    if src_port is None or dst_port is None:
        raise ValueError("give both ports (4-tuple) or neither (2-tuple)")
    for port in (src_port, dst_port):
        if not 0 <= int(port) <= 65535:
            raise ValueError("port %r is not 0-65535" % (port,))
    return data + int(src_port).to_bytes(2, "big") + int(dst_port).to_bytes(2, "big")


def rss_hash(key, src_ip, dst_ip, src_port=None, dst_port=None):
    """Toeplitz hash of an IPv4/IPv6 packet's 4-tuple (UDP/TCP), or of its 2-tuple without ports."""
    return toeplitz_hash(key, hash_input(src_ip, dst_ip, src_port, dst_port))


def queue_of(hash_value, table):
    """Receive queue of a hash: ``table[hash % len(table)]`` (= ``hash & (len - 1)`` for power-of-two tables)."""
    if not table:
        raise ValueError("the RSS indirection table is empty (ethtool -x printed none?)")
    return table[hash_value % len(table)]


def port_queues(src_ip, dst_ip, src_port, key, table, ports):
    """{destination port: receive queue} for packets src_ip:src_port -> dst_ip:port."""
    key = key_bytes(key)
    return dict((port, queue_of(rss_hash(key, src_ip, dst_ip, src_port, port), table)) for port in ports)


def from_rxfh(rxfh):
    """(key bytes, indirection table) from ethtool.parse_rxfh(``ethtool -x DEV``).

    Refuses what cannot be predicted: no key or table reported, or a hash function other
    than Toeplitz switched on (old ethtool prints no hash function: Toeplitz is assumed).
    """
    if not rxfh.get("table"):
        raise ValueError("ethtool -x reported no RSS indirection table")
    if not rxfh.get("key"):
        raise ValueError("ethtool -x reported no RSS hash key")
    active = [name for name, state in (rxfh.get("hfuncs") or {}).items() if state]
    if active and active != ["toeplitz"]:
        raise ValueError("the RSS hash function is %s, not toeplitz: measure instead (choose_ports_from_counts)"
                         % ", ".join(active))
    return key_bytes(rxfh["key"]), list(rxfh["table"])


# ---------------------------------------------------------------- choosing ports

def _balance(groups, order, targets, count_per_target=None, n_ports=None):
    """Pick ports from ``groups`` ({target: [ports]}) evenly over ``targets``; ``order``: all ports, preferred first.

    ``count_per_target``: every target that has candidates gets the same number of ports, that
    number or fewer when some target has fewer candidates (even beats more ports: a core's
    share is its ports / all ports). ``n_ports``: exactly that many ports, filling the target
    with the fewest ports first (ties: the target whose next candidate comes first).
    """
    if (count_per_target is None) == (n_ports is None):
        raise ValueError("give either a count per queue/CPU or a total number of ports")
    targets = sorted(set(targets))
    rank = dict((port, index) for index, port in enumerate(order))
    available = dict((t, sorted(groups.get(t, []), key=lambda p: rank[p])) for t in targets)
    reachable = [t for t in targets if available[t]]
    if not reachable:
        raise ValueError("no candidate port lands on any of the queues/CPUs %s" % targets)
    chosen = dict((t, []) for t in targets)
    if count_per_target is not None:
        if count_per_target < 1:
            raise ValueError("the count of ports per queue/CPU must be at least 1, got %d" % count_per_target)
        take = min([count_per_target] + [len(available[t]) for t in reachable])
        for target in reachable:
            chosen[target] = available[target][:take]
    else:
        total = sum(len(available[t]) for t in targets)
        if n_ports < 1:
            raise ValueError("the number of ports must be at least 1, got %d" % n_ports)
        if n_ports > total:
            raise ValueError("%d ports wanted but only %d candidates land on a known queue/CPU" % (n_ports, total))
        for _round in range(n_ports):
            target = min((t for t in reachable if len(chosen[t]) < len(available[t])),
                         key=lambda t: (len(chosen[t]), rank[available[t][len(chosen[t])]]))
            chosen[target].append(available[target][len(chosen[target])])
    ports = sorted(p for t in targets for p in chosen[t])
    counts = [len(chosen[t]) for t in targets]
    return {
        "ports": ports,
        "by_target": dict((t, sorted(chosen[t])) for t in targets),
        "missing": [t for t in targets if not chosen[t]],
        "even": len(set(counts)) == 1,
        "busiest_share": max(counts) / float(len(ports)),
    }


def _cpu_of_queue(queue_to_cpu, queue):
    try:
        return queue_to_cpu[queue]
    except (KeyError, IndexError):
        raise ValueError("queue %s has no CPU in queue_to_cpu" % queue) from None


def plan_ports(src_ip, dst_ip, src_port, key, table, candidates, count_per_queue=None, n_ports=None,
               queue_to_cpu=None):
    """choose_ports() with the details: {ports, by_target, missing, even, busiest_share}.

    Targets are the queues the indirection table uses, or their CPUs when ``queue_to_cpu``
    ({queue: cpu} or a list indexed by queue) is given: queues sharing a CPU then count as one.
    """
    seen, ordered = set(), []
    for port in candidates:
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError("candidate port %d is not 1-65535" % port)
        if port not in seen:
            seen.add(port)
            ordered.append(port)
    queues = port_queues(src_ip, dst_ip, src_port, key, table, ordered)
    target = (lambda q: q) if queue_to_cpu is None else (lambda q: _cpu_of_queue(queue_to_cpu, q))
    targets = set(target(q) for q in table)
    groups = {}
    for port in ordered:
        groups.setdefault(target(queues[port]), []).append(port)
    return _balance(groups, ordered, targets, count_per_queue, n_ports)


def choose_ports(src_ip, dst_ip, src_port, key, table, candidates, count_per_queue=None, n_ports=None,
                 queue_to_cpu=None):
    """Destination ports (sorted) for a tunnel from src_ip:src_port to dst_ip, even over the receive queues.

    ``key`` and ``table`` are the receiver's ``ethtool -x`` RSS key and indirection table (see
    ethtool.parse_rxfh); ``candidates`` the ports allowed, in order of preference. Give either
    ``count_per_queue`` (each queue, or CPU with ``queue_to_cpu``, gets that many ports, or as
    many as the queue with the fewest candidates can have) or ``n_ports`` (that many ports,
    spread as evenly as possible). Queues no candidate reaches get none: widen the candidates.
    """
    return plan_ports(src_ip, dst_ip, src_port, key, table, candidates, count_per_queue, n_ports,
                      queue_to_cpu)["ports"]


# ---------------------------------------------------------------- choosing from measured counters

def port_cpus(counts, min_share=0.9, min_packets=1):
    """{port: cpu} from measured {(port, cpu): packets}: each port's CPU, where it is clear.

    A flow's packets all go to one CPU (RSS and RPS hash per flow), so a port whose packets
    are split (less than ``min_share`` on its busiest CPU, e.g. the RPS map changed during the
    measurement) or that saw fewer than ``min_packets`` packets is left out.
    """
    per_port = {}
    for (port, cpu), packets in counts.items():
        if packets < 0:
            raise ValueError("negative packet count for port %s cpu %s" % (port, cpu))
        per_port.setdefault(int(port), {})
        per_port[int(port)][int(cpu)] = per_port[int(port)].get(int(cpu), 0) + packets
    out = {}
    for port in sorted(per_port):
        cpus = per_port[port]
        total = sum(cpus.values())
        if total < max(min_packets, 1):
            continue
        cpu = min(cpus, key=lambda c: (-cpus[c], c))
        if cpus[cpu] >= min_share * total:
            out[port] = cpu
    return out


def plan_ports_from_counts(counts, n_cpus, ports_per_cpu=None, n_ports=None, min_share=0.9, min_packets=1):
    """choose_ports_from_counts() with the details: {ports, by_target, missing, even, busiest_share, port_cpu}."""
    cpus = list(range(n_cpus)) if isinstance(n_cpus, int) else sorted(set(int(c) for c in n_cpus))
    if not cpus:
        raise ValueError("no CPUs to spread over")
    mapping = port_cpus(counts, min_share, min_packets)
    outside = sorted(set(c for c in mapping.values() if c not in cpus))
    if outside:
        raise ValueError("measured packets on CPU(s) %s outside the receive CPUs %s"
                         % (", ".join(map(str, outside)), cpus))
    groups = {}
    for port in sorted(mapping):
        groups.setdefault(mapping[port], []).append(port)
    plan = _balance(groups, sorted(mapping), cpus, ports_per_cpu, n_ports)
    plan["port_cpu"] = mapping
    return plan


def choose_ports_from_counts(counts, n_cpus, ports_per_cpu, min_share=0.9, min_packets=1):
    """Ports (sorted) giving each CPU ``ports_per_cpu`` ports, from measured {(port, cpu): packets}.

    ``n_cpus``: the number of receive CPUs (0..n-1), or the list of their ids. Lower ports are
    preferred. When a CPU got fewer candidate ports than asked, every CPU gets that fewer
    (the split stays even); CPUs no candidate reached get none (plan_ports_from_counts lists
    them as missing): probe more candidate ports.
    """
    return plan_ports_from_counts(counts, n_cpus, ports_per_cpu, None, min_share, min_packets)["ports"]
