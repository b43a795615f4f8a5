"""Settings: production refuses weak secrets; development keeps a generated secret."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from xpay_auth.settings import SECRET_FILE_NAME, Argon2Profile, Environment, Settings, load_settings

if TYPE_CHECKING:
    from pathlib import Path

STRONG = "k" * 48


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("XPAY_AUTH_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    """Unset: development, SQLite in the working directory, one-hour tokens, OWASP argon2."""
    settings = Settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite:///xpay-auth.db"
    assert settings.token_ttl == 3600
    assert settings.argon2_profile is Argon2Profile.OWASP
    assert settings.max_body_bytes == 64 * 1024


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """XPAY_AUTH_* variables set the options, keyword overrides win over them."""
    monkeypatch.setenv("XPAY_AUTH_TOKEN_TTL", "120")
    monkeypatch.setenv("XPAY_AUTH_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    settings = load_settings()
    assert settings.token_ttl == 120
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert load_settings(token_ttl=600).token_ttl == 600


@pytest.mark.parametrize("ttl", ["0", "59", "86401", "abc"])
def test_token_ttl_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, ttl: str) -> None:
    """A token lifetime under a minute or over a day is refused."""
    monkeypatch.setenv("XPAY_AUTH_TOKEN_TTL", ttl)
    with pytest.raises(ValidationError):
        load_settings()


def test_trusted_proxies_must_be_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trusted proxy that is not an address or network is refused with its name."""
    monkeypatch.setenv("XPAY_AUTH_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ValidationError, match=r"proxy\.local"):
        load_settings()


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
        "changeme",
        "CHANGEME",
        "secret",
        "xpay-auth",
        "development",
        "short-secret",
        "k" * 31,
    ],
)
def test_production_refuses_missing_placeholder_or_short_secret(secret: str | None) -> None:
    """Production refuses a missing, placeholder or short secret, saying how to make one."""
    with pytest.raises(ValidationError, match="XPAY_AUTH_SECRET_KEY"):
        load_settings(env="production", secret_key=secret)


def test_production_refuses_the_testing_argon2_profile() -> None:
    """Production refuses the cheap testing argon2 profile."""
    with pytest.raises(ValidationError, match="ARGON2_PROFILE"):
        load_settings(env="production", secret_key=STRONG, argon2_profile="testing")


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 32-character-or-longer random secret from the environment passes in production."""
    monkeypatch.setenv("XPAY_AUTH_ENV", "production")
    monkeypatch.setenv("XPAY_AUTH_SECRET_KEY", STRONG)
    settings = load_settings()
    assert settings.server_secret() == STRONG.encode()
    assert STRONG not in repr(settings)


def test_development_generates_the_secret_beside_the_sqlite_file(tmp_path: Path) -> None:
    """Without a secret, development writes one beside the database, mode 0600, and reuses it."""
    folder = tmp_path / "data"
    url = f"sqlite:///{folder / 'auth.db'}"
    secret = load_settings(database_url=url).server_secret()
    path = folder / SECRET_FILE_NAME
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32
    assert path.read_bytes().strip() == secret
    before = path.stat().st_mtime_ns
    assert load_settings(database_url=url).server_secret() == secret
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in folder.iterdir()] == [SECRET_FILE_NAME]


def test_development_relative_sqlite_path_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default relative SQLite URL keeps the secret in the working directory."""
    monkeypatch.chdir(tmp_path)
    secret = Settings().server_secret()
    assert (tmp_path / SECRET_FILE_NAME).read_bytes().strip() == secret


def test_development_refuses_a_truncated_secret_file(tmp_path: Path) -> None:
    """A secret file holding too few bytes is refused with how to fix it."""
    (tmp_path / SECRET_FILE_NAME).write_bytes(b"short\n")
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'auth.db'}")
    with pytest.raises(ValueError, match="XPAY_AUTH_SECRET_KEY"):
        settings.server_secret()


def test_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    """A configured secret is used as is and no file is written."""
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'auth.db'}", secret_key=STRONG)
    assert settings.server_secret() == STRONG.encode()
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_sqlite_path_of_each_url(tmp_path: Path) -> None:
    """The SQLite file is found behind sqlite URLs; other databases have none."""
    assert load_settings(database_url=f"sqlite:///{tmp_path}/a.db").sqlite_path == tmp_path / "a.db"
    assert load_settings(database_url="sqlite:///:memory:").sqlite_path is None
    assert load_settings(database_url="postgresql://u@h/db").sqlite_path is None
