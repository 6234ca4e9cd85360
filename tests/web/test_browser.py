"""The built-in channels in a real browser, against the real `hackserver run --demo` process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests import processes
from tests.conftest import EXAMPLE_EVENT, unavailable

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SPEED = 600  # one event-hour is six real seconds
KICKOFF_EN = "Welcome to the Civic Sprint!"
KICKOFF_DE = "Willkommen zum Civic Sprint!"
HACKING_EN = "Hacking has started."
LIVE_TIMEOUT_MS = 15_000
HEALTHY_TIMEOUT = 20.0


@pytest.fixture
def demo_server(tmp_path: Path, free_port: int) -> Iterator[str]:
    """`hackserver run --demo` as its own process on a fresh SQLite file; yields its base URL."""
    executable = shutil.which("hackserver", path=str(Path(sys.executable).parent))
    assert executable is not None, "the hackserver console script is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {
        "HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "HACKSERVER_EVENT": str(EXAMPLE_EVENT),
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [executable, "run", "--demo", "--speed", str(SPEED), "--port", str(free_port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{free_port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        finally:
            processes.end_group(process.pid)
            process.wait()
        log.close()


async def wait_healthy(base_url: str, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        try:
            async with asyncio.timeout(HEALTHY_TIMEOUT):
                while True:
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
        except TimeoutError:
            output = await asyncio.to_thread(log.read_text)
            pytest.fail(f"hackserver did not become healthy in {HEALTHY_TIMEOUT:g} s:\n{output}")


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    page = await browser.new_page(viewport={"width": 1100, "height": 700})
    yield page
    await page.close()


async def open_channels(page: Page, base_url: str, tmp_path: Path, lang: str) -> str:
    """Opens the channels page once the server is healthy; returns the HTML as the server sent it."""
    await wait_healthy(base_url, tmp_path / "server.log")
    response = await page.goto(f"{base_url}/channels?lang={lang}")
    assert response is not None and response.ok
    return await response.text()


async def test_kickoff_announcement_is_shown_in_english(page: Page, demo_server: str, tmp_path: Path) -> None:
    await open_channels(page, demo_server, tmp_path, "en")
    assert await page.get_attribute("html", "lang") == "en"
    await expect(page.locator("#messages")).to_contain_text(KICKOFF_EN)
    await expect(page.locator("#messages")).not_to_contain_text(KICKOFF_DE)


async def test_switching_to_german_shows_the_german_text(
    page: Page, demo_server: str, tmp_path: Path
) -> None:
    await open_channels(page, demo_server, tmp_path, "en")
    await expect(page.locator("#messages")).to_contain_text(KICKOFF_EN)
    await page.get_by_role("link", name="DE", exact=True).click()
    await page.wait_for_url("**/channels?lang=de")
    assert await page.get_attribute("html", "lang") == "de"
    await expect(page.locator("#messages")).to_contain_text(KICKOFF_DE)
    await expect(page.locator("#messages")).not_to_contain_text(KICKOFF_EN)


async def test_the_hacking_announcement_and_phase_arrive_live(
    page: Page, demo_server: str, tmp_path: Path
) -> None:
    served = await open_channels(page, demo_server, tmp_path, "en")
    assert HACKING_EN not in served, "the server started too slowly to see the announcement arrive live"
    assert '"phase": "kickoff"' in served
    await page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    await expect(page.locator("#messages")).to_contain_text(HACKING_EN, timeout=LIVE_TIMEOUT_MS)
    await expect(page.locator("#phase")).to_have_text("Hacking")
    assert await page.evaluate("window.sameDocument === true")
    await page.screenshot(path=tmp_path / "channels.png", full_page=True)


async def test_a_newcomer_joins_and_gets_the_bots_answer_without_a_reload(
    page: Page, demo_server: str, tmp_path: Path
) -> None:
    await open_channels(page, demo_server, tmp_path, "en")
    await page.get_by_label("Your name").fill("Ada <Lovelace>")
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_url("**/channels?channel=bot-*")
    await expect(page.locator("#connection")).to_have_text("● live")
    await page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    await expect(page.get_by_label("Message @hackbot")).to_be_focused()
    await page.keyboard.type("/hack status")
    await page.keyboard.press("Enter")
    reply = page.locator("#messages li.from-bot .reply")
    await expect(reply.locator(".title")).to_contain_text("Civic Sprint 2027", timeout=LIVE_TIMEOUT_MS)
    await expect(reply.locator("table.fields th")).to_have_text("Team")
    await expect(page.locator("#messages")).to_contain_text("Ada <Lovelace>")
    await expect(page.get_by_label("Message @hackbot")).to_have_value("")
    assert await page.evaluate("window.sameDocument === true")
    await page.screenshot(path=tmp_path / "bot.png", full_page=True)
