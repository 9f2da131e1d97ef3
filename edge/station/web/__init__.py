"""The operators' board in a browser (issue 13): pages, live feed, login and sessions,
served by ``station run`` on top of the JSON API (``edge.station.http``)."""

from __future__ import annotations

from starlette.applications import Starlette

from edge.station.http import StationPorts, create_app
from edge.station.web.queries import session_secret

__all__ = ["board_app", "closing", "session_secret"]


def closing(app: Starlette) -> None:
    """The station is stopping: end the board's live streams (any thread)."""
    app.state.board.feed.close()


def board_app(ports: StationPorts, secret: bytes) -> Starlette:
    """The station's whole app: the board's routes and session scheme before the API's."""
    from edge.station.web import live, login, pages
    from edge.station.web.context import BoardContext
    from edge.station.web.feed import BoardFeed
    from edge.station.web.present import presenter
    from edge.station.web.queries import BoardQueries
    from edge.station.web.sessions import Revoked, RoleBook, SessionAuth, SessionCodec

    assert ports.reader is not None, "the board reads the archive through ports.reader"
    codec = SessionCodec(secret, ports.config.http.session_hours * 3600)
    revoked = Revoked()
    queries = BoardQueries(ports.reader)
    now = ports.now()
    for row in queries.audit_between(_iso(now - codec.lifetime_s), _iso(now + 1), ("logout",)):
        sid = row["detail"].get("sid")
        if sid:
            revoked.add(str(sid), now + codec.lifetime_s)
    auth = SessionAuth(codec, revoked, RoleBook(ports.reader))
    app = create_app(ports, routes=[*login.ROUTES, *live.ROUTES, *pages.ROUTES], schemes=[auth])
    app.state.board = BoardContext(
        ports=ports,
        codec=codec,
        revoked=revoked,
        auth=auth,
        feed=BoardFeed(ports.hub, presenter(ports)),
        queries=queries,
        throttle=app.state.throttle,
    )
    return app


def _iso(t: float) -> str:
    from edge.clock import iso_ms

    return iso_ms(t)
