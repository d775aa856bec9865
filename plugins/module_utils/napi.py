# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is threaded NAPI safe on a WireGuard interface of this kernel? (CVE-2026-52945)

With threaded NAPI on, a WireGuard peer's receive side can stall for good under load: the
peer's rx_queue fills to MAX_QUEUED_PACKETS and wg_packet_rx_poll is never called again for
that peer (Daniel Borkmann's stable revert of "wireguard: device: enable threaded NAPI",
Feb 2026; docs/nic_tuning.md has the sources). What the sources state, and what this
module infers from them:

- stated: stable kernels 5.15.186-5.15.200, 6.1.142-6.1.163, 6.6.94-6.6.126 and
  6.12.34-6.12.73 turn threaded NAPI on by themselves for every WireGuard interface (the
  backport of mainline db9ae3b6b43c); the revert is in 5.15.201, 6.1.164, 6.6.127, 6.12.74
  (the CVE record's ranges).
- stated: mainline keeps turning it on by itself (the revert went to stable only), and the
  CVE record lists no mainline release as affected. That 6.16 is the first such release comes
  from issue 14 and fits the commit's date (5 June 2025); it was not checked against a tag.
- inferred: the revert only stopped those stable kernels from turning it on; the receive
  path it runs is unchanged. So any kernel before 6.16 with threaded=1 set by hand runs the
  path that stalled - the Cilium report (Ubuntu 6.8.0-117, threaded=1) is such a case.
- so "safe" is only 6.16 and later; everything else is "affected"; a string we cannot read
  is "unknown" and treated like affected. Vendor kernels (RHEL, Ubuntu, Debian 12) whose
  release hides the upstream sublevel are judged by major.minor, which is enough because
  no line before 6.16 is safe at any sublevel.

Pure: no Ansible, no I/O. ``release`` is ``uname -r`` (ansible_facts['kernel']),
``version`` is ``uname -v`` (ansible_facts['kernel_version'], optional: on Debian 12 it
carries the upstream version that ``6.1.0-27-amd64`` hides).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

CVE = "CVE-2026-52945"

# Mainline turns threaded NAPI on for WireGuard since this release (db9ae3b6b43c).
SAFE_SINCE = (6, 16)
# Threaded NAPI (/sys/class/net/DEV/threaded) exists since 5.12.
THREADED_SINCE = (5, 12)

# Stable lines whose kernels turn threaded NAPI on by themselves: (major, minor): (first, first
# without), sublevels from the CVE record (backport of db9ae3b6b43c, its revert).
DEFAULT_ON = {
    (5, 15): (186, 201),
    (6, 1): (142, 164),
    (6, 6): (94, 127),
    (6, 12): (34, 74),
}

SAFE, AFFECTED, UNKNOWN, UNSUPPORTED = "safe", "affected", "unknown", "unsupported"

# MAJOR.MINOR[.SUBLEVEL] then anything (vendor suffixes: -27-amd64, +deb13-amd64, -126-generic, -503.14.1.el9_5.x86_64).
_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
# Debian 12 says the upstream version in uname -v: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)".
_DEBIAN_VERSION = re.compile(r"\bDebian (\d+)\.(\d+)\.(\d+)")
# Debian's ABI-numbered releases (6.1.0-27-amd64) and Ubuntu's (5.15.0-126-generic) carry
# sublevel 0 whatever upstream sublevel they are built from.
_ABI_NUMBERED = re.compile(r"^\d+\.\d+\.0-\d+")


def parse_release(release, version=None):
    """(major, minor, sublevel or None, vendor) of a ``uname -r``; None when unreadable.

    sublevel is None where the release hides the upstream sublevel (Debian 12 and Ubuntu
    ABI numbers, unless ``version`` says it) and for vendors who rebase on their own (RHEL).
    """
    text = (release or "").strip()
    match = _RELEASE.match(text)
    if not match:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    sublevel = int(match.group(3)) if match.group(3) is not None else None
    rest = text[match.end():]
    if re.search(r"\.el\d+", rest):
        vendor = "rhel"
        sublevel = None  # 5.14.0-503.14.1.el9_5: RHEL's own backports, not an upstream sublevel
    elif "deb" in rest or rest.endswith(("-amd64", "-arm64", "-cloud-amd64", "-rt-amd64")):
        vendor = "debian"
    elif rest.endswith(("-generic", "-aws", "-azure", "-gcp", "-lowlatency", "-kvm", "-oracle")):
        vendor = "ubuntu"
    else:
        vendor = None
    if _ABI_NUMBERED.match(text):
        sublevel = None
        upstream = _DEBIAN_VERSION.search(version or "")
        if upstream and (int(upstream.group(1)), int(upstream.group(2))) == (major, minor):
            sublevel = int(upstream.group(3))
    return major, minor, sublevel, vendor


def _name(parsed):
    major, minor, sublevel, _vendor = parsed
    return "%d.%d.%s" % (major, minor, "x" if sublevel is None else sublevel)


def verdict(release, version=None):
    """{status, reason, release, default_on}: whether threaded NAPI is safe on WireGuard here.

    status: ``safe`` (6.16 and later), ``affected`` (before 6.16), ``unsupported`` (before
    5.12: no threaded NAPI) or ``unknown`` (release unreadable; treat as affected).
    default_on: True where this kernel turns threaded NAPI on by itself, None when the
    release does not tell.
    """
    parsed = parse_release(release, version)
    out = {"release": release, "status": UNKNOWN, "default_on": None,
           "reason": "kernel release %r cannot be read: treated as affected by %s" % (release, CVE)}
    if parsed is None:
        return out
    major, minor, sublevel, vendor = parsed
    line = (major, minor)
    if line >= SAFE_SINCE:
        out.update(status=SAFE, default_on=True if vendor is None else None,
                   reason="%s: mainline 6.16 and later turn threaded NAPI on for WireGuard by themselves; "
                          "%s lists no mainline release as affected" % (release, CVE))
        return out
    if line < THREADED_SINCE:
        out.update(status=UNSUPPORTED, default_on=False,
                   reason="%s: threaded NAPI exists since 5.12" % release)
        return out
    out["status"] = AFFECTED
    window = DEFAULT_ON.get(line)
    if window and sublevel is not None and vendor != "rhel":
        out["default_on"] = window[0] <= sublevel < window[1]
    elif not window:
        out["default_on"] = False if vendor is None else None
    if out["default_on"]:
        out["reason"] = ("%s (%s) turns threaded NAPI on by itself for WireGuard (%s: %d.%d.%d to %d.%d.%d; "
                         "the revert is in %d.%d.%d)" % (release, _name(parsed), CVE, major, minor, window[0],
                                                         major, minor, window[1] - 1, major, minor, window[1]))
    else:
        out["reason"] = ("%s is before 6.16: threaded NAPI on a WireGuard interface runs the receive path that "
                         "can stall a peer for good (%s); the stable revert only stopped kernels from turning "
                         "it on by themselves" % (release, CVE))
    return out


def decide(release, wanted, accept_risk=False, version=None):
    """What the nic_tuning role does with threaded NAPI on this kernel's WireGuard interfaces.

    Returns {threaded: True | False | None, warning: str or None, verdict: verdict()}.
    threaded None: leave the interfaces as the kernel has them (a safe kernel turns it on
    itself). ``wanted`` is nic_tuning_threaded_napi, ``accept_risk``
    nic_tuning_threaded_napi_accept_risk (only counts with ``wanted``).
    """
    v = verdict(release, version)
    out = {"verdict": v, "threaded": None, "warning": None}
    if v["status"] == UNSUPPORTED:
        return out
    if v["status"] == SAFE:
        out["threaded"] = True if wanted else None
        return out
    if wanted and accept_risk:
        out["threaded"] = True
        out["warning"] = ("threaded NAPI turned on although %s (nic_tuning_threaded_napi_accept_risk: true). "
                          "Watch for a peer whose received traffic stops while the others go on." % v["reason"])
        return out
    # Off, also where an earlier run of this role (or the kernel itself) turned it on.
    out["threaded"] = False
    if wanted:
        out["warning"] = ("threaded NAPI left off: %s. nic_tuning_threaded_napi_accept_risk: true turns it on "
                          "anyway." % v["reason"])
    return out


def finding(interface, threaded, release, version=None):
    """A line for the fleet check when ``interface`` has threaded NAPI on (``threaded``: the
    value of its threaded file, None when unread) on a kernel that is not safe; else None."""
    if not threaded:
        return None
    v = verdict(release, version)
    if v["status"] == SAFE:
        return None
    return "%s has threaded NAPI on (threaded=%s): %s" % (interface, threaded, v["reason"])
