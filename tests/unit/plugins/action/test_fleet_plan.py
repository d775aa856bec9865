"""The fleet_plan action's check of every role input of every host, in one pass."""

import pytest

from ansible.errors import AnsibleError
from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import role_input_errors


def test_good_and_unset_inputs_pass():
    hostvars = {"hub": {"wireguard_implementation": "userspace", "port_spread_calibrate": "missing"}, "spoke1": {}}
    assert role_input_errors(["wireguard", "port_spread", "nic_tuning"], ["hub", "spoke1"], hostvars.get) == []


@pytest.mark.parametrize("variables, message", [
    ({"wireguard_implementation": "foo"},
     "role wireguard: value of wireguard_implementation must be one of: auto, kernel, userspace, got: foo"),
    ({"port_spread_calibration_factor": "x"}, "role port_spread: argument 'port_spread_calibration_factor' is of type str"),
    ({"nic_tuning_devices": {"a": 1}}, "role nic_tuning: argument 'nic_tuning_devices' is of type dict"),
])
def test_a_bad_input_names_the_role_the_field_and_the_host(variables, message):
    errors = role_input_errors(["wireguard", "port_spread", "nic_tuning"], ["hub", "spoke1"],
                               {"hub": variables, "spoke1": {}}.get)
    assert len(errors) == 1 and errors[0].startswith(message) and errors[0].endswith("(on hub)"), errors


def test_one_mistake_on_many_hosts_is_one_message():
    hosts = ["gw%d" % i for i in range(7)]
    errors = role_input_errors(["wireguard"], hosts, dict((h, {"wireguard_implementation": "foo"}) for h in hosts).get)
    assert errors == ["role wireguard: value of wireguard_implementation must be one of: auto, kernel, userspace, "
                      "got: foo (on gw0, gw1, gw2, gw3, gw4 and 2 more)"]


def test_a_role_without_argument_specs_is_refused():
    with pytest.raises(AnsibleError, match="check_roles: no argument specs for role 'nosuchrole'"):
        role_input_errors(["nosuchrole"], ["hub"], {"hub": {}}.get)


@pytest.mark.parametrize("variables, message", [
    ({"nic_tuning_channel_counts": False},
     "role nic_tuning: nic_tuning_channel_counts must be a mapping (of combined, rx, tx), got False"),
    ({"port_spread_calibration_factor": float("inf")},
     "role port_spread: port_spread_calibration_factor inf cannot be taken as type int"),
    ({"port_spread_calibration_factor": 0},
     "role port_spread: port_spread_calibration_factor must be between 1 and 64 (candidate ports per wanted port), got 0"),
    ({"port_spread_calibration_factor": "0"},
     "role port_spread: port_spread_calibration_factor must be between 1 and 64 (candidate ports per wanted port), got 0"),
])
def test_a_value_the_validator_cannot_take_or_out_of_range_is_refused_naming_the_option(variables, message):
    (error,) = role_input_errors(["port_spread", "nic_tuning"], ["hub"], {"hub": variables}.get)
    assert error.startswith(message), error


def test_the_gateway_group_is_a_group_or_no_check():
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import gateway_group
    groups = {"all": ["hub", "x"], "gateways": ["hub"]}
    assert gateway_group("gateways", groups) == frozenset(["hub"]) and gateway_group("gateways", groups).name == "gateways"
    assert gateway_group("gateways:!hub", groups) is None


def test_peer_records_are_read_from_what_ansible_itself_wrote_to_a_jsonfile_fact_cache(tmp_path):
    """A record set with set_fact cacheable by a real ansible-playbook run, read back by the action."""
    import json
    import os
    import subprocess
    import sys

    from ansible.plugins.loader import cache_loader
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import read_peer_records

    cache_dir = tmp_path / "facts"
    playbook = tmp_path / "publish.yml"
    playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": [
        {"ansible.builtin.set_fact": {"wgspread_peer_record": {"version": 1, "gateway": "{{ inventory_hostname }}"},
                                      "cacheable": True}}]}]))
    env = dict(os.environ, ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache_dir))
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "spoke1,spoke2,",
                          "-c", "local", str(playbook)], capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    cache = cache_loader.get("jsonfile", _uri=str(cache_dir))
    records, warnings = read_peer_records(["spoke1", "spoke2", "spoke3"], cache=cache)
    assert records == {"spoke1": {"version": 1, "gateway": "spoke1"}, "spoke2": {"version": 1, "gateway": "spoke2"}}
    assert warnings == []


def test_an_unreadable_cache_entry_is_a_warning_and_the_link_waits():
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import read_peer_records

    class HalfWritten(object):
        def get(self, host):
            raise ValueError("Expecting value: line 1 column 1 (char 0)")

    records, warnings = read_peer_records(["spoke1"], cache=HalfWritten(), retry_after=0)
    assert records == {} and "cached facts of spoke1 cannot be read" in warnings[0]


def test_an_entry_being_written_is_read_on_the_second_try():
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import read_peer_records

    class WrittenMeanwhile(object):
        calls = 0

        def get(self, host):
            self.calls += 1
            if self.calls == 1:
                raise ValueError("Unterminated string starting at: line 1 column 2")
            return {"wgspread_peer_record": {"gateway": host}}

    assert read_peer_records(["spoke1"], cache=WrittenMeanwhile(), retry_after=0) == (
        {"spoke1": {"gateway": "spoke1"}}, [])


def test_records_older_than_the_fact_cache_timeout_are_still_read(tmp_path):
    """A schedule that runs less often than fact_caching_timeout must not turn live links into waiting ones."""
    import json
    import os
    import time as clock

    from ansible.plugins.loader import cache_loader
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import read_peer_records

    writer = cache_loader.get("jsonfile", _uri=str(tmp_path))
    writer.set("spoke1", {"wgspread_peer_record": {"gateway": "spoke1"}})
    old = clock.time() - 3 * 86400
    for name in os.listdir(str(tmp_path)):
        os.utime(os.path.join(str(tmp_path), name), (old, old))
    expiring = cache_loader.get("jsonfile", _uri=str(tmp_path), _timeout=86400)
    with pytest.raises(KeyError):
        expiring.get("spoke1")  # what Ansible itself would say
    reader = cache_loader.get("jsonfile", _uri=str(tmp_path), _timeout=0)
    assert read_peer_records(["spoke1"], cache=reader)[0] == {"spoke1": {"gateway": "spoke1"}}
    assert json.dumps(reader.get("spoke1"))


def test_a_fact_cache_timeout_is_named_with_what_it_does_to_sliced_runs():
    from ansible_collections.sitelink.wgspread.plugins.action.fleet_plan import expiry_warning
    message = expiry_warning(86400)
    assert "fact_caching_timeout is 86400 s" in message and "Set fact_caching_timeout = 0" in message
