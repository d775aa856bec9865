"""Faults in the lab: a gateway that cannot be reached, and a table nft refuses."""

import copy
import json
import subprocess

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import normalize
from labkit import INVENTORY, adhoc, container, lab_links, links_vars, playbook, sh, wait_booted


def test_an_unreachable_gateway_leaves_the_others_converged_and_is_named(rolled_out, tmp_path):
    links = copy.deepcopy(lab_links())
    links[0]["persistent_keepalive"] = 15  # hub-spoke1: both ends are reachable
    subprocess.run(["podman", "stop", "-t", "10", container("spoke2")], check=True, capture_output=True)
    try:
        run = playbook("site.yml", INVENTORY, *links_vars(tmp_path, links))
        assert run.rc != 0 and run.recap["spoke2"]["unreachable"] == 1, run.recap
        assert run.recap["hub"]["failed"] == 0 and run.recap["spoke1"]["failed"] == 0, run.out[-3000:]
        words = " ".join(run.out.split())  # the callback folds long messages
        assert "Links left half-configured, an end not in this run (unreachable, failed or --limit): " \
               "hub-spoke2 (missing spoke2)" in words, run.out[-3000:]
        assert sh("hub", "wg show wg-spoke1 persistent-keepalive").split()[-1] == "15"
        assert sh("spoke1", "wg show wg-hub persistent-keepalive").split()[-1] == "15"

        check = playbook("validate.yml", INVENTORY, "-e", "validate_report_dir=%s" % tmp_path, *links_vars(tmp_path, links))
        assert check.rc != 0
        report = json.loads((tmp_path / "report.json").read_text())
        assert [u["link"] for u in report["unchecked_links"]] == ["hub-spoke2"], report["unchecked_links"]
        assert [e["status"] for e in report["links"] if e["link"] == "hub-spoke1"] == ["pass"]
    finally:
        subprocess.run(["podman", "start", container("spoke2")], check=True, capture_output=True)
        wait_booted("spoke2")
    # back with both ends: everything converges, and the tunnel to spoke2 works again
    run = playbook("site.yml")
    assert run.rc == 0, run.out[-3000:]
    assert "Every link had both ends in this run." in run.out
    assert " 0% packet loss" in sh("hub", "ping -q -c 5 -i 0.2 -W 2 198.18.0.3")


def test_a_table_nft_refuses_leaves_the_live_one_in_force(rolled_out):
    before = normalize(json.loads(sh("hub", "nft -j list table inet wgspread")))
    broken = "table inet wgspread {\n chain output {\n  type filter hook output priority raw;\n  udp dport 51820 bogus\n }\n}\n"
    run = adhoc("hub", "sitelink.wgspread.nft_table", {"content": broken, "name": "wgspread"})
    assert run.rc != 0
    assert "Error: syntax error" in run.out or "Error: Could not process rule" in run.out, run.out
    assert normalize(json.loads(sh("hub", "nft -j list table inet wgspread"))) == before
    assert " 0% packet loss" in sh("hub", "ping -q -c 5 -i 0.2 -W 2 198.18.0.1")
