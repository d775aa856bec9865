# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The attribute descriptions every module of this collection shares. A module
    # using it still states its own support level (and details where it has them):
    #   extends_documentation_fragment:
    #     - sitelink.wgspread.attributes
    #   attributes:
    #     check_mode:
    #       support: full
    # ansible-doc merges the two, the module's keys over the fragment's.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""
