"""docs/monitoring.md and docs/grafana-wgspread.json against the collector's own list of metrics
(module_utils/metrics.py METRICS): nothing queried that the collector does not write, nothing
written that the docs do not list."""

import json
import os
import re

from ansible_collections.sitelink.wgspread.plugins.module_utils.metrics import METRICS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = set(name for name, _kind, _help in METRICS)
METRIC_RE = re.compile(r"\bwgspread_[a-z_]+\b")


def read(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return handle.read()


def expressions(value):
    """Every PromQL expression in the dashboard: targets' expr and template queries."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("expr", "definition") and isinstance(item, str):
                yield item
            elif key == "query" and isinstance(item, str) and item != "prometheus":
                yield item
            else:
                yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


def test_the_dashboard_parses_and_queries_only_metrics_the_collector_writes():
    dashboard = json.loads(read("docs", "grafana-wgspread.json"))
    exprs = list(expressions(dashboard))
    assert len(exprs) >= 10 and all(p.get("targets") for p in dashboard["panels"])
    used = set(name for expr in exprs for name in METRIC_RE.findall(expr))
    assert used and used <= NAMES, used - NAMES
    # every panel's data source is the dashboard's variable
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


def test_the_docs_list_every_metric_and_name_no_other():
    text = read("docs", "monitoring.md")
    table = dict(re.findall(r"^\| `(wgspread_[a-z_]+)` \| ([a-z]+)", text, re.M))
    assert set(table) == NAMES
    assert all(table[name] == kind for name, kind, _help in METRICS)
    assert set(METRIC_RE.findall(text)) <= NAMES, set(METRIC_RE.findall(text)) - NAMES


def test_the_alerts_in_the_docs_use_existing_metrics():
    rules = re.search(r"```yaml\ngroups:\n(.*?)```", read("docs", "monitoring.md"), re.S).group(1)
    exprs = re.findall(r"expr: (.*)", rules)
    assert len(exprs) == 4
    assert all(METRIC_RE.findall(expr) and set(METRIC_RE.findall(expr)) <= NAMES for expr in exprs)


def test_promtool_accepts_the_alert_rules(tmp_path):
    import shutil
    import subprocess
    promtool = shutil.which("promtool") or os.path.join(ROOT, ".cache", "promtool", "root", "usr", "bin", "promtool")
    assert os.access(promtool, os.X_OK), "promtool is missing: run scripts/setup-host"
    rules = re.search(r"```yaml\n(groups:\n.*?)```", read("docs", "monitoring.md"), re.S).group(1)
    (tmp_path / "rules.yml").write_text(rules)
    result = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "SUCCESS: 4 rules found" in result.stdout, result.stdout + result.stderr
