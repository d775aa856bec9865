"""docs/bad-input.md as data, and one row run through the checks site.yml makes.

Both the unit gate (tests/unit/test_bad_input_table.py: every row, no host) and the lab
test (tests/integration/test_lab_bad_input.py: the rows marked ``lab``, a real site.yml run
on the three gateways) read the table through table_rows() here.

A row's change (docs/bad-input.md, "How to read"): ``LINK: {...}`` sets fields of a lab
link (``~`` removes one), ``+ {...}`` adds a link, ``-e {...}`` passes extra variables,
``host HOST: {...}`` sets host variables, ``facts HOST: {...}`` changes the recorded facts
of HOST, ``+host HOST: {...}`` adds an inventory host outside the gateways group; several
changes are separated by `` ; ``.
"""

import copy
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "docs", "bad-input.md")
INVENTORY = os.path.join(ROOT, "lab", "inventory")
FACTS = os.path.join(ROOT, "tests", "unit", "fixtures", "lab", "facts.yml")
STAGES = ("spec", "links", "roles", "facts")
ROW_RE = re.compile(r"^\| (\d+) \| (spec|links|roles|facts) \| (lab|) *\| ([^|]+) \| `(.+)` \| `(.+)` \|$")
HEADER = "<!-- rows: # | stage | lab | what is wrong | change | message -->"


class Row(object):
    def __init__(self, number, stage, lab, kind, change, message):
        self.number, self.stage, self.lab, self.kind = number, stage, lab, kind
        self.change, self.message = change, message

    @property
    def changes(self):
        return self.change.split(" ; ")

    def __repr__(self):
        return "%d %s" % (self.number, self.kind)


def table_rows():
    with open(TABLE) as handle:
        text = handle.read()
    body = text.split(HEADER, 1)[1].split("<!-- end of rows -->", 1)[0]
    lines = [line for line in body.splitlines() if re.match(r"^\| \d+ ", line)]
    rows = []
    for line in lines:
        match = ROW_RE.match(line)
        assert match, "this row of %s does not parse: %s" % (TABLE, line)
        rows.append(Row(int(match.group(1)), match.group(2), match.group(3) == "lab", match.group(4).strip(),
                        match.group(5), match.group(6)))
    return rows


def lab_links():
    with open(os.path.join(INVENTORY, "group_vars", "all", "links.yml")) as handle:
        return yaml.safe_load(handle)["wgspread_links"]


def apply_changes(row, links=None):
    """(extra_vars, host_vars {host: {...}}, facts {host: {...}}, new_hosts {host: {...}}).

    The links, changed or not, go into the extra vars as the lab test passes them (-e @file);
    a row that passes ``wgspread_links`` itself with ``-e`` replaces them."""
    links = copy.deepcopy(lab_links() if links is None else links)
    extra, host_vars, facts, new_hosts = {}, {}, {}, {}
    for change in row.changes:
        if change.startswith("+host "):
            host, fields = change[len("+host "):].split(": ", 1)
            new_hosts[host] = yaml.safe_load(fields)
        elif change.startswith("-e "):
            extra.update(yaml.safe_load(change[3:]))
        elif change.startswith("+ "):
            links.append(yaml.safe_load(change[2:]))
        elif change.startswith("host ") or change.startswith("facts "):
            kind, rest = change.split(" ", 1)
            host, fields = rest.split(": ", 1)
            (host_vars if kind == "host" else facts).setdefault(host, {}).update(yaml.safe_load(fields))
        else:
            name, fields = change.split(": ", 1)
            (link,) = [link for link in links if link["name"] == name]
            for key, value in yaml.safe_load(fields).items():
                if value is None:
                    link.pop(key)
                else:
                    link[key] = value
    extra.setdefault("wgspread_links", links)
    return extra, host_vars, facts, new_hosts
