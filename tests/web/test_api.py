"""The organiser API: shifting a phase needs the organiser token and is refused clearly when wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from hackserver.app import create_app
from hackserver.foundation import json_input
from hackserver.foundation.models import ChannelMessage, OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.fakes import ORGANISER, ORGANISER_TOKEN, FakeClock


def test_an_organiser_extends_the_deadline(api: TestClient, kickoff: datetime) -> None:
    before = api.get("/api/v1/phases", headers=ORGANISER).json()
    assert before["current"] == "hacking"
    reply = api.post("/api/v1/phases/submission_deadline/shift", json={"by": "+30m"}, headers=ORGANISER)
    assert reply.status_code == 200, reply.text
    after = api.get("/api/v1/phases", headers=ORGANISER).json()["phases"]
    moved = datetime.fromisoformat(after["submission_deadline"]) - datetime.fromisoformat(
        before["phases"]["submission_deadline"]
    )
    assert moved == timedelta(minutes=30)
    assert after["awards"] == before["phases"]["awards"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, 401),
        ({"Authorization": ORGANISER_TOKEN}, 401),
    ],
)
def test_without_the_right_token_nothing_moves(api: TestClient, headers: dict[str, str], status: int) -> None:
    before = api.get("/api/v1/phases", headers=ORGANISER).json()["phases"]
    reply = api.post("/api/v1/phases/submission_deadline/shift", json={"by": "+30m"}, headers=headers)
    assert reply.status_code == status
    assert "organiser token" in reply.json()["error"]
    assert ORGANISER_TOKEN not in reply.text
    assert api.get("/api/v1/phases", headers=ORGANISER).json()["phases"] == before


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/phases/submission_deadline/shift", {"by": "half an hour"}, 422, "10m, 1h"),
        ("/api/v1/phases/submission_deadline/shift", {}, 422, "missing field 'by'"),
        ("/api/v1/phases/submission_deadline/shift", {"by": "+1h", "later_too": "yes"}, 422, "later_too"),
        ("/api/v1/phases/deadline/shift", {"by": "+1h"}, 404, "unknown phase 'deadline'"),
        ("/api/v1/phases/kickoff/shift", {"by": "+1h"}, 409, "already begun"),
        ("/api/v1/phases/hacking/shift", {"by": "+1h"}, 409, "already begun"),
    ],
)
def test_bad_shifts_are_refused_with_a_reason(
    api: TestClient, path: str, body: dict[str, object], status: int, says: str
) -> None:
    before = api.get("/api/v1/phases", headers=ORGANISER).json()["phases"]
    reply = api.post(path, json=body, headers=ORGANISER)
    assert reply.status_code == status
    assert says in reply.json()["error"]
    assert api.get("/api/v1/phases", headers=ORGANISER).json()["phases"] == before


def test_without_a_configured_token_the_api_is_off(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    app = create_app(
        Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff)), clock=FakeClock(kickoff)
    )
    with TestClient(app) as api:
        reply = api.get("/api/v1/phases", headers=ORGANISER)
    assert reply.status_code == 403
    assert "HACKSERVER_ORGANISER_TOKEN" in reply.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/v1/participants?offset=99999999999999999999", None, 422),
        ("GET", "/api/v1/teams/99999999999999999999", None, 404),
        ("POST", "/api/v1/teams/1/merge", {"into": 2**70}, 422),
        ("POST", "/api/v1/phases/end/shift", {"by": "99999999999999999d"}, 422),
        ("POST", "/api/v1/phases/end/shift", {"by": "+400d"}, 409),
        ("GET", "/api/v1/no-such-thing", None, 404),
    ],
)
def test_numbers_too_large_and_unknown_paths_get_a_json_refusal(
    api: TestClient, method: str, path: str, body: object, status: int
) -> None:
    before = api.get("/api/v1/phases", headers=ORGANISER).json()["phases"]
    reply = api.request(method, path, json=body, headers=ORGANISER)
    assert reply.status_code == status
    assert reply.json()["error"]
    assert api.get("/api/v1/phases", headers=ORGANISER).json()["phases"] == before


DEEP = "[" * 5000 + "]" * 5000  # json.loads alone raises RecursionError on this


async def outgoing(runtime: Runtime) -> int:
    async with runtime.reading() as tx:
        counts = [
            await tx.session.scalar(select(func.count()).select_from(m))
            for m in (OutboxMessage, ChannelMessage)
        ]
        return sum(int(n or 0) for n in counts)


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/api/v1/phases/submission_deadline/shift", DEEP, "nested deeper than 64 levels"),
        ("/api/v1/announcements", '{"text": ' + DEEP + "}", "nested deeper than 64 levels"),
        ("/api/v1/teams/1/merge", '{"into": ' + DEEP + "}", "nested deeper than 64 levels"),
        ("/api/v1/announcements", '{"text": "Pizza \\ud800 im Foyer"}', "cannot be stored (U+D800)"),
        ("/api/v1/announcements", '{"text": "Pizza \\u0000 im Foyer"}', "cannot be stored (U+0000)"),
        ("/api/v1/phases/submission_deadline/shift", '{"by": "+3000000d"}', "longer than 3650 days"),
        ("/api/v1/phases/submission_deadline/shift", '{"by": "+1\u00b2h"}', "not a duration"),
    ],
)
def test_odd_bodies_are_refused_with_a_reason_and_change_nothing(
    api: TestClient, path: str, body: str, says: str
) -> None:
    runtime: Runtime = api.app_state["runtime"]
    before = api.get("/api/v1/phases", headers=ORGANISER).json()["phases"]
    reply = api.post(path, content=body.encode(), headers={**ORGANISER, "Content-Type": "application/json"})
    assert reply.status_code == 422 and says in reply.json()["error"], reply.text
    assert api.get("/api/v1/phases", headers=ORGANISER).json()["phases"] == before
    assert api.portal.call(outgoing, runtime) == 0  # type: ignore[union-attr]


def test_the_json_reader_keeps_every_real_body_and_refuses_only_the_deep_ones() -> None:
    assert json_input.loads('{"a": ["[[[[", {"b": "\\"{"}], "c": 1}') == {"a": ["[[[[", {"b": '"{'}], "c": 1}
    assert json_input.loads(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 64 levels"):
        json_input.loads("[" * 65 + "]" * 65)
