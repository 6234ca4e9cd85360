"""The organisers' dashboard in a real browser: signing in, a number changing live when a team is
created through the Slack endpoint, an announcement previewed and sent, markup shown as text, and the
whole page in German, the live parts too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, expect

from hackserver.app import create_app
from hackserver.foundation.models import OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.bots.test_slack import SECRET, command_body, signed
from tests.conftest import EXAMPLE_EVENT
from tests.servers import runtime_of, serving
from tests.web import test_browser
from tests.web.test_browser import LIVE_TIMEOUT_MS
from tests.web.test_dashboard import EVIL, TOKEN, markup_team

pytestmark = pytest.mark.browser
chromium, browser, page = test_browser.chromium, test_browser.browser, test_browser.page  # the fixtures


@pytest.fixture
async def server(tmp_path: Path, free_port: int) -> AsyncIterator[uvicorn.Server]:
    """The example event with kickoff now, on the real clock, with Slack commands enabled."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}",
        event_path=EXAMPLE_EVENT,
        organiser_token=TOKEN,
        slack_signing_secret=SECRET,
    )
    async with serving(create_app(settings, demo=True, run_clock=False), free_port) as server:
        yield server


def base(server: uvicorn.Server) -> str:
    return f"http://127.0.0.1:{server.config.port}"


async def slack(server: uvicorn.Server, text: str, user: str) -> None:
    body = command_body(text, user=user, trigger=f"trigger-{user}-{abs(hash(text))}")
    async with httpx.AsyncClient(base_url=base(server), timeout=10) as client:
        headers = {**signed(body), "Content-Type": "application/x-www-form-urlencoded"}
        response = await client.post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def sign_in(page: Page, server: uvicorn.Server) -> None:
    response = await page.goto(f"{base(server)}/dashboard")
    assert response is not None and response.status == 401
    await expect(page.get_by_label("Organiser token")).to_be_focused()
    await page.keyboard.type(TOKEN)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base(server)}/dashboard")
    await expect(page.locator("#live")).to_have_text("● live")


async def test_an_organiser_signs_in_sees_a_slack_team_arrive_and_sends_an_announcement(
    page: Page, server: uvicorn.Server, tmp_path: Path
) -> None:
    for n, name in enumerate(["Luftretter", "Wasserwerk"]):
        await slack(server, f"team create {name}", f"U{n}")
    await slack(server, "match me", "U9")
    await sign_in(page, server)
    assert TOKEN not in page.url
    await expect(page.locator("#count-teams")).to_have_text("2")
    await page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    await slack(server, "team create Stadtgrün", "U3")
    await expect(page.locator("#count-teams")).to_have_text("3", timeout=LIVE_TIMEOUT_MS)
    await expect(page.locator("#count-pool")).to_have_text("1")
    await expect(page.locator("#feed")).to_contain_text("Team “Stadtgrün” was created")

    await page.get_by_label("Text").fill("Pizza is in the kitchen")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview-text")).to_have_text("Pizza is in the kitchen")
    await expect(page.locator("#preview-target")).to_have_text("Goes to: every platform")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.locator("#result")).to_contain_text("Announcement sent to builtin announcements")
    await expect(page.locator("#feed")).to_contain_text("Announcement sent: Pizza is in the kitchen")
    await expect(page.get_by_label("Text")).to_have_value("")
    assert await page.evaluate("window.sameDocument === true")
    await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)  # docs/dashboard.png is one


async def dead_letter(runtime: Runtime) -> None:
    """A message given up on, as the outbox records it: its alert and its feed line come live."""
    async with runtime.transaction() as tx:
        message = OutboxMessage(
            key="test:dead", platform="slack", channel="C1", payload={}, status="dead", last_error="HTTP 404"
        )
        tx.session.add(message)
        await tx.session.flush()
        tx.record("outbox.dead", id=message.id, platform="slack", error="HTTP 404")


async def test_in_german_a_feed_entry_and_an_alert_arrive_live_in_german(
    page: Page, server: uvicorn.Server
) -> None:
    response = await page.goto(f"{base(server)}/dashboard?lang=de")
    assert response is not None and response.status == 401
    await page.get_by_label("Orga-Token").fill(TOKEN)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(f"{base(server)}/dashboard?lang=de")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("#live")).to_have_text("● live")
    await expect(page.locator("#phase")).to_have_text("Kickoff")
    await expect(page.locator("#countdown")).to_have_text(re.compile(r"^· Hacking in 0 h \d\d min \d\d s$"))
    await page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    await slack(server, "team create Stadtgrün", "U3")
    await expect(page.locator("#feed")).to_contain_text(
        "Team „Stadtgrün“ wurde gegründet", timeout=LIVE_TIMEOUT_MS
    )
    await dead_letter(runtime_of(server))
    await expect(page.locator("#alerts li").first).to_have_text(
        re.compile(r"^1 Nachricht kam nicht an: #\d+ slack$"), timeout=LIVE_TIMEOUT_MS
    )
    await expect(page.locator("#feed")).to_contain_text("an slack aufgegeben: HTTP 404")
    await expect(page.locator("#dead button")).to_have_text("Erneut senden")
    await expect(page.locator("#platforms tbody th")).to_have_text(
        ["Ausstehend", "Wird gesendet", "Zugestellt", "Aufgegeben", "Gebremst"]
    )
    await page.get_by_label("Text", exact=True).fill("Pizza ist in der Küche")
    await page.get_by_role("button", name="Vorschau").click()
    await expect(page.locator("#preview-target")).to_have_text("Geht an: alle Plattformen")
    await page.get_by_role("button", name="Senden", exact=True).click()
    await expect(page.locator("#result")).to_have_text("Ankündigung gesendet an builtin announcements.")
    assert await page.evaluate("window.sameDocument === true")


async def test_markup_in_a_team_name_and_an_announcement_is_shown_as_text(
    page: Page, server: uvicorn.Server
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    runtime: Runtime = runtime_of(server)
    await markup_team(runtime)
    await sign_in(page, server)
    await expect(page.locator("#feed")).to_contain_text(f"Team “{EVIL}” was created")
    await page.get_by_label("Text").fill(EVIL)
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview-text")).to_have_text(EVIL)
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.locator("#feed")).to_contain_text(f"Announcement sent: {EVIL}")
    await page.reload()  # the server-rendered page escapes it too
    await expect(page.locator("#feed")).to_contain_text(f"Team “{EVIL}” was created")
    assert await page.locator("main script").count() == 0
    assert dialogs == []


async def test_the_delivery_table_fits_its_panel_with_every_header_whole(
    page: Page, server: uvicorn.Server
) -> None:
    await slack(server, "team create Luftretter", "U1")  # a team channel: a message to deliver
    await sign_in(page, server)
    table = page.locator("#platforms")
    await expect(table.locator("thead th")).to_have_text(["Messages", "builtin"])
    await expect(table.locator("tbody th")).to_have_text(
        ["Pending", "Sending", "Delivered", "Dead", "Rate-limited"]
    )
    for width in (1100, 1400, 320):
        await page.set_viewport_size({"width": width, "height": 700})
        scroll = await table.evaluate("t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
        assert scroll[0] <= scroll[1], f"cut at {width} px: {scroll}"


async def test_the_charts_draw_from_the_history_and_follow_a_new_team_live(
    page: Page, server: uvicorn.Server
) -> None:
    refused: list[str] = []  # what the content security policy blocked, if anything
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else None,
    )
    await slack(server, "team create Luftretter", "U1")
    await sign_in(page, server)
    await expect(page.locator("figure[data-chart] canvas")).to_have_count(5)
    # The example event's clock, in Berlin: a weekday and a 24-hour time at either end.
    await expect(page.locator("#chart-span")).to_have_text(
        re.compile(r"^· \w{3} \d\d:\d\d – \w{3} \d\d:\d\d$")
    )
    people = page.locator("figure[data-chart=people]")
    await people.get_by_text("People and teams: as a table").click()
    newest = people.locator("details tbody tr").last
    await expect(newest.locator("td")).to_have_text(
        ["1", "1", "0", "1"]
    )  # registered, in teams, without, teams
    await slack(server, "team create Bergwacht", "U2")
    await expect(newest.locator("td")).to_have_text(["2", "2", "0", "2"])
    assert refused == []


async def test_the_browser_checks_a_phase_shift_as_the_server_reads_it(
    page: Page, server: uvicorn.Server
) -> None:
    await sign_in(page, server)
    field = page.get_by_label("By (e.g. +30m, -10m)")
    wrong = {}
    for text in ("+30m", "-10m", "+1h30m", "2d", "+1d 2h", "-45s", "soon", "+", "30x", "m30", "+-5m"):
        await field.fill(text)
        wrong[text] = await field.evaluate("input => input.validity.patternMismatch")
    assert [text for text, mismatch in wrong.items() if mismatch] == ["soon", "+", "30x", "m30", "+-5m"]
