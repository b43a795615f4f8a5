"""``POST /admin/audit/search``: the audit trail, for operators (scope ``tme_admin`` or the
read-only ``tme_admin_read``)."""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.domain import Scope
from xpay_auth.http.bodies import AuditSearch
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.http.wire import parse
from xpay_auth.logs import log_event
from xpay_auth.services import audit, sessions


def audit_query(body: AuditSearch) -> audit.AuditQuery:
    return audit.AuditQuery(
        event=body.event,
        outcome=body.outcome,
        username=body.username,
        account_id=body.account_id,
        key_id=body.key_id,
        request_uuid=body.request_uuid,
        since_ms=body.since,
        until_ms=body.until,
    )


async def audit_search_call(call: Call) -> Reply:
    """Search the audit trail, newest first, paged."""
    claims = await sessions.authorize(
        call.services.sessions,
        call.authorization,
        scope=Scope.ADMIN_READ.value,
        also=(Scope.ADMIN.value,),
    )
    body = parse(AuditSearch, call.body)
    query = audit_query(body)
    page = page_request(body)
    entries, total = await audit.search(
        call.database.audit, query, offset=page.offset, limit=page.limit
    )
    # Reading the trail is itself worth a line: who looked, for what.
    log_event(
        "audit.searched",
        uuid=call.ctx.request_uuid,
        actor=claims.username,
        filters=sorted(query.filters()),
    )
    return Reply("Audit events", page_data(page, [entry.to_json() for entry in entries], total))


routes = [
    Route(
        "/admin/audit/search", json_endpoint(audit_search_call, allow_empty=True), methods=["POST"]
    ),
]
