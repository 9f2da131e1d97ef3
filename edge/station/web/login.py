"""``/login``, ``/logout`` and the language switch.

The login form is protected by a double-submit token (a random value in a short-lived
cookie and in the form; a page on another site can read neither) and by the Origin
check; wrong passwords are slowed down per name and per address (``throttle``). A login
and a logout are audited (who, when, from where, the session id); a refused login is
logged, not audited (a guessing attack must not fill the append-only audit).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from edge import logs
from edge.station.accounts import Role
from edge.station.http.auth import require
from edge.station.web import i18n
from edge.station.web.context import board
from edge.station.web.sessions import COOKIE, same_origin

log = logs.get("station.web")

LOGIN_COOKIE = "siaga_login"
LOGIN_FORM_S = 3600
REFUSED_PAUSE_S = 0.5
MAX_FORM = 8192


def _next(value: str | None) -> str:
    """Only a path of this site (never ``//other`` or ``https://other``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, status: int = 200, error: str = "", name: str = "") -> Response:
    ctx = board(request)
    token = secrets.token_urlsafe(24)
    response = ctx.render(
        request,
        "login.html",
        status,
        token=token,
        error=error,
        name=name,
        next=_next(request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_S,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return response


async def _fields(request: Request) -> dict[str, str]:
    """The login form (urlencoded, a few hundred bytes: the standard library reads it)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


async def login_page(request: Request) -> Response:
    return _form(request)


async def login(request: Request) -> Response:
    ctx = board(request)
    t = i18n.text(ctx.lang(request))
    form = await _fields(request)
    name = form.get("name", "").strip()[:64]
    password = form.get("password", "")
    token = form.get("token", "")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not same_origin(request) or not expected or not secrets.compare_digest(token, expected):
        return _form(request, 403, t["login_stale"], name)
    address = request.client.host if request.client else "?"
    keys = (f"name:{name.lower()}", f"addr:{address}")
    now = ctx.ports.now()
    wait = ctx.throttle.wait(keys, now)
    if wait > 0:
        log.warning("login_throttled", name=name, address=address, wait_s=round(wait, 1))
        return _form(request, 429, t["login_wait"].format(s=int(wait + 0.999)), name)
    account = await run_in_threadpool(ctx.ports.accounts.verify, name, password, now)
    if account is None:
        ctx.throttle.failed(keys, now)
        log.warning("login_refused", name=name, address=address)
        await asyncio.sleep(REFUSED_PAUSE_S)
        return _form(request, 401, t["login_wrong"], name)
    ctx.throttle.succeeded(keys)
    session, cookie = ctx.codec.issue(account.name, now)
    if ctx.ports.audit is not None:
        detail = {"sid": session.sid, "role": account.role.value, "from": address}
        await ctx.ports.audit(account.name, "login", account.name, json.dumps(detail))
    log.info("login", name=account.name, role=account.role.value, address=address)
    target = _next(form.get("next", "/"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(ctx.codec.lifetime_s),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    ctx = board(request)
    account = await require(request, Role.VIEWER)
    session = getattr(request.state, "session", None)
    if session is not None:
        ctx.revoked.add(session.sid, session.issued + ctx.codec.lifetime_s)
        if ctx.ports.audit is not None:
            await ctx.ports.audit(
                account.name, "logout", account.name, json.dumps({"sid": session.sid})
            )
        log.info("logout", name=account.name)
    response = JSONResponse({"ok": True, "next": "/login"})
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=_secure(request))
    return response


async def language(request: Request) -> Response:
    """A display preference of this browser only (changes nothing at the station)."""
    lang = i18n.pick(request.path_params["lang"], "id")
    response = RedirectResponse(_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(
        i18n.COOKIE, lang, max_age=365 * 86400, samesite="strict", secure=_secure(request)
    )
    return response


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{lang}", language),
]
