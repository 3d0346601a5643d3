"""The OpenAPI 3 description of the merchant API, served at /api/openapi.json.

Hand-written (the routes are few and the signing scheme needs prose a generator would not
write); tests/sales/test_merchant_api.py checks that every served route is described.
"""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"application/json": {"schema": schema}}}
    if description:
        out["description"] = description
    return out


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "invalid request (code: bad_request, bad_json, bad_product, bad_sale, bad_ticket,"
        " bad_room, bad_coupon (with `term`), bad_drop, wrong_room; a draw's bad_field,"
        " missing_field, not_eligible_*): a malformed path"
        " parameter, a body that is not a JSON object nested at"
        " most 16 deep, text UTF-8 cannot encode (a lone surrogate), a number outside 64 bits",
        401: "signature refused (missing_signature, bad_signature, bad_timestamp, bad_nonce,"
        " stale_request, replayed_request)",
        404: "unknown id (no_such_product, no_such_sale, no_such_hold, no_such_room,"
        " no_such_code, no_such_viewer, no_such_segment, no_such_template, no_such_drop,"
        " no_such_coupon, draw_not_found)",
        409: "state forbids it (hold_expired, hold_cancelled, already_paid, order_conflict;"
        " the body also carries the hold as it is) (template_exhausted, drop_exists;"
        " coupon_redeemed, coupon_expired, coupon_not_valid_yet, coupon_not_applicable: the"
        " body also carries the coupon as it is) (draw_exists, with the draw; draw_closed,"
        " with its state)",
        413: "body over 64 KiB (too_large)",
        503: "store unavailable (unavailable): send the same call again after Retry-After",
    }
    return {str(c): _json(_ref("Error"), words[c]) for c in sorted({400, 401, 413, 503, *codes})}


def _op(
    summary: str,
    ok: dict[str, Any],
    *errors: int,
    body: str | None = None,
    status: int = 200,
    params: list[dict] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"signature": [], "timestamp": [], "nonce": []}],
        "responses": {str(status): _json(ok, "OK"), **_errors(*errors)},
    }
    if body:
        op["requestBody"] = {"required": True, **_json(_ref(body))}
    if params:
        op["parameters"] = params
    return op


_SAFE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _SAFE_ID}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": _obj({"code": _S, "message": _S}, ["code", "message"]),
            "hold": _ref("Hold"),
            "sale": _ref("Sale"),
            "draw": {"$ref": "#/components/schemas/Draw"},
            "state": {**_S, "description": "409 draw_closed: the state the draw is in"},
            "retry_after": {**_I, "description": "503 unavailable: seconds to wait"},
        },
        ["error"],
    ),
    "Product": _obj(
        {
            "sku": {**_S, "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
            "title": _S,
            "price_fen": {**_I, "description": "price in fen (1/100 yuan)"},
            "image": _S,
            "appid": {**_S, "description": "mini-program appid that takes the order"},
            "page": {**_S, "description": "checkout page path; the ticket is added as ?ticket="},
        },
        ["sku", "title", "price_fen"],
    ),
    "RoomChanges": _obj(
        {
            "title": _S,
            "allow_anonymous": _B,
            "keywords": {"type": "array", "items": _S},
            "social_proof": {
                "type": "string",
                "enum": ["masked", "full", "off"],
                "description": "how the room names buyers in purchase social proof",
            },
            "starts_at": {**_I, "description": "unix ms in the future: schedules the show"},
            "cover": _S,
            "hls_url": _S,
            "player_url": _S,
            "replay_url": _S,
            "reminders": _obj(
                {"webhooks": {"type": "array", "items": _S}, "offsets_s": {"type": "array"}}
            ),
            "templates": _obj({}),
            "msgtype": {"type": "string", "enum": ["text", "markdown"]},
            "notices": _obj({"sale": _B, "draw": _B}),
            "link": _S,
            "tz": _S,
        }
    ),
    "Series": _obj(
        {
            "series_id": _S,
            "title": _S,
            "weekday": {**_I, "minimum": 1, "maximum": 7},
            "time": {**_S, "description": "HH:MM"},
            "tz": _S,
            "defaults": _obj({}),
        },
        ["series_id", "title", "weekday", "time"],
    ),
    "SaleRequest": _obj(
        {
            "sku": _S,
            "stock": {**_I, "minimum": 1},
            "price_fen": {**_I, "description": "sale price; defaults to the product's"},
            "limit_per_user": {**_I, "minimum": 1, "default": 1},
            "starts_at": {**_I, "description": "unix ms; or starts_in_s"},
            "starts_in_s": {**_I, "default": 0},
            "duration_s": _I,
            "ends_at": {**_I, "description": "unix ms; or duration_s; none = until ended"},
            "early_access_s": {**_I, "description": "member tiers may grab this early"},
            "member_tiers": {"type": "array", "items": _S, "default": ["member", "vip"]},
            "hold_s": {**_I, "default": 300, "description": "unpaid holds expire after this"},
        },
        ["sku", "stock"],
    ),
    "Sale": _obj(
        {
            "sale_id": _S,
            "sku": _S,
            "title": _S,
            "price_fen": _I,
            "stock": _I,
            "available": _I,
            "held": _I,
            "sold": _I,
            "limit_per_user": _I,
            "starts_at": _I,
            "ends_at": _I,
            "early_access_s": _I,
            "member_tiers": {"type": "array", "items": _S},
            "hold_s": _I,
            "status": {"type": "string", "enum": ["scheduled", "live", "ended"]},
        }
    ),
    "Hold": _obj(
        {
            "hold_id": _S,
            "room_id": _S,
            "sale_id": _S,
            "uid": _S,
            "sku": _S,
            "qty": _I,
            "price_fen": _I,
            "total_fen": _I,
            "created_at": _I,
            "expires_at": _I,
            "status": {"type": "string", "enum": ["held", "paid", "cancelled", "expired"]},
            "order_id": _S,
            "ended_at": _I,
            "src": {**_S, "description": "the buyer's source channel, from the viewer token"},
            "ref": {**_S, "description": "the share code the buyer came through"},
            "nick": {**_S, "description": "the buyer's nick, from the viewer token"},
        }
    ),
    "HoldRef": _obj(
        {
            "ticket": {**_S, "description": "the checkout ticket; or room_id + hold_id"},
            "room_id": _S,
            "hold_id": _S,
        }
    ),
    "Confirm": {
        "allOf": [_ref("HoldRef"), _obj({"order_id": _S}, ["order_id"])],
    },
    "Redeem": _obj({"ticket": _S}, ["ticket"]),
    "Event": _obj(
        {
            "id": {**_S, "description": "stream id <ms>-<n>; pass as ?after= to page"},
            "type": {
                "type": "string",
                "enum": [
                    "sale_created",
                    "sale_started",
                    "sale_ended",
                    "hold_created",
                    "hold_paid",
                    "hold_cancelled",
                    "hold_expired",
                    "draw_started",
                    "draw_closed",
                    "draw_cancelled",
                    "viewer_joined",
                    "show_scheduled",
                    "show_rescheduled",
                    "show_live",
                    "show_ended",
                    "show_cancelled",
                    "show_subscribed",
                    "show_notice",
                    "draw_entered",
                    "activity",
                    "drop_created",
                    "drop_ended",
                    "coupon_issued",
                    "coupon_redeemed",
                    "coupon_expired",
                ],
            },
            "drop_id": {**_S, "description": "drop_* and coupon_* events: the coupon drop"},
            "template_id": {**_S, "description": "drop_*: the coupon template dropped"},
            "count": {**_I, "description": "drop_*: coupons in the drop"},
            "coupon_id": {**_S, "description": "coupon_*: the coupon"},
            "valid_until": {**_I, "description": "coupon_*: unix ms the coupon is valid until"},
            "room_id": _S,
            "sale_id": _S,
            "hold_id": _S,
            "uid": _S,
            "sku": _S,
            "qty": _I,
            "price_fen": _I,
            "order_id": _S,
            "src": {
                **_S,
                "description": "the buyer's (or joining viewer's) source channel, from the "
                "viewer token",
            },
            "tier": {**_S, "description": "viewer_joined: the viewer's member tier"},
            "ref": {**_S, "description": "the share code the viewer came through (first touch)"},
            "first": {**_I, "description": "viewer_joined: 1 at the viewer's first touch"},
            "t0": {**_I, "description": "activity: start of the period (ts is its end)"},
            "viewers": {**_I, "description": "activity: the room's viewer count at ts"},
            "node": {**_S, "description": "activity: the liveroom process"},
            "sources": {
                "type": "object",
                "description": "activity: {source: {c, l, k, w, j}} comments, likes, clicks,"
                " watch ms, anonymous joins",
            },
            "clicks": {"type": "object", "description": "activity: {sku: clicks}"},
            "draw_id": _S,
            "prize": _obj({"title": _S, "image": _S, "claim_path": _S}),
            "winners": {"type": "array", "items": _obj({"uid": _S, "nick": _S})},
            "winners_count": _I,
            "entrants_count": _I,
            "seed": {**_S, "description": "draw_closed / draw_cancelled: the revealed seed"},
            "commitment": _S,
            "ends_at": _I,
            "mode": _S,
            "phrase": _S,
            "eligibility": _obj(
                {"members_only": _B, "tiers": {"type": "array"}, "min_watch_s": _I}
            ),
            "state": _S,
            "by": {**_S, "description": "draw events: the host, when a host acted"},
            "seq": {**_I, "description": "draw events: the room event's seq"},
            "ts": _I,
        }
    ),
}

# coupons (liveroom/coupons/routes.py) ------------------------------------------------------
_TERMS = {
    "title": {**_S, "maxLength": 60},
    "kind": {"type": "string", "enum": ["amount_off", "percent_off", "threshold", "gift"]},
    "amount_fen": {**_I, "description": "amount_off, threshold: fen off"},
    "percent": {**_I, "minimum": 1, "maximum": 99, "description": "percent_off"},
    "max_off_fen": {**_I, "description": "percent_off: the most it takes off; 0 = no cap"},
    "spend_fen": {**_I, "description": "threshold (满减), gift (满赠): the spend it needs"},
    "gift_sku": {**_S, "description": "gift: the sku given"},
    "min_spend_fen": {**_I, "default": 0},
    "valid_from": {**_I, "description": "unix ms; with valid_until, or valid_days"},
    "valid_until": {**_I, "description": "unix ms"},
    "valid_days": {**_I, "description": "valid this many days from the claim"},
    "skus": {"type": "array", "items": _S, "description": "applicable skus; empty = all"},
}
SCHEMAS.update(
    {
        "CouponTemplateRequest": _obj(
            {
                **_TERMS,
                "total": {**_I, "minimum": 1, "description": "coupons it may ever issue"},
                "limit_per_user": {**_I, "default": 1},
                "member_tiers": {
                    "type": "array",
                    "items": _S,
                    "description": "tiers allowed to claim; empty = everyone",
                },
            },
            ["title", "kind", "total"],
        ),
        "CouponTemplate": _obj(
            {
                "template_id": _S,
                **_TERMS,
                "total": _I,
                "limit_per_user": _I,
                "member_tiers": {"type": "array", "items": _S},
                "created_at": _I,
                "reserved": {**_I, "description": "taken by drops"},
                "left": {**_I, "description": "total - reserved: what new drops may take"},
                "issued": {**_I, "description": "coupons claimed, over every drop"},
                "redeemed": _I,
            }
        ),
        "DropRequest": _obj(
            {
                "template_id": _S,
                "count": {**_I, "minimum": 1, "maximum": 1_000_000},
                "drop_id": {**_S, "description": "optional: name it to retry safely"},
                "starts_in_s": _I,
                "starts_at": _I,
                "duration_s": {**_I, "description": "the claim window; or ends_at"},
                "ends_at": _I,
                "early_access_s": {**_I, "description": "member tiers may claim this early"},
                "member_tiers": {"type": "array", "items": _S},
                "phrase": {**_S, "description": "a pass-phrase drop: claimed by commenting it"},
            },
            ["template_id", "count"],
        ),
        "Drop": _obj(
            {
                "drop_id": _S,
                "template_id": _S,
                "title": _S,
                "coupon": _obj(_TERMS),
                "count": _I,
                "remaining": _I,
                "claimed": _I,
                "redeemed": _I,
                "limit_per_user": _I,
                "starts_at": _I,
                "ends_at": _I,
                "early_access_s": _I,
                "member_tiers": {"type": "array", "items": _S},
                "phrase": _S,
                "hidden": _B,
                "status": {"type": "string", "enum": ["scheduled", "live", "ended"]},
            }
        ),
        "Coupon": _obj(
            {
                "coupon_id": _S,
                "template_id": _S,
                "drop_id": _S,
                "room_id": _S,
                "uid": _S,
                **_TERMS,
                "status": {"type": "string", "enum": ["issued", "redeemed", "expired"]},
                "order_id": _S,
                "issued_at": _I,
            }
        ),
        "RedeemCoupon": _obj(
            {
                "ticket": {**_S, "description": "the coupon ticket"},
                "order_id": {**_S, "maxLength": 128},
                "room_id": {
                    **_S,
                    "description": "optional: refused (wrong_room) if not the ticket's",
                },
                "spend_fen": {**_I, "description": "optional: the order's spend, checked"},
                "skus": {"type": "array", "items": _S, "description": "optional: the order's skus"},
            },
            ["ticket", "order_id"],
        ),
    }
)
_TEMPLATE_OUT = _obj({"template": _ref("CouponTemplate")})
_DROP_OUT = _obj({"drop": _ref("Drop")})

# draws (liveroom/draws/routes.py) ----------------------------------------------------------
_ELIGIBILITY = _obj(
    {
        "members_only": _B,
        "tiers": {"type": "array", "items": _S},
        "min_watch_s": {**_I, "minimum": 0, "maximum": 86400},
    }
)
SCHEMAS["DrawRequest"] = _obj(
    {
        "prize": _obj(
            {
                "title": {**_S, "description": "1-100 characters"},
                "image": _S,
                "claim_path": {**_S, "description": "the mini-program page a winner claims at"},
                "kind": {
                    "type": "string",
                    "enum": ["coupon", "product"],
                    "description": "a lucky bag: each winner receives a coupon or a product",
                },
                "template_id": {**_S, "description": "kind coupon: the template"},
                "sku": {**_S, "description": "kind product: the product"},
            },
            ["title"],
        ),
        "winners": {**_I, "minimum": 1, "maximum": 1000},
        "duration_s": {**_I, "minimum": 1, "maximum": 86400},
        "mode": {"type": "string", "enum": ["button", "phrase"]},
        "phrase": {**_S, "description": "phrase mode: viewers enter by commenting it"},
        "eligibility": _ELIGIBILITY,
        "draw_id": {
            **_S,
            "pattern": "^[A-Za-z0-9_.-]{1,60}$",
            "description": "optional: name it to retry safely (a repeat answers 409"
            " draw_exists with the draw)",
        },
    },
    ["prize", "winners", "duration_s"],
)
SCHEMAS["Draw"] = _obj(
    {
        "draw_id": _S,
        "prize": _obj({}),
        "winners_count": _I,
        "ends_at": _I,
        "commitment": {**_S, "description": "sha256 of the seed, revealed at the close"},
        "mode": _S,
        "phrase": _S,
        "eligibility": _ELIGIBILITY,
        "state": {"type": "string", "enum": ["open", "closed", "cancelled"]},
    }
)
_DRAW_OUTCOME = _obj(
    {
        "outcome": _obj(
            {
                "draw_id": _S,
                "prize": _obj({}),
                "winners": {"type": "array", "items": _obj({"uid": _S, "nick": _S})},
                "winners_count": _I,
                "seed": _S,
                "commitment": _S,
                "entrants_count": _I,
                "by": _S,
                "seq": _I,
            }
        )
    }
)

# analytics (liveroom/analytics/routes.py) -------------------------------------------------
_OWNER = _obj(
    {
        "kind": {"type": "string", "enum": ["host", "staff", "koc", "distributor"]},
        "id": {**_S, "description": "the inviter's id in the merchant's systems, 1-128"},
        "name": _S,
    },
    ["kind", "id"],
)
SCHEMAS.update(
    {
        "ShareCodeRequest": _obj(
            {
                "owner": _OWNER,
                "channel": {
                    **_S,
                    "pattern": "^[a-z][a-z0-9_]{0,31}$",
                    "description": "wecom_group, moments, poster, offline_store, ...",
                },
                "label": {**_S, "maxLength": 100},
            },
            ["owner", "channel"],
        ),
        "ShareCode": _obj(
            {
                "code": {**_S, "pattern": "^[A-HJ-NP-Z2-9]{8}$"},
                "room_id": _S,
                "channel": _S,
                "owner": _OWNER,
                "label": _S,
                "created_at": _I,
                "links": _obj(
                    {
                        "web": {**_S, "description": "the viewer page with ?ref="},
                        "miniprogram": _obj({"path": _S, "custom_params": _S}),
                        "wx_live_plugin": {**_S, "description": "WeChat live-room plugin path"},
                    }
                ),
            }
        ),
        "Report": _obj(
            {
                "room_id": _S,
                "status": _S,
                "final": _B,
                "duration_s": _I,
                "viewers": _obj(
                    {
                        "unique": _I,
                        "peak": _I,
                        "now": {**_I, "nullable": True},  # null once the show is over
                        "avg_concurrent": {"type": "number"},
                        "avg_watch_s": {"type": "number"},
                        "watch_s": _I,
                    }
                ),
                "comments": _I,
                "likes": _I,
                "holds": _I,
                "paid": _I,
                "paid_fen": _I,
                "products": {"type": "object", "description": "sku -> clicks, holds, paid, ..."},
                "sources": {"type": "object", "description": "code or channel -> figures"},
                "inviters": {"type": "array", "items": _obj({})},
                "draws": _obj({}),
                "series": _obj({}),
            }
        ),
        "Viewer": _obj(
            {
                "uid": _S,
                "shows": _I,
                "watch_s": _I,
                "comments": _I,
                "holds": _I,
                "paid": _I,
                "spend_fen": _I,
                "first_seen": _I,
                "last_seen": _I,
                "last_room": _S,
                "clicked": _obj({}),
                "held": _obj({}),
                "bought": _obj({}),
                "segments": {"type": "array", "items": _S},
                "tags": {"type": "array", "items": _S},
            }
        ),
    }
)


def _stream_op(summary: str, media: str, *errors: int, params: list[dict]) -> dict[str, Any]:
    """A streamed download (NDJSON or CSV) rather than a JSON answer."""
    op = _op(summary, {}, *errors, params=params)
    op["responses"]["200"] = {
        "description": "streamed, a page at a time",
        "content": {media: {"schema": {"type": "string"}}},
    }
    return op


_AS_OF = {"name": "as_of", "in": "query", "schema": {**_I, "description": "unix ms; now"}}
_SEGMENT = {
    "name": "segment",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["new", "returning", "active", "high_value", "dormant"]},
}

_ROOM = _path_param("room_id")
_SALE = _path_param("sale_id")
_SKU = _path_param("sku")
_HOLD_OUT = _obj({"hold": _ref("Hold"), "duplicate": _B})
_SALE_OUT = _obj({"sale": _ref("Sale")})
_PRODUCT_OUT = _obj({"product": _ref("Product")})

PATHS: dict[str, Any] = {
    "/api/products": {
        "get": _op(
            "List products", _obj({"products": {"type": "array", "items": _ref("Product")}})
        ),
        "post": _op("Create or replace a product", _PRODUCT_OUT, 400, body="Product", status=201),
    },
    "/api/products/{sku}": {
        "get": _op("Get a product", _PRODUCT_OUT, 404, params=[_SKU]),
        "put": _op("Create or replace a product", _PRODUCT_OUT, 400, body="Product", params=[_SKU]),
        "delete": _op("Delete a product", _obj({"deleted": _S}), 404, params=[_SKU]),
    },
    "/api/rooms/{room_id}": {
        "get": _op(
            "Room settings, shopping bag and product clicks",
            _obj({"room": _obj({}), "bag": {"type": "array", "items": _S}, "clicks": _obj({})}),
            params=[_ROOM],
        ),
        "put": _op(
            "Change title, anonymous access or blocked keywords (the room sees it live)",
            _obj({"room": _obj({}), "seq": _I}),
            400,
            body="RoomChanges",
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/cancel": {
        "post": _op(
            "Cancel a scheduled show", _obj({"seq": _I, "show": _obj({})}), 409, params=[_ROOM]
        ),
    },
    "/api/rooms/{room_id}/subscribers": {
        "get": _op(
            "Viewers who tapped Remind me, in order (offset, count)",
            _obj({"subscribers": {"type": "array"}, "total": _I, "next": _I}),
            400,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/messages": {
        "get": _op("The show's WeCom group messages and their state", _obj({}), params=[_ROOM]),
    },
    "/api/series": {
        "get": _op("List series", _obj({"series": {"type": "array"}})),
        "post": _op(
            "Create a series (its next episode is scheduled)", _obj({}), 400, body="Series"
        ),
    },
    "/api/series/{series_id}": {
        "get": _op("A series with its episodes", _obj({}), 404, params=[_path_param("series_id")]),
        "put": _op(
            "Replace a series", _obj({}), 400, body="Series", params=[_path_param("series_id")]
        ),
        "delete": _op(
            "Delete a series", _obj({"deleted": _S}), 404, params=[_path_param("series_id")]
        ),
    },
    "/api/rooms/{room_id}/sales": {
        "get": _op(
            "The room's sales",
            _obj({"sales": {"type": "array", "items": _ref("Sale")}}),
            params=[_ROOM],
        ),
        "post": _op(
            "Create a flash sale on a product",
            _SALE_OUT,
            400,
            404,
            body="SaleRequest",
            status=201,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/sales/{sale_id}": {
        "get": _op("A sale with its counters", _SALE_OUT, 404, params=[_ROOM, _SALE]),
    },
    "/api/rooms/{room_id}/sales/{sale_id}/end": {
        "post": _op(
            "End a sale now (holds may still be paid)", _SALE_OUT, 404, params=[_ROOM, _SALE]
        ),
    },
    "/api/rooms/{room_id}/sales/{sale_id}/holds": {
        "get": _op(
            "Every hold of a sale and the units each user holds or bought (reconciliation)",
            _obj(
                {
                    "sale": _ref("Sale"),
                    "holds": {"type": "array", "items": _ref("Hold")},
                    "units_by_user": {"type": "object", "additionalProperties": _I},
                }
            ),
            400,
            404,
            params=[
                _ROOM,
                _SALE,
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["held", "paid", "cancelled", "expired"]},
                },
            ],
        ),
    },
    "/api/rooms/{room_id}/events": {
        "get": _op(
            "Commerce events after an id (the same entries as the Redis stream)",
            _obj({"events": {"type": "array", "items": _ref("Event")}, "next": _S}),
            400,
            params=[
                _ROOM,
                {"name": "after", "in": "query", "schema": {**_S, "default": "0-0"}},
                {"name": "count", "in": "query", "schema": {**_I, "default": 100}},
            ],
        ),
    },
    "/api/rooms/{room_id}/share-codes": {
        "post": _op(
            "Create a share code for the show (a link, a mini-program path, a QR code)",
            _obj({"share_code": _ref("ShareCode")}),
            400,
            body="ShareCodeRequest",
            status=201,
            params=[_ROOM],
        ),
        "get": _op(
            "The show's share codes",
            _obj({"share_codes": {"type": "array", "items": _ref("ShareCode")}}),
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/share-codes/{code}": {
        "get": _op(
            "A share code",
            _obj({"share_code": _ref("ShareCode")}),
            404,
            params=[_ROOM, _path_param("code")],
        ),
    },
    "/api/rooms/{room_id}/report": {
        "get": _op(
            "The show report: live during the show, final after it",
            _obj({"report": _ref("Report")}),
            404,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/report/rebuild": {
        "post": {
            **_op(
                "Fold the figures afresh from the commerce stream; apply: put them in place",
                _obj(
                    {
                        "rebuild": _obj(
                            {
                                "events": _I,
                                "applied": _B,
                                "differences": {"type": "array", "items": _obj({})},
                                "report": _ref("Report"),
                            }
                        )
                    }
                ),
                400,
                404,
                params=[_ROOM],
            ),
            # no body (or {}) compares; {"apply": true} also puts the rebuilt figures in place
            "requestBody": {"required": False, **_json(_obj({"apply": _B}))},
        },
    },
    "/api/rooms/{room_id}/export.ndjson": {
        "get": _stream_op(
            "Every commerce event of the room, one JSON object a line",
            "application/x-ndjson",
            404,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/export.csv": {
        "get": _stream_op(
            "Every commerce event of the room as CSV (one column per field)",
            "text/csv",
            404,
            params=[_ROOM],
        ),
    },
    "/api/viewers/{uid}": {
        "get": _op(
            "A viewer's profile across shows, segments and tags",
            _obj({"viewer": _ref("Viewer"), "as_of": _I}),
            400,
            404,
            params=[_path_param("uid"), _AS_OF],
        ),
    },
    "/api/segments": {
        "get": _op(
            "The segments and their thresholds",
            _obj({"segments": {"type": "array", "items": _S}, "thresholds": _obj({})}),
        ),
    },
    "/api/segments/{segment}": {
        "get": _op(
            "A page of a segment's viewers, most recently seen first",
            _obj(
                {
                    "segment": _S,
                    "as_of": _I,
                    "viewers": {"type": "array", "items": _ref("Viewer")},
                    "next": {**_S, "nullable": True},
                }
            ),
            400,
            404,
            params=[
                _SEGMENT,
                _AS_OF,
                {"name": "count", "in": "query", "schema": {**_I, "default": 100}},
                {"name": "cursor", "in": "query", "schema": _S},
            ],
        ),
    },
    "/api/segments/{segment}/export.csv": {
        "get": _stream_op(
            "Every viewer of a segment as CSV (segments and tags space-separated)",
            "text/csv",
            404,
            params=[_SEGMENT, _AS_OF],
        ),
    },
    "/api/coupons": {
        "get": _op(
            "Coupon templates",
            _obj({"templates": {"type": "array", "items": _ref("CouponTemplate")}}),
        ),
    },
    "/api/coupons/{template_id}": {
        "get": _op(
            "A coupon template with its reserved, issued and redeemed counts",
            _TEMPLATE_OUT,
            404,
            params=[_path_param("template_id")],
        ),
        "put": _op(
            "Create or replace a coupon template (its total never below what drops took)",
            _TEMPLATE_OUT,
            400,
            body="CouponTemplateRequest",
            params=[_path_param("template_id")],
        ),
    },
    "/api/coupons/redeem": {
        "post": _op(
            "Redeem a coupon ticket by an order (idempotent by order_id, at most once)",
            _obj({"coupon": _ref("Coupon"), "duplicate": _B, "discount_fen": _I}),
            400,
            404,
            409,
            body="RedeemCoupon",
        ),
    },
    "/api/rooms/{room_id}/drops": {
        "get": _op(
            "The room's coupon drops",
            _obj({"drops": {"type": "array", "items": _ref("Drop")}}),
            params=[_ROOM],
        ),
        "post": _op(
            "Drop coupons of a template in the room (the room sees it live)",
            _DROP_OUT,
            400,
            404,
            409,
            body="DropRequest",
            status=201,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/drops/{drop_id}": {
        "get": _op(
            "A drop with who claimed (its coupons), oldest first; a page with offset, count",
            _obj(
                {
                    "drop": _ref("Drop"),
                    "claims": {"type": "array", "items": _ref("Coupon")},
                    "total": _I,
                    "next": _I,
                }
            ),
            400,
            404,
            params=[
                _ROOM,
                _path_param("drop_id"),
                {"name": "offset", "in": "query", "schema": {**_I, "minimum": 0, "default": 0}},
                {"name": "count", "in": "query", "schema": {**_I, "minimum": 0}},
            ],
        ),
    },
    "/api/rooms/{room_id}/drops/{drop_id}/stop": {
        "post": _op(
            "Stop a drop: no more claims (claimed coupons stay valid)",
            _DROP_OUT,
            404,
            params=[_ROOM, _path_param("drop_id")],
        ),
    },
    "/api/webhook": {
        "get": _op(
            "How the merchant webhook's delivery stands: each room with events still to deliver",
            _obj(
                {
                    "enabled": _B,
                    "endpoint": {**_S, "description": "scheme and host of LIVEROOM_WEBHOOK_URL"},
                    "types": {"type": "array", "items": _S},
                    "rooms": {
                        "type": "array",
                        "items": _obj(
                            {
                                "room_id": _S,
                                "cursor": {**_S, "description": "the last event id taken"},
                                "behind": {**_I, "description": "events after it (up to 1000)"},
                                "failures": {**_I, "description": "failed calls in a row"},
                                "error": _S,
                                "retry_at": {**_I, "description": "unix ms; 0 without failures"},
                            }
                        ),
                    },
                }
            ),
        ),
    },
    "/api/rooms/{room_id}/draws": {
        "get": _op(
            "The room's open lucky draws",
            _obj({"draws": {"type": "array", "items": _ref("Draw")}}),
            params=[_ROOM],
        ),
        "post": _op(
            "Start a lucky draw or bag in the room, as the host's start_draw does",
            _obj({"draw": _ref("Draw")}),
            400,
            404,
            409,
            body="DrawRequest",
            status=201,
            params=[_ROOM],
        ),
    },
    "/api/rooms/{room_id}/draws/{draw_id}/close": {
        "post": _op(
            "Draw the winners now (the room sees them; the seed is revealed)",
            _DRAW_OUTCOME,
            404,
            409,
            params=[_ROOM, _path_param("draw_id")],
        ),
    },
    "/api/rooms/{room_id}/draws/{draw_id}/cancel": {
        "post": _op(
            "Cancel a draw: nobody wins (the seed is revealed)",
            _DRAW_OUTCOME,
            404,
            409,
            params=[_ROOM, _path_param("draw_id")],
        ),
    },
    "/api/checkout/redeem": {
        "post": _op(
            "What a checkout ticket is for",
            _obj({"hold": _ref("Hold"), "product": _obj({})}),
            400,
            404,
            409,
            body="Redeem",
        ),
    },
    "/api/checkout/confirm": {
        "post": _op(
            "Payment done (idempotent by order_id)", _HOLD_OUT, 400, 404, 409, body="Confirm"
        ),
    },
    "/api/checkout/cancel": {
        "post": _op(
            "Cancel an unpaid hold; its stock returns", _HOLD_OUT, 400, 404, 409, body="HoldRef"
        ),
    },
}

_SIGNING = (
    "Every call is signed with the merchant key: X-Liveroom-Signature = hex HMAC-SHA256 of "
    "METHOD\\nPATH[?QUERY]\\nTIMESTAMP\\nNONCE\\nhex(SHA256(BODY)). Timestamps more than 300 s"
    " off and nonces seen before are refused. See docs/merchant-api.md."
)

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "liveroom merchant API",
        "version": "1",
        "description": "Products, rooms, flash sales, checkout hand-off, coupons, "
        "commerce events, "
        "share codes, show reports and viewer segments. " + _SIGNING,
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "signature": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Liveroom-Signature",
                "description": _SIGNING,
            },
            "timestamp": {"type": "apiKey", "in": "header", "name": "X-Liveroom-Timestamp"},
            "nonce": {"type": "apiKey", "in": "header", "name": "X-Liveroom-Nonce"},
        },
    },
}
