"""Reading the audit trail: filtered searches, newest first, for operators and the CLI.

Events are written by :class:`~xpay_auth.components.audit_trail.AuditTrail`; this module only
reads them back through the audit repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from xpay_auth.domain import normalize_username
from xpay_auth.storage.audit import AuditRepository
from xpay_auth.storage.rows import Page


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of an audit search; each given one must match exactly, all together."""

    event: str | None = None
    outcome: str | None = None
    username: str | None = None
    account_id: str | None = None
    key_id: str | None = None
    request_uuid: str | None = None
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive

    def filters(self) -> dict[str, str]:
        # Usernames are recorded trimmed and lower-cased, so they are searched that way too.
        username = normalize_username(self.username) if self.username is not None else None
        values = {
            "event": self.event,
            "outcome": self.outcome,
            "username": username,
            "account_id": self.account_id,
            "key_id": self.key_id,
            "request_uuid": self.request_uuid,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at_ms: int
    event: str
    outcome: str
    username: str | None
    account_id: str | None
    key_id: str | None
    ticket: str | None
    client_ip: str | None
    request_uuid: str | None
    error_tag: str | None
    actor: str | None
    detail: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at_ms,
            "event": self.event,
            "outcome": self.outcome,
            "username": self.username,
            "accountId": self.account_id,
            "keyId": self.key_id,
            "ticket": self.ticket,
            "clientIp": self.client_ip,
            "requestUuid": self.request_uuid,
            "errorTag": self.error_tag,
            "actor": self.actor,
            "detail": self.detail,
        }


def _entry(row: dict[str, Any]) -> AuditEntry:
    detail = json.loads(row["detail"]) if row.get("detail") else None
    return AuditEntry(
        id=row["id"],
        at_ms=row["at_ms"],
        event=row["event"],
        outcome=row["outcome"],
        username=row["username"],
        account_id=row["account_id"],
        key_id=row["key_id"],
        ticket=row["ticket"],
        client_ip=row["client_ip"],
        request_uuid=row["request_uuid"],
        error_tag=row["error_tag"],
        actor=row["actor"],
        detail=detail if isinstance(detail, dict) else None,
    )


async def search(
    audit: AuditRepository, query: AuditQuery, *, offset: int = 0, limit: int = 100
) -> tuple[list[AuditEntry], int]:
    """Matching events, newest first, and how many match in all."""
    page: Page[dict[str, Any]] = await audit.search(
        filters=query.filters(),
        since_ms=query.since_ms,
        until_ms=query.until_ms,
        offset=offset,
        limit=limit,
    )
    return [_entry(row) for row in page.items], page.total
