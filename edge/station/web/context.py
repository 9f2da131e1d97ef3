"""What the board's routes share: the session machinery, the live feed, the archive
queries and the templates, kept on ``app.state.board``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from edge.station.accounts import Account, Role
from edge.station.http.auth import Forbidden, require
from edge.station.http.ports import StationPorts
from edge.station.http.throttle import LoginThrottle
from edge.station.web import i18n
from edge.station.web.feed import BoardFeed
from edge.station.web.queries import BoardQueries
from edge.station.web.sessions import Revoked, SessionAuth, SessionCodec

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def local_time(iso: str | None, fmt: str = "%H:%M:%S") -> str:
    """An archive time (UTC ISO) as the control room's local clock reads it."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).astimezone().strftime(fmt)
    except ValueError:
        return str(iso)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hms"] = local_time
    env.filters["dt"] = lambda iso: local_time(iso, "%Y-%m-%d %H:%M:%S")
    env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["secs"] = lambda v: "—" if v is None else f"{float(v):.1f}"
    env.globals["state_word"] = i18n.state_word
    env.globals["hazard_word"] = i18n.hazard_word
    env.globals["action_word"] = i18n.action_word
    env.globals["reason_word"] = i18n.reason_word
    env.globals["ack_text"] = i18n.ack_text
    env.globals["ack_class"] = i18n.ack_class
    return env


@dataclass
class BoardContext:
    ports: StationPorts
    codec: SessionCodec
    revoked: Revoked
    auth: SessionAuth
    feed: BoardFeed
    queries: BoardQueries
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    env: Environment = field(default_factory=_environment)
    seen: set[tuple[str, str]] = field(default_factory=set)
    """(alarm id, operator) whose first view is recorded already."""

    def lang(self, request: Request) -> str:
        return i18n.pick(request.cookies.get(i18n.COOKIE), self.ports.config.station.language.value)

    def render(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        lang = self.lang(request)
        session = getattr(request.state, "session", None)
        html = self.env.get_template(template).render(
            t=i18n.text(lang),
            lang=lang,
            station=self.ports.config.station.name,
            csrf=session.csrf if session is not None else "",
            path=request.url.path,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def board(request: Request) -> BoardContext:
    ctx: BoardContext = request.app.state.board
    return ctx


async def page_account(request: Request, role: Role = Role.VIEWER) -> Account | Response:
    """The operator behind a page request, or the redirect to /login (or the 403)."""
    try:
        return await require(request, role)
    except Forbidden as exc:
        if exc.response.status_code == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return exc.response
