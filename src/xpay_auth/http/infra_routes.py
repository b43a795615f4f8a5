"""Infrastructure endpoints (``GET``): health, readiness, the key set, the revocation feed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.contract import error_response, request_uuid, success_response
from xpay_auth.domain import Scope
from xpay_auth.errors import BadRequest, StorageUnavailable
from xpay_auth.http.endpoint import failure_response
from xpay_auth.http.openapi import openapi_document
from xpay_auth.runtime import Runtime
from xpay_auth.services import sessions
from xpay_auth.services.revocation_feed import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, feed_page


async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return success_response(request_uuid(request.headers.get("uuid")), "ok", {"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers; 503 in the envelope otherwise."""
    rid = request_uuid(request.headers.get("uuid"))
    runtime: Runtime = request.app.state.runtime
    try:
        await runtime.database.ping()
    except Exception as exc:  # noqa: BLE001  any failure means not ready
        error = StorageUnavailable(detail=f"{type(exc).__name__}: {exc}"[:300])
        return error_response(rid, error, path=request.url.path)
    return success_response(rid, "ready", {"status": "ready", "database": "ok"})


async def jwks(request: Request) -> Response:
    """The public signing keys (RFC 7517), current and still-published retired ones."""
    runtime: Runtime = request.app.state.runtime
    await runtime.keyring.refresh_if_stale()
    return Response(
        runtime.keyring.jwks,
        headers={"Cache-Control": "public, max-age=60"},
        media_type="application/jwk-set+json",
    )


def _feed_query(request: Request) -> tuple[Cursor | None, int]:
    """``since`` (a cursor) and ``limit`` from the query; a malformed one is a 400."""
    query = request.query_params
    for name in ("since", "limit"):
        if len(query.getlist(name)) > 1:
            raise BadRequest(
                {"field": name, "reason": "must appear once"}, message=f"invalid field: {name}"
            )
    cursor = None
    raw_cursor = query.get("since")
    if raw_cursor is not None:
        cursor = Cursor.parse(raw_cursor)
        if cursor is None:
            raise BadRequest(
                {"field": "since", "reason": "must be a cursor this feed gave"},
                message="invalid field: since",
            )
    raw_limit = query.get("limit", str(DEFAULT_PAGE_SIZE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit[:6]) <= MAX_PAGE_SIZE:
        raise BadRequest(
            {"field": "limit", "reason": f"must be an integer from 1 to {MAX_PAGE_SIZE}"},
            message="invalid field: limit",
        )
    return cursor, int(raw_limit)


async def revocations(request: Request) -> Response:
    """Revocations changed after the caller's cursor, for verifiers that check tokens locally.

    Needs a bearer token with ``tme_verifier``: the entries name sessions, keys and accounts
    (opaque ids and times, never a secret), which only a verifier has any use for.
    """
    rid = request_uuid(request.headers.get("uuid"))
    try:
        runtime: Runtime = request.app.state.runtime
        await sessions.authorize(
            runtime.services.sessions,
            request.headers.get("authorization"),
            scope=Scope.VERIFIER.value,
        )
        cursor, limit = _feed_query(request)
        data = await feed_page(runtime.database.revocations, cursor, limit)
    except Exception as exc:  # noqa: BLE001  the contract: never a stack trace
        return failure_response(rid, exc, path=request.url.path)
    return success_response(rid, "revocations", data)


async def openapi(_request: Request) -> Response:
    """This service's OpenAPI 3.1 description."""
    return Response(openapi_document(), media_type="application/json")


routes = [
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    Route("/auth/revocations", revocations, methods=["GET"]),
]
