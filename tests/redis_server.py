"""A private redis-server on a free loopback port, for tests that need a real Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from voice_agent.server import free_port


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields its URL; skips the test where redis-server is not installed."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    import redis

    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
