"""Who is asking: HTTP Basic for scripts; other schemes (the board's session cookie,
issue 13) plug in as more :data:`Scheme` functions tried in order."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from edge import logs
from edge.station.accounts import Account, Role
from edge.station.http.ports import StationPorts
from edge.station.http.throttle import LoginThrottle

log = logs.get("station.http")

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
    # The board's login throttle, shared: per name and per address, or Basic would be the
    # way around it (unthrottled guessing, and argon2 work for each guess).
    throttle: LoginThrottle = request.app.state.throttle
    address = request.client.host if request.client else "?"
    keys = (f"name:{name.strip().lower()[:64]}", f"addr:{address}")
    now = ports.now()
    wait = throttle.wait(keys, now)
    if wait > 0:
        log.warning("login_throttled", name=name[:64], address=address, wait_s=round(wait, 1))
        raise Forbidden(
            JSONResponse(
                {"error": f"too many wrong passwords: try again in {math.ceil(wait)} s"},
                status_code=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        )
    # argon2 takes tens of ms: off the event loop.
    account = await run_in_threadpool(ports.accounts.verify, name, password, now)
    if account is None:
        throttle.failed(keys, now)
        log.warning("login_refused", name=name[:64], address=address, how="basic")
    else:
        throttle.succeeded(keys)
    return account


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
