# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The on_unsupported option of the NIC modules (ethtool_*, irq_affinity, rps_xps,
    # napi_threaded). Its argument_spec entry is ON_UNSUPPORTED in module_utils/nic_module.py,
    # which nic_module() adds to every NIC module; exit_unsupported and report_unsupported there act on it.
    #   extends_documentation_fragment:
    #     - sitelink.wgspread.on_unsupported
    # What counts as unsupported for a module, and what C(warn) and C(skip) still do there,
    # goes into that module's own description: ansible-doc replaces an option's description
    # as a whole when a module sets it, it does not add to it.
    DOCUMENTATION = r"""
options:
  on_unsupported:
    description:
      - What to do when the device, its driver or the kernel cannot do what the task asks. The module's
        description says what counts as unsupported there, and what the task still does then.
      - C(fail) fails the task, C(warn) goes on with a warning, C(skip) goes on silently.
      - RV(unsupported) is true in all three cases, and RV(unsupported_reason) says why.
    type: str
    choices: [fail, warn, skip]
    default: warn
"""
