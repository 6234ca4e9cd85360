"""The organiser API: shifting a phase needs the organiser token and is refused clearly when wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hackserver.app import create_app
from hackserver.foundation.settings import Settings
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
