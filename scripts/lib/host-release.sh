# shellcheck shell=bash
# host_release OS_RELEASE: the release check of scripts/setup-host, on an os-release file
# (/etc/os-release; tests/unit/test_host_release.py feeds it recorded ones). Sourced, not run.
# Supported controllers are the Debian releases the tests ran on (README, "Tested
# ansible-core and controllers"): it prints "debian 12 bookworm" or "debian 13 trixie" and
# returns 0; anything else gets one message on stderr that names the release found and
# returns 1, before setup-host installs anything. WGSPREAD_ANY_RELEASE=1 turns the refusal
# into a warning (return 0), for trying another Debian-like release on purpose.
host_release() {
    local file=$1 id version codename
    if [ ! -r "$file" ]; then
        echo "setup-host: cannot read $file, so cannot tell the release; supported: Debian 12 (bookworm), Debian 13 (trixie)" >&2
        return 1
    fi
    # os-release is shell-compatible by definition (os-release(5)); read it in a subshell
    # so that its variables do not leak into ours.
    read -r id version codename < <(
        # shellcheck disable=SC1090
        . "$file"; printf '%s %s %s\n' "${ID:-unknown}" "${VERSION_ID:-none}" "${VERSION_CODENAME:-none}")
    case "$id $version" in
        "debian 12"|"debian 13")
            echo "$id $version $codename"
            return 0 ;;
    esac
    local found="ID=$id VERSION_ID=$version VERSION_CODENAME=$codename"
    if [ "${WGSPREAD_ANY_RELEASE:-0}" = 1 ]; then
        echo "setup-host: warning: $found is not a tested controller (Debian 12 or 13); going on because WGSPREAD_ANY_RELEASE=1" >&2
        echo "$id $version $codename"
        return 0
    fi
    echo "setup-host: this host is $found; supported controllers are Debian 12 (bookworm) and Debian 13 (trixie)." \
         "Set WGSPREAD_ANY_RELEASE=1 to try anyway (package names and Python pins may not fit)." >&2
    return 1
}
