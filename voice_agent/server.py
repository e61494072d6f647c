"""Running the app under uvicorn: in the foreground (`serve`) or background (tests, bench)."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager

import uvicorn

from voice_agent.app import create_app
from voice_agent.config import Settings
from voice_agent.pipeline.factory import CallFactory

WS_MAX_BYTES = 1 << 20  # uvicorn's own guard; the protocol limit (64 KB) is ours, with a reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uvicorn_config(
    app, host: str, port: int, log_level: str = "info",
    trusted_proxies: list[str] | None = None,
) -> uvicorn.Config:
    """Forwarded headers count only from `trusted_proxies` (IPs/CIDRs; default: this host)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, ws_max_size=WS_MAX_BYTES,
        proxy_headers=True, lifespan="on",
        forwarded_allow_ips=["127.0.0.1", "::1"] if trusted_proxies is None else trusted_proxies,
    )


@asynccontextmanager
async def running_server(settings: Settings, factory: CallFactory | None = None):
    """Start the real server on a free loopback port; yields (base_url, app)."""
    port = free_port()
    app = create_app(settings, factory)
    server = uvicorn.Server(uvicorn_config(
        app, "127.0.0.1", port, log_level="warning",
        trusted_proxies=settings.server.trusted_proxies,
    ))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # surface the start-up error
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=10)
