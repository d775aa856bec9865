"""Threaded NAPI on WireGuard per kernel (CVE-2026-52945), over uname -r strings as the distributions print them.

The releases below are in the form Debian 12/13, Ubuntu 22.04/24.04 and RHEL 9 print; the
uname -v of Debian 12 carries the upstream version its ABI-numbered release hides.
"""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils import napi

DEB12_27 = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)"
DEB12_IN_RANGE = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.148-1 (2025-08-26)"


@pytest.mark.parametrize("release, version, expected", [
    ("6.1.0-27-amd64", None, (6, 1, None, "debian")),
    ("6.1.0-27-amd64", DEB12_27, (6, 1, 115, "debian")),
    ("6.1.0-27-cloud-amd64", DEB12_27, (6, 1, 115, "debian")),
    ("6.12.57+deb13-amd64", None, (6, 12, 57, "debian")),
    ("6.12.57+deb13-arm64", "#1 SMP Debian 6.12.57-1 (2025-11-05)", (6, 12, 57, "debian")),
    ("5.15.0-126-generic", "#136-Ubuntu SMP Wed Nov 6 10:38:22 UTC 2024", (5, 15, None, "ubuntu")),
    ("6.8.0-51-generic", None, (6, 8, None, "ubuntu")),
    ("6.8.0-117-generic", None, (6, 8, None, "ubuntu")),
    ("6.8.0-1021-aws", None, (6, 8, None, "ubuntu")),
    ("5.14.0-503.14.1.el9_5.x86_64", None, (5, 14, None, "rhel")),
    ("5.14.0-427.13.1.el9_4.aarch64", None, (5, 14, None, "rhel")),
    ("6.16.0", None, (6, 16, 0, None)),
    ("6.1.164", None, (6, 1, 164, None)),
    ("6.18", None, (6, 18, None, None)),
    # uname -v of another line than uname -r says: not trusted
    ("6.1.0-27-amd64", "#1 SMP Debian 6.12.57-1", (6, 1, None, "debian")),
    ("", None, None),
    ("linux", None, None),
    (None, None, None),
])
def test_parse_release(release, version, expected):
    assert napi.parse_release(release, version) == expected


@pytest.mark.parametrize("release, version, status, default_on", [
    # Debian 12: 6.1, before 6.16; the kernel itself turns it on only from 6.1.142 to 6.1.163
    ("6.1.0-27-amd64", None, "affected", None),
    ("6.1.0-27-amd64", DEB12_27, "affected", False),
    ("6.1.0-40-amd64", DEB12_IN_RANGE, "affected", True),
    # Debian 13: 6.12.57 is in 6.12.34-6.12.73; 6.12.74 has the revert, threaded=1 by hand still runs the same path
    ("6.12.57+deb13-amd64", None, "affected", True),
    ("6.12.74+deb13-amd64", None, "affected", False),
    ("6.12.33+deb13-amd64", None, "affected", False),
    # Ubuntu 22.04 / 24.04: ABI numbers hide the sublevel; 6.8 is where Cilium #46687 stalled with threaded=1
    ("5.15.0-126-generic", None, "affected", None),
    ("6.8.0-51-generic", None, "affected", None),
    ("6.8.0-117-generic", None, "affected", None),
    # RHEL 9: its own backports; nothing documented about this one
    ("5.14.0-503.14.1.el9_5.x86_64", None, "affected", None),
    # plain upstream stable releases
    ("5.15.186", None, "affected", True),
    ("5.15.200", None, "affected", True),
    ("5.15.201", None, "affected", False),
    ("6.1.141", None, "affected", False),
    ("6.1.142", None, "affected", True),
    ("6.1.163", None, "affected", True),
    ("6.1.164", None, "affected", False),
    ("6.6.94", None, "affected", True),
    ("6.6.127", None, "affected", False),
    ("6.12.73", None, "affected", True),
    ("6.8.12", None, "affected", False),
    ("6.15.11", None, "affected", False),
    # mainline 6.16 and later turn it on by themselves and are not in the CVE record
    ("6.16.0", None, "safe", True),
    ("6.18.2", None, "safe", True),
    ("6.17.0-5-generic", None, "safe", None),
    ("7.0.1", None, "safe", True),
    # no threaded NAPI before 5.12
    ("5.10.0-33-amd64", None, "unsupported", False),
    ("4.19.0-27-amd64", None, "unsupported", False),
    # unreadable: treated like affected by decide()
    ("", None, "unknown", None),
    ("custom", None, "unknown", None),
])
def test_verdict(release, version, status, default_on):
    v = napi.verdict(release, version)
    assert (v["status"], v["default_on"]) == (status, default_on)
    assert napi.CVE in v["reason"] or status == "unsupported"


def test_reasons_say_why():
    assert "6.12.34 to 6.12.73" in napi.verdict("6.12.57+deb13-amd64")["reason"]
    assert "the revert is in 6.12.74" in napi.verdict("6.12.57+deb13-amd64")["reason"]
    assert "before 6.16" in napi.verdict("6.8.0-51-generic")["reason"]
    assert "mainline 6.16" in napi.verdict("6.16.0")["reason"]
    assert "cannot be read" in napi.verdict("custom")["reason"]


@pytest.mark.parametrize("release, wanted, accept_risk, threaded, warns", [
    # default (not wanted): off where not safe - also undoing what an earlier run or the kernel turned on
    ("6.1.0-27-amd64", False, False, False, False),
    ("6.12.57+deb13-amd64", False, False, False, False),
    ("5.15.0-126-generic", False, False, False, False),
    ("5.14.0-503.14.1.el9_5.x86_64", False, False, False, False),
    ("custom", False, False, False, False),
    # ...and left to the kernel where safe (it turns it on itself)
    ("6.16.0", False, False, None, False),
    # opted in: on only where safe; elsewhere off with a warning naming the override
    ("6.16.0", True, False, True, False),
    ("6.18.2", True, True, True, False),
    ("6.8.0-51-generic", True, False, False, True),
    ("6.1.0-27-amd64", True, False, False, True),
    ("custom", True, False, False, True),
    # opted in and the risk accepted: on, with a warning
    ("6.8.0-51-generic", True, True, True, True),
    ("5.14.0-503.14.1.el9_5.x86_64", True, True, True, True),
    # accepting the risk alone turns nothing on
    ("6.8.0-51-generic", False, True, False, False),
    # no threaded NAPI: nothing to do
    ("5.10.0-33-amd64", True, True, None, False),
    ("5.10.0-33-amd64", False, False, None, False),
])
def test_decide(release, wanted, accept_risk, threaded, warns):
    d = napi.decide(release, wanted, accept_risk)
    assert d["threaded"] is threaded
    assert bool(d["warning"]) is warns
    if warns and not accept_risk:
        assert "nic_tuning_threaded_napi_accept_risk: true" in d["warning"]
    if warns and accept_risk:
        assert "turned on although" in d["warning"]


def test_decide_uses_the_debian_upstream_version():
    d = napi.decide("6.1.0-40-amd64", True, version=DEB12_IN_RANGE)
    assert d["verdict"]["default_on"] is True and "6.1.142 to 6.1.163" in d["warning"]


@pytest.mark.parametrize("threaded, release, found", [
    (1, "6.1.0-27-amd64", True),
    (2, "6.12.57+deb13-amd64", True),
    (1, "5.14.0-503.14.1.el9_5.x86_64", True),
    (1, "custom", True),
    (0, "6.8.0-51-generic", False),
    (None, "6.8.0-51-generic", False),
    (1, "6.16.0", False),
])
def test_finding(threaded, release, found):
    line = napi.finding("wg-spoke1", threaded, release)
    assert bool(line) is found
    if found:
        assert line.startswith("wg-spoke1 has threaded NAPI on (threaded=%d)" % threaded)
