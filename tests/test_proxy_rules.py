"""Which address the per-address cap counts, behind trusted proxies or not."""

from __future__ import annotations

import pytest

from liveroom.rules.proxies import client_address, is_trusted, parse_networks

LB = parse_networks("10.0.0.0/8, 192.168.1.7")


def test_networks_parse_addresses_cidrs_and_none() -> None:
    assert [str(n) for n in LB] == ["10.0.0.0/8", "192.168.1.7/32"]
    assert parse_networks("none") == () == parse_networks(" ")
    assert [str(n) for n in parse_networks("127.0.0.1,::1")] == ["127.0.0.1/32", "::1/128"]
    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/33")


def test_trust_is_by_network() -> None:
    assert is_trusted("10.20.30.40", LB) and is_trusted("192.168.1.7", LB)
    assert not is_trusted("192.168.1.8", LB)
    assert not is_trusted("not an address", LB)
    assert not is_trusted("10.0.0.1", ())


def test_an_untrusted_peer_is_itself_whatever_it_claims() -> None:
    assert client_address("203.0.113.5", "1.2.3.4", LB) == "203.0.113.5"
    assert client_address("203.0.113.5", None, LB) == "203.0.113.5"


def test_behind_proxies_the_rightmost_untrusted_hop_is_the_client() -> None:
    # the client claimed 1.2.3.4; our edge proxy saw 203.0.113.9; an inner proxy added 10.0.0.2
    assert client_address("10.0.0.3", "1.2.3.4, 203.0.113.9, 10.0.0.2", LB) == "203.0.113.9"
    assert client_address("10.0.0.3", "203.0.113.9", LB) == "203.0.113.9"


def test_odd_forwarded_values() -> None:
    # every hop is ours: the left-most is as far as anyone vouches
    assert client_address("10.0.0.3", "10.0.0.9, 10.0.0.2", LB) == "10.0.0.9"
    # a trusted proxy that names no client is counted as itself
    assert client_address("10.0.0.3", "", LB) == "10.0.0.3"
    assert client_address("10.0.0.3", " , ", LB) == "10.0.0.3"
    # one spelling per IPv6 address; junk is counted as given, cut short
    assert client_address("10.0.0.3", "2001:DB8:0::1", LB) == "2001:db8::1"
    assert client_address("10.0.0.3", "unknown", LB) == "unknown"
    assert client_address("10.0.0.3", "x" * 500, LB) == "x" * 64
