"""execution-environment.yml (docs/execution-environment.md) names what the AWX image needs:
this collection from the tarball `ansible-galaxy collection build` makes (the name carries
galaxy.yml's version), ansible-core, ansible-runner, jmespath for validate_query, and ssh.
Read as plain YAML: no network, no container engine, no ansible-builder needed."""

import os
import posixpath

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def load(name):
    return yaml.safe_load(read(name))


@pytest.fixture(scope="module")
def ee():
    return load("execution-environment.yml")


@pytest.fixture(scope="module")
def tarball():
    galaxy = load("galaxy.yml")
    return "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])


def test_schema_version_3(ee):
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]


def test_installs_this_collection_from_its_built_tarball(ee, tarball):
    collections = ee["dependencies"]["galaxy"]["collections"]
    assert len(collections) == 1
    entry = collections[0]
    assert entry["type"] == "file"
    assert posixpath.basename(entry["name"]) == tarball, "rename the tarball when galaxy.yml's version changes"
    # The tarball is copied into the build context where ansible-galaxy (run in /build,
    # where the context's _build directory lands) finds it under the relative name above.
    copied = [f for f in ee["additional_build_files"] if f["src"] == tarball]
    assert copied, "additional_build_files must copy %s into the build context" % tarball
    assert posixpath.join(copied[0]["dest"], tarball) == entry["name"]


def test_ansible_core_and_runner(ee):
    deps = ee["dependencies"]
    assert deps["ansible_core"]["package_pip"].startswith("ansible-core")
    assert deps["ansible_runner"]["package_pip"].startswith("ansible-runner")


def test_tested_ansible_core(ee):
    """The EE's ansible-core is the one requirements-dev.txt pins for the EE's Python
    (its pins carry python_version markers: 2.19 for 3.11, the newest for 3.12 and later)."""
    from packaging.requirements import Requirement
    python = ee["dependencies"]["python_interpreter"]["python_path"].rsplit("python", 1)[1]
    pins = [Requirement(line.split("#")[0]) for line in read("requirements-dev.txt").splitlines()
            if line.startswith("ansible-core")]
    assert len(pins) >= 2, "requirements-dev.txt pins ansible-core per controller Python"
    for_ee = [str(pin.specifier) for pin in pins
              if pin.marker is None or pin.marker.evaluate({"python_version": python})]
    assert ["==" + ee["dependencies"]["ansible_core"]["package_pip"].split("==", 1)[1]] == for_ee


def test_python_and_system_dependencies(ee):
    deps = ee["dependencies"]
    assert any(p.split("=")[0].split(">")[0].strip() == "jmespath" for p in deps["python"])
    assert any(s.startswith("openssh-client") for s in deps["system"])


def test_schema_with_ansible_builder(ee):
    """ansible-builder's own schema check (ansible-builder is in requirements-dev.txt)."""
    from ansible_builder.ee_schema import validate_schema
    from ansible_builder.exceptions import DefinitionError
    try:
        validate_schema(ee)
    except DefinitionError as exc:
        pytest.fail("execution-environment.yml does not pass ansible-builder's schema: %s" % exc)
    broken = dict(ee, version="three")
    with pytest.raises(DefinitionError):
        validate_schema(broken)
