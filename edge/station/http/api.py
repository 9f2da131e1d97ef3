"""The JSON API of docs/station.md: health, sites, alarms (ack, close), events, and a
stream of changes (Server-Sent Events) for the terminal console and the board pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from edge.station.accounts import Role
from edge.station.http import cap
from edge.station.http.auth import require
from edge.station.http.ports import StationPorts

MAX_NOTE = 2000
MAX_EVENTS = 10_000
KEEPALIVE_S = 15.0


def _ports(request: Request) -> StationPorts:
    ports: StationPorts = request.app.state.ports
    return ports


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


async def index(request: Request) -> Response:
    await require(request, Role.VIEWER)
    name = _ports(request).config.station.name
    return PlainTextResponse(f"{name}: Siaga station. API under /api (docs/station.md).\n")


async def healthz(request: Request) -> Response:
    ports = _ports(request)
    view = ports.health.view()
    if ports.cap is not None:
        view["cap_push"] = ports.cap.health()  # a partner down is news, not ill health
    return _json(view, 200 if view["database"] == "ok" else 503)


def _station(ports: StationPorts) -> dict[str, Any]:
    return {
        "name": ports.config.station.name,
        "language": ports.config.station.language.value,
        "banner": ports.health.banner(),
        "counts": ports.board.counts(),
    }


async def sites(request: Request) -> Response:
    await require(request, Role.VIEWER)
    ports = _ports(request)
    rows = ports.board.site_views(ports.now())
    for row in rows:
        info = ports.config.site(row["site"])
        row["name"] = info.name if info else ""
    return _json({"station": _station(ports), "sites": rows})


async def alarms(request: Request) -> Response:
    await require(request, Role.VIEWER)
    ports = _ports(request)
    open_only = request.query_params.get("open", "").lower() in ("1", "true", "yes")
    return _json(
        {
            "station": _station(ports),
            "alarms": ports.board.alarms(ports.now(), open_only=open_only),
        }
    )


async def _note(request: Request) -> str | None:
    body = await request.body()
    if not body.strip():
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        return None
    return note


async def ack(request: Request) -> Response:
    account = await require(request, Role.OPERATOR)
    note = await _note(request)
    if note is None:
        return _json({"error": f'body: {{"note": "..."}} (at most {MAX_NOTE} characters)'}, 400)
    view = await _ports(request).acknowledge(request.path_params["alarm_id"], account, note)
    return _json(view)


async def close(request: Request) -> Response:
    account = await require(request, Role.OPERATOR)
    note = await _note(request)
    if note is None or not note.strip():
        return _json({"error": 'closing needs a note: {"note": "..."}'}, 400)
    view = await _ports(request).close(request.path_params["alarm_id"], account, note)
    return _json(view)


async def events(request: Request) -> Response:
    await require(request, Role.VIEWER)
    q = request.query_params
    try:
        limit = min(int(q.get("limit", "100")), MAX_EVENTS)
    except ValueError:
        return _json({"error": "limit: a whole number"}, 400)
    found = await _ports(request).events(
        site=q.get("site") or None,
        device=q.get("device") or None,
        since=q.get("since") or None,
        until=q.get("until") or None,
        limit=max(limit, 1),
    )
    return _json({"events": found})


async def stream(request: Request) -> Response:
    """Server-Sent Events: one ``data:`` JSON line per change; a comment as keep-alive."""
    await require(request, Role.VIEWER)
    hub = _ports(request).hub

    async def body() -> AsyncIterator[bytes]:
        async with hub.subscribe() as sub:
            yield b": connected\n\n"
            while True:
                change = await sub.next(KEEPALIVE_S)
                if await request.is_disconnected():
                    return
                if change is None:
                    yield b": keep-alive\n\n"
                elif change.get("kind") == "closing":
                    yield b'data: {"kind": "closing"}\n\n'
                    return
                else:
                    yield f"data: {json.dumps(change, ensure_ascii=False)}\n\n".encode()

    return StreamingResponse(body(), media_type="text/event-stream")


ROUTES = [
    Route("/", index),
    Route("/healthz", healthz),
    Route("/api/sites", sites),
    Route("/api/alarms", alarms),
    Route("/api/alarms/{alarm_id}/ack", ack, methods=["POST"]),
    Route("/api/alarms/{alarm_id}/close", close, methods=["POST"]),
    Route("/api/events", events),
    Route("/api/stream", stream),
    *cap.ROUTES,
]
