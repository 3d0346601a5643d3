import msgpack
import pytest

from liveroom import codec, commands, protocol
from liveroom.errors import Refusal, error_frame
from liveroom.protocol import ProtocolError

commands.load_all()  # every feature's frame types in protocol.SPECS


def parse(frame: object, host: bool = False) -> protocol.Command:
    return protocol.parse(frame, is_host=host)


def test_valid_comment_parses_with_rid() -> None:
    cmd = parse({"t": "comment", "text": "hi", "id": "c1", "rid": 7})
    assert cmd.type == "comment"
    assert cmd.args == {"text": "hi", "id": "c1"}
    assert cmd.rid == 7


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([1, 2], "bad_frame"),
        ({"text": "no type"}, "bad_frame"),
        ({"t": "teleport"}, "unknown_type"),
        ({"t": "comment"}, "missing_field"),
        ({"t": "comment", "text": 5}, "bad_field"),
        ({"t": "like", "n": True}, "bad_field"),
        ({"t": "like", "n": 0}, "bad_field"),
        ({"t": "like", "n": 10**9}, "bad_field"),
        ({"t": "comment", "text": "x" * 5000}, "bad_field"),
        ({"t": "ping", "rid": {"a": 1}}, "bad_field"),
    ],
)
def test_bad_frames_get_stable_codes(frame: object, code: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse(frame)
    assert err.value.code == code


def test_error_frame_echoes_rid() -> None:
    frame = {"t": "teleport", "rid": "abc"}
    with pytest.raises(ProtocolError) as err:
        parse(frame)
    assert error_frame(err.value, protocol.rid_of(frame)) == {
        "t": "error",
        "code": "unknown_type",
        "message": "unknown frame type 'teleport'",
        "rid": "abc",
    }


def test_error_frame_carries_the_refusals_extra_fields() -> None:
    err = Refusal("sold_out", "sold out", sale_id="s1", available=0)
    assert error_frame(err, 3) == {
        "t": "error",
        "code": "sold_out",
        "message": "sold out",
        "sale_id": "s1",
        "available": 0,
        "rid": 3,
    }


@pytest.mark.parametrize(
    ("rid", "echoed"),
    [
        ("r1", "r1"),
        (7, 7),
        (2**64 - 1, 2**64 - 1),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),  # over-long: its error carries no rid
        ("r\ud800", None),
        (2**64, None),
        (True, None),
        (1.5, None),
        ([1], None),
    ],
)
def test_rid_echoed_only_when_it_is_a_valid_rid(rid: object, echoed: object) -> None:
    assert protocol.rid_of({"t": "ping", "rid": rid}) == echoed
    assert protocol.rid_of([1]) is None


@pytest.mark.parametrize("frame_type", sorted(protocol.SPECS))
@pytest.mark.parametrize("hostile", ["lone \ud800 surrogate", 2**64, float("nan")])
def test_hostile_values_in_any_frame_are_bad_field(frame_type: str, hostile: object) -> None:
    """Whatever the frame type and field, a value no store can keep never reaches a handler."""
    spec = protocol.SPECS[frame_type]
    for name in [*spec.fields, "extra_field"]:
        with pytest.raises(ProtocolError) as err:
            parse({"t": frame_type, name: hostile}, host=True)
        assert err.value.code == "bad_field", (frame_type, name)
        assert repr(name) in err.value.message


def test_sale_terms_are_left_to_the_sale_rules() -> None:
    """start_sale takes any term value; rules.sale.build_sale answers bad_sale for both
    the socket and the merchant API."""
    cmd = parse({"t": "start_sale", "sku": "tea", "stock": 0, "hold_s": "x"}, host=True)
    assert cmd.args == {"sku": "tea", "stock": 0, "hold_s": "x"}


def test_host_commands_need_a_host() -> None:
    with pytest.raises(ProtocolError) as err:
        parse({"t": "ban", "uid": "u2"})
    assert err.value.code == "forbidden"
    assert parse({"t": "ban", "uid": "u2"}, host=True).args == {"uid": "u2"}


def test_json_only_when_asked() -> None:
    assert codec.choose_format([]) == codec.MSGPACK
    assert codec.choose_format(["liveroom.json"]) == codec.JSON
    assert codec.choose_format(["liveroom.msgpack", "liveroom.json"]) == codec.MSGPACK


@pytest.mark.parametrize(
    "data", [b"\xc1", b"\x92\x01", msgpack.packb({"a": 1})[:-1], b"\xdd\xff\xff\xff\xff"]
)
def test_malformed_msgpack_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.MSGPACK, data)


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.JSON, "{nope")
