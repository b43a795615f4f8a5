"""The hot calls skip the router, and every other request on their paths still takes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Router

from tests.envelopes import failure, success
from xpay_auth.app import XpayApp

if TYPE_CHECKING:
    import pytest

    from tests.support import Harness


def test_hot_calls_are_answered_without_the_router(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authenticate, the session check and forward-auth answer with the router out of the way."""
    app = harness.client.app
    assert isinstance(app, XpayApp)
    harness.create_user("hot@example.com")
    _, secret = harness.create_key("hot@example.com")
    token = harness.token_for_key("hot@example.com", secret)

    async def no_router(*_: object) -> None:
        raise AssertionError("the router was asked")

    monkeypatch.setattr(Router, "__call__", no_router)
    assert harness.login("hot@example.com", secret)["access_token"]
    assert success(harness.post("/client/session", token=token))["ticket"]
    verify = harness.client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert success(verify)["username"] == "hot@example.com"


def test_other_methods_and_paths_keep_their_envelopes(harness: Harness) -> None:
    """A wrong method on a hot path is a 405 with Allow, a near miss a 404, both enveloped."""
    response = harness.client.get("/client/authenticate")
    failure(response, 405)
    assert response.headers["allow"] == "POST"
    failure(harness.client.post("/client/authenticate/x", json={}), 404)
    failure(harness.client.put("/auth/verify"), 405)
