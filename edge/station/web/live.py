"""The board's live side: its Server-Sent Events stream, the first-view beacon, the
station's static assets (behind login too)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edge.station.accounts import Role
from edge.station.http.auth import Forbidden, require
from edge.station.web.context import STATIC, board
from edge.station.web.present import snapshot

PING_S = 5.0
"""A ``ping`` (with the station's time) this often: the page knows it still hears the
station, and its clock offset, without waiting for a change."""
MAX_SEEN = 500


def _sse(kind: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(request: Request) -> Response:
    try:
        await require(request, Role.VIEWER)
    except Forbidden as exc:  # no WWW-Authenticate: the browser must not prompt
        return JSONResponse({"error": "login needed"}, status_code=exc.response.status_code)
    ctx = board(request)
    feed = ctx.feed
    await feed.start()
    last_id = request.headers.get("last-event-id") or request.query_params.get("last")

    async def body() -> AsyncIterator[bytes]:
        backlog = feed.backlog
        entries = backlog.after(last_id)
        epoch, version = backlog.epoch, backlog.version
        if entries is None:
            yield _sse("snapshot", snapshot(ctx.ports), backlog.event_id(version))
        else:
            for e in entries:
                yield _sse(e.kind, e.data, backlog.event_id(e.version))
                version = e.version
        while True:
            await feed.wait(epoch, version, PING_S)
            if feed.closed or await request.is_disconnected():
                return
            entries = backlog.after(backlog.event_id(version) if epoch == backlog.epoch else None)
            if entries is None:
                epoch, version = backlog.epoch, backlog.version
                yield _sse("snapshot", snapshot(ctx.ports), backlog.event_id(version))
            elif entries:
                for e in entries:
                    yield _sse(e.kind, e.data, backlog.event_id(e.version))
                    version = e.version
            else:
                yield _sse("ping", {"now": ctx.ports.now()})

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def seen(request: Request) -> Response:
    """The board rendered these alarms on a visible page: each one's first view by this
    operator is audited once (``view``, how ``board``)."""
    account = await require(request, Role.VIEWER)
    ctx = board(request)
    try:
        data = json.loads(await request.body())
        ids = [str(i) for i in data["alarms"]][:MAX_SEEN]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'body: {"alarms": [alarm_id, ...]}'}, status_code=400)
    recorded = await record_views(ctx, account.name, ids, "board")
    return JSONResponse({"recorded": recorded})


async def record_views(ctx: Any, name: str, ids: list[str], how: str) -> int:
    recorded = 0
    for alarm_id in ids:
        key = (alarm_id, name)
        if key in ctx.seen or ctx.ports.board.get(alarm_id) is None or ctx.ports.audit is None:
            continue
        ctx.seen.add(key)
        await ctx.ports.audit(name, "view", alarm_id, json.dumps({"how": how}))
        recorded += 1
    return recorded


async def whoami(request: Request) -> Response:
    account = await require(request, Role.VIEWER)
    return JSONResponse({"name": account.name, "role": account.role.value})


async def static(request: Request) -> Response:
    await require(request, Role.VIEWER)
    name = request.path_params["name"]
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        return JSONResponse({"error": "no such file"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "private, max-age=300"})


ROUTES = [
    Route("/board/stream", stream),
    Route("/api/seen", seen, methods=["POST"]),
    Route("/api/whoami", whoami),
    Route("/static/{name}", static),
]
