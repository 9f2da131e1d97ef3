"""Who is asking: HTTP Basic for scripts; other schemes (the board's session cookie,
issue 13) plug in as more :data:`Scheme` functions tried in order."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from edge.station.accounts import Account, Role
from edge.station.http.ports import StationPorts

REALM = 'Basic realm="siaga-station", charset="UTF-8"'

Scheme = Callable[[Request, StationPorts], Awaitable[Account | None]]


async def basic(request: Request, ports: StationPorts) -> Account | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        name, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not sep:
        return None
    # argon2 takes tens of ms: off the event loop.
    return await run_in_threadpool(ports.accounts.verify, name, password, ports.now())


class Forbidden(Exception):  # noqa: N818 (an HTTP status, not an error of ours)
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


async def require(request: Request, needed: Role) -> Account:
    """The account behind the request, with at least role ``needed``; else raise Forbidden
    carrying the 401/403 to send."""
    ports: StationPorts = request.app.state.ports
    schemes: list[Scheme] = request.app.state.auth_schemes
    account = None
    for scheme in schemes:
        account = await scheme(request, ports)
        if account is not None:
            break
    if account is None:
        raise Forbidden(
            JSONResponse(
                {"error": "login needed"}, status_code=401, headers={"WWW-Authenticate": REALM}
            )
        )
    if not account.role.may(needed):
        raise Forbidden(
            JSONResponse({"error": f"needs the role {needed.value} or above"}, status_code=403)
        )
    return account
