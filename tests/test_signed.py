"""Signed tokens and tickets refuse hostile input with their own error, never a crash."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from liveroom import signed, tokens
from liveroom.draws import claim
from liveroom.rules.sale import Hold
from liveroom.sales import ticket

HOSTILE = ["abc.é", "é.é", "abc.\ud800", "!!!.x", "..", "x.", ".x", "a" * 50 + "." + "中" * 43]


@pytest.mark.parametrize("blob", HOSTILE)
def test_hostile_blobs_are_refused_with_each_kind_s_error(blob: str) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.verify("k", blob, "r1")
    with pytest.raises(ticket.TicketError):
        ticket.verify("k", blob)
    with pytest.raises(claim.ClaimError):
        claim.verify_claim("k", blob)


def test_one_kind_never_passes_as_another() -> None:
    tok = tokens.mint_for("k", "u1", room="r1")
    hold = Hold(
        hold_id="h1",
        room_id="r1",
        sale_id="s1",
        uid="u1",
        qty=1,
        price_fen=100,
        sku="sku",
        created_at=1,
        expires_at=2**50,
    )
    tkt = ticket.mint("k", hold)
    clm, _ = claim.mint_claim("k", room_id="r1", draw_id="d1", uid="u1")
    assert ticket.verify("k", tkt).hold_id == "h1"
    assert claim.verify_claim("k", clm)["draw"] == "d1"
    with pytest.raises(ticket.TicketError):
        ticket.verify("k", tok)
    with pytest.raises(claim.ClaimError):
        claim.verify_claim("k", tkt)
    with pytest.raises(tokens.TokenError):
        tokens.verify("k", clm, "r1")


def test_a_signed_body_that_is_not_json_is_unreadable() -> None:
    body = signed.b64(b"\xff not json")
    sig = signed.b64(hmac.new(b"k", body.encode(), hashlib.sha256).digest())
    with pytest.raises(signed.Unsealed) as err:
        signed.unseal("k", f"{body}.{sig}")
    assert err.value.reason == "claims"
    with pytest.raises(tokens.TokenError, match="unreadable"):
        tokens.verify("k", f"{body}.{sig}", "r1")
    assert signed.unseal("k", signed.seal("k", {"a": 1}, b"ctx"), b"ctx") == {"a": 1}
