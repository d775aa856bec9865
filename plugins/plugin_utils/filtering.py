# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wrapper every filter of this collection goes through.

The logic lives in module_utils and raises LinkError (bad wgspread_links), FleetError or
ValueError with a message that names the field; a filter turns that into an
AnsibleFilterError with the same message (no traceback), prefixed with what it is about.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError


def as_filter(function, prefix=""):
    """``function`` as a filter: its errors become AnsibleFilterError with their message."""
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except LinkError as exc:
            raise AnsibleFilterError(prefix + "; ".join(exc.errors)) from None
        except ValueError as exc:  # FleetError is a ValueError too
            raise AnsibleFilterError(prefix + str(exc)) from None
    return wrapped
