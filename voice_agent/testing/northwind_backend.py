"""Northwind's order API for tests: the same orders as the demo CSV, over HTTP (FastAPI).

The agent's `http` actions run against it end to end, cancellation included. It can be told to
misbehave the ways a company's backend does: answer slowly, 500, or text that is not JSON;
a stopped server stands for one that is down.

    with running_backend(token="secret") as backend:
        backend.url        # http://127.0.0.1:<free port>
        backend.mode = "slow"   # | "error" | "invalid_json" | "ok"
"""

from __future__ import annotations

import asyncio
import csv
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse

from voice_agent.config import REPO_ROOT

ORDERS_CSV = REPO_ROOT / "config" / "agents" / "northwind" / "data" / "orders.csv"
INTEGER_COLUMNS = ("eta_days", "delivered_days_ago")


def read_orders(path: Path = ORDERS_CSV) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["number"]: {k: (int(v) if k in INTEGER_COLUMNS and v else v or None)
                          for k, v in r.items()} for r in rows}


@dataclass
class Backend:
    """The running API's state: its orders, how it behaves, what it was asked."""

    token: str | None = None
    mode: str = "ok"  # ok | slow | error | invalid_json
    slow_s: float = 3.0
    orders: dict[str, dict[str, Any]] = field(default_factory=read_orders)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    url: str = ""


def create_backend_app(backend: Backend) -> FastAPI:
    app = FastAPI(title="Northwind orders (test backend)")

    async def misbehave() -> PlainTextResponse | None:
        if backend.mode == "slow":
            await asyncio.sleep(backend.slow_s)
        if backend.mode == "error":
            return PlainTextResponse("internal error", status_code=500)
        if backend.mode == "invalid_json":
            return PlainTextResponse("<html>maintenance</html>", status_code=200)
        return None

    def authorised(authorization: str | None) -> None:
        if backend.token and authorization != f"Bearer {backend.token}":
            raise HTTPException(401, "bad token")

    async def known_order(method: str, path: str, number: str, authorization: str | None):
        """The request logged and checked as the company's API would: a response to send back
        (misbehaving, unknown order), or the order."""
        backend.requests.append((method, path))
        authorised(authorization)
        if (bad := await misbehave()) is not None:
            return bad
        order = backend.orders.get(number)
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return order

    @app.get("/orders/{number}")
    async def get_order(number: str, authorization: str | None = Header(None)):
        order = await known_order("GET", f"/orders/{number}", number, authorization)
        return {"order": order} if isinstance(order, dict) else order

    @app.post("/orders/{number}/cancel")
    async def cancel_order(number: str, authorization: str | None = Header(None)):
        order = await known_order("POST", f"/orders/{number}/cancel", number, authorization)
        if not isinstance(order, dict):
            return order
        if order["status"] != "processing":
            return JSONResponse({"error": "cannot cancel", "order": order}, status_code=409)
        order["status"] = "cancelled"
        return {"order": order}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_backend(token: str | None = None) -> Iterator[Backend]:
    """The API on a free loopback port in a thread, for the length of the block."""
    backend = Backend(token=token)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_backend_app(backend), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="northwind-backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Northwind test backend did not start")
        time.sleep(0.02)
    backend.url = f"http://127.0.0.1:{port}"
    try:
        yield backend
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def http_actions(base_url: str) -> dict[str, dict[str, Any]]:
    """Northwind's order actions pointed at this API (config `agent_actions`)."""
    fields = ["number", "status", "eta_days", "delivered_days_ago", "refund"]
    headers = {"Authorization": "Bearer ${NORTHWIND_API_TOKEN}"}
    return {
        "find_order": {"kind": "http", "method": "GET",
                       "url": base_url + "/orders/{order_number}", "headers": headers,
                       "result": "order", "returns": fields, "timeout_s": 1.0},
        "cancel_order": {"kind": "http", "method": "POST",
                         "url": base_url + "/orders/{order_number}/cancel",
                         "headers": headers, "body": {"reason": "caller request"},
                         "statuses": {404: "not_found", 409: "not_allowed"},
                         "result": "order", "returns": fields, "timeout_s": 1.0,
                         "check_with": "find_order", "allowed_when": {"status": ["processing"]}},
    }
