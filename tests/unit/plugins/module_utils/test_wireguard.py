"""Pure WireGuard helpers."""

import pytest

from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import (
    is_wireguard_key, mask_secrets, parse_dump, parse_routes_json, route_changes,
)


@pytest.mark.parametrize("text, ok", [
    ("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", True),
    ("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n", True),
    ("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg", False),
    ("", False),
    (None, False),
    ("not a key at all, but 44 characters long!!=", False),
])
def test_is_wireguard_key(text, ok):
    assert is_wireguard_key(text) is ok


def test_mask_secrets_keeps_everything_else():
    text = "[Interface]\nPrivateKey = abc\nListenPort = 1\n[Peer]\nPresharedKey = def\nPublicKey = pub\n"
    masked = mask_secrets(text)
    assert "abc" not in masked and "def" not in masked
    assert "PublicKey = pub" in masked and "ListenPort = 1" in masked


def test_parse_dump_of_a_fresh_interface_without_peers():
    state = parse_dump("(none)\t(none)\t0\toff\n")
    assert state == {"private_key": None, "public_key": None, "listen_port": 0, "peers": {}}


def test_parse_dump_rejects_garbage():
    with pytest.raises(ValueError):
        parse_dump("")
    with pytest.raises(ValueError):
        parse_dump("a\tb\n")


def test_routes_skip_connected_and_link_local():
    data = [{"dst": "198.18.0.0/31", "protocol": "kernel", "scope": "link"},
            {"dst": "10.1.0.0/16", "scope": "link"}, {"dst": "198.18.9.9", "scope": "link"},
            {"dst": "default", "scope": "link"}]
    assert parse_routes_json(data, 4) == ["0.0.0.0/0", "10.1.0.0/16", "198.18.9.9/32"]
    assert parse_routes_json([{"dst": "fe80::/64"}, {"dst": "fd00:1::/64"}], 6) == ["fd00:1::/64"]


def test_route_changes_ignore_prefixes_inside_the_connected_subnet():
    assert route_changes([], ["198.18.0.1/32"], ["198.18.0.0/31"]) == ([], [])
    assert route_changes(["10.7.0.0/16"], ["198.18.0.1/32", "10.1.0.0/16"], ["198.18.0.0/31"]) == (
        ["10.1.0.0/16"], ["10.7.0.0/16"])


@pytest.mark.parametrize("live_port, wanted, expected", [
    (51820, 51820, None),                                   # unchanged: no word
    (None, 51820, None),                                    # no live interface
    (51820, 51830, "wg0: the live listen port 51820 changes to 51830; its peer reaches it again once it has the new port too"),
    # listen_port: 051720 in YAML 1.1 is 21456: say so
    (51720, 21456, "wg0: the live listen port 51720 changes to 21456; its peer reaches it again once it has the new port "
                   "too (21456 is 051720 read as an octal number: YAML 1.1 reads a leading zero that way; quote the port "
                   "or drop the zero)"),
])
def test_a_run_that_moves_a_live_listen_port_warns(live_port, wanted, expected):
    from ansible_collections.sitelink.wgspread.plugins.module_utils.wireguard import listen_port_warning
    live = {"listen_port": live_port} if live_port else None
    assert listen_port_warning("wg0", live, {"listen_port": wanted}) == expected
