"""The metrics collector (module_utils/metrics.py, which is also the program on the gateways),
fed with outputs recorded on the lab hub (tests/unit/fixtures/metrics/README.md) and checked with
Prometheus' own promtool."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils import metrics
from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize, table_digest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "metrics")
HANDSHAKE = 1796139790  # the latest handshake in hub-wg-show-all-dump.txt
CONFIG = {
    "links": [{"link": "hub-spoke1", "interface": "wg-spoke1", "peer": "spoke1"},
              {"link": "hub-spoke2", "interface": "wg-spoke2", "peer": "spoke2"}],
    "output": "unused", "digest_file": "unused", "state_file": "unused",
    "table": {"family": "inet", "name": "wgspread"},
}


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def nft_fixture(name):
    return json.loads(fixture(name))


def digest():
    return fixture("hub-wgspread.digest").strip()


def by_key(sample_list):
    """{(name, sorted label items): value}"""
    return dict(((name, tuple(sorted(labels.items()))), value) for name, labels, value in sample_list)


def value(sample_list, name, **labels):
    return by_key(sample_list)[(name, tuple(sorted(labels.items())))]


def promtool():
    """promtool from PATH, or the one scripts/setup-host extracts into .cache/promtool."""
    found = shutil.which("promtool") or os.path.join(ROOT, ".cache", "promtool", "root", "usr", "bin", "promtool")
    assert os.access(found, os.X_OK), "promtool is missing: run scripts/setup-host (it extracts Debian's prometheus package)"
    return found


def promtool_check(text):
    result = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr


def test_wg_dump_gives_interfaces_and_peers_and_keeps_no_key():
    interfaces = metrics.parse_wg_dump(fixture("hub-wg-show-all-dump.txt"))
    assert sorted(interfaces) == ["wg-spoke1", "wg-spoke2"]
    assert interfaces["wg-spoke1"]["listen_port"] == 51820
    assert interfaces["wg-spoke2"]["peers"] == [{
        "public_key": "ZlB3BAkXeyRDuYKxAeunDRdlhKkwHodHBjWA15eojC0=", "endpoint": "[2001:db8:5102::13]:51920",
        "latest_handshake": HANDSHAKE, "rx_bytes": 154164, "tx_bytes": 154428}]
    # the recording is redacted; a real dump has the keys in fields 2 (interface) and 3 (peer)
    real = fixture("hub-wg-show-all-dump.txt").replace("(private key redacted)", "cHJpdmF0ZS1rZXktbXVzdC1uZXZlci1sZWF2ZQ==") \
        .replace("(preshared key redacted)", "cHJlc2hhcmVkLWtleS1tdXN0LW5ldmVyLWxlYXZl")
    parsed = json.dumps(metrics.parse_wg_dump(real))
    assert "cHJpdmF0ZS" not in parsed and "cHJlc2hhcmVk" not in parsed
    text = metrics.exposition(metrics.samples(CONFIG, real, {}, None, {}, HANDSHAKE)[0])
    assert "cHJpdmF0ZS" not in text and "cHJlc2hhcmVk" not in text


def test_a_peer_never_seen_has_no_endpoint_and_an_infinite_handshake_age():
    dump = "wg-x\t(private key redacted)\tKQqZNf5Oo2Q8QzdTrKZXnB0k1FQgNR5ULCvVnl8Cll8=\t51820\toff\n" \
           "wg-x\t9yf3utZvrZnIve6kzDQpw+WW81pPJToLltQdXAdm+XQ=\t(none)\t(none)\t198.18.0.1/32\t0\t0\t0\toff\n"
    config = dict(CONFIG, links=[{"link": "x-y", "interface": "wg-x", "peer": "y"}])
    sample_list = metrics.samples(config, dump, None, None, {}, 100)[0]
    assert value(sample_list, "wgspread_handshake_age_seconds", link="x-y", interface="wg-x", peer="y") == float("inf")
    assert not [s for s in sample_list if s[0] == "wgspread_peer_endpoint_info"]
    text = metrics.exposition(sample_list)
    assert 'wgspread_handshake_age_seconds{interface="wg-x",link="x-y",peer="y"} +Inf\n' in text
    assert promtool_check(text)[0] == 0


def test_a_malformed_dump_is_refused_with_its_line():
    with pytest.raises(ValueError, match="line 1: 3 fields, expected 5 or 9"):
        metrics.parse_wg_dump("wg0\tkey\t51820\n")


def test_recorded_hub_gives_every_metric_with_the_recorded_values():
    sample_list, cpus = metrics.samples(CONFIG, fixture("hub-wg-show-all-dump.txt"), nft_fixture("hub-nft-meter.json"),
                                        digest(), {}, HANDSHAKE + 10)
    spoke1 = dict(link="hub-spoke1", interface="wg-spoke1", peer="spoke1")
    assert value(sample_list, "wgspread_handshake_age_seconds", **spoke1) == 10
    assert value(sample_list, "wgspread_receive_bytes_total", **spoke1) == 154164
    assert value(sample_list, "wgspread_transmit_bytes_total", **spoke1) == 154428
    assert value(sample_list, "wgspread_peer_endpoint_info", endpoint="198.51.102.12:51820", **spoke1) == 1
    assert value(sample_list, "wgspread_port_receive_packets_total", link="hub-spoke1", port="51820") == 202
    assert value(sample_list, "wgspread_port_receive_packets_total", link="hub-spoke1", port="51821") == 202
    assert value(sample_list, "wgspread_cpu_receive_packets_total", link="hub-spoke2", cpu="1") == 203
    assert value(sample_list, "wgspread_meter_cpus", link="hub-spoke1") == 2
    assert value(sample_list, "wgspread_meter_enabled") == 1
    assert value(sample_list, "wgspread_table_present") == 1
    assert value(sample_list, "wgspread_table_in_sync") == 1
    assert value(sample_list, "wgspread_source_ok", source="digest") == 1
    # no previous run: no busiest-CPU share yet
    assert not [s for s in sample_list if s[0] == "wgspread_busiest_cpu_share"]
    assert cpus == {"hub-spoke1": {"0": 202, "1": 202}, "hub-spoke2": {"0": 203, "1": 203}}
    # every metric the collector can write appears here, except the share (next test)
    assert set(s[0] for s in sample_list) == set(name for name, _kind, _help in metrics.METRICS) - {"wgspread_busiest_cpu_share"}


def test_the_busiest_cpu_share_is_over_the_packets_since_the_previous_run():
    _samples, first = metrics.samples(CONFIG, None, nft_fixture("hub-nft-meter.json"), digest(), {}, 0)
    later, _cpus = metrics.samples(CONFIG, fixture("hub-wg-show-all-dump-later.txt"), nft_fixture("hub-nft-meter-later.json"),
                                   digest(), first, 400)
    # recorded: 202 -> 411 on CPUs 0 and 1 (hub-spoke1); 203 -> 412 and 203 -> 413 (hub-spoke2)
    assert value(later, "wgspread_busiest_cpu_share", link="hub-spoke1") == 0.5
    assert value(later, "wgspread_busiest_cpu_share", link="hub-spoke2") == pytest.approx(210 / (209 + 210.0))


def test_busiest_share_skips_links_without_history_traffic_or_with_a_reset():
    now = {"a": {"0": 30, "1": 10}, "b": {"0": 5, "1": 5}, "c": {"0": 1, "1": 1}, "d": {"0": 9}}
    before = {"a": {"0": 0, "1": 0}, "b": {"0": 5, "1": 5}, "c": {"0": 7, "1": 0}, "d": {"0": 1, "1": 1}}
    assert metrics.busiest_shares(now, before) == {"a": 0.75}


def test_without_the_meter_per_port_and_per_cpu_metrics_are_absent_and_the_table_drifted():
    table = nft_fixture("hub-nft-meter.json")
    # the same table as port_spread renders it with port_spread_meter false: no rx_per_cpu chain
    table["nftables"] = [item for item in table["nftables"]
                         if (item.get("chain") or item.get("rule") or {}).get("chain") != "rx_per_cpu"]
    sample_list = metrics.samples(CONFIG, fixture("hub-wg-show-all-dump.txt"), table, digest(), {"hub-spoke1": {"0": 1}}, 0)[0]
    names = set(s[0] for s in sample_list)
    assert not names & {"wgspread_port_receive_packets_total", "wgspread_cpu_receive_packets_total",
                        "wgspread_meter_cpus", "wgspread_busiest_cpu_share"}
    assert value(sample_list, "wgspread_meter_enabled") == 0
    assert value(sample_list, "wgspread_table_present") == 1
    assert value(sample_list, "wgspread_table_in_sync") == 0  # not the table that was loaded
    assert "wgspread_receive_bytes_total" in names
    assert promtool_check(metrics.exposition(sample_list))[0] == 0


def test_no_table_no_nft_no_wg_no_digest_each_say_so():
    sample_list = metrics.samples(CONFIG, None, {}, None, {}, 0)[0]
    assert value(sample_list, "wgspread_table_present") == 0 and value(sample_list, "wgspread_table_in_sync") == 0
    assert value(sample_list, "wgspread_source_ok", source="wg") == 0
    assert value(sample_list, "wgspread_source_ok", source="digest") == 0
    assert value(sample_list, "wgspread_source_ok", source="nft") == 1
    no_nft = metrics.samples(CONFIG, None, None, digest(), {}, 0)[0]
    assert value(no_nft, "wgspread_source_ok", source="nft") == 0
    assert not set(s[0] for s in no_nft) & {"wgspread_table_present", "wgspread_table_in_sync", "wgspread_meter_enabled"}


def test_the_digest_ignores_counters_and_handles():
    before, later = nft_fixture("hub-nft-meter.json"), nft_fixture("hub-nft-meter-later.json")
    assert before != later  # the counters grew
    assert table_digest(normalize(before)) == table_digest(normalize(later)) == digest()


def test_the_recorded_output_passes_promtool_and_has_help_and_type_once_per_metric():
    sample_list = metrics.samples(CONFIG, fixture("hub-wg-show-all-dump-later.txt"), nft_fixture("hub-nft-meter-later.json"),
                                  digest(), {"hub-spoke1": {"0": 202, "1": 202}}, HANDSHAKE + 400)[0]
    text = metrics.exposition(sample_list)
    rc, out = promtool_check(text)
    assert rc == 0 and out.strip() == "", out
    names = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    assert len(names) == len(set(names)) and all(n.startswith("wgspread_") for n, _t in names)
    assert all(n.endswith("_total") for n, kind in names if kind == "counter")
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_promtool_does_catch_what_this_test_relies_on():
    """The check above is only as good as promtool: a counter without _total is reported."""
    rc, out = promtool_check("# HELP x_bytes b\n# TYPE x_bytes counter\nx_bytes 1\n")
    assert "counter metrics should have \"_total\" suffix" in out, (rc, out)


def test_labels_are_escaped():
    text = metrics.exposition([("wgspread_meter_cpus", {"link": 'a"b\\c\nd'}, 1)])
    assert 'wgspread_meter_cpus{link="a\\"b\\\\c\\nd"} 1' in text
    with pytest.raises(ValueError, match="wgspread_nope is not in METRICS"):
        metrics.exposition([("wgspread_nope", {}, 1)])


@pytest.mark.parametrize("interval, seconds", [("15s", 15), ("30", 30), (45, 45), ("1min", 60), ("2m", 120), ("1h", 3600)])
def test_intervals(interval, seconds):
    assert metrics.interval_seconds(interval) == seconds


@pytest.mark.parametrize("interval, message", [
    ("15 sec", "not a time span"), ("fast", "not a time span"), ("0s", "want 1 s to 1 h"), ("2h", "want 1 s to 1 h"),
    (True, "not a time span"), ("-5", "not a time span"),
])
def test_bad_intervals_name_the_input(interval, message):
    with pytest.raises(ValueError, match="^metrics_interval: .*" + message):
        metrics.interval_seconds(interval)


def test_the_config_keeps_names_and_no_key():
    tunnels = [{"link": "hub-spoke1", "interface": "wg-spoke1", "peer": "spoke1", "preshared_key": "c2VjcmV0",
                "listen_port": 51820}]
    config = metrics.collector_config(tunnels, "/o.prom", "/d", "/s.json")
    assert config["links"] == [{"link": "hub-spoke1", "interface": "wg-spoke1", "peer": "spoke1"}]
    assert "c2VjcmV0" not in json.dumps(config)


def test_write_atomically_leaves_only_the_file(tmp_path):
    target = tmp_path / "textfile" / "wgspread.prom"
    metrics.write_atomically(str(target), "a 1\n")
    metrics.write_atomically(str(target), "a 2\n")
    assert target.read_text() == "a 2\n" and os.listdir(str(target.parent)) == ["wgspread.prom"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def _fake_tools(tmp_path, wg_fixture, nft_fixture_name):
    """wg and nft on a PATH of their own that print the recorded outputs, as the real tools would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    scripts = {"wg": 'test "$*" = "show all dump" && cat %s' % os.path.join(FIXTURES, wg_fixture),
               "nft": 'test "$*" = "-j list table inet wgspread" && cat %s' % os.path.join(FIXTURES, nft_fixture_name)}
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n%s\n" % body)
        path.chmod(0o755)
    return str(bin_dir)


def test_the_program_as_the_timer_runs_it_writes_the_file_then_the_share(tmp_path):
    """python3 -m ...metrics CONFIG, twice, as systemd runs it: the second run has the share."""
    config = dict(CONFIG, output=str(tmp_path / "textfile" / "wgspread.prom"), state_file=str(tmp_path / "state.json"),
                  digest_file=os.path.join(FIXTURES, "hub-wgspread.digest"))
    (tmp_path / "config.json").write_text(json.dumps(config))
    for run, (wg_file, nft_file) in enumerate([("hub-wg-show-all-dump.txt", "hub-nft-meter.json"),
                                               ("hub-wg-show-all-dump-later.txt", "hub-nft-meter-later.json")]):
        env = dict(os.environ, PATH=_fake_tools(tmp_path / str(run), wg_file, nft_file) + os.pathsep + os.environ["PATH"],
                   PYTHONPATH=os.pathsep.join(sys.path))  # where this test finds the collection
        result = subprocess.run([sys.executable, "-s", "-B", "-m", metrics.__name__, str(tmp_path / "config.json")],
                                env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    text = (tmp_path / "textfile" / "wgspread.prom").read_text()
    assert 'wgspread_busiest_cpu_share{link="hub-spoke1"} ' in text
    assert 'wgspread_port_receive_packets_total{link="hub-spoke1",port="51820"} 411' in text
    assert "wgspread_table_in_sync 1" in text
    assert json.loads((tmp_path / "state.json").read_text())["cpus"]["hub-spoke2"] == {"0": 412, "1": 413}
    assert promtool_check(text)[0] == 0
