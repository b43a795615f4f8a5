"""Infrastructure endpoints (``GET``): health, readiness, the key set, the revocation feed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.contract import error_response, request_uuid, success_response
from xpay_auth.errors import StorageUnavailable
from xpay_auth.http.openapi import openapi_document
from xpay_auth.logs import now_ms
from xpay_auth.runtime import Runtime


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


async def revocations(request: Request) -> Response:
    """Revocations still in force, for verifiers that check tokens locally (the guard).

    Entries hold opaque ids only: tickets, key ids and account ids, never a secret.
    """
    rid = request_uuid(request.headers.get("uuid"))
    runtime: Runtime = request.app.state.runtime
    try:
        active = await runtime.database.revocations.active(now_ms())
    except Exception as exc:  # noqa: BLE001
        error = StorageUnavailable(detail=f"{type(exc).__name__}: {exc}"[:300])
        return error_response(rid, error, path=request.url.path)
    return success_response(
        rid,
        "revocations",
        {"revocations": [entry.to_json() for entry in active], "generatedAt": now_ms()},
    )


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
