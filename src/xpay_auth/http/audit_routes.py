"""``POST /admin/audit/search``: the audit trail, for operators (scope ``tme_admin`` or the
read-only ``tme_admin_read``)."""

from __future__ import annotations

from starlette.routing import Route

from xpay_auth.domain import Scope
from xpay_auth.errors import InvalidField
from xpay_auth.http import fields
from xpay_auth.http.endpoint import Call, Reply, json_endpoint
from xpay_auth.http.paging import page_data, page_request
from xpay_auth.logs import log_event
from xpay_auth.services import audit, sessions

# The last millisecond of the year 9999: any later bound is a typing error, not a query.
MAX_TIME_MS = 253_402_300_799_999
# Text filters no longer than the columns they match (``storage.models.AuditEventRow``).
_TEXT_FILTERS = {
    "event": 40,
    "outcome": 20,
    "username": 320,
    "accountId": 32,
    "keyId": 32,
    "requestUuid": 36,
}


def audit_query(call: Call) -> audit.AuditQuery:
    body = call.body
    text = {
        name: fields.text(body, name, max_length=size, required=False)
        for name, size in _TEXT_FILTERS.items()
    }
    since = fields.integer(body, "since", minimum=0, maximum=MAX_TIME_MS)
    until = fields.integer(body, "until", minimum=0, maximum=MAX_TIME_MS)
    if since is not None and until is not None and until <= since:
        raise InvalidField("until", "must be later than since")
    return audit.AuditQuery(
        event=text["event"],
        outcome=text["outcome"],
        username=text["username"],
        account_id=text["accountId"],
        key_id=text["keyId"],
        request_uuid=text["requestUuid"],
        since=since,
        until=until,
    )


async def audit_search_call(call: Call) -> Reply:
    """Search the audit trail, newest first, paged."""
    claims = await sessions.authorize(
        call.runtime,
        call.authorization,
        scope=Scope.ADMIN_READ.value,
        also=(Scope.ADMIN.value,),
    )
    query = audit_query(call)
    page = page_request(call.body)
    entries, total = await audit.search(call.runtime, query, offset=page.offset, limit=page.limit)
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
