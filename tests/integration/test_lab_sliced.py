"""Issue 15: a rollout that converges when AWX slices the job.

A separate six-gateway lab (hub + 5 spokes, its own prefix, network and subnets) is rolled out
the way a sliced AWX job template runs it: 3 slices (AWX's order: hosts sorted by name, host i
in slice i mod 3), each an ansible-runner job whose inventory holds only its own hosts, the
three started at the same moment, in rounds. ``wgspread_exchange: fact_cache`` makes each
gateway publish what its peers need into Ansible's fact cache (one jsonfile directory shared by
the slices) and read a peer outside its slice from there; the preshared keys are derived from a
vaulted ``wgspread_psk_secret``.

Round 1 publishes (a link whose peer has no record yet is reported as waiting), round 2 brings
every link up, round 3 changes nothing. Then every tunnel passes pings both ways, spread evenly
over its ports (the product's meter counters), and no private or preshared key, nor the vault
secret, is in any runner artifact or the fact cache.
"""

import json
import os
import pathlib
import re
import shutil
import tempfile
import secrets
import time

import pytest
import yaml

from ansible_collections.sitelink.wgspread.plugins.module_utils.nft import meter_counts
from runnerkit import (
    ROOT, Lab, awx_slices, private_data_dir, run_round, runner_envvars, secret_hits, vault_encrypt_string, write_inventory,
)

SLICES = 3
SPOKES = 5
ROUNDS = 3
PINGS = 200
STATE = os.path.join(ROOT, "lab", ".state-sliced")  # gitignored
# Outside the checkout (ansible-lint would lint the generated inventories) and outside pytest's
# shared tmp root, which every other pytest session on the machine prunes, also while this runs.
WORK = os.path.join(tempfile.gettempdir(), "wgspread-sliced-lab")

# hub-spokeK, and one link between two spokes. With 3 slices (hub spoke3 | spoke1 spoke4 |
# spoke2 spoke5) only hub-spoke3 has both ends in one slice.
LINKS = [{"name": "hub-spoke%d" % k, "gateways": ["hub", "spoke%d" % k], "subnet": "198.18.40.%d/31" % (2 * k),
          "listen_port": 52000 + 100 * k, "persistent_keepalive": 25} for k in range(1, SPOKES + 1)]
LINKS.append({"name": "spoke2-spoke4", "gateways": ["spoke2", "spoke4"], "subnet": "198.18.40.20/31",
              "listen_port": 52700, "persistent_keepalive": 25})


def slice_of(gateway, slices):
    return next(index for index, hosts in enumerate(slices) if gateway in hosts)


@pytest.fixture(scope="module")
def sliced_lab():
    """The second lab, fresh, taken down afterwards also when a test fails (WGSPREAD_KEEP_LAB=1 keeps it).
    The runs' private data directories, fact cache and vault password file live in WORK, made
    afresh here and kept for a look afterwards."""
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    work = pathlib.Path(WORK)
    lab = Lab(prefix="wgsl-", net="wgsl-lab", subnet_prefix="198.51.104", subnet6_prefix="2001:db8:5104:",
              state=STATE, inventory=str(work / "inventory"), spokes=SPOKES)
    started = time.time()
    reuse = os.environ.get("WGSPREAD_REUSE_LAB") == "1"  # while working on this test only
    if not reuse:
        lab.lab("down")
    try:
        if not reuse:
            lab.lab("up", str(SPOKES), "--no-site")
        lab.up_seconds = time.time() - started
        lab.work = work
        yield lab
    finally:
        if not reuse and os.environ.get("WGSPREAD_KEEP_LAB") != "1":
            lab.lab("down")


@pytest.fixture(scope="module")
def rounds(sliced_lab):
    """ROUNDS rounds of SLICES concurrent ansible-runner jobs of site.yml; {round: [SliceRun]}."""
    lab, work = sliced_lab, sliced_lab.work
    password_file = work / "vault-password"
    password_file.write_text(secrets.token_urlsafe(24) + "\n")
    password_file.chmod(0o600)
    lab.psk_secret = secrets.token_urlsafe(32)
    links = {"wgspread_links": LINKS, "wgspread_exchange": "fact_cache", "port_spread_meter": True}
    group_vars = {
        "links.yml": "---\n" + yaml.safe_dump(links, sort_keys=False),
        "vault.yml": "---\n" + vault_encrypt_string("wgspread_psk_secret", lab.psk_secret, str(password_file)),
    }
    lab.fact_cache = str(work / "fact-cache")
    os.makedirs(lab.fact_cache)
    lab.slices = awx_slices(lab.gateways, SLICES)
    envvars = runner_envvars(lab.fact_cache, str(password_file))
    lab.private_dirs = [private_data_dir(str(work / ("slice%d" % (index + 1))), hosts, lab, group_vars, envvars)
                        for index, hosts in enumerate(lab.slices)]
    # The whole inventory too, for scripts/lab report while looking at the lab by hand.
    write_inventory(lab.inventory, lab.gateways, lab, group_vars)
    results = {}
    for number in range(1, ROUNDS + 1):
        results[number] = run_round(lab.private_dirs, lab.slices, ident="round%d" % number)
    print("\nsliced rollout, %d gateways, %d slices %s (lab up %.0f s):"
          % (len(lab.gateways), SLICES, lab.slices, lab.up_seconds))
    for number, runs in results.items():
        print("  round %d: %.1f s (slowest slice); %s" % (number, max(r.seconds for r in runs),
                                                          "; ".join(r.summary() for r in runs)))
    return results


def test_every_round_succeeds_on_every_slice(rounds):
    for number, runs in rounds.items():
        for run in runs:
            assert run.rc == 0 and run.status == "successful" and not any(run.failed.values()), (
                number, run.summary(), run.stdout[-4000:])


def test_round_one_names_the_links_waiting_for_their_peer(rounds, sliced_lab):
    """Round 1 starts with an empty cache: a slice's link to another slice waits for its peer, and
    the job output names it; the one link inside a slice (hub-spoke3) never waits."""
    cross = set(link["name"] for link in LINKS
                if len(set(slice_of(g, sliced_lab.slices) for g in link["gateways"])) > 1)
    waiting = set()
    for run in rounds[1]:
        lines = [line for line in run.stdout.splitlines() + run.messages() if re.search(r"wait", line, re.I)]
        named = set(link["name"] for link in LINKS for line in lines if re.search(r"\b%s\b" % link["name"], line))
        print("round 1, slice %d: waiting %s; lines: %s" % (run.index + 1, sorted(named), lines[:4]))
        waiting |= named
    assert waiting, "no job output of round 1 names a link waiting for its peer"
    assert waiting <= cross, waiting - cross
    assert "hub-spoke3" not in waiting


def test_last_round_changes_nothing(rounds):
    for run in rounds[ROUNDS]:
        assert all(changed == 0 for changed in run.changed.values()), run.summary()


def tunnel_address(lab, gateway, peer):
    """The IPv4 address of ``gateway``'s end of its tunnel to ``peer`` (interface wg-PEER)."""
    out = lab.sh(gateway, "ip -4 -o addr show dev wg-%s" % peer)
    return re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out).group(1)


def link_counts(lab, gateway):
    return meter_counts(json.loads(lab.sh(gateway, "nft -j list table inet wgspread")))


def test_every_link_passes_traffic_both_ways_spread_evenly(rounds, sliced_lab):
    lab, figures = sliced_lab, []
    for link in LINKS:
        first, second = link["gateways"]
        before = {g: link_counts(lab, g).get(link["name"], {"ports": {}}) for g in (first, second)}
        out = lab.sh(first, "ping -q -i 0.005 -W 1 -c %d %s" % (PINGS, tunnel_address(lab, second, first)), check=False)
        sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())
        # each echo crosses the tunnel first -> second, each reply second -> first
        for receiver in (first, second):
            counts = link_counts(lab, receiver)
            assert link["name"] in counts, "%s: no meter rules for it at %s: its spreading table lost the link (%s/%d replies)" % (
                link["name"], receiver, received, sent)
            after = counts[link["name"]]["ports"]
            delta = dict((port, after[port] - before[receiver]["ports"].get(port, 0)) for port in after)
            figures.append("%s at %s: %d/%d replies, per port %s" % (link["name"], receiver, received, sent, delta))
            assert len(delta) == 2, delta  # spread.count auto: 2 receive CPUs per gateway
            for packets in delta.values():
                assert abs(packets - PINGS / 2) <= 0.1 * PINGS / 2 + 2, (link["name"], receiver, delta)
        assert received == sent == PINGS, (link["name"], out)
    print("\n" + "\n".join(figures))


def gateway_secrets(lab):
    """Every private and preshared key on every gateway, from the live interfaces and the key dir."""
    found = {}
    for gateway in lab.gateways:
        for interface in lab.sh(gateway, "wg show interfaces").split():
            for line in lab.sh(gateway, "wg showconf %s" % interface).splitlines():
                key, _sep, value = line.partition("=")
                if key.strip() in ("PrivateKey", "PresharedKey"):
                    found["%s %s %s" % (gateway, interface, key.strip())] = value.strip()
        for path in lab.sh(gateway, "find /etc/wireguard/wgspread -type f 2>/dev/null || true").split():
            value = lab.sh(gateway, "cat %s" % path).strip()
            if re.fullmatch(r"[A-Za-z0-9+/]{43}=", value):
                found["%s %s" % (gateway, path)] = value
    return found


def test_no_key_or_secret_in_any_artifact_or_cache(rounds, sliced_lab):
    lab = sliced_lab
    found = gateway_secrets(lab)
    # 12 link ends: a private key each; a preshared key per link end (both ends hold it)
    assert sum(1 for label in found if label.endswith("PrivateKey")) == 2 * len(LINKS), sorted(found)
    assert sum(1 for label in found if label.endswith("PresharedKey")) == 2 * len(LINKS), sorted(found)
    found["vault secret wgspread_psk_secret"] = lab.psk_secret
    roots = lab.private_dirs + [lab.fact_cache]
    files = sum(len(names) for root in roots for _d, _s, names in os.walk(root))
    hits = secret_hits(found, roots)
    print("\nsearched %d files (artifacts, job events, fact cache) for %d secrets (wg showconf keys, key files, "
          "the vault secret): %d hits" % (files, len(found), len(hits)))
    assert os.listdir(lab.fact_cache), "the shared fact cache is empty: nothing was published"
    assert not hits, sorted(hits)


def test_a_fact_cache_timeout_is_warned_about_and_its_cost_is_as_documented(rounds, sliced_lab):
    """A 4th round with a fact cache timeout of 1 s (the default is 24 h, which a daily or weekly
    schedule outlives). Ansible drops an expired host's cached facts, its record with them, when
    it gathers that host's facts again, so a slice planning meanwhile finds no record: what
    docs/execution-environment.md says, and why fleet_plan warns naming fact_caching_timeout.
    Checked here: the warning on every slice, and that every slice still succeeds (the lab is
    removed after this module, so nothing depends on the links such a round may drop)."""
    lab = sliced_lab
    for directory in lab.private_dirs:
        path = os.path.join(directory, "env", "envvars")
        with open(path) as handle:
            envvars = yaml.safe_load(handle)
        envvars["ANSIBLE_CACHE_PLUGIN_TIMEOUT"] = "1"
        with open(path, "w") as handle:
            yaml.safe_dump(envvars, handle)
    time.sleep(2)
    runs = run_round(lab.private_dirs, lab.slices, ident="round4-expired")
    print("\n  round 4 (fact cache timeout 1 s): %s" % "; ".join(run.summary() for run in runs))
    assert all(run.rc == 0 for run in runs), [run.stdout[-3000:] for run in runs if run.rc]
    warned = [run for run in runs if "fact_caching_timeout is 1 s" in re.sub(r"\s+", " ", run.stdout)]
    assert len(warned) == len(runs), [run.stdout[-2000:] for run in runs]
