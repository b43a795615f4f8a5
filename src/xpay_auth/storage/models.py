"""Tables. Times are integers whose name says the unit: milliseconds since the epoch
(``*_ms``), or seconds (``*_s``: a token's ``iat`` and the marks compared with it), so that
SQLite and PostgreSQL store and compare them alike."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(320), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Tokens of this account issued at or before this second are revoked.
    tokens_not_after_s: Mapped[int | None] = mapped_column(BigInteger)
    failed_password_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    previous_secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    previous_expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    allowed_cidrs: Mapped[str | None] = mapped_column(Text)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class SessionRow(Base):
    __tablename__ = "sessions"

    ticket: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    is_api: Mapped[bool] = mapped_column(Boolean)
    scopes: Mapped[str] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    # The token's iat: account-wide revocations are decided on it.
    issued_at_s: Mapped[int | None] = mapped_column(BigInteger)


class RevocationRow(Base):
    """One revocation in force, keyed by what it revokes: repeating it adds no row.

    ``seq`` is the feed's change number (``RevocationFeedRow``): set anew whenever the row
    changes, so a verifier holding a cursor reads only the rows changed after it.
    """

    __tablename__ = "revocations"
    __table_args__ = (
        PrimaryKeyConstraint("kind", "subject", name="pk_revocations_entry"),
        UniqueConstraint("seq", name="uq_revocations_seq"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    not_after_s: Mapped[int | None] = mapped_column(BigInteger)  # like iat
    except_ticket: Mapped[str | None] = mapped_column(String(32))
    # Tickets: the session's account and its token's iat, so that a later
    # account-wide mark covering the token can take this row's place.
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    issued_at_s: Mapped[int | None] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    # No token this entry could match outlives this moment; then it can be deleted.
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class RevocationFeedRow(Base):
    """The feed's single row: the last change number given out, and this database's name.

    Taking the next number updates this row, which holds its lock until the revocation
    commits: numbers become visible in the order they were given, so a reader that has seen
    number n has seen every number below it.
    """

    __tablename__ = "revocation_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    # Cursors carry it: a cursor of another database (or of a restored copy) starts over.
    generation: Mapped[str] = mapped_column(String(32))


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[str] = mapped_column(Text)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    retired_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    publish_until_ms: Mapped[int | None] = mapped_column(BigInteger)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    username: Mapped[str | None] = mapped_column(String(320), index=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    ticket: Mapped[str | None] = mapped_column(String(32))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_uuid: Mapped[str | None] = mapped_column(String(36))
    error_tag: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[str | None] = mapped_column(Text)
