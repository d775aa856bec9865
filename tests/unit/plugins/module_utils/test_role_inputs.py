"""Ranges of role options the argument specs cannot say (module_utils/role_inputs.py)."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.role_inputs import range_errors


@pytest.mark.parametrize("name, value, messages", [
    ("port_spread_calibration_factor", 4, []),
    ("port_spread_calibration_factor", 0,
     ["port_spread_calibration_factor must be between 1 and 64 (candidate ports per wanted port), got 0"]),
    ("port_spread_calibration_packets", 0,
     ["port_spread_calibration_packets must be between 1 and 100000 (probe pings per candidate port), got 0"]),
    ("nic_tuning_rps_flow_cnt", 0, []),
    ("nic_tuning_rps_flow_cnt", -1, ["nic_tuning_rps_flow_cnt must be between 0 and 1048576 (RFS flow table entries "
                                     "per RX queue), got -1"]),
    ("nic_tuning_cpus", [0, 1], []),
    ("nic_tuning_cpus", [-1, 0, 9000], ["nic_tuning_cpus: -1, 9000 are not CPU numbers between 0 and 8191"]),
    ("nic_tuning_channel_counts", {"combined": 0, "rx": 2},
     ["nic_tuning_channel_counts.combined must be between 1 and 4096 (queues), got 0"]),
    ("nic_tuning_channel_counts", {}, []),
    ("port_spread_calibration_factor", None, []),
    ("wireguard_implementation", "kernel", []),
])
def test_range_errors_name_the_option_and_the_bounds(name, value, messages):
    assert range_errors(name, value) == messages
