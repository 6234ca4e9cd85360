"""Settings from the environment: defaults, one clear line per bad value, and no secret ever printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hackserver.foundation.errors import SettingsError
from hackserver.foundation.settings import DEFAULT_DATABASE_URL, Settings

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE_EVENT = PROJECT / "config" / "event.example.toml"
SECRET = "s3cr3t-do-not-print-0123456789abcdef"
PUBLIC_KEY = "ab" * 32


@pytest.fixture
def env() -> dict[str, str]:
    """The least environment that starts outside the project directory: the event file's path."""
    return {"HACKSERVER_EVENT": str(EXAMPLE_EVENT)}


def test_an_empty_environment_gives_the_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT)
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///hackserver.db"
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert settings.event_path == Path("config/event.example.toml")
    assert settings.secret_key is None
    assert settings.organiser_token is None


def test_the_default_event_file_is_relative_to_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"^HACKSERVER_EVENT: expected the path of an event TOML file"):
        Settings.from_env({})


def test_blank_values_count_as_unset(env: dict[str, str]) -> None:
    settings = Settings.from_env({**env, "HACKSERVER_REDIS_URL": "  ", "SLACK_BOT_TOKEN": ""})
    assert settings.redis_url is None
    assert settings.slack_bot_token is None


def test_every_valid_value_is_kept(env: dict[str, str]) -> None:
    values = {
        **env,
        "HACKSERVER_DATABASE_URL": "postgresql+asyncpg://hack:pw@db.internal:5432/hack",
        "HACKSERVER_REDIS_URL": "redis://cache.internal:6379/1",
        "HACKSERVER_SECRET_KEY": "k" * 32,
        "HACKSERVER_ORGANISER_TOKEN": "o" * 16,
        "HACKSERVER_METRICS_TOKEN": "m" * 16,
        "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_APP_TOKEN": "xapp-1-abc",
        "SLACK_API_URL": "http://127.0.0.1:9000/api/",
        "DISCORD_APPLICATION_ID": "123456789012345678",
        "DISCORD_PUBLIC_KEY": PUBLIC_KEY,
        "DISCORD_BOT_TOKEN": "bot-token",
        "DISCORD_API_URL": "https://discord.com/api/v10",
    }
    settings = Settings.from_env(values)
    assert settings == Settings(
        database_url="postgresql+asyncpg://hack:pw@db.internal:5432/hack",
        redis_url="redis://cache.internal:6379/1",
        event_path=EXAMPLE_EVENT,
        secret_key="k" * 32,
        organiser_token="o" * 16,
        metrics_token="m" * 16,
        slack_bot_token="xoxb-1-2-abc",
        slack_signing_secret="signing",
        slack_app_token="xapp-1-abc",
        slack_api_url="http://127.0.0.1:9000/api/",
        discord_application_id="123456789012345678",
        discord_public_key=PUBLIC_KEY,
        discord_bot_token="bot-token",
        discord_api_url="https://discord.com/api/v10",
    )
    assert not settings.is_sqlite


def test_from_env_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HACKSERVER_EVENT", str(EXAMPLE_EVENT))
    monkeypatch.setenv("HACKSERVER_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert Settings.from_env().redis_url == "redis://127.0.0.1:6379/3"


BAD_VALUES = [
    pytest.param("HACKSERVER_DATABASE_URL", "not a url", "not a URL", id="database-not-a-url"),
    pytest.param(
        "HACKSERVER_DATABASE_URL", "mysql+aiomysql://u@h/db", "driver 'mysql+aiomysql'", id="driver"
    ),
    pytest.param("HACKSERVER_DATABASE_URL", "postgresql://u@h/db", "driver 'postgresql'", id="sync-postgres"),
    pytest.param("HACKSERVER_DATABASE_URL", "sqlite:///hackserver.db", "driver 'sqlite'", id="sync-sqlite"),
    pytest.param("HACKSERVER_DATABASE_URL", "postgresql+asyncpg://u@h:port/db", "not a URL", id="db-port"),
    pytest.param("HACKSERVER_REDIS_URL", "http://127.0.0.1:6379/0", "redis://", id="redis-scheme"),
    pytest.param("HACKSERVER_REDIS_URL", "127.0.0.1:6379", "redis://", id="redis-no-scheme"),
    pytest.param("HACKSERVER_REDIS_URL", "redis://127.0.0.1:port/0", "not a URL", id="redis-port"),
    pytest.param("HACKSERVER_REDIS_URL", "redis://[::1/0", "not a URL", id="redis-broken-ipv6"),
    pytest.param("HACKSERVER_EVENT", "config/nope.toml", "event TOML file", id="missing-event-file"),
    pytest.param("HACKSERVER_SECRET_KEY", "too-short", "at least 32 characters", id="short-secret-key"),
    pytest.param("HACKSERVER_ORGANISER_TOKEN", "short", "at least 16 characters", id="short-organiser-token"),
    pytest.param("HACKSERVER_METRICS_TOKEN", "short", "at least 16 characters", id="short-metrics-token"),
    pytest.param("SLACK_BOT_TOKEN", "xoxp-user-token", "xoxb-", id="slack-user-token"),
    pytest.param("SLACK_APP_TOKEN", "xoxb-bot-token", "xapp-", id="slack-app-token"),
    pytest.param("DISCORD_PUBLIC_KEY", "ab" * 31, "64 hex characters", id="discord-key-too-short"),
    pytest.param("DISCORD_PUBLIC_KEY", "zz" * 32, "64 hex characters", id="discord-key-not-hex"),
    pytest.param("DISCORD_APPLICATION_ID", "my-app", "numeric application id", id="discord-id-letters"),
    pytest.param("DISCORD_APPLICATION_ID", "١٢٣", "numeric application id", id="discord-id-arabic-digits"),
    pytest.param("SLACK_API_URL", "slack.com/api", "https://slack.com/api/", id="slack-api-no-scheme"),
    pytest.param("SLACK_API_URL", "ftp://127.0.0.1/api", "https://slack.com/api/", id="slack-api-ftp"),
    pytest.param("DISCORD_API_URL", "ftp://127.0.0.1/api", "https://discord.com/api", id="discord-api-ftp"),
    pytest.param(
        "HACKSERVER_PUBLIC_URL", "hack.example.org", "https://hack.example.org", id="public-no-scheme"
    ),
]


def test_the_public_url_loses_its_trailing_slash() -> None:
    settings = Settings.from_env({"HACKSERVER_PUBLIC_URL": "https://hack.example.org/"})
    assert settings.public_url == "https://hack.example.org"


@pytest.mark.parametrize(("name", "value", "reason"), BAD_VALUES)
def test_a_bad_value_stops_with_one_line_naming_the_setting(
    name: str, value: str, reason: str, env: dict[str, str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**env, name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: expected "), message
    assert reason in message
    assert "\n" not in message


SECRET_VALUES = [
    pytest.param("HACKSERVER_DATABASE_URL", f"postgresql://hack:{SECRET}@db/hack", id="database-driver"),
    pytest.param(
        "HACKSERVER_DATABASE_URL", f"postgresql+asyncpg://hack:{SECRET}@db:x/hack", id="database-port"
    ),
    pytest.param("HACKSERVER_DATABASE_URL", f"{SECRET}", id="database-garbage"),
    pytest.param("HACKSERVER_REDIS_URL", f"http://:{SECRET}@cache:6379/0", id="redis-scheme"),
    pytest.param("HACKSERVER_REDIS_URL", f"redis://:{SECRET}@cache:x/0", id="redis-port"),
    pytest.param("HACKSERVER_SECRET_KEY", SECRET[:20], id="secret-key"),
    pytest.param("HACKSERVER_ORGANISER_TOKEN", SECRET[:10], id="organiser-token"),
    pytest.param("HACKSERVER_METRICS_TOKEN", SECRET[:10], id="metrics-token"),
    pytest.param("SLACK_BOT_TOKEN", f"xoxp-{SECRET}", id="slack-bot-token"),
    pytest.param("SLACK_APP_TOKEN", f"xoxb-{SECRET}", id="slack-app-token"),
    pytest.param("DISCORD_PUBLIC_KEY", SECRET, id="discord-public-key"),
    pytest.param("SLACK_API_URL", f"ftp://user:{SECRET}@host/api", id="slack-api-url"),
]


@pytest.mark.parametrize(("name", "value"), SECRET_VALUES)
def test_an_error_message_never_contains_the_secret(name: str, value: str, env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**env, name: value})
    assert str(caught.value).startswith(f"{name}: ")
    assert SECRET[:10] not in str(caught.value)


def test_the_settings_repr_never_contains_a_secret(env: dict[str, str]) -> None:
    settings = Settings.from_env(
        {
            **env,
            "HACKSERVER_DATABASE_URL": f"postgresql+asyncpg://hack:{SECRET}@db/hack",
            "HACKSERVER_REDIS_URL": f"redis://:{SECRET}@cache:6379/0",
            "HACKSERVER_SECRET_KEY": SECRET,
            "HACKSERVER_ORGANISER_TOKEN": SECRET,
            "SLACK_BOT_TOKEN": f"xoxb-{SECRET}",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": f"xapp-{SECRET}",
            "DISCORD_BOT_TOKEN": SECRET,
        }
    )
    for text in (repr(settings), str(settings), f"{settings}"):
        assert SECRET[:10] not in text
    assert "db/hack" in repr(settings)
