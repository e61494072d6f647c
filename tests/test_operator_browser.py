"""The operator page in a real browser (Debian's headless Chromium driven by Playwright) while a
simulated Twilio call runs through the real server: log in, watch the call and its transcript
arrive live, listen in, hang up, find the call in the history."""

from __future__ import annotations

import os
import shutil

import pytest
from operator_helpers import PASSWORD, operator_settings

from voice_agent.events import CallEnded, CallStarted, EventRecorder
from voice_agent.server import running_server
from voice_agent.testing.twilio_line import SimulatedCall

from conftest import TEST_AUTH_TOKEN, fixture_wav

CHROMIUM = os.environ.get("VOICE_AGENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} missing: "
                       "bash scripts/setup.sh installs Debian's chromium"),
]


@pytest.fixture
async def browser():
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def log_in(page, base: str) -> None:
    await page.goto(base + "/operator/")
    await page.fill("input[name=username]", "alice")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    assert "Wrong name or password" in await page.text_content("[data-testid=login-error]")
    await page.fill("input[name=username]", "alice")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("[data-testid=connection]:text('live')", timeout=10_000)
    assert await page.text_content("[data-testid=user]") == "alice"


async def test_operator_watches_listens_to_and_hangs_up_a_live_call(
    fresh_resources, browser, tmp_path
):
    res = fresh_resources
    events = EventRecorder(res.bus)
    settings = operator_settings(res.settings, db=tmp_path / "calls.db")
    async with running_server(settings, res) as (base, _):
        page = await browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # "Hang up this call?"
        await log_in(page, base)

        media = base.replace("http", "ws", 1) + "/media"
        caller = {"from": "+15557654321"}
        async with SimulatedCall(media, caller, auth_token=TEST_AUTH_TOKEN) as call:
            call_id = (await events.wait_for(CallStarted, timeout=10))[0].call_id
            row = page.locator(f"tr[data-call-id='{call_id}']")
            await row.wait_for(timeout=5_000)
            assert "+15557654321" in await row.text_content()
            await row.click()
            await page.wait_for_selector("[data-testid=call-status]:text('live')")

            await page.click("[data-testid=listen]")  # a click: the browser may start audio
            await call.wait_quiet(call.start_sent_at, timeout=10)
            await call.say(fixture_wav("en_opening_hours"))

            # the caller's words and the agent's answer are on the page while the call is live
            caller_line = page.locator("[data-testid=transcript] li.caller").first
            await caller_line.wait_for(timeout=5_000)
            assert "hours" in (await caller_line.text_content()).lower()
            answer = res.models.kb.pack("en").answers["opening_hours"]
            bot_line = page.locator("[data-testid=transcript] li.bot").first
            await bot_line.wait_for(timeout=5_000)
            assert answer in await bot_line.text_content()
            cells = await row.locator("td").all_text_contents()
            assert cells[1] == "en" and cells[3].startswith("opening_hours")
            assert cells[5].endswith(" s") and cells[6] == "live"

            # listen-in: both sides' audio reached the page's Web Audio player
            info = page.locator("[data-testid=listen-info]")
            await page.wait_for_function(
                "() => Number(document.querySelector('[data-testid=listen-info]')"
                ".dataset.bot || 0) > 1.0", timeout=5_000)
            assert float(await info.get_attribute("data-caller")) > 2.0

            await page.click("[data-testid=hangup]")
            await page.wait_for_selector(
                "[data-testid=call-status]:text('ended: operator_hangup')", timeout=10_000)
            ended = await events.wait_for(CallEnded, call_id, timeout=5)
            assert ended[0].reason == "operator_hangup"
            for _ in range(100):
                if call.closed:
                    break
                await call.send_silence(0.05)
            assert call.closed
        assert "ended (operator_hangup)" in await row.text_content()
        assert await page.is_disabled("[data-testid=hangup]")

        # the ended call is in the history: search by number, open it, replay, correct
        history_row = page.locator(f"[data-testid=history-calls] tr[data-call-id='{call_id}']")
        await page.fill("[data-testid=history-q]", "+15557654321")
        await page.click("[data-testid=history-search] button")
        await history_row.wait_for(timeout=10_000)
        assert "operator_hangup" in await history_row.text_content()
        await history_row.click()
        record = page.locator("[data-testid=record-turns]")
        await record.locator("li.caller").first.wait_for(timeout=5_000)
        await page.click("[data-testid=replay]")
        await record.locator("li.bot", has_text=answer).wait_for(timeout=10_000)
        fix = record.locator("li.caller .fix").first
        await fix.locator("select").select_option("complaint")
        await fix.locator("button").click()
        await fix.locator("text=/✓|✗/").wait_for(timeout=5_000)
        assert "✓ corrected to complaint" in await fix.text_content()

        await page.screenshot(path=os.environ.get("OPERATOR_SCREENSHOT",
                                                  str(tmp_path / "operator.png")), full_page=True)
        await page.click("[data-testid=logout]")
        await page.wait_for_selector("[data-testid=login-form]")


async def test_operator_bench_measures_the_page_with_event_level_calls(settings):
    """`voice-agent bench operator`, short: every published line is found on the page."""
    from voice_agent.bench.operator import run_operator_bench

    report = await run_operator_bench(settings, calls=4, turns=5, seconds=4.0, write=False)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:]
            for line in report.splitlines() if line.startswith("| ") and " ms |" in line}
    assert len(rows) == 4, report
    for name, cells in rows.items():
        median_ms = float(cells[0].removesuffix(" ms"))
        assert 0 <= median_ms < 5000, (name, report)
    assert rows["caller_turn published → line on the page, 1 call"][-1].startswith("5")
