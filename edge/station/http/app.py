"""The station's ASGI app (Starlette), built from its ports.

``create_app(ports, routes=..., schemes=...)``: the board pages (issue 13) and the CAP
feed (issue 14) add their routes and their auth scheme (a session cookie) here, and use
``ports.hub`` for live updates; nothing in the API needs changing for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.station.alarm_writer import NotFoundError
from edge.station.alarms import AlarmError
from edge.station.archive import ArchiveDownError
from edge.station.http.api import ROUTES
from edge.station.http.auth import Forbidden, Scheme, basic
from edge.station.http.ports import StationPorts
from edge.station.http.throttle import LoginThrottle


async def _forbidden(_r: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return exc.response


async def _not_found(_r: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"no alarm {exc}"}, status_code=404)


async def _conflict(_r: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=409)


async def _down(_r: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"the station's database is down: {exc}"}, status_code=503)


class RefuseNul:
    """A NUL in a path or query is never a name or a search here; PostgreSQL refuses it in
    text and the file system in a path, which answered 500 (and logged a traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            response = JSONResponse({"error": "a NUL character in the request"}, 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    ports: StationPorts,
    *,
    routes: Sequence[BaseRoute] = (),
    schemes: Sequence[Scheme] = (),
) -> Starlette:
    """``routes`` come before the API's (a page at ``/`` replaces the placeholder);
    ``schemes`` are tried before HTTP Basic."""
    app = Starlette(
        routes=[*routes, *ROUTES],
        middleware=[Middleware(RefuseNul)],
        exception_handlers={
            Forbidden: _forbidden,
            NotFoundError: _not_found,
            AlarmError: _conflict,
            ArchiveDownError: _down,
        },
    )
    app.state.ports = ports
    app.state.auth_schemes = [*schemes, basic]
    app.state.throttle = LoginThrottle()
    return app
