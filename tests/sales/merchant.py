"""A merchant backend as tests see it: signed calls to the merchant API."""

from __future__ import annotations

import json
from typing import Any

import httpx

from liveroom.merchant import auth


class Merchant:
    def __init__(self, base_url: str, key: str) -> None:
        self.key = key
        self.http = httpx.AsyncClient(base_url=base_url, timeout=20)

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict | None = None, **kw: Any
    ) -> httpx.Response:
        raw = b"" if body is None else json.dumps(body).encode()
        return await self.call_raw(method, path, raw, headers=headers, **kw)

    async def call_raw(
        self, method: str, path: str, raw: bytes, *, headers: dict | None = None, **kw: Any
    ) -> httpx.Response:
        """A signed call with exactly these body bytes (what json.dumps could not write)."""
        signed = auth.signed_headers(self.key, method, path, raw, **kw)
        signed.update(headers or {})
        signed["Content-Type"] = "application/json"
        return await self.http.request(method, path, content=raw, headers=signed)

    async def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = await self.call(method, path, body)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    async def close(self) -> None:
        await self.http.aclose()
