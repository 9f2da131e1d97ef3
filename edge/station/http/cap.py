"""The CAP 1.2 endpoints (docs/cap.md): the Atom feed and each alert for partner
agencies, behind the same login as the board (an API account, role ``viewer``, HTTP
Basic), and the push and read-back status for the board."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.cap.model import MEDIA_TYPE
from edge.station.accounts import Role
from edge.station.http.auth import require
from edge.station.http.ports import CapPorts, StationPorts

IDENTIFIER = re.compile(r"^[A-Za-z0-9_@~.-]{1,300}$")


def _cap(request: Request) -> CapPorts | None:
    ports: StationPorts = request.app.state.ports
    return ports.cap


def _missing(what: str) -> Response:
    return JSONResponse({"error": what}, status_code=404)


async def feed(request: Request) -> Response:
    await require(request, Role.VIEWER)
    cap = _cap(request)
    if cap is None:
        return _missing("this station issues no CAP alerts")
    return Response(await cap.feed(), media_type=cap.atom_type)


async def alert(request: Request) -> Response:
    await require(request, Role.VIEWER)
    cap = _cap(request)
    identifier = request.path_params["identifier"]
    if cap is None or not IDENTIFIER.match(identifier):
        return _missing(f"no CAP alert {identifier}")
    body = await cap.alert(identifier)
    if body is None:
        return _missing(f"no CAP alert {identifier}")
    return Response(body, media_type=MEDIA_TYPE)


async def status(request: Request) -> Response:
    await require(request, Role.VIEWER)
    cap = _cap(request)
    return JSONResponse(cap.status() if cap is not None else {"push": [], "feeds": []})


ROUTES = [
    Route("/cap/feed.atom", feed),
    Route("/cap/{identifier}.xml", alert),
    Route("/api/cap/status", status),
]
