"""`GET /api/webhook` (signed): how the merchant's webhook delivery stands, so a backend
that misses events can see which rooms wait, how far behind, and what its endpoint
answered last. Described in liveroom/merchant/openapi.py and docs/merchant-api.md."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from liveroom.merchant.routes import signed


async def webhook_status(request: Request, data: Any) -> Response:
    return JSONResponse(await request.app.state.node.webhooks.status())


def webhook_routes() -> list[BaseRoute]:
    return [Route("/api/webhook", signed(webhook_status), methods=["GET"])]
