"""CPU lists, kernel cpumask text (incl. > 64 CPUs), /proc/interrupts and the IRQ policy."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import (
    assign_irqs, cpu_order, format_cpulist, format_mask, irqbalance_dropin, parse_cpulist, parse_interrupts, parse_mask,
    possible_count, queue_index, queue_irqs, roundup_pow2, spread,
)
from ethtool_fixtures import text


@pytest.mark.parametrize("text, cpus", [("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]), ("5", [5]), ("", []), ("0-1\n", [0, 1])])
def test_cpulist_round_trip(text, cpus):
    assert parse_cpulist(text) == cpus
    assert format_cpulist(cpus) == text.strip()


# (cpus, possible CPUs, the kernel's text)
MASKS = [
    ([], 2, "0"),
    ([0, 1], 2, "3"),
    ([0, 1, 2, 3, 4, 5, 6, 7], 8, "ff"),
    ([0], 32, "00000001"),
    (list(range(36)), 36, "f,ffffffff"),
    ([0, 32], 64, "00000001,00000001"),
    (list(range(96)), 96, "ffffffff,ffffffff,ffffffff"),
    ([95], 96, "80000000,00000000,00000000"),
    (list(range(64, 128)), 128, "ffffffff,ffffffff,00000000,00000000"),
    ([], 128, "00000000,00000000,00000000,00000000"),
    ([1, 70, 200], 256, "00000000,00000100,00000000,00000000,00000000,00000040,00000000,00000002"),
]


@pytest.mark.parametrize("cpus, nr, text", MASKS, ids=["%d cpus of %d" % (len(m[0]), m[1]) for m in MASKS])
def test_masks_as_the_kernel_prints_them(cpus, nr, text):
    assert format_mask(cpus, nr) == text
    assert parse_mask(text) == cpus


def test_mask_refuses_cpu_beyond_possible():
    with pytest.raises(ValueError, match="not below the 8 possible"):
        format_mask([8], 8)


@pytest.mark.parametrize("text, nr", [("0-127", 128), ("0-95\n", 96), ("0", 1)])
def test_possible_count(text, nr):
    assert possible_count(text) == nr


@pytest.mark.parametrize("name, queue", [
    ("virtio6-input.3", 3), ("virtio6-output.0", 0), ("virtio6-config", None),
    ("eth0-TxRx-7", 7), ("eth0", None), ("i40e-eth0-TxRx-12", 12), ("i40e-0000:3b:00.0:misc", None),
    ("mlx5_comp3@pci:0000:81:00.0", 3), ("mlx5_async0@pci:0000:81:00.0", None),
    ("ena-mgmnt@pci:0000:00:05.0", None), ("eth0-Tx-Rx-5", 5),
    # names from the recorded mlx5 interrupts (fixtures/ethtool/mlx5/interrupts-*)
    ("mlx5_comp11@pci:0000:01:00.0", 11), ("mlx5_comp0@pci:0000:01:00.1", 0), ("mlx5_async0@pci:0000:01:00.1", None),
    ("mlx5_async_eq@pci:0000:01:00.0", None),
    # the PCI function after "@" is no queue number
    ("mlx5_pages_eq@pci:0000:01:00.0", None), ("mlx5_cmd_eq@pci:0000:01:00.1", None),
])
def test_queue_index(name, queue):
    assert queue_index(name) == queue


def test_recorded_mlx5_irq_names_give_the_queue_of_each_pci_function():
    """A ConnectX-5's grep of /proc/interrupts (no CPU header line): two PCI functions interleaved, and
    mlx5_comp1 is not the IRQ after mlx5_comp0 (the second function's IRQs sit in between)."""
    by_function = {}
    for line in text("mlx5/interrupts-grep-mlx-connectx5-12cpu").splitlines():
        irq, rest = line.split(":", 1)
        name = rest.split()[-1]
        assert len(rest.split()) == 12 + 3  # 12 CPUs, chip, hwirq-edge, name
        queue = queue_index(name)
        if queue is not None:
            by_function.setdefault(name.split("@pci:")[1], {})[queue] = int(irq)
    assert by_function == {
        "0000:01:00.0": dict([(0, 99)] + [(queue, 108 + queue) for queue in range(1, 12)]),
        "0000:01:00.1": {0: 102},
    }


def test_parse_recorded_mlx5_interrupts_with_the_old_eq_names():
    """A 4-CPU host's /proc/interrupts from a kernel that named mlx5's EQs mlx5_{pages,cmd,async}_eq."""
    irqs = parse_interrupts(text("mlx5/interrupts-old-eq-names-4cpu"))
    assert set(range(27, 42)) <= set(irqs)
    assert irqs[31] == {"name": "mlx5_comp1@pci:0000:01:00.0", "counts": [120112828, 5482507, 0, 0]}
    assert [irqs[irq]["name"].split("@")[0] for irq in range(27, 31)] == [
        "mlx5_pages_eq", "mlx5_cmd_eq", "mlx5_async_eq", "mlx5_comp0"]
    # the function's IRQs: 27-29 are EQs of no queue, 30-33 its four completion queues
    queues = queue_irqs(range(27, 34), irqs)
    assert [(irq, queue) for irq, queue, _name in queues] == [(30, 0), (31, 1), (32, 2), (33, 3)]


def test_parse_recorded_virtio_interrupts():
    irqs = parse_interrupts(text("virtio_net/interrupts"))
    assert sorted(irqs) == list(range(52, 61))
    assert irqs[53] == {"name": "virtio6-input.0", "counts": [7159429, 0, 1, 0, 0, 0, 0, 0]}
    queues = queue_irqs(range(52, 61), irqs)
    assert [(irq, queue) for irq, queue, _name in queues] == [(53, 0), (54, 0), (55, 1), (56, 1), (57, 2), (58, 2), (59, 3), (60, 3)]


# (what, online, local, exclude, numa, expected order)
ORDERS = [
    ("prefer local node", range(8), [4, 5, 6, 7], [], "prefer", [4, 5, 6, 7, 0, 1, 2, 3]),
    ("only local node", range(8), [4, 5, 6, 7], [], "only", [4, 5, 6, 7]),
    ("ignore numa", range(8), [4, 5, 6, 7], [], "ignore", list(range(8))),
    ("exclude", range(8), [0, 1, 2, 3], [0, 2], "prefer", [1, 3, 4, 5, 6, 7]),
    ("no numa info", range(4), [], [], "prefer", [0, 1, 2, 3]),
]


@pytest.mark.parametrize("online, local, exclude, numa, order", [o[1:] for o in ORDERS], ids=[o[0] for o in ORDERS])
def test_cpu_order(online, local, exclude, numa, order):
    assert cpu_order(online, local, exclude, numa) == order


def test_numa_only_without_local_cpus_is_refused():
    with pytest.raises(ValueError, match="numa=only"):
        cpu_order(range(4), [4, 5], [], "only")


def test_one_queue_per_cpu_and_wrap_around():
    queues = [(53, 0, "i0"), (54, 0, "o0"), (55, 1, "i1"), (56, 1, "o1"), (57, 2, "i2"), (59, 3, "i3")]
    assert assign_irqs(queues, [6, 7, 0]) == {53: 6, 54: 6, 55: 7, 56: 7, 57: 0, 59: 6}
    with pytest.raises(ValueError, match="no CPU left"):
        assign_irqs(queues, [])


@pytest.mark.parametrize("cpus, parts, groups", [
    (list(range(8)), 2, [[0, 2, 4, 6], [1, 3, 5, 7]]),
    (list(range(4)), 1, [[0, 1, 2, 3]]),
    ([0, 1], 4, [[0], [1], [], []]),
])
def test_spread(cpus, parts, groups):
    assert spread(cpus, parts) == groups


@pytest.mark.parametrize("value, stored", [(0, 0), (1, 1), (3, 4), (4096, 4096), (5000, 8192)])
def test_roundup_pow2(value, stored):
    assert roundup_pow2(value) == stored


def test_irqbalance_dropin_bans_each_irq_and_keeps_distribution_args():
    text = irqbalance_dropin([55, 53])
    assert text.startswith("# Managed by sitelink.wgspread")
    assert "ExecStart=\nExecStart=/usr/sbin/irqbalance --foreground $IRQBALANCE_ARGS --banirq=53 --banirq=55\n" in text
