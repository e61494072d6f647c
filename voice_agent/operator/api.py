"""The operator page's routes under /operator: login, the page, live calls, actions, history.

`operator_router(settings)` is all `create_app` needs: the router's lifespan starts the live call
list on the app's event bus. Only GET/POST /operator/login answer without a session; every
other route answers 401 (WebSockets close with 1008).
"""

from __future__ import annotations

import asyncio
import inspect
from contextlib import asynccontextmanager
from importlib import resources as package_files
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from loguru import logger
from pydantic import BaseModel

from voice_agent.config import Settings
from voice_agent.events import HangupRequested, TransferRequested
from voice_agent.kb import INTENTS
from voice_agent.operator.actions import HangupHandler
from voice_agent.operator.auth import (
    COOKIE,
    COOKIE_PATH,
    OperatorAuth,
    require_operator,
    same_origin,
)
from voice_agent.operator.live import LiveCalls
from voice_agent.operator.sockets import events_socket, listen_socket
from voice_agent.pipeline.factory import CallFactory

STATIC = package_files.files("voice_agent.operator") / "static"
STATIC_FILES = {"app.js", "listen.js", "style.css"}


def _login_page(error: str = "", status: int = 200) -> HTMLResponse:
    html = (STATIC / "login.html").read_text(encoding="utf-8")
    return HTMLResponse(html.replace("{{error}}", error), status_code=status)


def _factory(request: Request) -> CallFactory:
    return request.app.state.factory


def _live(request: Request) -> LiveCalls:
    return request.app.state.operator_live


async def _call_store(method, *args, **kwargs) -> Any:
    """The call-records store may be synchronous (SQLAlchemy sessions) or async."""
    if inspect.iscoroutinefunction(method):
        return await method(*args, **kwargs)
    return await asyncio.to_thread(method, *args, **kwargs)


def _store(request: Request):
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "call records are not configured on this server")
    return store


def operator_checked(request: Request) -> str:
    """Logged in, and for a state-changing request, sent by our own page (Origin)."""
    user = require_operator(request)
    origin = request.headers.get("origin")
    if request.method not in ("GET", "HEAD") and origin is not None and not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    return user


class IntentCorrection(BaseModel):
    intent: str


def operator_router(settings: Settings) -> APIRouter:
    """Routes and lifespan of the operator page for one app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.operator_auth = OperatorAuth(settings.operator)
        live = LiveCalls(settings.operator.ended_calls_shown)
        app.state.operator_live = live
        factory: CallFactory = app.state.factory
        factory.listen.queue_frames = settings.operator.listen_queue_frames
        await live.start(factory.bus)
        hangups = HangupHandler(factory.bus, factory.calls).start()
        if app.state.operator_auth.closed:
            logger.info("operator page closed: no operator.users configured")
        try:
            yield
        finally:
            await hangups.stop()
            await live.stop()

    router = APIRouter(prefix="/operator", lifespan=lifespan)
    op = Depends(operator_checked)

    # -- login ----------------------------------------------------------------------------
    @router.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        if require_operator_or_none(request):
            return RedirectResponse("/operator/", status_code=303)
        return _login_page()

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        auth: OperatorAuth = request.app.state.operator_auth
        form = await request.form()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        if auth.closed:
            return _login_page("No operator accounts are configured on this server.", 401)
        client = request.client.host if request.client else "unknown"
        wait_s = auth.throttle.locked_for(client)
        if wait_s > 0:
            logger.warning(f"operator login from {client} refused: too many failures")
            return _login_page(f"Too many failed logins: try again in {wait_s / 60:.0f} "
                               "min.", 429)
        ok = await asyncio.to_thread(auth.check_password, name, password)  # argon2: ~50 ms
        if not ok:
            auth.throttle.failed(client)
            logger.warning(f"operator login failed for {name!r} from {client}")
            return _login_page("Wrong name or password.", 401)
        auth.throttle.succeeded(client)
        response = RedirectResponse("/operator/", status_code=303)
        response.set_cookie(
            COOKIE, auth.session_cookie(name), max_age=auth.max_age_s, path=COOKIE_PATH,
            httponly=True, samesite="strict", secure=request.url.scheme == "https",
        )
        logger.info(f"operator {name!r} logged in")
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request, user: str = op) -> Response:
        request.app.state.operator_auth.revoke(request.cookies.get(COOKIE))
        logger.info(f"operator {user!r} logged out")
        response = RedirectResponse("/operator/login", status_code=303)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response

    # -- the page -------------------------------------------------------------------------
    @router.get("", include_in_schema=False)
    async def page_no_slash() -> Response:
        return RedirectResponse("/operator/", status_code=303)

    @router.get("/", include_in_schema=False)
    async def page(request: Request) -> Response:
        if not require_operator_or_none(request):
            return _login_page(status=401)  # the browser shows the login form
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str, user: str = op) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        with package_files.as_file(STATIC / name) as path:
            return FileResponse(path)

    # -- live calls -----------------------------------------------------------------------
    @router.get("/api/me")
    async def me(user: str = op) -> dict:
        return {"user": user}

    @router.get("/api/calls")
    async def live_calls(request: Request, user: str = op) -> list[dict]:
        return _live(request).snapshot()

    @router.get("/api/calls/{call_id}")
    async def live_call(call_id: str, request: Request, user: str = op) -> dict:
        call = _live(request).calls.get(call_id)
        if call is None:
            raise HTTPException(404, f"no live call {call_id}")
        return call.detail()

    @router.get("/api/intents")
    async def intents(user: str = op) -> list[str]:
        return list(INTENTS)

    # -- actions --------------------------------------------------------------------------
    def live_call_or_404(request: Request, call_id: str) -> None:
        """Running here, or (Redis bus) on another worker as the live list says."""
        listed = _live(request).calls.get(call_id)
        if call_id not in _factory(request).calls and (
            listed is None or listed.status != "live"
        ):
            raise HTTPException(404, f"no live call {call_id}")

    # Both go over the bus: the worker that runs the call acts (202: the call's own events
    # say when it is done: call_ended, call_transferred).
    @router.post("/api/calls/{call_id}/hangup", status_code=202)
    async def hang_up(call_id: str, request: Request, user: str = op) -> dict:
        live_call_or_404(request, call_id)
        _factory(request).bus.publish(HangupRequested(call_id=call_id, operator=user))
        return {"call_id": call_id, "hangup_requested": True}

    @router.post("/api/calls/{call_id}/takeover", status_code=202)
    async def take_over(call_id: str, request: Request, user: str = op) -> dict:
        live_call_or_404(request, call_id)
        logger.info(f"{call_id}: operator {user!r} takes over")
        _factory(request).bus.publish(
            TransferRequested(call_id=call_id, reason="operator_takeover"))
        return {"call_id": call_id, "transfer_requested": True}

    @router.post("/api/calls/{call_id}/turns/{turn}/intent")
    async def correct_intent(
        call_id: str, turn: int, body: IntentCorrection, request: Request, user: str = op
    ) -> dict:
        if body.intent not in INTENTS:
            raise HTTPException(422, f"unknown intent {body.intent!r}")
        store = _store(request)
        # a live call's turn may not be written yet: send what the page saw with it
        said = _live(request).caller_line(call_id, turn)
        try:
            saved = await _call_store(
                store.add_feedback, call_id, turn, body.intent, user,
                transcript=said.text if said else None, language=said.language if said else None,
                predicted_intent=said.intent if said else None,
            )
        except ValueError as e:
            raise HTTPException(404, str(e)) from e
        logger.info(f"{call_id} turn {turn}: intent corrected to {body.intent} by {user!r}")
        return _plain(saved)

    # -- history (call records) -----------------------------------------------------------
    @router.get("/api/history")
    async def history(
        request: Request, search: str | None = None, limit: int = 50, user: str = op
    ) -> list[dict]:
        store = _store(request)
        rows = await _call_store(store.list_calls, search=search or None,
                                 limit=max(1, min(limit, 500)))
        return [_plain(r) for r in rows]

    @router.get("/api/history/{call_id}")
    async def history_call(call_id: str, request: Request, user: str = op) -> dict:
        store = _store(request)
        call = await _call_store(store.get_call, call_id)
        if call is None:
            raise HTTPException(404, f"no recorded call {call_id}")
        out = _plain(call)
        feedback = await _call_store(store.list_feedback, call_id=call_id)
        out["feedback"] = [_plain(f) for f in feedback]
        return out

    # -- WebSockets -----------------------------------------------------------------------
    @router.websocket("/ws")
    async def events_ws(ws: WebSocket) -> None:
        await events_socket(ws)

    @router.websocket("/listen/{call_id}")
    async def listen_ws(ws: WebSocket, call_id: str) -> None:
        await listen_socket(ws, call_id)

    return router


def require_operator_or_none(request: Request) -> str | None:
    return request.app.state.operator_auth.user_from_cookie(request.cookies.get(COOKIE))


def _plain(obj: Any) -> Any:
    """Store results (pydantic models) → JSON-able dicts."""
    return obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj
