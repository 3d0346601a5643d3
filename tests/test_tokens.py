import pytest

from liveroom import tokens

SECRET = "s3cret"


def test_minted_token_verifies_with_claims() -> None:
    tok = tokens.mint_for(SECRET, "u1", room="r1", nick="Amy", tier="vip", src="wecom_group")
    ident = tokens.verify(SECRET, tok, "r1")
    assert (ident.uid, ident.nick, ident.tier, ident.src, ident.role) == (
        "u1",
        "Amy",
        "vip",
        "wecom_group",
        "viewer",
    )
    assert not ident.is_host


def test_any_room_token_works_in_every_room() -> None:
    tok = tokens.mint_for(SECRET, "u1", room=tokens.ANY_ROOM, role="host")
    assert tokens.verify(SECRET, tok, "a").is_host
    assert tokens.verify(SECRET, tok, "b").is_host


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: tokens.mint_for(SECRET, "u1", ttl_s=-5), "token_expired"),
        (lambda: tokens.mint_for("other-secret", "u1"), "token_invalid"),
        (lambda: tokens.mint_for(SECRET, "u1", room="elsewhere"), "token_wrong_room"),
        (lambda: "not-a-token", "token_invalid"),
        (lambda: tokens.mint_for(SECRET, "anon:x"), "token_invalid"),
    ],
)
def test_bad_tokens_are_refused_with_a_code(make, code: str) -> None:
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(SECRET, make(), "r1")
    assert err.value.code == code


def test_tampered_claims_fail_the_signature() -> None:
    tok = tokens.mint_for(SECRET, "u1", room="r1")
    body, sig = tok.split(".")
    forged_body = tokens.mint(SECRET, tokens.Identity(uid="u1", role="host", exp=2**40)).split(".")[
        0
    ]
    assert forged_body != body
    with pytest.raises(tokens.TokenError):
        tokens.verify(SECRET, f"{forged_body}.{sig}", "r1")


def test_claims_no_frame_could_carry_are_refused() -> None:
    """A backend that mints a nick with a lone surrogate must not poison every event of
    the room that user joins: the token is refused instead."""
    from liveroom import signed

    claims = {"uid": "u1", "nick": "bad\ud800", "role": "viewer", "exp": 4_000_000_000}
    token = signed.seal("k", claims)  # json.dumps writes the surrogate as an escape
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify("k", token, "r1")
    assert err.value.code == "token_invalid" and "UTF-8" in err.value.message
