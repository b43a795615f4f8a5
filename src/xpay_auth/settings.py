"""Service settings, read from ``XPAY_AUTH_*`` environment variables.

Every option is documented in ``docs/configuration.md``. Nothing here is built at import
time: the server and the CLI call :func:`load_settings` and pass the result down.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///xpay-auth.db"
SECRET_FILE_NAME = "xpay-auth.secret"  # noqa: S105  a file name
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "xpay-auth", "development"})
MIN_SECRET_LENGTH = 32
MAX_TOKEN_TTL = 86400
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 10.0


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Argon2Profile(StrEnum):
    """Named argon2id cost profiles; see ``security.passwords``."""

    OWASP = "owasp"  # m=19 MiB, t=2, p=1: OWASP's minimum, the default
    RFC9106_LOW_MEMORY = "rfc9106-low-memory"  # m=64 MiB, t=3, p=4
    TESTING = "testing"  # cheapest; refused in production


class SqliteSynchronous(StrEnum):
    """SQLite's ``PRAGMA synchronous`` for every connection of the service."""

    NORMAL = "normal"
    FULL = "full"

    @classmethod
    def _missing_(cls, value: object) -> SqliteSynchronous | None:
        # The pragma's own spelling (NORMAL, FULL) is taken as well.
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


class SettingsError(ValueError):
    """Settings that cannot run; the message says how to fix them."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XPAY_AUTH_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr | None = None
    token_ttl: int = Field(default=3600, ge=60, le=MAX_TOKEN_TTL)
    issuer: str = "xpay-auth"
    audience: str = "xpay-api"
    argon2_profile: Argon2Profile = Argon2Profile.OWASP
    redis_url: str | None = None
    # Prepended to every Redis key, so that several deployments can share one Redis.
    redis_key_prefix: str = Field(default="xpay-auth:", max_length=100)
    # Failed authentications per client address (docs/security.md, "Throttling"): past
    # `limit` failures within `window` seconds, the address gets 429 for `lockout` seconds.
    throttle_address_limit: int = Field(default=20, ge=1, le=100_000)
    throttle_address_window: float = Field(default=60.0, gt=0, le=86400)
    throttle_address_lockout: float = Field(default=300.0, gt=0, le=86400)
    # NIST SP 800-63B section 3.2.2: at most 100 consecutive failed passwords, then password
    # login is disabled until a success or an operator's `xpay-auth users unlock`.
    password_max_failures: int = Field(default=100, ge=1, le=100)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Slow clients (docs/security.md, "Hostile input"): a request's headers must arrive
    # within `header_timeout` seconds of its first byte, its body within `body_timeout`
    # seconds of the headers; otherwise it is answered 400 and its connection closed.
    header_timeout: float = Field(default=DEFAULT_HEADER_TIMEOUT, gt=0, le=300)
    body_timeout: float = Field(default=DEFAULT_BODY_TIMEOUT, gt=0, le=300)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The one forwarding header believed from a trusted proxy: a proxy writes one of them
    # and passes the other through from the client, so both can never be trusted at once.
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    log_level: str = "INFO"
    # SQLite's sync at each commit: NORMAL survives a crash of the process, FULL also a
    # power loss (docs/operations.md, "Durability").
    sqlite_synchronous: SqliteSynchronous = SqliteSynchronous.NORMAL
    # How often a worker re-reads the signing keys, so that a rotation reaches every node.
    signing_key_refresh: float = Field(default=10.0, gt=0, le=3600)
    # Verified tokens kept per worker, so a repeat presentation skips the signature check
    # (revocation is still checked on every request). About 1 KiB each; 0 turns it off.
    token_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)

    @field_validator("proxy_header", mode="before")
    @classmethod
    def _lower_header(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise SettingsError(
                    f"XPAY_AUTH_TRUSTED_PROXIES: {network!r} is not an address or network"
                ) from exc
        return value

    @model_validator(mode="after")
    def _refuse_weak_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if secret.strip().lower() in _PLACEHOLDERS or len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "XPAY_AUTH_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if self.argon2_profile is Argon2Profile.TESTING:
            raise SettingsError("XPAY_AUTH_ARGON2_PROFILE=testing is refused in production")
        return self

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file behind ``database_url``, or None for another database."""
        if not self.database_url.startswith("sqlite"):
            return None
        _, _, rest = self.database_url.partition(":///")
        return Path(rest) if rest and rest != ":memory:" else None

    def server_secret(self) -> bytes:
        """The server secret that keys API-key hashes and protects signing keys.

        In development without ``XPAY_AUTH_SECRET_KEY`` a secret is generated once and kept
        beside the database, readable by its owner only.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        db_path = self.sqlite_path
        folder = db_path.parent if db_path is not None else Path.cwd()
        return _read_or_create_secret(folder / SECRET_FILE_NAME)


def _read_or_create_secret(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_urlsafe(48).encode() + b"\n")
        # A hard link publishes the complete file atomically, and fails if another
        # process won the race, so concurrent first starts agree on one secret.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{path} holds fewer than {MIN_SECRET_LENGTH} bytes; "
            "delete it or set XPAY_AUTH_SECRET_KEY"
        )
    return secret


def load_settings(**overrides: object) -> Settings:
    """Read the environment; keyword arguments win over it (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
