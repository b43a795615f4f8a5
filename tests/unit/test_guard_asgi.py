"""The guard's middleware and scope dependency in Starlette and FastAPI apps."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.unit.guard_fakes import FakeAuth, FakeClock, bearer, make_guard
from xpay_auth.guard import (
    AccessClaims,
    Guard,
    GuardMiddleware,
    claims_of,
    request_uuid_of,
    require_scopes,
)
from xpay_auth.security.revocation import Revocation, RevocationKind

UUID4 = "0f8fad5b-d9cb-469f-a165-70867728950e"
_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def starlette_app(guard: Guard) -> Starlette:
    async def whoami(request: Request) -> Response:
        claims = claims_of(request)
        assert claims is not None
        return JSONResponse({"ticket": claims.ticket, "uuid": request_uuid_of(request)})

    async def admin(request: Request) -> Response:
        claims = await require_scopes("tme_admin")(request)
        return JSONResponse({"user": claims.username})

    async def health(request: Request) -> Response:
        return JSONResponse({"claims": claims_of(request) is not None})

    async def public_but_checked(request: Request) -> Response:
        claims = await require_scopes("tme_user")(request)
        return JSONResponse({"user": claims.username})

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app = Starlette(
        routes=[
            Route("/whoami", whoami, methods=["POST"]),
            Route("/admin", admin, methods=["POST"]),
            Route("/healthz", health),
            Route("/open", public_but_checked, methods=["POST"]),
            WebSocketRoute("/ws", socket),
        ],
        lifespan=guard.lifespan,
    )
    app.add_middleware(GuardMiddleware, guard=guard, public_paths={"/healthz", "/open"})
    return app


def fastapi_app(guard: Guard) -> FastAPI:
    app = FastAPI(lifespan=guard.lifespan)
    app.add_middleware(GuardMiddleware, guard=guard)

    @app.post("/balance")
    async def balance(claims: AccessClaims = Depends(require_scopes("tme_user"))) -> dict[str, Any]:  # noqa: B008, FAST002
        return {"user": claims.username, "scopes": list(claims.scopes)}

    @app.post("/admin")
    async def admin(
        claims: Annotated[AccessClaims, Depends(require_scopes("tme_admin"))],
    ) -> dict[str, Any]:
        return {"user": claims.username}

    return app


@pytest.fixture
def auth() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def starlette_client(auth: FakeAuth) -> Iterator[TestClient]:
    with TestClient(starlette_app(make_guard(auth)), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def fastapi_client(auth: FakeAuth) -> Iterator[TestClient]:
    with TestClient(fastapi_app(make_guard(auth)), raise_server_exceptions=False) as client:
        yield client


def assert_error_envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "uuid"}
    assert _V4.fullmatch(body["error"]["tag"])
    assert body["error"]["message"]
    return body


def test_valid_token_reaches_the_endpoint_with_claims_and_uuid(
    auth: FakeAuth, starlette_client: TestClient
) -> None:
    """A valid token passes; the endpoint reads the claims and the client's uuid from state."""
    ticket = "ab" * 16
    response = starlette_client.post(
        "/whoami", headers={"Authorization": bearer(auth.token(ticket=ticket)), "uuid": UUID4}
    )
    assert response.status_code == 200
    assert response.json() == {"ticket": ticket, "uuid": UUID4}


def test_missing_token_is_401_in_the_envelope_with_the_uuid(starlette_client: TestClient) -> None:
    """No token: 401, the error envelope echoing the request uuid, and a Bearer challenge."""
    response = starlette_client.post("/whoami", headers={"uuid": UUID4})
    body = assert_error_envelope(response, 401)
    assert body["uuid"] == UUID4
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["cache-control"] == "no-store"


def test_bad_token_is_401_invalid_token_with_a_fresh_uuid(
    auth: FakeAuth, starlette_client: TestClient
) -> None:
    """An expired token gets 401 invalid_token; a uuid that is not v4 is replaced by a fresh one."""
    token = auth.token(issued_at=1_600_000_000)
    response = starlette_client.post(
        "/whoami", headers={"Authorization": bearer(token), "uuid": "not-a-uuid"}
    )
    body = assert_error_envelope(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert body["uuid"] != "not-a-uuid"
    assert uuid.UUID(body["uuid"]).version == 4


def test_starlette_endpoint_scope_check_is_403(
    auth: FakeAuth, starlette_client: TestClient
) -> None:
    """require_scopes called in a plain Starlette endpoint answers 403 insufficient_scope."""
    response = starlette_client.post(
        "/admin", headers={"Authorization": bearer(auth.token()), "uuid": UUID4}
    )
    body = assert_error_envelope(response, 403)
    assert body["uuid"] == UUID4
    assert body["error"]["data"] == {"required": "tme_admin"}
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    admin = auth.token(scopes=("tme_admin",))
    ok = starlette_client.post("/admin", headers={"Authorization": bearer(admin)})
    assert ok.json() == {"user": "alice@example.com"}


def test_public_paths_pass_without_a_token(starlette_client: TestClient) -> None:
    """A public path is served without a token and without claims."""
    response = starlette_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"claims": False}


def test_require_scopes_on_a_public_path_verifies_the_token_itself(
    auth: FakeAuth, starlette_client: TestClient
) -> None:
    """On a public path require_scopes still verifies: 401 without a token, 200 with one."""
    assert_error_envelope(starlette_client.post("/open"), 401)
    response = starlette_client.post("/open", headers={"Authorization": bearer(auth.token())})
    assert response.json() == {"user": "alice@example.com"}


def test_websocket_without_token_is_closed_with_policy_violation(
    auth: FakeAuth, starlette_client: TestClient
) -> None:
    """A websocket without a valid token is closed with 1008; with one it is served."""
    with pytest.raises(WebSocketDisconnect) as caught, starlette_client.websocket_connect("/ws"):
        pass
    assert caught.value.code == 1008
    headers = {"Authorization": bearer(auth.token())}
    with starlette_client.websocket_connect("/ws", headers=headers) as websocket:
        assert websocket.receive_text() == "hello"


def test_fastapi_dependency_gives_claims_and_refuses_missing_scope(
    auth: FakeAuth, fastapi_client: TestClient
) -> None:
    """Depends(require_scopes(...)) gives claims in FastAPI, and a 403 envelope without scope."""
    response = fastapi_client.post("/balance", headers={"Authorization": bearer(auth.token())})
    assert response.json() == {"user": "alice@example.com", "scopes": ["tme_user"]}
    refused = fastapi_client.post(
        "/admin", headers={"Authorization": bearer(auth.token()), "uuid": UUID4}
    )
    assert assert_error_envelope(refused, 403)["uuid"] == UUID4
    assert_error_envelope(fastapi_client.post("/balance"), 401)


def test_revoked_token_is_refused_by_the_app(auth: FakeAuth, fastapi_client: TestClient) -> None:
    """Once the feed lists the ticket and the guard has polled, the app answers 401."""
    ticket = "cd" * 16
    headers = {"Authorization": bearer(auth.token(ticket=ticket))}
    assert fastapi_client.post("/balance", headers=headers).status_code == 200
    auth.revocations.append(Revocation(RevocationKind.TICKET, ticket))
    guard = fastapi_app_guard(fastapi_client)
    portal = fastapi_client.portal
    assert portal is not None
    assert portal.call(guard.poll_revocations) is True
    assert_error_envelope(fastapi_client.post("/balance", headers=headers), 401)


def fastapi_app_guard(client: TestClient) -> Guard:
    app: Any = client.app
    for middleware in app.user_middleware:
        if middleware.cls is GuardMiddleware:
            guard: Guard = middleware.kwargs["guard"]
            return guard
    raise AssertionError("no GuardMiddleware")


def test_stale_feed_answers_503_in_the_envelope(auth: FakeAuth) -> None:
    """With the feed down past max_staleness, valid tokens get 503 in the envelope (fail closed)."""
    clock = FakeClock()
    guard = make_guard(auth, clock)
    with TestClient(fastapi_app(guard), raise_server_exceptions=False) as client:
        headers = {"Authorization": bearer(auth.token()), "uuid": UUID4}
        assert client.post("/balance", headers=headers).status_code == 200
        auth.down = True
        clock.advance(guard.config.max_staleness + 0.5)
        response = client.post("/balance", headers=headers)
        body = assert_error_envelope(response, 503)
        assert body["uuid"] == UUID4
        assert response.headers["retry-after"] == "2"


def test_require_scopes_without_middleware_fails_closed(auth: FakeAuth) -> None:
    """A dependency used without GuardMiddleware is a 500, never a pass."""
    app = FastAPI()

    @app.post("/balance")
    async def balance(claims: Annotated[AccessClaims, Depends(require_scopes("tme_user"))]) -> str:
        return claims.username

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/balance", headers={"Authorization": bearer(auth.token())})
    assert response.status_code == 500


def test_lifespan_starts_and_stops_polling(auth: FakeAuth) -> None:
    """The app's lifespan fetches keys and revocations at start and closes the client at stop."""
    guard = make_guard(auth)
    with TestClient(fastapi_app(guard)):
        assert guard.ready
        assert (auth.jwks_hits, auth.feed_hits) == (1, 1)
    assert guard.status()["keys"] == 1
    assert guard._tasks == []
    assert guard._client is None
