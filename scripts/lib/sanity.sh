# shellcheck shell=bash
# sanity: `ansible-test sanity` on a copy of the collection, with the ansible-test and
# Python first in PATH (scripts/test: .venv; scripts/core-matrix: one venv per ansible-core).
# Sourced, not run; needs REPO. SANITY_DIR (default $REPO/.cache/sanity) is removed and rebuilt.
sanity() {
    # ansible-test wants the collection at ansible_collections/NS/NAME (a real path,
    # not a symlink), so it runs on a copy of the tracked and new files.
    local top="${SANITY_DIR:-$REPO/.cache/sanity}"
    local root="$top/ansible_collections/sitelink/wgspread"
    rm -rf "$top"
    mkdir -p "$root"
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root")
    # ansible-test bootstraps pip into its venvs with a get-pip.py from a host that
    # this machine cannot reach; the stand-in does the same with ensurepip + PyPI.
    mkdir -p ~/.ansible/test/cache
    local pip_version python_version
    pip_version=$(python - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
    cp "$REPO/scripts/lib/get_pip_offline.py" ~/.ansible/test/cache/get_pip_"${pip_version//./_}".py
    # --python must name the Python that runs ansible-test (3.11 on Debian 12, 3.13 on
    # Debian 13): ansible-test makes its venvs from it.
    python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    # Every sanity test runs (pylint, validate-modules, import, ansible-doc included).
    # Two find nothing to check: pslint (no PowerShell here) and shellcheck (it looks at
    # *.sh only), so our shell scripts get their own shellcheck gate.
    (cd "$root" && git init -q . && git add -A && ansible-test sanity --venv --python "$python_version" --color no)
}
