"""execution-environment.yml (docs/execution-environment.md) names what the AWX image needs:
this collection from the tarball `ansible-galaxy collection build` makes (the name carries
galaxy.yml's version), ansible-core, ansible-runner, jmespath for validate_query, and ssh.
Read as plain YAML first; then ansible-builder's own create and introspect steps run on it (no
network, no container engine)."""

import json
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


# ansible-builder's own steps on the real file, the way `ansible-builder build` runs them, minus
# the container engine: `create` writes the build context; the image's galaxy stage installs the
# collection from that context; its assemble stage runs `introspect` over the installed
# collections with the context's pip and bindep files. Offline (the tarball is local), ~5 s.
BIN = os.path.join(ROOT, ".venv", "bin")


def tool(name, *args, cwd, env=None):
    import subprocess
    result = subprocess.run([os.path.join(BIN, name)] + list(args), cwd=cwd, capture_output=True, text=True,
                            env=dict(os.environ, **(env or {})), timeout=300, check=False)
    assert result.returncode == 0, "%s %s: %s%s" % (name, " ".join(args), result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def build_context(tmp_path_factory, tarball):
    """``ansible-builder create`` from a directory holding execution-environment.yml and the tarball."""
    source = tmp_path_factory.mktemp("ee-source")
    tool("ansible-galaxy", "collection", "build", "--force", "--output-path", str(source), ROOT, cwd=ROOT)
    assert (source / tarball).is_file()
    (source / "execution-environment.yml").write_text(read("execution-environment.yml"))
    context = tmp_path_factory.mktemp("ee-context")
    out = tool("ansible-builder", "create", "-f", "execution-environment.yml", "--context", str(context), cwd=str(source))
    assert "Complete!" in out, out
    return context


def test_ansible_builder_create_writes_the_build_context(build_context, tarball):
    build = build_context / "_build"
    assert (build / "collections" / tarball).is_file()
    assert yaml.safe_load((build / "requirements.yml").read_text()) == {
        "collections": [{"name": "collections/" + tarball, "type": "file"}]}
    assert (build / "requirements.txt").read_text().split() == ["jmespath==1.1.0"]
    assert "openssh-clients [platform:rpm]" in (build / "bindep.txt").read_text()
    containerfile = (build_context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert "ansible-core==2.19.14" in containerfile and "ansible-runner~=2.4" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile


def test_the_galaxy_stage_installs_the_collection_and_introspect_finds_its_dependencies(build_context, tmp_path):
    """The image's steps after create: the galaxy install runs in _build (relative tarball path),
    then introspect merges the collections' requirements with the context's pip and bindep files."""
    build, installed = build_context / "_build", tmp_path / "collections"
    only_here = {"ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_GALAXY_DISABLE_GPG_VERIFY": "1"}
    tool("ansible-galaxy", "collection", "install", "--force", "-r", "requirements.yml", "--collections-path",
         str(installed), cwd=str(build), env=only_here)
    manifest = installed / "ansible_collections" / "sitelink" / "wgspread" / "MANIFEST.json"
    assert json.loads(manifest.read_text())["collection_info"]["name"] == "wgspread"
    out = tool("ansible-builder", "introspect", "--user-pip", "requirements.txt", "--user-bindep", "bindep.txt",
               "--write-pip", str(tmp_path / "pip.txt"), "--write-bindep", str(tmp_path / "bindep.txt"), str(installed),
               cwd=str(build))
    found = yaml.safe_load(out.split("---", 1)[1])
    assert [line.split("#")[0].strip() for line in found["python"]] == ["jmespath==1.1.0"], found
    assert sorted(line.split("#")[0].strip() for line in found["system"]) == [
        "openssh-client [platform:dpkg]", "openssh-clients [platform:rpm]"], found
    assert "jmespath==1.1.0" in (tmp_path / "pip.txt").read_text()
