"""The one way a request is refused, and the one way a refusal goes onto each wire.

`Refusal`: the request cannot be honoured (a stable `code` a client can act on, a readable
`message`, and any `extra` fields such as retry_after or limit_left that go with them).
Every refusal, whichever feature or surface it comes from, is one of these, built once
where the decision is made; features keep subclasses only so that a handler can catch
the refusals it expects. Two functions put one on the wire: `error_frame` for the room
socket, `error_response` for HTTP (status from the one `STATUS` table).

`Unavailable`: the backing store (Redis) cannot be reached right now. Nothing was
changed, or the change is idempotent by its request id: the same request may be sent
again. Every store raises this one type, promptly, instead of hanging, and every surface
answers it the same way: the refusal `UNAVAILABLE` (code `unavailable`, `retry_after`
seconds in the error frame, HTTP 503 with a Retry-After header).

`internal` is the answer to a bug and nothing else: a surface that answers it has logged
the traceback first (`internal_error`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from starlette.responses import JSONResponse

RETRY_AFTER_S = 1.0  # seconds; the HTTP Retry-After header rounds it up to whole seconds


class Refusal(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def with_extra(self, **extra: Any) -> Refusal:
        """A copy with more fields (a refusal kept in a store is never mutated)."""
        out = type(self).__new__(type(self))
        Refusal.__init__(out, self.code, self.message, **{**self.extra, **extra})
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Refusal):
            return NotImplemented
        return (self.code, self.message, self.extra) == (other.code, other.message, other.extra)

    __hash__ = Exception.__hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, **{self.extra!r})"


class Unavailable(Exception):
    """The store is unreachable for a moment; retry the same request."""


def unavailable() -> Refusal:
    """The one answer to an outage, on every surface."""
    return Refusal(
        "unavailable",
        "the store is unavailable for a moment; send the same request again",
        retry_after=RETRY_AFTER_S,
    )


def internal_error(log: logging.Logger, what: str, *args: Any) -> Refusal:
    """Log a bug with its traceback (call from an `except` block) and the refusal to send."""
    log.exception(what, *args)
    return Refusal("internal", "server error; the request may be sent again")


# HTTP status per code; every other code is 400 (fix the request).
STATUS: dict[str, int] = {
    "missing_signature": 401,
    "bad_signature": 401,
    "bad_timestamp": 401,
    "bad_nonce": 401,
    "stale_request": 401,
    "replayed_request": 401,
    "token_required": 401,
    "token_invalid": 401,
    "token_expired": 401,
    "token_wrong_room": 403,
    "forbidden": 403,
    "no_such_product": 404,
    "no_such_sale": 404,
    "no_such_hold": 404,
    "draw_not_found": 404,
    "not_found": 404,
    "no_such_room": 404,
    "no_such_code": 404,
    "no_such_viewer": 404,
    "no_such_segment": 404,
    "hold_expired": 409,
    "hold_cancelled": 409,
    "already_paid": 409,
    "order_conflict": 409,
    "sale_exists": 409,
    "no_such_template": 404,
    "no_such_drop": 404,
    "no_such_coupon": 404,
    "template_exhausted": 409,
    "drop_exists": 409,
    "draw_exists": 409,
    "draw_closed": 409,
    "coupon_redeemed": 409,
    "coupon_expired": 409,
    "coupon_not_valid_yet": 409,
    "coupon_not_applicable": 409,
    "no_such_series": 404,
    "show_over": 409,
    "show_started": 409,
    "show_not_live": 409,
    "show_not_scheduled": 409,
    "too_large": 413,
    "internal": 500,
    "unavailable": 503,
}


def error_frame(err: Refusal, rid: Any = None) -> dict[str, Any]:
    """The room socket's error frame: {"t": "error", "code", "message", ...extra, "rid"}."""
    out: dict[str, Any] = {"t": "error", "code": err.code, "message": err.message, **err.extra}
    if rid is not None:
        out["rid"] = rid
    return out


def error_response(err: Refusal) -> JSONResponse:
    """The HTTP error: {"error": {"code", "message"}, ...extra}, status from STATUS."""
    status = STATUS.get(err.code, 400)
    headers = None
    if "retry_after" in err.extra:
        headers = {"Retry-After": str(max(1, math.ceil(err.extra["retry_after"])))}
    body = {"error": {"code": err.code, "message": err.message}, **err.extra}
    return JSONResponse(body, status, headers)
