"""The board's pages: the board itself, an alarm's detail, history (and its CSV), the
shift handover, drills and their reports. Each needs a login (``page_account``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edge.clock import iso_ms
from edge.station.accounts import Account, Role
from edge.station.http.auth import require
from edge.station.web import order, reporting
from edge.station.web.context import board, page_account
from edge.station.web.export import csv_chunks
from edge.station.web.live import record_views
from edge.station.web.present import alarm_row
from edge.station.web.queries import Search
from edge.station.web.reports import epoch_s

HAZARDS = ("fire", "gas", "earthquake", "flood", "intrusion", "tamper", "device")
STATES = ("alarm", "fault", "warning", "normal")
CSV_LIMIT = 100_000


def _boot(ctx: Any, account: Account) -> dict[str, Any]:
    return {
        "user": account.name,
        "role": account.role.value,
        "yellow_s": order.YELLOW_S,
        "red_s": order.RED_S,
    }


async def board_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    return ctx.render(request, "board.html", boot=_boot(ctx, account), account=account)


async def alarm_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    alarm_id = request.path_params["alarm_id"]
    q = ctx.queries
    alarm = ctx.ports.board.get(alarm_id) or await run_in_threadpool(q.alarm, alarm_id)
    if alarm is None:
        return ctx.render(request, "missing.html", 404, what=alarm_id)
    await record_views(ctx, account.name, [alarm_id], "detail")
    events, audit, acks = await run_in_threadpool(
        lambda: (q.episode(alarm), q.audit_of(alarm_id), q.acks_of(alarm_id))
    )
    receipts = await run_in_threadpool(
        q.receipts_of, alarm.site, alarm.device, [a["event_id"] for a in acks]
    )
    timeline = sorted(
        [{"at": e["received_at"], "kind": "event", "event": e} for e in events]
        + [{"at": r["at"], "kind": "audit", "row": r} for r in audit]
        + [{"at": r["at"], "kind": "receipt", "row": r} for r in receipts],
        key=lambda item: item["at"],
    )
    steps = next(
        (p.steps for p in ctx.ports.config.procedures if p.hazard.value == alarm.hazard), []
    )
    view = alarm_row(ctx.ports, ctx.ports.board.alarm_view(alarm, ctx.ports.now()))
    return ctx.render(
        request,
        "alarm.html",
        alarm=view,
        timeline=timeline,
        steps=steps,
        account=account,
        may_act=account.role.may(Role.OPERATOR),
        boot=_boot(ctx, account),
    )


def _when(value: str | None) -> str | None:
    """A time from a form (``datetime-local``, the station's local zone) as archive text."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()
    return iso_ms(stamp.timestamp())


def _search(request: Request, limit: int) -> tuple[Search, dict[str, str]]:
    p = request.query_params
    form = {
        k: p.get(k, "")
        for k in ("site", "device", "sensor", "hazard", "state", "drill", "since", "until", "what")
    }
    drill = {"yes": True, "no": False}.get(form["drill"])
    search = Search(
        site=form["site"] or None,
        device=form["device"] or None,
        sensor=form["sensor"] or None,
        hazard=form["hazard"] or None,
        state=form["state"] or None,
        drill=drill,
        since=_when(form["since"]),
        until=_when(form["until"]),
        limit=limit,
    )
    return search, form


async def history_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    search, form = _search(request, 500)
    what = form["what"] or "alarms"
    q = ctx.queries
    if what == "events":
        events, alarms = await run_in_threadpool(q.search_events, search), []
    else:
        events, alarms = [], [a.view() for a in await run_in_threadpool(q.search_alarms, search)]
    return ctx.render(
        request,
        "history.html",
        form=form,
        what=what,
        events=events,
        alarms=alarms,
        hazards=HAZARDS,
        states=STATES,
        query=request.url.query,
        account=account,
    )


EVENT_COLUMNS = (
    "received_at",
    "ts",
    "site",
    "device",
    "sensor",
    "hazard",
    "state",
    "severity",
    "stage",
    "value",
    "unit",
    "drill",
    "test",
    "seq",
    "id",
    "message",
)
ALARM_COLUMNS = (
    "alarm_id",
    "site",
    "device",
    "sensor",
    "hazard",
    "severity",
    "state",
    "first_at",
    "last_at",
    "events",
    "ack",
    "acked_by",
    "acked_at",
    "closed",
    "closed_by",
    "closed_at",
    "close_note",
    "drill",
    "test",
)


async def history_csv(request: Request) -> Response:
    await require(request, Role.VIEWER)
    ctx = board(request)
    search, form = _search(request, CSV_LIMIT)
    what = form["what"] or "alarms"
    q = ctx.queries
    if what == "events":
        rows: list[dict[str, Any]] = await run_in_threadpool(q.search_events, search)
        columns: tuple[str, ...] = EVENT_COLUMNS
    else:
        rows = [a.view() for a in await run_in_threadpool(q.search_alarms, search)]
        columns = ALARM_COLUMNS

    name = f"siaga-{what}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    chunks = csv_chunks(columns, rows)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=headers)


def _shift_window(request: Request) -> tuple[float | None, float | None]:
    since, until = (
        _when(request.query_params.get("since")),
        _when(request.query_params.get("until")),
    )
    return (epoch_s(since), epoch_s(until))


async def handover_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    since, until = _shift_window(request)
    report = await run_in_threadpool(
        reporting.shift, ctx.queries, ctx.ports.config, ctx.ports.now(), since, until
    )
    return ctx.render(
        request, "handover.html", report=report, account=account, boot=_boot(ctx, account)
    )


async def shift_json(request: Request) -> Response:
    await require(request, Role.VIEWER)
    ctx = board(request)
    since, until = _shift_window(request)
    report = await run_in_threadpool(
        reporting.shift, ctx.queries, ctx.ports.config, ctx.ports.now(), since, until
    )
    return JSONResponse(report)


async def note(request: Request) -> Response:
    """A handover note of the shift (operator), audited as ``note``."""
    account = await require(request, Role.OPERATOR)
    ctx = board(request)
    try:
        text = str(json.loads(await request.body())["note"]).strip()
    except (ValueError, KeyError, TypeError):
        text = ""
    if not text or len(text) > 2000:
        return JSONResponse(
            {"error": 'body: {"note": "..."} (1 to 2000 characters)'}, status_code=400
        )
    assert ctx.ports.audit is not None
    await ctx.ports.audit(
        account.name, "note", "shift", json.dumps({"note": text}, ensure_ascii=False)
    )
    return JSONResponse({"ok": True})


async def drills_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    found = await run_in_threadpool(reporting.drills, ctx.queries, ctx.ports.now())
    return ctx.render(request, "drills.html", drills=found, account=account)


async def drill_page(request: Request) -> Response:
    account = await page_account(request)
    if isinstance(account, Response):
        return account
    ctx = board(request)
    report = await run_in_threadpool(
        reporting.drill, ctx.queries, request.path_params["drill_id"], ctx.ports.now()
    )
    if report is None:
        return ctx.render(request, "missing.html", 404, what=request.path_params["drill_id"])
    return ctx.render(request, "drill.html", report=report, account=account)


async def drill_json(request: Request) -> Response:
    await require(request, Role.VIEWER)
    ctx = board(request)
    report = await run_in_threadpool(
        reporting.drill, ctx.queries, request.path_params["drill_id"], ctx.ports.now()
    )
    if report is None:
        return JSONResponse({"error": "no such drill"}, status_code=404)
    return JSONResponse(report)


ROUTES = [
    Route("/", board_page),
    Route("/alarms/{alarm_id}", alarm_page),
    Route("/history", history_page),
    Route("/history.csv", history_csv),
    Route("/handover", handover_page),
    Route("/api/report/shift", shift_json),
    Route("/api/handover/note", note, methods=["POST"]),
    Route("/drills", drills_page),
    Route("/drills/{drill_id}", drill_page),
    Route("/api/report/drill/{drill_id}", drill_json),
]
