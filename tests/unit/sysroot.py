"""Files below a temporary directory, which a real Host(module, root=...) sees as /proc and /sys.

For the modules that read and write kernel files (irq_affinity, napi_threaded, rps_xps):
their tests build the tree with put() and check what the module wrote with read().
"""

import os


def put(root, path, content):
    """Write ``content`` to the absolute ``path`` below ``root``, creating its directories."""
    path = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(content)


def read(root, path):
    """The stripped content of the absolute ``path`` below ``root``."""
    with open(os.path.join(str(root), path.lstrip("/"))) as handle:
        return handle.read().strip()
