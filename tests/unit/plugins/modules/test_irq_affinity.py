"""irq_affinity against a fake /proc and /sys in a temporary directory (never the real /proc/irq)."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.cpus import IRQBALANCE_DROPIN
from ansible_collections.sitelink.wgspread.plugins.module_utils.host import Host
from ansible_collections.sitelink.wgspread.plugins.modules import irq_affinity
from ansible_collections.sitelink.wgspread.plugins.module_utils.nic_irq import Affinity
from ethtool_fixtures import text
from fakehost import ReplayModule, run_module
from sysroot import put

SHOW = ("systemctl", "show", "-p", "LoadState", "-p", "ActiveState", "-p", "UnitFileState", "irqbalance.service")
RUNNING = "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
ABSENT = "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n"


def virtio_tree(root):
    """The recorded KVM guest: eth1 is virtio6 below PCI 0000:07:00.0, 8 CPUs, no NUMA."""
    pci = "/sys/devices/pci0000:00/0000:00:02.6/0000:07:00.0"
    for irq in range(52, 61):
        put(root, "%s/msi_irqs/%d" % (pci, irq), "msix\n")
        put(root, "/proc/irq/%d/smp_affinity_list" % irq, {53: "0-3\n", 55: "4-7\n"}.get(irq, "0-7\n"))
    put(root, pci + "/numa_node", "-1\n")
    os.makedirs(os.path.join(str(root), (pci + "/virtio6/net").lstrip("/")))
    put(root, "/sys/class/net/eth1/ifindex", "3\n")
    os.symlink(os.path.join(str(root), pci.lstrip("/"), "virtio6"), os.path.join(str(root), "sys/class/net/eth1/device"))
    put(root, "/sys/devices/system/cpu/online", "0-7\n")
    put(root, "/proc/interrupts", text("virtio_net/interrupts"))


def pci_nic_tree(root, dev, device, irqs, msi, numa_node, interrupts):
    """A 4-CPU host (0-3) with the PCI NIC ``device`` at ``dev``: its ``irqs`` (MSI kind ``msi``)
    all on CPUs 0-3, its NUMA node, and the recorded /proc/interrupts ``interrupts``."""
    for irq in irqs:
        put(root, "%s/msi_irqs/%d" % (dev, irq), msi + "\n")
        put(root, "/proc/irq/%d/smp_affinity_list" % irq, "0-3\n")
    put(root, dev + "/numa_node", numa_node + "\n")
    put(root, "/sys/class/net/%s/ifindex" % device, "4\n")
    os.symlink(os.path.join(str(root), dev.lstrip("/")), os.path.join(str(root), "sys/class/net/%s/device" % device))
    put(root, "/sys/devices/system/cpu/online", "0-3\n")
    put(root, "/proc/interrupts", text(interrupts))


def mlx5_tree(root):
    """mlx5 (IRQ names as mlx5 names them) on NUMA node 1 = CPUs 2-3 of 0-3."""
    pci_nic_tree(root, "/sys/devices/pci0000:80/0000:81:00.0", "ens1f0np0", range(98, 103), "msix", "1", "mlx5/interrupts")
    put(root, "/sys/devices/system/node/node1/cpulist", "2-3\n")


def mlx5_old_names_tree(root):
    """The recorded 4-CPU host: its first mlx5 function owns IRQs 27-33 (3 EQs, 4 completion queues)."""
    pci_nic_tree(root, "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0", "eth2", range(27, 34), "msi", "-1",
                 "mlx5/interrupts-old-eq-names-4cpu")


def params(**changes):
    p = dict(device="eth1", cpus=None, exclude_cpus=[], numa="prefer", irqbalance="ban", on_unsupported="warn")
    p.update(changes)
    return p


def host(root, show=RUNNING, extra=None):
    commands = {SHOW: show, ("systemctl", "daemon-reload"): "", ("systemctl", "try-restart", "irqbalance.service"): "",
                ("systemctl", "disable", "--now", "irqbalance.service"): ""}
    commands.update(extra or {})
    return Host(ReplayModule(commands), root=str(root))


def affinity(root, irq):
    with open(os.path.join(str(root), "proc/irq/%d/smp_affinity_list" % irq)) as handle:
        return handle.read().strip()


def test_virtio_queue_pairs_one_per_cpu_and_irqbalance_banned(tmp_path):
    virtio_tree(tmp_path)
    h = host(tmp_path)
    pin = Affinity(h, params())
    plan = pin.plan()
    assert [(e["irq"], e["queue"], e["cpu"]) for e in plan["mapping"]] == [
        (53, 0, 0), (54, 0, 0), (55, 1, 1), (56, 1, 1), (57, 2, 2), (58, 2, 2), (59, 3, 3), (60, 3, 3)]
    assert "irq 53 (virtio6-input.0): 0-3 -> 0" in plan["changes"]
    assert plan["numa_node"] is None
    pin.apply(plan)
    assert [affinity(tmp_path, irq) for irq in range(53, 61)] == ["0", "0", "1", "1", "2", "2", "3", "3"]
    assert affinity(tmp_path, 52) == "0-7"  # virtio6-config is no queue: untouched
    dropin = (tmp_path / IRQBALANCE_DROPIN.lstrip("/")).read_text()
    assert "--banirq=53 --banirq=54 --banirq=55 --banirq=56 --banirq=57 --banirq=58 --banirq=59 --banirq=60" in dropin
    calls = h.module.calls
    assert calls.index(("systemctl", "daemon-reload")) < calls.index(("systemctl", "try-restart", "irqbalance.service"))
    # Second run: nothing to do.
    assert Affinity(host(tmp_path), params()).plan()["changes"] == []


# (what, params, expected {irq: cpu})
POLICIES = [
    ("numa node first", params(device="ens1f0np0"), {99: 2, 100: 3, 101: 0, 102: 1}),
    ("numa node only", params(device="ens1f0np0", numa="only"), {99: 2, 100: 3, 101: 2, 102: 3}),
    ("exclude", params(device="ens1f0np0", exclude_cpus=[2]), {99: 3, 100: 0, 101: 1, 102: 3}),
    ("ignore numa", params(device="ens1f0np0", numa="ignore"), {99: 0, 100: 1, 101: 2, 102: 3}),
]


@pytest.mark.parametrize("p, expected", [x[1:] for x in POLICIES], ids=[x[0] for x in POLICIES])
def test_policies_on_mlx5(tmp_path, p, expected):
    mlx5_tree(tmp_path)
    plan = Affinity(host(tmp_path, show=ABSENT), p).plan()
    assert dict((e["irq"], e["cpu"]) for e in plan["mapping"]) == expected  # mlx5_async0 (98) is no queue
    assert plan["irqbalance"]["action"] == "none"


def test_old_mlx5_eq_names_are_no_queues(tmp_path):
    mlx5_old_names_tree(tmp_path)
    plan = Affinity(host(tmp_path, show=ABSENT), params(device="eth2")).plan()
    # mlx5_pages_eq (27), mlx5_cmd_eq (28) and mlx5_async_eq (29) are left alone
    assert [(e["irq"], e["queue"], e["cpu"]) for e in plan["mapping"]] == [(30, 0, 0), (31, 1, 1), (32, 2, 2), (33, 3, 3)]


def test_check_mode_writes_nothing(tmp_path, capsys):
    virtio_tree(tmp_path)
    h = host(tmp_path)
    result = run_module(irq_affinity, params(), h, check_mode=True, diff=True, capsys=capsys)
    assert result["changed"] is True
    assert affinity(tmp_path, 53) == "0-3" and not (tmp_path / IRQBALANCE_DROPIN.lstrip("/")).exists()
    assert h.module.calls == [SHOW]
    assert "53 virtio6-input.0: 0-3\n" in result["diff"][0]["before"] and "53 virtio6-input.0: 0\n" in result["diff"][0]["after"]
    assert "--banirq=53" in result["diff"][1]["after"]


@pytest.mark.parametrize("mode, calls, warned", [
    ("stop", [("systemctl", "disable", "--now", "irqbalance.service")], False),
    ("ignore", [], True),
])
def test_irqbalance_options(tmp_path, capsys, mode, calls, warned):
    virtio_tree(tmp_path)
    h = host(tmp_path)
    result = run_module(irq_affinity, params(irqbalance=mode), h, capsys=capsys)
    assert [c for c in h.module.calls if c != SHOW] == calls
    assert any("irqbalance" in w for w in result["warnings"]) is warned
    assert not (tmp_path / IRQBALANCE_DROPIN.lstrip("/")).exists()
    assert affinity(tmp_path, 59) == "3"


@pytest.mark.parametrize("mode, failed", [("warn", False), ("skip", False), ("fail", True)])
def test_device_without_queue_irqs_is_unsupported(tmp_path, capsys, mode, failed):
    put(tmp_path, "/sys/class/net/veth0/ifindex", "9\n")
    put(tmp_path, "/sys/devices/system/cpu/online", "0-7\n")
    put(tmp_path, "/proc/interrupts", text("virtio_net/interrupts"))
    result = run_module(irq_affinity, params(device="veth0", on_unsupported=mode), host(tmp_path), capsys=capsys)
    assert result.get("failed", False) is failed and result["unsupported"] is True
    assert "no MSI/MSI-X queue IRQs" in result["unsupported_reason"]
    assert bool(result["warnings"]) is (mode == "warn")


def test_irq_the_kernel_refuses_is_reported_not_a_crash(tmp_path, capsys):
    virtio_tree(tmp_path)
    h = host(tmp_path, show=ABSENT)
    write = h.syswrite

    def syswrite(path, value):
        if path == "/proc/irq/57/smp_affinity_list":
            raise OSError(5, "Input/output error")  # what the kernel answers for a managed IRQ
        write(path, value)

    h.syswrite = syswrite
    result = run_module(irq_affinity, params(irqbalance="ignore"), h, capsys=capsys)
    assert result["unsupported"] is True and "irq 57 (virtio6-input.2): the kernel refused" in result["unsupported_reason"]
    assert not any(c.startswith("irq 57 ") for c in result["changes"]) and "irq 59 (virtio6-input.3): 0-7 -> 3" in result["changes"]
    assert affinity(tmp_path, 59) == "3"


def test_missing_device_fails(tmp_path, capsys):
    put(tmp_path, "/sys/devices/system/cpu/online", "0-7\n")
    result = run_module(irq_affinity, params(device="nope0"), host(tmp_path), capsys=capsys)
    assert result["failed"] is True and "no network device nope0" in result["msg"]
