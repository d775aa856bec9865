"""Property-based tests of the input checks (issue 14), with hypothesis.

1. Mutations of the lab inventory (a field of a link, a spread option, a host variable,
   a role option, wireguard_rotate_keys) set to YAML-ish values: the checks either accept
   or refuse with messages that each name a link or host and a field, and never raise
   anything else (no traceback reaches a user).
2. Generated fleets: every inventory the checks accept renders nft tables that
   ``nft -c -f`` accepts (in a scratch network namespace, ``unshare --net``, all tables of
   the run in one namespace) and wg-quick files that ``wg-quick strip`` accepts, whose
   stripped form is then checked line by line against wg(8)'s config syntax here
   (``wg setconf`` would need a WireGuard interface, and this machine has no wireguard
   module). The tools are required (scripts/setup-host installs them): a missing one fails.

Profiles (WGSPREAD_HYPOTHESIS_PROFILE): ``ci`` (default) is derandomized (a fixed seed) with
bounded examples, for the unit gate; ``long`` runs many more, randomized. Failing examples
found are kept as @example rows below.
"""

import base64
import ipaddress
import os
import re
import shutil
import subprocess
import tempfile

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import check_inputs
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LINK_KEYS, SPREAD_KEYS, LinkError
from ansible_collections.sitelink.wgspread.plugins.module_utils.plan import build_plan
from ansible_collections.sitelink.wgspread.plugins.module_utils.render import gateway_files, tunnel_spec
from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import render_config

settings.register_profile("ci", max_examples=300, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("WGSPREAD_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

GATEWAYS = ["hub", "spoke1", "spoke2"]
FACTS = dict((g, {"interfaces": ["lo", "eth0"], "lo": {"type": "loopback"}, "eth0": {"type": "ether"},
                  "processor_nproc": 2, "default_ipv4": {"address": "198.51.100.%d" % (11 + i)}})
             for i, g in enumerate(GATEWAYS))
HOSTVARS = dict((g, {"ansible_host": "198.51.100.%d" % (11 + i), "ansible_facts": FACTS[g]})
                for i, g in enumerate(GATEWAYS))
LINKS = [
    {"name": "hub-spoke1", "gateways": ["hub", "spoke1"], "subnet": "198.18.0.0/31", "listen_port": 51820},
    {"name": "hub-spoke2", "gateways": ["hub", "spoke2"], "subnet": "198.18.0.2/31", "listen_port": 51920,
     "endpoints": {"hub": "2001:db8:5100::11", "spoke2": "2001:db8:5100::13"}},
]
HOST_VARIABLES = ["wgspread_receive_cpus", "wgspread_site_networks", "wgspread_underlay_address", "ansible_host"]
ROLE_OPTIONS = ["port_spread_calibration_factor", "port_spread_calibration_packets", "port_spread_meter",
                "port_spread_calibrate", "wireguard_implementation", "nic_tuning_channel_counts", "nic_tuning_cpus",
                "nic_tuning_rps", "wireguard_rotate_keys"]
# Where a message may say which field it is about: every field and option we have.
FIELD_WORDS = (set(LINK_KEYS) | set("spread." + key for key in SPREAD_KEYS) | set(HOST_VARIABLES)
               | set(ROLE_OPTIONS) | {"wireguard_rotate_keys", "spread", "subnet/addresses", "facts", "each link"})
SUBJECT_RE = re.compile(r"^(link [A-Za-z0-9][A-Za-z0-9_.-]*|wgspread_links\[\d+\]|host [^:]+|wireguard_rotate_keys"
                        r"|role (wireguard|nic_tuning|port_spread))(: |\b)")

# Values as YAML 1.1 and -e give them: the scalars of every type, text with whitespace and
# the near misses of every kind in docs/bad-input.md.
TRICKY_TEXT = ["", " ", "0", "1", "four", " 51820", "51820 ", "051720", "on", "yes", "all", "eth0", "lo",
               "hub", "spoke1 ", "hub-spoke1\n", "198.51.100.300", "198.051.100.012", "0.0.0.0", "0.0.0.0/0",
               "::/0", "::/127", "::1", "fe80::1%eth0", "::ffff:198.51.100.12", "224.0.0.1", "127.0.0.1",
               "198.51.100.12/24", "198.18.0.1", "10.1.0.0/16", "10.1.0.1/16", "198.51.100.0/24",
               "2001:db8:5100::13", "spoke2.example.net", "auto", "wg-x", "a" * 70]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-3, max_value=70000), st.sampled_from([0, 1, 53, 65535, 65536]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(TRICKY_TEXT), st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(GATEWAYS + ["spoke9", "hub "] + sorted(SPREAD_KEYS)), st.booleans(),
                 st.integers(min_value=0, max_value=3))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=3)), max_leaves=6)


def field_named(message):
    return bool(SUBJECT_RE.match(message)) and any(word in message for word in FIELD_WORDS)


@st.composite
def mutated_inventories(draw):
    links = [dict(link) for link in LINKS]
    hostvars = dict((host, dict(variables)) for host, variables in HOSTVARS.items())
    extra = {}
    for _mutation in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["link", "spread", "host", "role", "whole link"]))
        index = draw(st.integers(min_value=0, max_value=1))
        if kind in ("link", "spread") and not isinstance(links[index], dict):
            kind = "whole link"  # replaced by a non-mapping already
        if kind == "link":
            links[index][draw(st.sampled_from(sorted(LINK_KEYS) + ["keepalive", "mtu "]))] = draw(values)
        elif kind == "spread":
            spread = links[index].get("spread")
            spread = dict(spread) if isinstance(spread, dict) else {}
            spread[draw(keys)] = draw(values)
            links[index]["spread"] = spread
        elif kind == "host":
            hostvars[draw(st.sampled_from(GATEWAYS))][draw(st.sampled_from(HOST_VARIABLES))] = draw(values)
        elif kind == "role":
            extra[draw(st.sampled_from(ROLE_OPTIONS))] = draw(values)
        else:
            links[index] = draw(values)
    return links, hostvars, extra


@given(mutated_inventories())
@example(([dict(LINKS[0], spread={True: True}), LINKS[1]], HOSTVARS, {}))
@example((LINKS, dict(HOSTVARS, spoke1=dict(HOSTVARS["spoke1"], wgspread_receive_cpus="four")), {}))
@example((LINKS, HOSTVARS, {"wireguard_rotate_keys": True}))
@example((LINKS, HOSTVARS, {"port_spread_calibration_factor": 0}))
# Found by this test: the argument-spec validator raised on these (fleet_plan._option_errors).
@example((LINKS, HOSTVARS, {"nic_tuning_channel_counts": False}))
@example((LINKS, HOSTVARS, {"nic_tuning_channel_counts": None}))
@example((LINKS, HOSTVARS, {"nic_tuning_channel_counts": [1, True]}))
@example((LINKS, HOSTVARS, {"nic_tuning_channel_counts": "x"}))
@example((LINKS, HOSTVARS, {"port_spread_calibration_factor": float("inf")}))  # OverflowError in int()
@example((LINKS, HOSTVARS, {"port_spread_calibration_factor": float("nan")}))
@example(([dict(LINKS[0], name="hub-spoke1\n"), LINKS[1]], HOSTVARS, {}))
def test_checks_accept_or_refuse_naming_a_field_and_never_raise(inventory):
    links, hostvars, extra = inventory
    variables = dict((host, dict(values, **extra)) for host, values in hostvars.items())
    plan, errors = check_inputs(links, GATEWAYS, variables, GATEWAYS, extra.get("wireguard_rotate_keys", []),
                                ["wireguard", "nic_tuning", "port_spread"])
    assert errors or plan is not None
    for message in errors:
        assert isinstance(message, str) and field_named(message), message


# ---------------------------------------------------------------- accepted fleets render

@st.composite
def fleets(draw):
    """Fleets of 2-5 gateways, IPv4 or IPv6 underlay and tunnels, random spreading:
    realistic enough that many are accepted, with collisions the checks must find."""
    count = draw(st.integers(min_value=2, max_value=5))
    names = ["gw%d" % i for i in range(count)]
    v6_underlay = draw(st.booleans())
    hostvars = {}
    for i, name in enumerate(names):
        hostvars[name] = {"ansible_host": ("2001:db8:5100::%x" % (i + 1)) if v6_underlay else "198.51.100.%d" % (i + 1),
                          "wgspread_receive_cpus": draw(st.integers(min_value=1, max_value=8))}
        if draw(st.booleans()):
            hostvars[name]["wgspread_site_networks"] = ["10.%d.0.0/16" % i]
    # Mostly distinct pairs on ports apart (so that many fleets are accepted), now and then
    # a pair twice or a port shared (so that the checks are exercised on the way).
    combinations = [(a, b) for a in names for b in names if a < b]
    pairs = draw(st.lists(st.sampled_from(combinations), min_size=1, max_size=6,
                          unique=draw(st.integers(0, 9)) > 0))
    links = []
    for k, (a, b) in enumerate(pairs):
        link = {"gateways": [a, b], "listen_port": 20000 + 1000 * k + draw(st.integers(min_value=0, max_value=20))}
        if draw(st.booleans()):
            link["subnet"] = "198.18.%d.%d/%d" % (k, 0, draw(st.sampled_from([31, 30, 29])))
        else:
            link["subnet"] = "fd00:%x::/%d" % (k + 1, draw(st.sampled_from([127, 64, 126])))
        spread = draw(st.sampled_from(["default", "off", "count", "ports"]))
        if spread == "off":
            link["spread"] = {"enabled": False}
        elif spread == "count":
            link["spread"] = {"count": draw(st.integers(min_value=1, max_value=8)),
                              "step": draw(st.integers(min_value=1, max_value=3))}
        elif spread == "ports":
            first = link["listen_port"] + draw(st.integers(min_value=0, max_value=200))
            ports = draw(st.lists(st.integers(min_value=first, max_value=first + 50), min_size=1, max_size=6))
            link["spread"] = {"ports": sorted(set(ports))}
        if draw(st.booleans()):
            link["mtu"] = draw(st.integers(min_value=1280, max_value=9000))
        if draw(st.booleans()):
            link["persistent_keepalive"] = draw(st.integers(min_value=0, max_value=65535))
        if draw(st.booleans()):
            link["preshared_key"] = False
        if draw(st.booleans()):
            link["allowed_ips"] = {b: ["172.%d.0.0/16" % (16 + k)]}
        links.append(link)
    return names, hostvars, links


def wg_key(seed):
    return base64.b64encode(bytes([seed % 256]) * 32).decode()


WG_INTERFACE_KEYS = {"PrivateKey", "ListenPort", "FwMark"}
WG_PEER_KEYS = {"PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"}


def wg_syntax_errors(stripped):
    """What wg(8)'s config parser (config.c) would refuse in a stripped config."""
    problems, section, peer_has_key = [], None, False
    for line in stripped.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line in ("[Interface]", "[Peer]"):
            if section == "[Peer]" and not peer_has_key:
                problems.append("a [Peer] without PublicKey")
            section, peer_has_key = line, False
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        value = line.split("=", 1)[1].strip() if sep else ""
        allowed = WG_INTERFACE_KEYS if section == "[Interface]" else WG_PEER_KEYS if section == "[Peer]" else set()
        if not sep or key not in allowed:
            problems.append("line not in a section wg knows: %r" % line)
        elif key in ("PrivateKey", "PublicKey", "PresharedKey"):
            peer_has_key = peer_has_key or key == "PublicKey"
            try:
                decoded = base64.b64decode(value, validate=True)
            except ValueError:
                decoded = b""
            if len(value) != 44 or len(decoded) != 32:
                problems.append("bad key %r" % line)
        elif key in ("ListenPort", "PersistentKeepalive"):
            if not (value.isdigit() and 0 <= int(value) <= 65535):
                problems.append("bad number %r" % line)
        elif key == "AllowedIPs":
            for prefix in value.split(","):
                ipaddress.ip_network(prefix.strip(), strict=False)
        elif key == "Endpoint":
            match = re.fullmatch(r"(\[([0-9a-fA-F:]+)\]|([^:\[\]]+)):(\d+)", value)
            if not match or not 1 <= int(match.group(4)) <= 65535:
                problems.append("bad endpoint %r" % line)
            elif match.group(2):
                ipaddress.IPv6Address(match.group(2))
    if section == "[Peer]" and not peer_has_key:
        problems.append("a [Peer] without PublicKey")
    return problems


def tool_check(rendered):
    """Every nft table and wg-quick file of ``rendered`` [(name, nft_text, {iface: conf})]
    checked by the real tools; returns the failures as text (empty: all accepted)."""
    failures = []
    scratch = tempfile.mkdtemp(prefix="wgspread-prop-")
    try:
        nft_files, confs = [], []
        for n, (name, table, conf_by_interface) in enumerate(rendered):
            path = os.path.join(scratch, "%d-%s.nft" % (n, name))
            with open(path, "w") as handle:
                handle.write(table)
            nft_files.append(path)
            for interface, conf in conf_by_interface.items():
                directory = os.path.join(scratch, "%d-%s" % (n, name))
                os.makedirs(directory, exist_ok=True)
                conf_path = os.path.join(directory, interface + ".conf")
                with open(conf_path, "w") as handle:
                    handle.write(conf)
                os.chmod(conf_path, 0o600)
                confs.append(conf_path)
        # One scratch namespace for all tables: nft -c checks each against a kernel that
        # has nothing of this host's ruleset, and nothing is committed.
        script = 'for f in "$@"; do nft -c -f "$f" 2>"$f.err" || echo "$f"; done'
        out = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh"] + nft_files,
                             capture_output=True, text=True, check=True).stdout
        for path in out.split():
            with open(path) as table, open(path + ".err") as err:
                failures.append("nft -c -f refused %s: %s\n%s" % (path, err.read(), table.read()))
        wg_quick = require_tool("wg-quick")
        for conf_path in confs:
            with open(conf_path) as handle:
                config = handle.read()
            result = subprocess.run([wg_quick, "strip", conf_path], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                failures.append("wg-quick strip refused %s: %s\n%s" % (conf_path, result.stderr, config))
                continue
            stripped = result.stdout
            for problem in wg_syntax_errors(stripped):
                failures.append("%s: %s\n%s" % (conf_path, problem, config))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return failures


def require_tool(name):
    """The tool's path. scripts/setup-host installs nft, unshare and wg-quick: a missing one is a
    broken setup, which fails here (a skipped check is not a passed one)."""
    path = shutil.which(name)
    assert path, "%s is not installed: run scripts/setup-host (it installs nftables, util-linux, wireguard-tools)" % name
    return path


def test_every_accepted_fleet_renders_what_nft_and_wg_quick_accept():
    require_tool("nft"), require_tool("unshare")
    rendered, seen = [], {"accepted": 0, "refused": 0}

    @settings(max_examples=max(40, settings().max_examples // 3))
    @given(fleets())
    def collect(fleet):
        names, hostvars, links = fleet
        try:
            plan = build_plan(links, names, hostvars).as_dict()
        except LinkError as exc:
            seen["refused"] += 1
            assert all(field_named(message) for message in exc.errors), exc.errors
            return
        seen["accepted"] += 1
        for gateway, part in plan["gateways"].items():
            files = gateway_files(part)
            confs = {}
            for tunnel in part["tunnels"]:
                peer_key = wg_key(len(tunnel["peer"]))
                presharing = {peer_key: wg_key(7)} if tunnel["preshared_key"] else {}
                confs[tunnel["interface"]] = render_config(tunnel_spec(tunnel, peer_key), wg_key(3), presharing)
            rendered.append((gateway, files["wgspread.nft"], confs))

    collect()
    print("fleets: %(accepted)d accepted, %(refused)d refused" % seen)
    assert seen["accepted"] > 0, seen
    failures = tool_check(rendered)
    assert not failures, "\n\n".join(failures[:3])


def test_the_tool_check_refuses_what_the_tools_refuse():
    """The check above would pass vacuously if it could not fail: it must."""
    require_tool("nft"), require_tool("unshare")
    bad_table = "table inet wgspread {\n\tchain output {\n\t\tudp dport 70000 notrack\n\t}\n}\n"
    bad_conf = "[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n[Peer]\nEndpoint = 198.51.100.12:0\n" % wg_key(1)
    failures = tool_check([("gw", bad_table, {"wg-gw": bad_conf})])
    assert any("nft -c -f refused" in failure for failure in failures), failures
    assert any("bad endpoint" in failure for failure in failures), failures
    assert any("without PublicKey" in failure for failure in failures), failures
