"""The OpenAPI document describes exactly the JSON API the app serves, and the API, fuzzed from that
document over real HTTP against `hackserver run`, never answers with a server error."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance
from starlette.routing import Route
from starlette.testclient import TestClient

from hackserver.app import create_app
from hackserver.foundation.settings import Settings
from hackserver.web.openapi import document
from tests import processes
from tests.conftest import EXAMPLE_EVENT
from tests.fakes import ORGANISER, ORGANISER_TOKEN

schema = schemathesis.openapi.from_dict(document())


def served_operations(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}", event_path=EXAMPLE_EVENT)
    )
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            path = route.path.replace(":id}", "}")
            found |= {(method.lower(), path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_api_route_is_described_and_nothing_else(tmp_path: Path) -> None:
    described = {(method, path) for path, item in document()["paths"].items() for method in item}
    assert described == served_operations(tmp_path)


def test_the_document_is_served_and_names_the_bearer_token(api: TestClient) -> None:
    reply = api.get("/openapi.json")
    assert reply.status_code == 200
    assert reply.json()["components"]["securitySchemes"]["organiser"]["scheme"] == "bearer"
    assert ORGANISER_TOKEN not in reply.text


def test_each_documented_text_limit_is_the_one_the_api_enforces(api: TestClient) -> None:
    paths = document()["paths"]
    announcement = paths["/api/v1/announcements"]["post"]["requestBody"]["content"]["application/json"]
    limit = announcement["schema"]["properties"]["text"]["maxLength"]
    refused = api.post("/api/v1/announcements", json={"text": "x" * (limit + 1)}, headers=ORGANISER)
    assert refused.status_code == 422 and str(limit) in refused.json()["error"]
    assert api.post("/api/v1/announcements", json={"text": "x" * limit}, headers=ORGANISER).status_code == 201

    expert = paths["/api/v1/experts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    limit = expert["properties"]["name"]["maxLength"]
    too_long = {"name": "x" * (limit + 1), "topics": ["data"]}
    refused = api.post("/api/v1/experts", json=too_long, headers=ORGANISER)
    assert refused.status_code == 422 and str(limit) in refused.text
    fits = api.post("/api/v1/experts", json={"name": "x" * limit, "topics": ["data"]}, headers=ORGANISER)
    assert fits.status_code == 200, fits.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`hackserver run` as its own process on a fresh SQLite file, in the hacking phase."""
    home = tmp_path_factory.mktemp("fuzz")
    executable = shutil.which("hackserver", path=str(Path(sys.executable).parent))
    assert executable is not None, "the hackserver console script is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {
        "HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'hs.db'}",
        "HACKSERVER_EVENT": str(EXAMPLE_EVENT),
        "HACKSERVER_ORGANISER_TOKEN": ORGANISER_TOKEN,
    }
    with socket_port() as port, (home / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [executable, "run", "--demo", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("hackserver run did not come up:\n" + (home / "server.log").read_text())
                time.sleep(0.05)
            yield base_url
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            finally:
                processes.end_group(process.pid)
                process.wait()
    log_text = (home / "server.log").read_text()
    assert "Traceback" not in log_text, log_text


class socket_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        pass


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_never_answers_with_a_server_error(case: schemathesis.Case, server: str) -> None:
    case.call_and_validate(
        base_url=server,
        headers=ORGANISER,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )
