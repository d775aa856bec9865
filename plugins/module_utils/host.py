# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one seam through which our modules touch a host: commands and files.

Modules take a Host; tests pass a fake one that replays recorded outputs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import tempfile

# Errors of a single write to /proc or /sys that mean "this host cannot take the setting", not
# "the setting is wrong": a read-only sysfs (containers) and the kernel's "Operation not supported".
REFUSALS = (errno.EROFS, errno.EOPNOTSUPP, errno.ENOTSUP)


def refusal(exc):
    """The kernel's words for a refused /proc or /sys write (see REFUSALS), or None for other errors."""
    if getattr(exc, "errno", None) in REFUSALS:
        return os.strerror(exc.errno)
    return None


def _read_text(path):
    """File content as text, or None when the file does not exist."""
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            return None
        raise


def _replace_file(path, content, mode, fsync=False):
    """Write ``content`` to a temporary file beside ``path`` with ``mode`` from the first byte,
    then rename it over ``path``: readers see the old file or the new one, never a part, and
    never the content with looser permissions. ``fsync``: on disk before the rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".wgspread-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CommandError(Exception):
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        super(CommandError, self).__init__("%s failed (rc=%d): %s" % (" ".join(argv), rc, (stderr or stdout).strip()))


class Host(object):
    """Runs commands and reads/writes files through an AnsibleModule."""

    def __init__(self, module, root=""):
        self.module = module
        # Prefix for the kernel's trees and the files the NIC modules write (sys*, install_file):
        # tests point it at a fake /proc and /sys in a temporary directory. The methods above
        # sysread() never use it.
        self.root = (root or "").rstrip("/")

    def run(self, argv, data=None, check=True):
        """Run argv (a list, no shell). ``data`` goes to stdin and is never logged."""
        rc, out, err = self.module.run_command(argv, data=data, binary_data=data is not None)
        if check and rc != 0:
            raise CommandError(argv, rc, out, err)
        return rc, out, err

    def which(self, name):
        return self.module.get_bin_path(name)

    def read(self, path):
        """File content as text, or None when the file does not exist."""
        return _read_text(path)

    def exists(self, path):
        return os.path.exists(path)

    def write_private(self, path, content):
        """Write atomically with mode 0600 from the first byte: secrets never sit world-readable."""
        _replace_file(path, content, 0o600, fsync=True)

    def validate(self, content, argv):
        """Run ``argv`` with its ``%s`` replaced by a temporary file holding ``content`` (say
        ``nft -c -f %s``): (rc, stdout, stderr). The file is gone afterwards."""
        fd, tmp = tempfile.mkstemp(prefix=".wgspread-validate-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
            return self.run([tmp if word == "%s" else word for word in argv], check=False)
        finally:
            os.unlink(tmp)

    def remove(self, path):
        if os.path.exists(path):
            os.unlink(path)

    def mode(self, path):
        st = os.stat(path)
        return st.st_mode & 0o7777, st.st_uid

    def is_directory(self, path):
        return os.path.isdir(path)

    def make_directory(self, path, mode):
        """Create ``path`` and its missing parents; ``path`` itself gets ``mode`` whatever the umask."""
        os.makedirs(path, mode)
        os.chmod(path, mode)

    def set_mode(self, path, mode):
        os.chmod(path, mode)

    # Kernel trees (/proc, /sys) and plain files, below ``root``.

    def at(self, path):
        return self.root + path if self.root else path

    def sysread(self, path):
        """Content of a /proc or /sys file (or any file) below root; None when it does not exist."""
        return _read_text(self.at(path))

    def syslist(self, path):
        """Entry names of a directory below root, sorted; [] when it does not exist."""
        try:
            return sorted(os.listdir(self.at(path)))
        except (IOError, OSError) as exc:
            if getattr(exc, "errno", None) in (2, 20):
                return []
            raise

    def syswritable(self, path):
        """Whether a /proc or /sys file below root may be written: False on a read-only mount
        (sysfs in a container), which access(2) reports as EROFS even for root."""
        return os.access(self.at(path), os.W_OK)

    def syswrite(self, path, text):
        """One write() to a /proc or /sys file below root (no temp file: the kernel takes the
        value from the single write and may refuse it with an OSError)."""
        with open(self.at(path), "w") as handle:
            handle.write(text)

    def install_file(self, path, content, mode=0o644):
        """Write a plain file below root atomically with ``mode``, creating its directory."""
        path = self.at(path)
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        _replace_file(path, content, mode)

    def remove_file(self, path):
        """Remove a plain file below root if it exists."""
        if os.path.exists(self.at(path)):
            os.unlink(self.at(path))
