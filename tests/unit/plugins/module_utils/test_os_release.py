"""Which gateway releases are supported, over /etc/os-release files as the releases ship them."""

import os

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.os_release import parse_os_release, release_refusal

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "os_release")


def os_release(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.mark.parametrize("name", ["debian-12-bookworm", "debian-13-trixie"])
def test_debian_12_and_13_are_supported(name):
    assert release_refusal(os_release(name), "gw1") == ""


@pytest.mark.parametrize("name, found", [
    ("debian-11-bullseye", "gw1 runs Debian GNU/Linux 11 (bullseye);"),
    ("debian-forky-testing", "gw1 runs Debian GNU/Linux forky/sid (no VERSION_ID: Debian testing or unstable);"),
])
def test_other_debian_releases_are_refused_naming_what_the_host_runs(name, found):
    message = release_refusal(os_release(name), "gw1")
    assert message == found + " sitelink.wgspread supports Debian 12 (bookworm) and Debian 13 (trixie) gateways only."


def test_a_derivative_with_version_12_is_refused():
    # Ubuntu-like: ID is not debian, even with ID_LIKE=debian and a VERSION_ID that a Debian release has.
    text = 'PRETTY_NAME="Other OS 12"\nID=other\nID_LIKE=debian\nVERSION_ID="12"\n'
    assert release_refusal(text, "gw1").startswith("gw1 runs Other OS 12; sitelink.wgspread supports Debian 12")


def test_a_host_without_os_release_is_refused():
    assert release_refusal("", "gw1").startswith("gw1 runs a system without /etc/os-release; ")


def test_parse_os_release_removes_quotes_and_skips_comments():
    fields = parse_os_release(os_release("debian-13-trixie") + "# a comment\n\nnot a field\n")
    assert fields["PRETTY_NAME"] == "Debian GNU/Linux 13 (trixie)"
    assert fields["VERSION_ID"] == "13"
    assert fields["VERSION_CODENAME"] == "trixie"
    assert "not a field" not in fields and "# a comment" not in fields


def facts(group, name):
    import yaml
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "os_release", "facts.yml")) as handle:
        return yaml.safe_load(handle)[group][name]


@pytest.mark.parametrize("name", ["bookworm", "trixie"])
def test_the_gathered_facts_of_debian_12_and_13_are_supported(name):
    assert release_refusal(facts("recorded", name), "gw1") == ""


@pytest.mark.parametrize("name, found", [
    ("bullseye", "gw1 runs Debian 11.11 (bullseye); "),
    ("testing", "gw1 runs Debian forky/sid (forky) (no VERSION_ID: Debian testing or unstable); "),
    ("ubuntu", "gw1 runs Ubuntu 24.04 (noble); "),
])
def test_the_gathered_facts_of_other_releases_are_refused_naming_them(name, found):
    assert release_refusal(facts("by_hand", name), "gw1").startswith(found + "sitelink.wgspread supports Debian 12")


def test_a_host_without_gathered_facts_is_refused_saying_so():
    assert release_refusal({}, "gw1").startswith("gw1 runs an unknown release (no distribution facts: gather facts")
