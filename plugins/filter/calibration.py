# -*- coding: utf-8 -*-
# Copyright (c) 2026 sitelink.wgspread contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the port_spread role's calibration (logic in module_utils.calibration)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.sitelink.wgspread.plugins.module_utils import calibration
from ansible_collections.sitelink.wgspread.plugins.module_utils.links import LinkError


def _wrap(function):
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (LinkError, ValueError) as exc:
            raise AnsibleFilterError(str(exc)) from None
    wrapped.__name__ = function.__name__
    wrapped.__doc__ = function.__doc__
    return wrapped


class FilterModule(object):
    def filters(self):
        return {
            "links_to_calibrate": _wrap(calibration.links_to_calibrate),
            "calibration_probe_links": _wrap(calibration.probe_links),
            "calibrate": _wrap(calibration.calibrate),
        }
