"""The operator page's two WebSockets.

/operator/ws: a snapshot of the live calls, then every bus event as JSON (`model_dump`).
/operator/listen/{call_id}: binary messages, one per 20 ms frame: a side byte (0 caller, 1 bot)
then 8 kHz 16-bit little-endian PCM.
Both close with 1008 without a valid session (or from another site's page).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import WebSocket
from loguru import logger
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voice_agent.operator.auth import websocket_operator
from voice_agent.operator.live import LiveCalls

POLICY_VIOLATION = 1008
NO_SUCH_CALL = 4404
CALL_CHECK_S = 0.5  # how often an idle listen-in checks that its call is still live


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    await ws.accept()
    await ws.close(code=code, reason=reason)


async def _until_closed(ws: WebSocket) -> None:
    """Read (and ignore) what the page sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _race(ws: WebSocket, sender) -> None:
    """Run the sender until it or the page's side ends, then close."""
    tasks = {asyncio.create_task(sender), asyncio.create_task(_until_closed(ws))}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    for t in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    for t in done:
        if not t.cancelled() and t.exception() and not isinstance(
            t.exception(), WebSocketDisconnect | RuntimeError
        ):
            logger.warning(f"operator socket: {t.exception()!r}")
    if ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(1000)


async def events_socket(ws: WebSocket) -> None:
    user = websocket_operator(ws)
    if user is None:
        await _refuse(ws, POLICY_VIOLATION, "operator login required")
        return
    await ws.accept()
    live: LiveCalls = ws.app.state.operator_live
    queue = live.subscribe()  # subscribe, then snapshot: no event falls between the two

    async def send() -> None:
        await ws.send_text(json.dumps({"type": "snapshot", "calls": live.details()}))
        while True:
            message = await queue.get()
            if message is None:
                return  # server shutting down
            if message.get("type") == "resync":
                message = {"type": "snapshot", "calls": live.details()}
            await ws.send_text(json.dumps(message))

    try:
        await _race(ws, send())
    finally:
        live.unsubscribe(queue)


async def listen_socket(ws: WebSocket, call_id: str) -> None:
    user = websocket_operator(ws)
    if user is None:
        await _refuse(ws, POLICY_VIOLATION, "operator login required")
        return
    factory = ws.app.state.factory
    if call_id not in factory.calls:
        await _refuse(ws, NO_SUCH_CALL, "no such live call")
        return
    await ws.accept()
    logger.info(f"{call_id}: operator {user!r} listening in")
    queue = factory.listen.subscribe(call_id)

    async def send() -> None:
        while call_id in factory.calls:
            try:
                frame = await asyncio.wait_for(queue.get(), CALL_CHECK_S)
            except TimeoutError:
                continue
            await ws.send_bytes(frame)

    try:
        await _race(ws, send())
    finally:
        factory.listen.unsubscribe(call_id, queue)
