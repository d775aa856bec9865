"""Make ``ansible_collections.sitelink.wgspread`` importable from a plain checkout.

The collection is linked into .cache/collections (the same place ansible.cfg names),
so tests import it by its real name, as Ansible does.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "sitelink", "wgspread")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.relpath(ROOT, os.path.dirname(LINK)), LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# Test helpers (fakehost, labkit) are plain modules beside the tests.
for helpers in ("unit", "integration"):
    path = os.path.join(ROOT, "tests", helpers)
    if path not in sys.path:
        sys.path.insert(0, path)
