"""The audit trail: every authentication attempt and every change, recorded in the database.

Events go through the background writer, so recording never slows a response, and are
flushed on a clean shutdown. Nothing secret is ever passed here: usernames as typed, ids,
addresses, the request ``uuid`` and the error ``tag``.
"""

from __future__ import annotations

import json
from typing import Any

from xpay_auth.logs import now_ms
from xpay_auth.services.context import RequestContext
from xpay_auth.services.writer import BackgroundWriter

MAX_USERNAME_LENGTH = 320


class AuditTrail:
    def __init__(self, writer: BackgroundWriter) -> None:
        self._writer = writer

    def record(
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
        self._writer.audit(
            {
                "at": now_ms(),
                "event": event,
                "outcome": outcome,
                "username": username[:MAX_USERNAME_LENGTH] if username is not None else None,
                "account_id": account_id,
                "key_id": key_id,
                "ticket": ticket,
                "client_ip": ctx.client_ip if ctx else None,
                "request_uuid": ctx.request_uuid if ctx else None,
                "error_tag": error_tag,
                "actor": ctx.actor if ctx else None,
                "detail": json.dumps(detail, separators=(",", ":")) if detail else None,
            }
        )
