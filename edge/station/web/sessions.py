"""Operators' browser sessions: a signed cookie, CSRF on every change, logout that sticks.

The cookie holds ``{sid, name, issued, csrf}`` signed with the station's key
(itsdangerous, HMAC-SHA1 over the JSON, salted for this use); it is ``HttpOnly`` and
``SameSite=Strict`` always, ``Secure`` when the page is served over HTTPS (by the station
or by a reverse proxy that says so in ``X-Forwarded-Proto``). A session lasts
``http.session_hours`` from login, whatever the activity (a wall board stays logged in
for the shift, then asks again). Logout records the ``sid`` as ended: it is refused from
then on, also after a restart (read back from the audit).

CSRF: a request that changes anything (any method but GET/HEAD/OPTIONS) with the session
cookie must carry the session's token in ``X-CSRF-Token`` and, when the browser sends an
``Origin``, come from this host. Scripts using HTTP Basic carry no cookie, and a browser
never sends Basic credentials to the station on its own: no page of the board ever asks
for them (pages redirect to ``/login``, the board's requests get a 401 without
``WWW-Authenticate``), so there is no ambient credential for another site to ride on; a
Basic request that still shows a browser's cross-site markers (``Sec-Fetch-Site``,
a foreign ``Origin``) is refused anyway.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from edge.station.accounts import Account, Role
from edge.station.archive import Archive
from edge.station.http.auth import Forbidden
from edge.station.http.ports import StationPorts

COOKIE = "siaga_session"
CSRF_HEADER = "x-csrf-token"
BOARD_MARK = "siaga-board"
"""``X-Requested-With`` of the board's own requests: a 401 then asks for no Basic login."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_CACHE_S = 30.0
CLOCK_SLACK_S = 60.0


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    name: str
    issued: float
    csrf: str


class SessionCodec:
    """Issue and read session cookies; pure (the time is passed in)."""

    def __init__(self, secret: bytes, lifetime_s: float) -> None:
        self._signer = URLSafeSerializer(secret, salt="siaga-board-session")
        self.lifetime_s = lifetime_s

    def issue(self, name: str, now: float) -> tuple[Session, str]:
        session = Session(secrets.token_urlsafe(16), name, now, secrets.token_urlsafe(24))
        body = {"sid": session.sid, "name": name, "iat": now, "csrf": session.csrf}
        return session, str(self._signer.dumps(body))

    def read(self, token: str, now: float) -> Session | None:
        """The session, or None when forged, malformed or expired."""
        try:
            body: Any = self._signer.loads(token)
        except BadSignature:
            return None
        if not isinstance(body, dict):
            return None
        try:
            session = Session(
                str(body["sid"]), str(body["name"]), float(body["iat"]), str(body["csrf"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        if not session.issued - CLOCK_SLACK_S <= now <= session.issued + self.lifetime_s:
            return None
        return session


class Revoked:
    """Session ids ended by logout, each kept until it would have expired anyway."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def add(self, sid: str, until: float) -> None:
        self._until[sid] = until

    def has(self, sid: str, now: float) -> bool:
        for old in [s for s, t in self._until.items() if t < now]:
            del self._until[old]
        return sid in self._until


class RoleBook:
    """An account's current role, read again at most every :data:`ROLE_CACHE_S`: a
    changed role or a removed account takes effect within that, without a logout."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._cache: dict[str, tuple[Role | None, float]] = {}

    async def role(self, name: str, now: float) -> Role | None:
        hit = self._cache.get(name)
        if hit is not None and hit[1] > now:
            return hit[0]
        row = await run_in_threadpool(self.archive.user, name)
        role = Role(row[0]) if row is not None else None
        self._cache[name] = (role, now + ROLE_CACHE_S)
        return role


def _refuse(status: int, error: str) -> Forbidden:
    return Forbidden(JSONResponse({"error": error}, status_code=status))


def same_origin(request: Request) -> bool:
    """No ``Origin`` (a script, or a same-origin GET) or one naming this very host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


class SessionAuth:
    """The board's auth scheme, tried before HTTP Basic (``create_app(schemes=...)``)."""

    def __init__(self, codec: SessionCodec, revoked: Revoked, roles: RoleBook) -> None:
        self.codec = codec
        self.revoked = revoked
        self.roles = roles

    def session(self, request: Request, now: float) -> Session | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        session = self.codec.read(token, now)
        if session is None or self.revoked.has(session.sid, now):
            return None
        return session

    async def __call__(self, request: Request, ports: StationPorts) -> Account | None:
        if COOKIE not in request.cookies:
            if request.headers.get("x-requested-with") == BOARD_MARK:
                raise _refuse(401, "login needed")  # the board's own call: never a prompt
            _basic_guard(request)
            return None
        now = ports.now()
        session = self.session(request, now)
        if session is None:
            raise _refuse(401, "session ended: log in again at /login")
        role = await self.roles.role(session.name, now)
        if role is None:
            raise _refuse(401, "this account no longer exists")
        if request.method not in SAFE_METHODS:
            if not same_origin(request):
                raise _refuse(403, "cross-site request refused")
            if not secrets.compare_digest(request.headers.get(CSRF_HEADER, ""), session.csrf):
                raise _refuse(403, "CSRF token missing or wrong (X-CSRF-Token)")
        request.state.session = session
        return Account(session.name, role)


def _basic_guard(request: Request) -> None:
    """A Basic-auth change from a browser on another site is refused (never a script)."""
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site not in (None, "same-origin", "none") or not same_origin(request):
        raise _refuse(403, "cross-site request refused")
