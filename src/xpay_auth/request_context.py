"""Who is asking: facts about the request that services record but do not parse."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_uuid: str
    client_ip: str | None = None
    actor: str | None = None  # the username behind the bearer token, for the audit trail
