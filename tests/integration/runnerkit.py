"""AWX job slicing, reproduced with ansible-runner (the engine of AWX execution environments).

AWX cuts a sliced job's inventory into K slices (hosts sorted by name, host i in slice i mod K;
each slice's inventory holds only its own hosts, with all group variables) and runs each slice
as its own ansible-runner job, concurrently. This module builds one ansible-runner private data
directory per slice, starts the slices at the same time and records what each run did, so a
lab test can drive rounds of site.yml the way a sliced AWX job template would.

A separate lab (its own container prefix, network and subnets, see scripts/lab's header) runs
the gateways, so this can run next to the default lab.
"""

import json
import os
import subprocess
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


class Lab(object):
    """A second lab: scripts/lab with every WGSPREAD_LAB_* variable set to values of its own."""

    def __init__(self, prefix, net, subnet_prefix, subnet6_prefix, state, inventory, spokes):
        self.prefix, self.net, self.spokes = prefix, net, spokes
        self.subnet_prefix, self.subnet6_prefix = subnet_prefix, subnet6_prefix
        self.state, self.inventory = state, inventory
        self.gateways = ["hub"] + ["spoke%d" % k for k in range(1, spokes + 1)]

    def env(self):
        return dict(os.environ, WGSPREAD_LAB_PREFIX=self.prefix, WGSPREAD_LAB_NET=self.net,
                    WGSPREAD_LAB_SUBNET_PREFIX=self.subnet_prefix, WGSPREAD_LAB_SUBNET6_PREFIX=self.subnet6_prefix,
                    WGSPREAD_LAB_STATE=self.state, WGSPREAD_LAB_INVENTORY=self.inventory)

    def lab(self, *args):
        subprocess.run([os.path.join(ROOT, "scripts", "lab")] + list(args), env=self.env(), check=True)

    def address(self, gateway):
        """The underlay address scripts/lab gives a gateway: hub .11, spokeK .11+K."""
        return "%s.%d" % (self.subnet_prefix, 11 + (0 if gateway == "hub" else int(gateway[len("spoke"):])))

    def hostvars(self, gateway):
        return {"ansible_host": self.address(gateway)}

    def group_vars(self):
        """Connection variables of every gateway (as lab/inventory/hosts.yml, with this lab's key)."""
        return {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": os.path.join(self.state, "ssh", "id_ed25519"),
            # Lab only: containers get fresh host keys on every `up`.
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def container(self, gateway):
        return self.prefix + gateway

    def sh(self, gateway, command, check=True):
        """A shell command inside a gateway container of this lab; returns stdout."""
        result = subprocess.run(["podman", "exec", self.container(gateway), "sh", "-c", command],
                                capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise AssertionError("%s: %s failed: %s%s" % (gateway, command, result.stdout, result.stderr))
        return result.stdout


def awx_slices(hosts, count):
    """AWX's slicing: hosts sorted by name, host i goes to slice i mod count."""
    slices = [[] for _index in range(count)]
    for index, host in enumerate(sorted(hosts)):
        slices[index % count].append(host)
    return slices


def write_inventory(directory, hosts, lab, group_var_files):
    """An inventory directory: hosts.yml with ``hosts`` in group gateways, and group_vars/all/
    with the given files ({name: text}), the same for every slice."""
    os.makedirs(os.path.join(directory, "group_vars", "all"), exist_ok=True)
    inventory = {"all": {"children": {"gateways": {
        "hosts": dict((host, lab.hostvars(host)) for host in hosts), "vars": lab.group_vars()}}}}
    with open(os.path.join(directory, "hosts.yml"), "w") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    for name, text in group_var_files.items():
        with open(os.path.join(directory, "group_vars", "all", name), "w") as handle:
            handle.write(text)


def vault_encrypt_string(name, secret, password_file):
    """``NAME: !vault |...`` as ``ansible-vault encrypt_string`` writes it, for a group_vars file."""
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-vault"), "encrypt_string", "--vault-password-file",
                             password_file, "--name", name, secret], capture_output=True, text=True, check=True)
    assert secret not in result.stdout
    return result.stdout


def runner_envvars(fact_cache, vault_password_file):
    """env/envvars of every slice: the repository's ansible.cfg and collections, one shared
    jsonfile fact cache, the vault password file."""
    return {
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": fact_cache,
        "ANSIBLE_VAULT_PASSWORD_FILE": vault_password_file,
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }


def private_data_dir(directory, hosts, lab, group_var_files, envvars):
    """One slice's ansible-runner private data directory:
    inventory/ (only the slice's hosts), env/envvars, project -> the repository checkout (as an
    AWX project is; site.yml reads the roles' argument specs next to itself)."""
    write_inventory(os.path.join(directory, "inventory"), hosts, lab, group_var_files)
    os.makedirs(os.path.join(directory, "env"), exist_ok=True)
    with open(os.path.join(directory, "env", "envvars"), "w") as handle:
        yaml.safe_dump(envvars, handle)
    project = os.path.join(directory, "project")
    if not os.path.lexists(project):
        os.symlink(ROOT, project)
    return directory


class SliceRun(object):
    """One slice's run of one round: rc, status, changed per host, duration, stdout."""

    def __init__(self, index, hosts, runner, seconds):
        self.index, self.hosts, self.seconds = index, hosts, seconds
        self.rc, self.status = runner.rc, runner.status
        stats = runner.stats or {}
        self.changed = dict((host, stats.get("changed", {}).get(host, 0)) for host in hosts)
        self.failed = dict((host, stats.get("failures", {}).get(host, 0) + stats.get("dark", {}).get(host, 0))
                           for host in hosts)
        with open(os.path.join(runner.config.artifact_dir, "stdout"), errors="replace") as handle:
            self.stdout = handle.read()
        self.artifact_dir = runner.config.artifact_dir
        self.events = list(runner.events)

    def messages(self):
        """Every debug message of the run (job events), as text."""
        out = []
        for event in self.events:
            result = event.get("event_data", {}).get("res", {})
            if isinstance(result, dict) and "msg" in result:
                out.append(result["msg"] if isinstance(result["msg"], str) else json.dumps(result["msg"]))
        return out

    def summary(self):
        return "slice %d %s: rc=%s %.1f s changed=%s" % (self.index + 1, ",".join(self.hosts), self.rc, self.seconds,
                                                         self.changed)


def run_round(directories, slices, ident, playbook="playbooks/site.yml"):
    """Start every slice's ansible-runner job at the same moment, wait for all; [SliceRun].

    fact_cache_type "" is what AWX passes with fact storage off: ansible-runner then leaves
    ANSIBLE_CACHE_PLUGIN_CONNECTION alone. With "jsonfile" (its default, and AWX's with fact
    storage on) it points the cache at the job's own artifacts/IDENT/fact_cache, so slices
    would never see each other's records."""
    import ansible_runner

    started = time.time()
    finished, runners, threads = {}, [], []
    for index, directory in enumerate(directories):
        def done(runner, index=index):
            finished[index] = time.time()
        thread, runner = ansible_runner.run_async(
            private_data_dir=directory, playbook=playbook, ident=ident, quiet=True,
            fact_cache_type="", finished_callback=done)
        threads.append(thread)
        runners.append(runner)
    for thread in threads:
        # On a quiet machine a round takes well under a minute; round 1 installs packages, and
        # on a crowded 2-core host it was seen past 15 minutes.
        thread.join(timeout=2400)
        assert not thread.is_alive(), "a slice's run did not end in 2400 s"
    return [SliceRun(index, slices[index], runner, finished.get(index, time.time()) - started)
            for index, runner in enumerate(runners)]


def secret_hits(secrets, roots):
    """{(label, path)} for every file under ``roots`` (symlinks not followed) holding a secret."""
    hits = set()
    for root in roots:
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    with open(path, errors="replace") as handle:
                        text = handle.read()
                except OSError:
                    continue
                for label, secret in secrets.items():
                    if secret in text:
                        hits.add((label, path))
    return hits
