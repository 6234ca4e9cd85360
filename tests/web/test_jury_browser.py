"""The jury page in a real browser: a juror opens their link, scores one submission, flags another
and sees both outcomes; another juror's link shows only theirs, and a revoked link is refused."""

from __future__ import annotations

from collections import Counter

import pytest
import uvicorn
from playwright.async_api import Page, expect
from sqlalchemy import func, select

from hackserver.foundation import links
from hackserver.foundation.models import Score
from hackserver.judging import scoring
from hackserver.runtime import Runtime
from tests.fakes import FakeClock
from tests.judging.test_judging import assignments, finals_ready
from tests.servers import runtime_of
from tests.web.test_browser import browser, chromium  # noqa: F401 -- fixtures
from tests.web.test_submit_browser import database_url, narrow  # noqa: F401 -- fixtures
from tests.web.test_submit_page import clock, link_of, server  # noqa: F401 -- fixtures

pytestmark = pytest.mark.browser


async def jurors_with_work(runtime: Runtime, event_clock: FakeClock) -> dict[int, list[int]]:
    """Two final submissions assigned three times each: juror id -> their submission ids."""
    await finals_ready(runtime, event_clock, count=2)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test", seed=3)
    work: dict[int, list[int]] = {}
    for submission, juror, _ in sorted(await assignments(runtime)):
        work.setdefault(juror, []).append(submission)
    return work


async def test_a_juror_scores_one_submission_and_flags_another(
    narrow: Page,  # noqa: F811
    server: uvicorn.Server,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    runtime = runtime_of(server)
    work = await jurors_with_work(runtime, clock)
    juror = next(j for j, items in work.items() if len(items) == 2)
    scored, flagged = work[juror]
    base = f"http://127.0.0.1:{server.config.port}"
    await narrow.goto(base + await link_of(runtime, "jury", juror) + "?lang=en")
    await expect(narrow.locator("#count")).to_have_text("Assigned to you: 2")
    first = narrow.locator(f"#s{scored}")
    await first.get_by_label("Impact").fill("11")  # above the scale: the browser holds the form back
    await first.get_by_label("Feasibility").fill("5")
    await first.get_by_label("Quality of the prototype").fill("6")
    await first.get_by_role("button", name="Save scores").click()
    assert await first.get_by_label("Impact").evaluate("input => input.validity.rangeOverflow")
    await expect(narrow.locator("#notice")).to_have_count(0)
    await first.get_by_label("Impact").fill("8")
    await first.get_by_role("button", name="Save scores").click()
    await expect(narrow.locator("#notice")).to_have_text("Saved.")
    await expect(first.locator("h2")).to_contain_text("scored")
    await expect(first.get_by_label("Impact")).to_have_value("8")
    second = narrow.locator(f"#s{flagged}")
    await second.get_by_text("Cannot judge it?").click()
    await second.get_by_label("Reason").select_option(label="empty")
    await second.get_by_role("button", name="Flag").click()
    await expect(narrow.locator("#notice")).to_have_text("Flagged; it goes to another juror.")
    await expect(narrow.locator(f"#s{flagged}")).to_have_count(0)  # gone to another juror
    await expect(narrow.locator("#count")).to_have_text("Assigned to you: 1")
    assert await narrow.evaluate("document.documentElement.scrollWidth") <= 320
    after = Counter((s, j, f) for s, j, f in await assignments(runtime))
    assert after[(flagged, juror, "empty")] == 1 and after[(scored, juror, None)] == 1


async def test_a_juror_cannot_score_another_jurors_submission_nor_use_a_revoked_link(
    narrow: Page,  # noqa: F811
    server: uvicorn.Server,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    runtime = runtime_of(server)
    work = await jurors_with_work(runtime, clock)
    juror = next(j for j, items in work.items() if len(items) == 1)
    foreign = next(s for items in work.values() for s in items if s not in work[juror])
    base = f"http://127.0.0.1:{server.config.port}"
    link = base + await link_of(runtime, "jury", juror) + "?lang=en"
    await narrow.goto(link)
    await expect(narrow.locator(f"#s{foreign}")).to_have_count(0)  # only their own are listed
    mine = narrow.locator(f"#s{work[juror][0]}")
    await mine.get_by_label("Impact").fill("5")
    form = mine.locator("form").first  # aimed at another juror's submission, as a forged post would be
    await form.evaluate(
        "(f, id) => f.setAttribute('action', f.getAttribute('action').replace(/\\/\\d+\\?/, `/${id}?`))",
        foreign,
    )
    await mine.get_by_role("button", name="Save scores").click()
    await expect(narrow.locator("#notice")).to_contain_text(f"submission {foreign} is not assigned to you")
    await narrow.goto(link)
    async with runtime.transaction() as tx:
        await links.revoke(tx, "jury", juror, actor="organiser:test")
    await mine.get_by_label("Impact").fill("5")
    await mine.get_by_role("button", name="Save scores").click()  # the open page's link was revoked
    await expect(narrow.locator("body")).to_contain_text("revoked")
    refused = await narrow.goto(link)
    assert refused is not None and refused.status == 403
    async with runtime.reading() as tx:
        assert await tx.session.scalar(select(func.count()).select_from(Score)) == 0
