"""A local stand-in for Twilio's REST API (its cloud is unreachable from tests): it records
every request, answers like Twilio, and can be told to refuse."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from voice_agent.server import free_port

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "rest-test-token"


@dataclass
class RestRequest:
    path: str
    form: dict[str, list[str]]
    authorization: str
    at: float  # time.monotonic() on arrival

    def one(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass
class TwilioCloud:
    requests: list[RestRequest] = field(default_factory=list)
    refuse_with: int | None = None  # answer every request with this HTTP status
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _record(self, request: web.Request) -> RestRequest:
        post = await request.post()
        form: dict[str, list[str]] = {}
        for key, value in post.items():
            form.setdefault(key, []).append(str(value))
        rec = RestRequest(request.path, form, request.headers.get("Authorization", ""),
                          time.monotonic())
        self.requests.append(rec)
        return rec

    def _refusal(self) -> web.Response:
        return web.json_response(
            {"code": 21211, "message": "The 'To' number is not a valid phone number.",
             "more_info": "https://www.twilio.com/docs/errors/21211", "status": self.refuse_with},
            status=self.refuse_with or 400)

    async def _create(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        if self.refuse_with:
            return self._refusal()
        sid = "CA" + uuid.uuid4().hex
        return web.json_response({
            "sid": sid, "account_sid": request.match_info["account"], "status": "queued",
            "to": rec.one("To"), "from": rec.one("From"), "direction": "outbound-api",
        }, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self.refuse_with:
            return self._refusal()
        return web.json_response({"sid": request.match_info["call"], "status": "in-progress",
                                  "account_sid": request.match_info["account"]})

    async def start(self) -> TwilioCloud:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._create)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait_for_requests(self, count: int = 1, timeout: float = 10.0) -> list[RestRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.requests

    def twilio_settings(self) -> dict:
        """Settings overrides that point the agent's Twilio client here."""
        return {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "api_base_url": self.url}
