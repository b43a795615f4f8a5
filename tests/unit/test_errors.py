"""The error tree's statuses and challenges."""

from __future__ import annotations

from xpay_auth.errors import Forbidden, TooManyRequests, Unauthorized


def test_forbidden_names_a_scope_in_the_challenge() -> None:
    """A missing scope is named in the RFC 6750 insufficient_scope challenge."""
    error = Forbidden(required="tme_admin")
    assert error.status == 403
    assert (
        error.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="tme_admin"'
    )


def test_forbidden_leaves_out_a_requirement_that_is_not_a_scope_token() -> None:
    """A requirement with a space is not a scope token, so the challenge carries no scope."""
    error = Forbidden(required="dashboard session")
    assert error.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert error.data == {"required": "dashboard session"}


def test_unauthorized_and_throttled_headers() -> None:
    """401 carries the invalid_token challenge and 429 a Retry-After in whole seconds."""
    assert Unauthorized().headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert TooManyRequests(30).headers["Retry-After"] == "30"


def test_every_error_gets_its_own_tag() -> None:
    """Two errors of the same kind never share a tag."""
    assert Unauthorized().tag != Unauthorized().tag
