# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ruleset loaded where it cannot hurt: in a throw-away network namespace.

What nft makes of a file (its canonical JSON and text) is the only trustworthy "wanted"
side of a comparison, and the live ruleset must never serve as a scratch pad. So both the
module that swaps the live table (nft_table) and the validator (ruleset_check) load the
file with ``unshare --net``, in a namespace that is gone when the command ends. This is the
one place that builds that command and splits its output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

SPLIT = "----8<----"
LOAD, JSON, TEXT = "load", "json", "text"
_COMMANDS = {LOAD: 'nft -f "$1"', JSON: 'nft -j list table "$2" "$3"', TEXT: 'nft list table "$2" "$3"'}


def scratch_argv(path, family, name, steps):
    """``unshare --net sh -c SCRIPT sh PATH FAMILY NAME``: the ``steps`` (LOAD, JSON, TEXT), in
    order, stopping at the first that fails; listings are separated by SPLIT lines."""
    script, listed = [], False
    for step in steps:
        if step != LOAD:
            if listed:
                script.append('echo "%s"' % SPLIT)
            listed = True
        script.append(_COMMANDS[step])
    return ["unshare", "--net", "sh", "-c", " && ".join(script), "sh", path, family, name]


def load_in_scratch(host, family, name, steps, path=None, content=None):
    """The listings of ``steps`` (JSON decoded, text as nft prints it), in order.

    The ruleset is the file ``path`` or the text ``content`` (given on standard input, so
    it can be loaded once only). Raises host.CommandError when nft refuses it.
    """
    if (path is None) == (content is None):
        raise ValueError("load_in_scratch: give path or content")
    if content is not None and list(steps).count(LOAD) > 1:
        raise ValueError("load_in_scratch: content comes on standard input and can be loaded once only")
    out = host.run(scratch_argv("/dev/stdin" if path is None else path, family, name, steps), data=content)[1]
    kinds = [step for step in steps if step != LOAD]
    pieces = out.split(SPLIT + "\n", len(kinds) - 1) if kinds else []
    return [json.loads(piece) if kind == JSON else piece for kind, piece in zip(kinds, pieces)]  # noqa: B905 (Python 3.8 targets: no strict=)
