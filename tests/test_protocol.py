import msgpack
import pytest

from liveroom import codec, protocol
from liveroom.protocol import ProtocolError


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
    with pytest.raises(ProtocolError) as err:
        parse({"t": "teleport", "rid": "abc"})
    assert err.value.frame() == {
        "t": "error",
        "code": "unknown_type",
        "message": "unknown frame type 'teleport'",
        "rid": "abc",
    }


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
