"""The audit trail: every authentication attempt and every change, recorded in the database.

Events go through the group committer: :meth:`AuditTrail.record` returns once its row is
committed, so a call is answered only after its audit event is written. Nothing secret is
ever passed here: usernames as typed, ids, addresses, the request ``uuid`` and the error
``tag``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from xpay_auth.components.committer import Committer
from xpay_auth.logs import now_ms
from xpay_auth.request_context import RequestContext

MAX_USERNAME_LENGTH = 320
# C0 controls and DEL written as escapes: PostgreSQL refuses NUL in text, and a log reader
# must not be fooled by a typed newline or terminal escape.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
# Column sizes of ``storage.models.AuditEventRow``: a longer value would fail the whole batch.
_LIMITS = {
    "event": 40,
    "outcome": 20,
    "username": MAX_USERNAME_LENGTH,
    "account_id": 32,
    "key_id": 32,
    "ticket": 32,
    "client_ip": 64,
    "request_uuid": 36,
    "error_tag": 36,
    "actor": 320,
}


# An API secret pasted into the username field must not land in the trail: keep its
# public part (prefix and key id) and drop the rest, whatever its case.
_PASTED_SECRET = re.compile(r"(xpsk_[0-9a-f]{16}_)[0-9a-z]+", re.IGNORECASE)


def _redact(username: str | None) -> str | None:
    return _PASTED_SECRET.sub(r"\1[redacted]", username) if username else username


def _clean(value: str | None, limit: int) -> str | None:
    """Text any database stores: controls escaped, lone surrogates escaped, cut to size."""
    if value is None:
        return None
    if value.isascii() and value.isprintable():
        return value[:limit]  # nothing to escape: the usual case, about ten times cheaper
    text = value.translate(_CONTROLS).encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


class AuditTrail:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def record(
        self,
        event: str,
        outcome: str,
        ctx: RequestContext | None,
        *,
        username: str | None = None,
        account_id: str | None = None,
        key_id: str | None = None,
        ticket: str | None = None,
        error_tag: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one event; return once it is committed (503 when it could not be)."""
        row = self.row(
            event,
            outcome,
            ctx,
            username=username,
            account_id=account_id,
            key_id=key_id,
            ticket=ticket,
            error_tag=error_tag,
            detail=detail,
        )
        await self._committer.commit(audit=[row])

    def row(
        self,
        event: str,
        outcome: str,
        ctx: RequestContext | None,
        *,
        username: str | None = None,
        account_id: str | None = None,
        key_id: str | None = None,
        ticket: str | None = None,
        error_tag: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``audit_events`` row of an event, for a commit that also writes other rows."""
        texts = {
            "event": event,
            "outcome": outcome,
            "username": _redact(username),
            "account_id": account_id,
            "key_id": key_id,
            "ticket": ticket,
            "client_ip": ctx.client_ip if ctx else None,
            "request_uuid": ctx.request_uuid if ctx else None,
            "error_tag": error_tag,
            "actor": ctx.actor if ctx else None,
        }
        row: dict[str, Any] = {name: _clean(value, _LIMITS[name]) for name, value in texts.items()}
        row["at_ms"] = now_ms()
        # ASCII JSON: any control or surrogate in the detail arrives escaped.
        row["detail"] = json.dumps(detail, separators=(",", ":")) if detail else None
        return row
