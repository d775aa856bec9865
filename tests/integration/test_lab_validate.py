"""validate.yml against the lab: in sync after site.yml, a hand-made edit caught and named
on exactly that gateway and link, in sync again after site.yml."""

import json
import re
import xml.etree.ElementTree as ET

from labkit import INVENTORY, playbook, sh

# spoke1 now folds back 51820 and 51822, while hub keeps sending to 51820 and 51821
HAND_EDIT = ('nft replace rule inet wgspread prerouting handle {handle} ip saddr 198.51.100.11 '
             'udp dport {{ 51820, 51822 }} notrack udp dport set 51820 comment \\"hub-spoke1: fold back from hub\\"')


def validate(tmp_path, *args):
    run = playbook("validate.yml", INVENTORY, "-e", "validate_report_dir=%s" % tmp_path, *args)
    report = json.loads((tmp_path / "report.json").read_text()) if (tmp_path / "report.json").exists() else None
    return run, report


def by_name(report, kind, key):
    return dict((entry[key], entry) for entry in report[kind])


def test_validate_after_rollout_finds_everything_in_sync_and_idempotent(rolled_out, tmp_path):
    run, report = validate(tmp_path)
    assert run.rc == 0, run.out[-3000:]
    assert run.changed() == 0
    assert report["passed"] and report["summary"]["links_passed"] == 2
    for gateway in by_name(report, "gateways", "gateway").values():
        assert gateway["in_sync"] and gateway["idempotent"] and gateway["drift_count"] == 0, gateway
    assert (tmp_path / "report.md").read_text().count("hub-spoke") >= 2
    # The lab has the meter on: the picture has a row for each link direction, and report.md shows it.
    assert "](report.svg)" in (tmp_path / "report.md").read_text()
    rows = [g for g in ET.parse(tmp_path / "report.svg").getroot().iter("{http://www.w3.org/2000/svg}g")
            if "row" in g.get("class", "").split()]
    assert sorted((g.get("data-link"), g.get("data-receiver")) for g in rows) == [
        ("hub-spoke1", "hub"), ("hub-spoke1", "spoke1"), ("hub-spoke2", "hub"), ("hub-spoke2", "spoke2")]
    assert re.search(r"hub\s+ok\s+2/2 ok\s+yes\s+0\s+yes", run.out), run.out[-2000:]


def test_hand_edit_is_reported_on_that_gateway_and_link_then_repaired(rolled_out, tmp_path):
    listing = sh("spoke1", "nft -a list chain inet wgspread prerouting")
    handle = re.search(r'fold back from hub" # handle (\d+)', listing).group(1)
    sh("spoke1", HAND_EDIT.format(handle=handle))

    run, report = validate(tmp_path / "drift")
    assert run.rc != 0
    gateways, links = by_name(report, "gateways", "gateway"), by_name(report, "links", "link")
    assert not gateways["spoke1"]["in_sync"] and gateways["spoke1"]["drift_count"] >= 1
    assert any("51822" in line for line in gateways["spoke1"]["drift"]), gateways["spoke1"]["drift"]
    assert gateways["hub"]["in_sync"] and gateways["spoke2"]["in_sync"]
    assert links["hub-spoke1"]["status"] == "fail" and links["hub-spoke2"]["status"] == "pass"
    assert any("51821" in problem for problem in links["hub-spoke1"]["problems"]), links["hub-spoke1"]["problems"]

    repair = playbook("site.yml")
    assert repair.rc == 0 and repair.recap["spoke1"]["changed"] >= 1 and repair.recap["hub"]["changed"] == 0, repair.recap
    run, report = validate(tmp_path / "repaired")
    assert run.rc == 0 and report["passed"], run.out[-3000:]


def test_limit_checks_pairs_inside_the_run_and_names_the_others(rolled_out, tmp_path):
    run, report = validate(tmp_path, "--limit", "hub,spoke1")
    assert run.rc == 0, run.out[-3000:]
    links = by_name(report, "links", "link")
    assert links["hub-spoke1"]["status"] == "pass"
    assert [entry["link"] if isinstance(entry, dict) else entry for entry in report["unchecked_links"]] == ["hub-spoke2"]
