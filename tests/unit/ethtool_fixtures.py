"""Loader for the recorded ethtool outputs in fixtures/ethtool (see its README.md)."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ethtool")
DEFAULT_KEY = ("6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:"
               "ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa")


def fixture(name):
    """(rc, stdout, stderr) of a recorded command: NAME.rc (absent: 0), NAME.stdout, NAME.stderr."""
    def read(ext):
        path = os.path.join(FIXTURES, name + "." + ext)
        if not os.path.exists(path):
            return ""
        with open(path) as handle:
            return handle.read()
    return int(read("rc") or 0), read("stdout"), read("stderr")


def text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()
