"""The metrics role on the lab: Debian's prometheus-node-exporter installed in the gateways,
site.yml with the metrics role and the meter on, /metrics scraped from the host over the lab
network while a ping runs through a tunnel, checked with promtool; then a no-op run, a hand
edit of the table seen as drift, and the role's removal (which leaves the lab as the inventory
describes it, without the collector, for the tests after this one).

Cost: 3 site.yml runs (install with apt of node_exporter, no-op, removal) and about 20 s of
pings and scrapes. On a quiet 2-core host a site.yml run of the lab takes 40-100 s (97 s with the
apt install, 41 s after), so about 3-4 minutes; measured under a load average of 20-45 (other
labs running): install 310-358 s, no-op 468 s, removal 175 s, scrape test 12-24 s. The figures
are printed (pytest -s)."""

import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from labkit import INVENTORY, Pinger, TUNNEL_PINGS, lab_links, playbook, sh

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERVAL = 2  # seconds between two collector runs in this test (the default is 15)
METRICS = ["-e", "port_spread_meter=true", "-e", "metrics_enabled=true", "-e", "metrics_install_node_exporter=true",
           "-e", "metrics_interval=%ds" % INTERVAL]
SAMPLE = re.compile(r'^(wgspread_\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def underlay(gateway):
    with open(os.path.join(INVENTORY, "hosts.yml")) as handle:
        return yaml.safe_load(handle)["all"]["children"]["gateways"]["hosts"][gateway]["ansible_host"]


def scrape(gateway):
    """node_exporter's /metrics on the gateway, fetched from the host over the lab network."""
    with urllib.request.urlopen("http://%s:9100/metrics" % underlay(gateway), timeout=10) as response:
        return response.read().decode()


def parse(text):
    """{(name, frozenset of label items): value} of the wgspread_ samples of a scrape."""
    out = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(LABEL.findall(match.group(2) or ""))
            out[(match.group(1), labels)] = float(match.group(3))
    return out


def pick(samples, name, **labels):
    """The samples of ``name`` whose labels include ``labels``: {other labels: value}."""
    wanted = set(labels.items())
    return dict((frozenset(dict(k[1]).items() - wanted), v) for k, v in samples.items()
                if k[0] == name and wanted <= set(k[1]))


def one(samples, name, **labels):
    found = pick(samples, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return list(found.values())[0]


def fresh_scrape(gateway, after):
    """(samples, text) of a scrape written by a collector run after ``after`` (Unix time, gateway clock)."""
    deadline = time.time() + 10 * INTERVAL + 10
    while time.time() < deadline:
        text = scrape(gateway)
        samples = parse(text)
        stamp = pick(samples, "wgspread_collector_timestamp_seconds")
        if stamp and list(stamp.values())[0] > after:
            return samples, text
        time.sleep(0.5)
    raise AssertionError("%s: no collector run after %s within %d s" % (gateway, after, 10 * INTERVAL + 10))


def gateway_time(gateway):
    return float(sh(gateway, "date +%s.%N"))


def promtool():
    found = shutil.which("promtool") or os.path.join(ROOT, ".cache", "promtool", "root", "usr", "bin", "promtool")
    assert os.access(found, os.X_OK), "promtool is missing: run scripts/setup-host"
    return found


@pytest.fixture(scope="module")
def metrics_on(lab):
    started = time.time()
    run = playbook("site.yml", INVENTORY, *METRICS)
    assert run.rc == 0, run.out[-3000:]
    print("site.yml with metrics (node_exporter installed with apt): %.0f s" % (time.time() - started))
    yield
    started = time.time()
    run = playbook("site.yml", INVENTORY, "-e", "metrics_state=absent")
    print("site.yml with metrics_state=absent: %.0f s" % (time.time() - started))
    assert run.rc == 0, run.out[-3000:]
    for gateway in ("hub", "spoke1", "spoke2"):
        assert sh(gateway, "ls /usr/local/lib/wgspread-metrics /etc/wgspread/metrics.json "
                           "/etc/systemd/system/wgspread-metrics.timer /var/lib/prometheus/node-exporter/wgspread.prom "
                           "2>/dev/null; true").strip() == ""
        assert sh(gateway, "systemctl is-active wgspread-metrics.timer", check=False).strip() != "active"
        # node_exporter stays: the role never removes what it did not own
        assert sh(gateway, "systemctl is-active prometheus-node-exporter").strip() == "active"


def test_a_second_run_changes_nothing(metrics_on):
    started = time.time()
    run = playbook("site.yml", INVENTORY, *METRICS)
    print("no-op site.yml with metrics: %.0f s" % (time.time() - started))
    assert run.rc == 0 and run.changed() == 0, run.recap


def test_scraped_metrics_follow_a_ping_through_the_tunnel(metrics_on, tmp_path):
    sender, hub_tunnel_ip = TUNNEL_PINGS["hub-spoke1"]
    pinger = Pinger(sender, hub_tunnel_ip, count=3000)  # 30 s at 10 ms
    try:
        time.sleep(1)
        first, _text = fresh_scrape("hub", gateway_time("hub"))
        time.sleep(3 * INTERVAL)
        second, second_text = fresh_scrape("hub", one(first, "wgspread_collector_timestamp_seconds") + 2 * INTERVAL)
    finally:
        pinger.stop()
    sent, received, _silence = pinger.result()
    assert received > 0.95 * sent, (sent, received)

    link = dict(link="hub-spoke1", interface="wg-spoke1", peer="spoke1")
    for name in ("wgspread_receive_bytes_total", "wgspread_transmit_bytes_total"):
        assert one(second, name, **link) > one(first, name, **link), name
    assert one(second, "wgspread_handshake_age_seconds", **link) < 180  # WireGuard rekeys within 2 min
    (endpoint_labels,) = pick(second, "wgspread_peer_endpoint_info", **link)
    listen_port = [entry for entry in lab_links() if entry["name"] == "hub-spoke1"][0]["listen_port"]
    assert dict(endpoint_labels)["endpoint"] == "%s:%d" % (underlay("spoke1"), listen_port)

    ports = dict((dict(k)["port"], v - one(first, "wgspread_port_receive_packets_total", link="hub-spoke1", **dict(k)))
                 for k, v in pick(second, "wgspread_port_receive_packets_total", link="hub-spoke1").items())
    cpus = dict((dict(k)["cpu"], v) for k, v in pick(second, "wgspread_cpu_receive_packets_total", link="hub-spoke1").items())
    share = one(second, "wgspread_busiest_cpu_share", link="hub-spoke1")
    print("hub-spoke1 between two scrapes: packets per receive port %s; per CPU (total) %s; busiest CPU share %.3f"
          % (ports, cpus, share))
    assert len(ports) == 2 and min(ports.values()) > 20, ports  # a 10 ms ping for about 3 intervals
    assert max(ports.values()) - min(ports.values()) <= max(3, 0.02 * max(ports.values())), ports  # round robin
    cpu_count = one(second, "wgspread_meter_cpus", link="hub-spoke1")
    assert len(cpus) == cpu_count and 1 / cpu_count <= share <= 1
    assert one(second, "wgspread_table_in_sync") == 1 and one(second, "wgspread_meter_enabled") == 1
    assert all(v == 1 for v in pick(second, "wgspread_source_ok").values())
    textfile_errors = re.search(r"^node_textfile_scrape_error (\S+)$", second_text, re.M)
    assert textfile_errors and float(textfile_errors.group(1)) == 0, "node_exporter could not read wgspread.prom"

    # promtool on what node_exporter served and on the file itself
    served = "\n".join(line for line in second_text.splitlines() if re.match(r"^(# (HELP|TYPE) )?wgspread_", line)) + "\n"
    written = sh("hub", "cat /var/lib/prometheus/node-exporter/wgspread.prom")
    for text in (served, written):
        result = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_a_hand_edit_of_the_table_shows_as_drift(metrics_on):
    sh("spoke2", "nft add rule inet wgspread output udp dport 9 counter")
    samples, _text = fresh_scrape("spoke2", gateway_time("spoke2"))
    assert one(samples, "wgspread_table_in_sync") == 0 and one(samples, "wgspread_table_present") == 1
    assert one(parse(scrape("hub")), "wgspread_table_in_sync") == 1
