"""Calibrated ports in the lab: with RPS over both CPUs on every gateway's lab interface (set
by site.yml's nic_tuning), port_spread_calibrate picks ports that land one per CPU, records
them on the receivers, both ends use them, later runs keep them, and traffic splits evenly
over the CPUs."""

import json

import pytest

from labkit import GATEWAYS, INVENTORY, playbook, sh
from test_lab_spreading import PINGS, meter, per_cpu, per_port, ping

FACTS = "/etc/ansible/facts.d/wgspread.fact"


@pytest.fixture(scope="module")
def calibrated(lab):
    try:
        first = playbook("site.yml", INVENTORY, "-e", "port_spread_calibrate=always")
        yield first
    finally:
        for gateway in GATEWAYS:
            sh(gateway, "rm -f %s" % FACTS)
        assert playbook("site.yml").rc == 0


def recorded(gateway):
    return json.loads(sh(gateway, "cat " + FACTS))["calibrated"]


def test_calibration_records_one_port_per_cpu_on_every_receiver(calibrated):
    assert calibrated.rc == 0, calibrated.out[-4000:]
    for gateway in GATEWAYS:  # the run's nic_tuning keeps RPS over both CPUs on the lab interface
        assert sh(gateway, "cat /sys/class/net/eth0/queues/rx-0/rps_cpus").strip().lstrip("0,") == "3", gateway
    for gateway, links in (("hub", ["hub-spoke1", "hub-spoke2"]), ("spoke1", ["hub-spoke1"]), ("spoke2", ["hub-spoke2"])):
        record = recorded(gateway)
        assert sorted(record) == links
        for link in links:
            assert len(record[link]["ports"]) == 2 and record[link]["shares"] == {"0": 0.5, "1": 0.5}, record[link]


def test_both_ends_use_the_recorded_ports_and_a_second_run_keeps_them(calibrated):
    spoke1_ports = recorded("spoke1")["hub-spoke1"]["ports"]
    table = sh("hub", "nft list chain inet wgspread output")
    assert "map { 0 : %d, 1 : %d }" % tuple(spoke1_ports) in table, table
    assert "udp dport { %d, %d }" % tuple(spoke1_ports) in sh("spoke1", "nft list chain inet wgspread prerouting")
    again = playbook("site.yml")
    assert again.rc == 0 and again.changed() == 0, again.recap


@pytest.mark.parametrize("sender, receiver, address, link", [("hub", "spoke1", "198.18.0.1", "hub-spoke1"),
                                                             ("spoke2", "hub", "198.18.0.2", "hub-spoke2")])
def test_calibrated_traffic_splits_evenly_over_the_receive_cpus(calibrated, sender, receiver, address, link):
    ports = recorded(receiver)[link]["ports"]
    with meter(receiver, sender, ports) as read:
        sent, received = ping(sender, address)
        counts = read()
    print("%s %s->%s calibrated ports %s: per port %s, per cpu %s" % (link, sender, receiver, ports, per_port(counts), per_cpu(counts)))
    assert received == sent == PINGS
    assert max(per_cpu(counts).values()) <= (0.5 + 0.03) * sum(per_cpu(counts).values()), per_cpu(counts)


def test_validate_reports_no_uneven_core_after_calibration(calibrated, tmp_path):
    run = playbook("validate.yml", INVENTORY, "-e", "validate_report_dir=%s" % tmp_path)
    assert run.rc == 0, run.out[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] and report["warnings"] == [], report["warnings"]
