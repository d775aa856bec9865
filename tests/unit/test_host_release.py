"""scripts/setup-host's release check (scripts/lib/host-release.sh), run for real by bash on
recorded /etc/os-release files: Debian 12 and 13 pass, anything else stops with a message
that names what it found, before setup-host installs anything."""
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(REPO, "scripts", "lib", "host-release.sh")
FIXTURES = os.path.join(REPO, "tests", "unit", "fixtures", "os-release")


def host_release(name, any_release=None):
    env = {key: value for key, value in os.environ.items() if key != "WGSPREAD_ANY_RELEASE"}
    if any_release is not None:
        env["WGSPREAD_ANY_RELEASE"] = any_release
    path = os.path.join(FIXTURES, name) if name else "/nonexistent/os-release"
    return subprocess.run(["bash", "-c", '. "$1" && host_release "$2"', "bash", LIB, path],
                          capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("name, said", [
    ("debian-12", "debian 12 bookworm"),
    ("debian-13", "debian 13 trixie"),
])
def test_the_tested_debian_releases_pass(name, said):
    result = host_release(name)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, said, "")


@pytest.mark.parametrize("name, found", [
    ("ubuntu-24.04", "ID=ubuntu VERSION_ID=24.04 VERSION_CODENAME=noble"),
    ("debian-forky", "ID=debian VERSION_ID=none VERSION_CODENAME=forky"),
])
def test_another_release_stops_naming_what_it_found_and_what_is_supported(name, found):
    result = host_release(name)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "this host is %s;" % found in result.stderr
    assert "supported controllers are Debian 12 (bookworm) and Debian 13 (trixie)" in result.stderr
    assert "WGSPREAD_ANY_RELEASE=1" in result.stderr


def test_any_release_turns_the_refusal_into_a_warning():
    result = host_release("ubuntu-24.04", any_release="1")
    assert (result.returncode, result.stdout.strip()) == (0, "ubuntu 24.04 noble")
    assert "warning: ID=ubuntu VERSION_ID=24.04 VERSION_CODENAME=noble is not a tested controller" in result.stderr


def test_an_unreadable_os_release_stops():
    result = host_release(None)
    assert result.returncode == 1
    assert "cannot read /nonexistent/os-release" in result.stderr


def test_setup_host_stops_at_the_release_check_before_any_change():
    """setup-host itself (run as root, as scripts/test does) on an unsupported release:
    exit 1 with the check's message and nothing after it (no apt, no containers.conf, no pip)."""
    env = dict(os.environ, WGSPREAD_OS_RELEASE=os.path.join(FIXTURES, "ubuntu-24.04"))
    env.pop("WGSPREAD_ANY_RELEASE", None)
    result = subprocess.run([os.path.join(REPO, "scripts", "setup-host"), "--no-containers"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "setup-host: this host is ID=ubuntu VERSION_ID=24.04 VERSION_CODENAME=noble; supported controllers are"
        " Debian 12 (bookworm) and Debian 13 (trixie). Set WGSPREAD_ANY_RELEASE=1 to try anyway"
        " (package names and Python pins may not fit)."]
