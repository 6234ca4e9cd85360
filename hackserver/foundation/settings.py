"""Settings from the environment; a bad value stops start-up with one line naming the setting."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hackserver.foundation.errors import SettingsError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///hackserver.db"
DEFAULT_EVENT = "config/event.example.toml"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    event_path: Path = Path(DEFAULT_EVENT)
    secret_key: str | None = None
    organiser_token: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    discord_application_id: str | None = None
    discord_public_key: str | None = None
    discord_bot_token: str | None = None
    discord_api_url: str | None = None
    webhook_token: str | None = None  # Mattermost/Rocket.Chat slash commands
    webhook_url: str | None = None  # an incoming webhook for announcements: a secret
    public_url: str | None = None  # where participants reach this server; private links start with it
    metrics_token: str | None = None  # a bearer token /metrics asks for; unset: /metrics is open

    @property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database.get_backend_name() == "sqlite"

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(database={self.database!r}, redis={'set' if self.redis_url else 'unset'})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        database_url = get("HACKSERVER_DATABASE_URL") or DEFAULT_DATABASE_URL
        _check_database_url(database_url)
        redis_url = get("HACKSERVER_REDIS_URL")
        if redis_url is not None:
            _check_url(
                "HACKSERVER_REDIS_URL", redis_url, ("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0"
            )
        event_path = Path(get("HACKSERVER_EVENT") or DEFAULT_EVENT)
        if not event_path.is_file():
            raise SettingsError(
                f"HACKSERVER_EVENT: expected the path of an event TOML file, {event_path} does not exist"
            )
        secret_key = get("HACKSERVER_SECRET_KEY")
        if secret_key is not None and len(secret_key) < 32:
            raise SettingsError("HACKSERVER_SECRET_KEY: expected at least 32 characters (or leave it unset)")
        organiser_token = get("HACKSERVER_ORGANISER_TOKEN")
        if organiser_token is not None and len(organiser_token) < 16:
            raise SettingsError("HACKSERVER_ORGANISER_TOKEN: expected at least 16 characters")
        slack_bot_token = get("SLACK_BOT_TOKEN")
        if slack_bot_token is not None and not slack_bot_token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN: expected a bot token starting with xoxb-")
        slack_app_token = get("SLACK_APP_TOKEN")
        if slack_app_token is not None and not slack_app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN: expected an app-level token starting with xapp-")
        for name in ("SLACK_API_URL", "DISCORD_API_URL"):
            if (value := get(name)) is not None:
                example = (
                    "https://slack.com/api/" if name == "SLACK_API_URL" else "https://discord.com/api/v10"
                )
                _check_url(name, value, ("http", "https"), example)
        discord_public_key = get("DISCORD_PUBLIC_KEY")
        if discord_public_key is not None:
            try:
                if len(bytes.fromhex(discord_public_key)) != 32:
                    raise ValueError
            except ValueError:
                raise SettingsError(
                    "DISCORD_PUBLIC_KEY: expected 64 hex characters (the Ed25519 public key)"
                ) from None
        webhook_token = get("HACKSERVER_WEBHOOK_TOKEN")
        if webhook_token is not None and len(webhook_token) < 16:
            raise SettingsError("HACKSERVER_WEBHOOK_TOKEN: expected at least 16 characters")
        webhook_url = get("HACKSERVER_WEBHOOK_URL")
        if webhook_url is not None:
            _check_url(
                "HACKSERVER_WEBHOOK_URL", webhook_url, ("http", "https"), "https://chat.example.org/hooks/ID"
            )
        metrics_token = get("HACKSERVER_METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < 16:
            raise SettingsError("HACKSERVER_METRICS_TOKEN: expected at least 16 characters")
        public_url = get("HACKSERVER_PUBLIC_URL")
        if public_url is not None:
            _check_url("HACKSERVER_PUBLIC_URL", public_url, ("http", "https"), "https://hack.example.org")
        discord_application_id = get("DISCORD_APPLICATION_ID")
        if discord_application_id is not None and not (
            discord_application_id.isascii() and discord_application_id.isdigit()
        ):
            raise SettingsError("DISCORD_APPLICATION_ID: expected the numeric application id")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            event_path=event_path,
            secret_key=secret_key,
            organiser_token=organiser_token,
            slack_bot_token=slack_bot_token,
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=slack_app_token,
            slack_api_url=get("SLACK_API_URL"),
            discord_application_id=discord_application_id,
            discord_public_key=discord_public_key,
            discord_bot_token=get("DISCORD_BOT_TOKEN"),
            discord_api_url=get("DISCORD_API_URL"),
            webhook_token=webhook_token,
            webhook_url=webhook_url,
            public_url=public_url.rstrip("/") if public_url else None,
            metrics_token=metrics_token,
        )


def _check_database_url(value: str) -> None:
    expected = "expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise SettingsError(f"HACKSERVER_DATABASE_URL: {expected}, got something that is not a URL") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        raise SettingsError(f"HACKSERVER_DATABASE_URL: {expected}, got driver {url.drivername!r}")


def _check_url(name: str, value: str, schemes: tuple[str, ...], example: str) -> None:
    try:
        parsed = urlparse(value)
        parsed.port  # noqa: B018 -- raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise SettingsError(
            f"{name}: expected a URL like {example}, got something that is not a URL"
        ) from None
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise SettingsError(f"{name}: expected a URL like {example}, got scheme {parsed.scheme or 'none'!r}")
