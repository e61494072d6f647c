"""Outbound calls: `voice-agent call` and POST /api/calls ask Twilio (a local stand-in) to dial."""

import asyncio
import json
import os
import sys

import httpx
import pytest
from twilio_cloud import ACCOUNT_SID, TwilioCloud

from voice_agent.app import create_app
from voice_agent.config import load_settings
from voice_agent.telephony.twilio.outbound import place_call
from voice_agent.telephony.twilio.rest import TwilioConfigError, e164
from voice_agent.telephony.twilio.security import hash_api_key

from conftest import REPO_ROOT

PUBLIC = "https://agent.example.com"
API_KEY = "k3y-for-the-crm"


@pytest.fixture
async def cloud():
    c = await TwilioCloud().start()
    yield c
    await c.stop()


def settings_for(cloud: TwilioCloud, **server):
    return load_settings(env={}, overrides={
        "server": {"public_url": PUBLIC, "api_keys": [hash_api_key(API_KEY)], **server},
        "twilio": {**cloud.twilio_settings(), "from_number": "+15550001000"},
    })


@pytest.mark.parametrize("number", ["5551234567", "+0555123", "+1 555 123 4567", "",
                                    "+1555123456789012", "sip:alice@example.com"])
def test_numbers_must_be_e164_with_a_clear_error(number):
    with pytest.raises(TwilioConfigError, match="E.164"):
        e164(number, "destination")


async def test_place_call_asks_twilio_to_dial_and_fetch_our_signed_webhook(cloud):
    placed = await asyncio.to_thread(place_call, settings_for(cloud), "+15551234567", None, "es")
    assert placed.call_sid.startswith("CA") and placed.status == "queued"
    (req,) = cloud.requests
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert req.authorization.startswith("Basic ")
    assert req.one("To") == "+15551234567" and req.one("From") == "+15550001000"
    assert req.one("Url") == f"{PUBLIC}/twiml?lang=es" and req.one("Method") == "POST"
    assert req.one("StatusCallback") == f"{PUBLIC}/twilio/status"
    assert req.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


async def test_missing_public_url_language_or_caller_id_are_clear_errors(cloud):
    s = settings_for(cloud)
    no_public = s.model_copy(update={"server": s.server.model_copy(update={"public_url": None})})
    with pytest.raises(TwilioConfigError, match="public_url"):
        place_call(no_public, "+15551234567")
    with pytest.raises(TwilioConfigError, match="language 'xx'"):
        place_call(s, "+15551234567", language="xx")
    with pytest.raises(TwilioConfigError, match="caller ID"):
        place_call(s, "+15551234567", from_="my office")
    assert cloud.requests == []  # nothing reached Twilio


async def api(cloud: TwilioCloud, body: dict, headers: dict, **server) -> httpx.Response:
    app = create_app(settings_for(cloud, **server))  # no lifespan: no models needed
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        return await client.post("/api/calls", json=body, headers=headers)


async def test_api_places_a_call_with_a_valid_key(cloud):
    r = await api(cloud, {"to": "+15551234567", "lang": "fr", "from": "+15550009999"},
                  {"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 201, r.text
    assert r.json()["call_sid"].startswith("CA") and r.json()["lang"] == "fr"
    (req,) = cloud.requests
    assert req.one("From") == "+15550009999" and req.one("Url").endswith("/twiml?lang=fr")
    r = await api(cloud, {"to": "+15551234567"}, {"X-API-Key": API_KEY})  # the other header
    assert r.status_code == 201 and len(cloud.requests) == 2


@pytest.mark.parametrize("headers, keys, detail", [
    ({}, None, "missing API key"),
    ({"Authorization": "Bearer guessed"}, None, "invalid API key"),
    ({"X-API-Key": API_KEY + "x"}, None, "invalid API key"),
    ({"Authorization": f"Bearer {API_KEY}"}, [], "no server.api_keys"),
])
async def test_api_without_a_valid_key_is_401_and_dials_nothing(cloud, headers, keys, detail):
    extra = {} if keys is None else {"api_keys": keys}
    r = await api(cloud, {"not": "a call request"}, headers, **extra)  # key before body
    assert r.status_code == 401 and detail in r.json()["detail"]
    assert cloud.requests == []


async def test_api_bad_number_is_422_and_twilio_refusal_is_502(cloud):
    r = await api(cloud, {"to": "555-1234"}, {"X-API-Key": API_KEY})
    assert r.status_code == 422 and "E.164" in r.json()["detail"]
    assert cloud.requests == []
    cloud.refuse_with = 400
    r = await api(cloud, {"to": "+15551234567"}, {"X-API-Key": API_KEY})
    assert r.status_code == 502 and "not a valid phone number" in r.json()["detail"]


async def test_api_when_twilio_is_unreachable_is_502(cloud):
    await cloud.stop()  # the stand-in is gone: connection refused
    r = await api(cloud, {"to": "+15551234567"}, {"X-API-Key": API_KEY})
    assert r.status_code == 502 and "cannot reach Twilio" in r.json()["detail"]


def test_a_malformed_hashed_key_in_config_fails_at_start_up():
    s = load_settings(env={}, overrides={"server": {"api_keys": ["sha256:nothex"]}})
    with pytest.raises(ValueError, match="64 hex"):
        create_app(s)


async def run_cli(cloud: TwilioCloud, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "rest-token",
           "VOICE_AGENT_TWILIO__API_BASE_URL": cloud.url, "VOICE_AGENT_PUBLIC_URL": PUBLIC,
           "TWILIO_FROM_NUMBER": "+15550001000", "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_agent.cli", "call", *args, cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


async def test_call_command_dials_through_twilio(cloud):
    code, out, err = await run_cli(cloud, "+15551234567", "--lang", "es")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["call_sid"].startswith("CA") and printed["to"] == "+15551234567"
    (req,) = cloud.requests
    assert req.one("Url") == f"{PUBLIC}/twiml?lang=es" and req.one("From") == "+15550001000"

    code, out, _ = await run_cli(cloud, "555 1234")
    assert code == 2 and "E.164" in out
    assert len(cloud.requests) == 1
