"""Stand-in for get-pip.py, for ansible-test's sanity virtual environments.

ansible-test bootstraps pip into each sanity venv with a get-pip.py script that it
downloads from a CI host this kind of machine cannot reach. This does the same job
with what is here: the pip wheel bundled with Python (ensurepip), then a normal
`pip install` of what ansible-test asked for (pinned pip and friends) from PyPI.
scripts/test puts it where ansible-test looks for its cached copy.
"""

import ensurepip
import importlib
import runpy
import sys

# get-pip.py takes pip-install options and packages; these two are its own flags.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
ensurepip.bootstrap(upgrade=True)
importlib.invalidate_caches()
sys.argv = ["pip", "install", "--upgrade"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
