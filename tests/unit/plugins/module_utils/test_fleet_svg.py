"""The fleet report's picture, parsed back as XML: rows, marks and shares for 3 and for 300 links."""

import xml.etree.ElementTree as ET

from ansible_collections.sitelink.wgspread.plugins.filter.fleet import FilterModule
from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet import fleet_markdown, fleet_report
from ansible_collections.sitelink.wgspread.plugins.module_utils.fleet_svg import directions, fleet_svg
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan
import fleetkit

SVG = "{http://www.w3.org/2000/svg}"


def small_report():
    plan = build_plan(fleetkit.LINKS, fleetkit.INVENTORY, fleetkit.HOSTVARS).as_dict()
    return fleet_report(fleetkit.healthy(), plan)


def ring_report(gateways, **kwargs):
    links, names, hostvars, results = fleetkit.ring(gateways, **kwargs)
    return fleet_report(results, build_plan(links, names, hostvars).as_dict())


def rows(svg):
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == SVG + "svg"
    return root, [g for g in root.iter(SVG + "g") if "row" in g.get("class", "").split()]


def shares(row):
    return [float(r.get("data-share")) for r in row.iter(SVG + "rect") if r.get("class") == "cpu"]


def test_three_gateways_one_row_per_metered_direction_the_uneven_one_marked_first():
    """hub meters both its links (80/20 over 500 packets: over 55 %; 100 packets: not judged); the
    spokes have no meter, so their directions are counted in the header, not drawn."""
    report = small_report()
    root, found = rows(fleet_svg(report))
    assert [(g.get("data-link"), g.get("data-receiver"), g.get("data-verdict")) for g in found] == [
        ("hub-spoke1", "hub", "uneven"), ("hub-spoke2", "hub", "few")]
    assert found[0].get("class") == "row miss"
    mark = [t for t in found[0].iter(SVG + "text") if t.get("class") == "mark"]
    assert [t.text for t in mark] == ["\u2717 80% > 55%"]
    assert shares(found[0]) == [0.8, 0.2]  # busiest first
    assert not [t for t in found[1].iter(SVG + "text") if t.get("class") == "mark"]
    summary = [t.text for t in root.iter(SVG + "text") if t.get("class") == "summary"]
    assert summary == ["2 link directions metered: 1 over the limit (red, first), 0 even, 1 under 200 packets (not judged)"]
    assert "2 directions without meter counts (port_spread_meter off, or no table)" in [t.text for t in root.iter(SVG + "text")]
    # even share of 2 CPUs at half the bar, the limit at 55 %
    track = [r for r in found[0].iter(SVG + "rect") if r.get("fill") == "#EEEEEE"][0]
    x, width = float(track.get("x")), float(track.get("width"))
    target = [ln for ln in found[0].iter(SVG + "line") if ln.get("class") == "target"][0]
    limit = [ln for ln in found[0].iter(SVG + "line") if ln.get("class") == "limit"][0]
    assert abs(float(target.get("x1")) - (x + width / 2)) < 0.1 and abs(float(limit.get("x1")) - (x + width * 0.55)) < 0.1


def test_the_ports_bar_splits_each_port_by_the_cpus_it_landed_on():
    report = small_report()
    _root, found = rows(fleet_svg(report))
    ports = [(int(r.get("data-port")), float(r.get("width"))) for r in found[0].iter(SVG + "rect") if r.get("class") == "port"]
    track = [float(r.get("width")) for r in found[0].iter(SVG + "rect") if r.get("fill") == "#EEEEEE"][0]
    # hub-spoke1 at hub: port 51820 300 on cpu0, 0 on cpu1; port 51821 100 / 100; of 500
    assert [p for p, _w in ports] == [51820, 51820, 51821, 51821]
    assert [round(w / track, 3) for _p, w in ports] == [0.6, 0.0, 0.2, 0.2]


def test_300_links_every_direction_a_row_in_columns_the_misses_first():
    report = ring_report(300, fail_every=50)
    svg = fleet_svg(report)
    root, found = rows(svg)
    assert len(found) == 600
    verdicts = [g.get("data-verdict") for g in found]
    misses = verdicts.count("uneven")
    uneven_warned = sum(1 for w in report["warnings"] if "busiest core" in w)
    assert misses == uneven_warned == 600 // 37
    assert verdicts[:misses] == ["uneven"] * misses and "uneven" not in verdicts[misses:]
    assert len([g for g in found if g.get("class") == "row miss"]) == misses
    assert len([t for t in root.iter(SVG + "text") if t.get("class") == "mark"]) == misses
    for row in found:
        assert abs(sum(shares(row)) - 1.0) < 1e-4
        assert shares(row) == sorted(shares(row), reverse=True)
    # columns: the rows are in 4 columns of 150, and the picture is no taller than 150 rows
    xs = sorted(set(float(r.get("x")) for g in found for r in g.iter(SVG + "rect") if r.get("fill") == "#EEEEEE"))
    assert len(xs) == 4
    assert int(root.get("height")) < 150 * 17 + 200
    # the links that fail on their ports come right after the misses
    failing = set(e["link"] for e in report["links"] if e["status"] == "fail")
    assert len(failing) == 6
    after = [g.get("data-link") for g in found[misses:]]
    assert set(after[:len([g for g in found[misses:] if g.get("data-link") in failing])]) <= failing


def test_three_links_one_column_with_cpu_labels_and_even_rows_unmarked():
    report = ring_report(3)
    root, found = rows(fleet_svg(report))
    assert len(found) == 6 and all(g.get("data-verdict") == "even" for g in found)
    assert not [t for t in root.iter(SVG + "text") if t.get("class") == "mark"]
    assert any((t.text or "").startswith("cpu") and "%" in t.text for g in found for t in g.iter(SVG + "text"))


def test_labels_are_escaped():
    report = small_report()
    report["links"][0]["link"] = "a<b>&\"c'"
    for g in report["gateways"]:
        if "hub-spoke1" in g["meter"]:
            g["meter"]["a<b>&\"c'"] = g["meter"].pop("hub-spoke1")
    _root, found = rows(fleet_svg(report))
    assert found[0].get("data-link") == "a<b>&\"c'"
    assert "a<b>&\"c'" in "".join(found[0].find(SVG + "title").itertext())


def test_no_meter_at_all_says_how_to_get_one():
    report = small_report()
    for g in report["gateways"]:
        g["meter"] = {}
    root, found = rows(fleet_svg(report))
    assert found == [] and directions(report) == []
    assert any("port_spread_meter: true" in (t.text or "") for t in root.iter(SVG + "text"))


def test_filter_and_markdown_show_the_picture():
    report = small_report()
    filters = FilterModule().filters()
    assert filters["fleet_svg"](report) == fleet_svg(report)
    assert "![Received packets per link direction over CPUs and ports](report.svg)" in fleet_markdown(report, picture="report.svg")
    assert "![" not in fleet_markdown(report)
