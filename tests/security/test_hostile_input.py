"""Hostile input: every malformed, oversized or slow request gets a clear envelope error,
changes nothing, and leaves the server healthy.

The in-process tests cover the body rules on every database; the raw-socket tests run a
real server, since only a real connection can declare one length and send another, send
chunks, or trickle bytes.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import Server, server_env
from tests.plain_http import HTTP
from tests.security.support import table_counts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support import Harness

AUTHENTICATE = "/client/authenticate"
LIMIT = 64 * 1024
UUID_HEADER = "0b8c7e7c-7d0e-4a8e-9f3c-2f1a2b3c4d5e"


def assert_envelope_error(response: Any, status: int, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "uuid"}
    assert set(body["error"]) == {"message", "data", "tag"}
    if message is not None:
        assert body["error"]["message"] == message
    return body


def state(harness: Harness) -> dict[str, int]:
    return harness.run(lambda runtime: table_counts(runtime.database.engine))


def send(harness: Harness, content: bytes, content_type: str | None = "application/json") -> Any:
    headers = {"uuid": UUID_HEADER}
    if content_type is not None:
        headers["content-type"] = content_type
    return harness.client.post(AUTHENTICATE, content=content, headers=headers)


def login_works(harness: Harness, secret: str) -> None:
    assert harness.client.get("/healthz").status_code == 200
    assert harness.token_for_key("ivy@example.com", secret)


@pytest.fixture
def account(harness: Harness) -> tuple[Harness, str]:
    """An account with a live key: (harness, secret)."""
    harness.create_user("ivy@example.com")
    _, secret = harness.create_key("ivy@example.com")
    return harness, secret


@pytest.fixture
def victim(account: tuple[Harness, str]) -> Iterator[tuple[Harness, str]]:
    """The account, checked after the test: nothing changed, and its key still logs in."""
    harness, secret = account
    before = state(harness)
    yield account
    assert state(harness) == before
    login_works(harness, secret)


def valid_body(secret: Any, **changes: Any) -> dict[str, Any]:
    return {"username": "ivy@example.com", "secretKey": secret, "isAPI": True, **changes}


def test_bodies_that_are_not_one_json_object_answer_400(victim: tuple[Harness, str]) -> None:
    """Bad UTF-8, NUL bytes, bad JSON, deep nesting, duplicates, huge numbers, non-objects: 400."""
    harness, secret = victim
    good = json.dumps(valid_body(secret))
    cases: dict[str, tuple[bytes, str]] = {
        "invalid utf-8": (
            b'{"username": "\xff\xfe", "secretKey": "x", "isAPI": true}',
            "body is not valid UTF-8",
        ),
        "overlong utf-8": (
            b'{"username": "\xc0\xaf", "secretKey": "x", "isAPI": true}',
            "body is not valid UTF-8",
        ),
        "lone surrogate bytes": (b'{"username": "\xed\xa0\x80"}', "body is not valid UTF-8"),
        "raw NUL between tokens": (
            good.replace(",", ",\x00", 1).encode(),
            "body is not valid JSON",
        ),
        "raw NUL inside a string": (
            good.replace("ivy@", "ivy\x00@").encode(),
            "body is not valid JSON",
        ),
        "truncated": (good[:-5].encode(), "body is not valid JSON"),
        "trailing garbage": ((good + "}").encode(), "body is not valid JSON"),
        "deep arrays": (
            b'{"username": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "body is nested too deeply",
        ),
        "deep objects": (b'{"a":' * 40 + b"1" + b"}" * 40, "body is nested too deeply"),
        "duplicate key": (
            good.replace('"secretKey"', '"username": "x", "secretKey"').encode(),
            "body has a duplicate key",
        ),
        "NaN": (b'{"username": "a", "secretKey": "b", "isAPI": NaN}', "body is not valid JSON"),
        "Infinity": (
            b'{"username": "a", "secretKey": "b", "isAPI": -Infinity}',
            "body is not valid JSON",
        ),
        "overflowing float": (
            b'{"username": "a", "secretKey": "b", "isAPI": 1e999}',
            "body is not valid JSON",
        ),
        "integer of 5000 digits": (b'{"isAPI": ' + b"9" * 5000 + b"}", "body is not valid JSON"),
        "array": (b"[]", "body is not a JSON object"),
        "string": (b'"hello"', "body is not a JSON object"),
        "null": (b"null", "body is not a JSON object"),
        "empty": (b"", "body is not valid JSON"),
        "utf-16": (good.encode("utf-16"), "body is not valid UTF-8"),
        "lone surrogate in username": (
            b'{"username": "\\ud800", "secretKey": "x", "isAPI": false}',
            "body has an invalid Unicode escape",
        ),
        "lone surrogate in a key": (
            b'{"username": "a", "secretKey": "xpsk_\\uDC00", "isAPI": true}',
            "body has an invalid Unicode escape",
        ),
        "lone surrogate in an extra field": (
            b'{"username": "a", "secretKey": "b", "isAPI": true, "x": ["\\udbff"]}',
            "body has an invalid Unicode escape",
        ),
    }
    for name, (content, message) in cases.items():
        response = send(harness, content)
        body = assert_envelope_error(response, 400)
        assert body["uuid"] == UUID_HEADER, name
        if name != "empty":
            assert body["error"]["message"] == message, name


def test_escaped_surrogate_pairs_are_ordinary_text(victim: tuple[Harness, str]) -> None:
    """A correctly paired surrogate escape is just a character: the login is refused, not broken."""
    harness, _ = victim
    response = send(
        harness, b'{"username": "\\ud83d\\ude00@example.com", "secretKey": "x", "isAPI": false}'
    )
    assert response.status_code == 200
    assert response.json()["error"]["message"] == "invalid credentials"


def test_wrong_content_types_answer_415(victim: tuple[Harness, str]) -> None:
    """Any media type but JSON is refused with 415, even with a valid JSON body."""
    harness, secret = victim
    content = json.dumps(valid_body(secret)).encode()
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/json-patch+json",
    ]:
        response = send(harness, content, content_type)
        assert_envelope_error(response, 415, "content type must be application/json")


def test_json_content_type_variants_are_accepted(account: tuple[Harness, str]) -> None:
    """A charset parameter, any case, or no content type at all still parse the JSON body."""
    harness, secret = account
    content = json.dumps(valid_body(secret)).encode()
    for content_type in ["application/json; charset=utf-8", "Application/JSON", None]:
        response = send(harness, content, content_type)
        assert response.status_code == 200
        assert "success" in response.json(), content_type


def test_oversized_bodies_answer_413(victim: tuple[Harness, str]) -> None:
    """A body one byte past 64 KiB is refused with 413, whatever it holds."""
    harness, secret = victim
    padding = "x" * LIMIT
    response = send(harness, json.dumps(valid_body(secret, padding=padding)).encode())
    assert_envelope_error(response, 413, "body too large")
    exactly = json.dumps(valid_body(secret, pad="")).encode()
    fill = LIMIT - len(exactly)
    at_limit = json.dumps(valid_body("nope", pad="p" * fill)).encode()
    assert len(at_limit) <= LIMIT
    response = send(harness, at_limit)
    assert response.status_code == 200
    assert response.json()["error"]["message"] == "invalid credentials"


def test_fields_beyond_their_limits_name_the_field(victim: tuple[Harness, str]) -> None:
    """Too long, ill-typed or NUL-bearing fields are business errors naming the field."""
    harness, secret = victim
    cases: list[tuple[dict[str, Any], str]] = [
        (valid_body(secret, username="u" * 2000), "username"),
        (valid_body("s" * 20_000), "secretKey"),
        (valid_body(secret, username="ivy\x00@example.com"), "username"),
        (valid_body(secret + "\x00"), "secretKey"),
        (valid_body(secret, username=["ivy@example.com"]), "username"),
        (valid_body(secret, username={"$ne": None}), "username"),
        (valid_body({"$gt": ""}), "secretKey"),
        (valid_body(secret, isAPI=1), "isAPI"),
        (valid_body(secret, isAPI="yes"), "isAPI"),
        (valid_body(secret, isAPI=10**300), "isAPI"),
        (valid_body(secret, isAPI=None), "isAPI"),
        ({"username": "ivy@example.com", "isAPI": True}, "secretKey"),
    ]
    for body, field in cases:
        response = harness.post(AUTHENTICATE, body)
        error = assert_envelope_error(response, 200)["error"]
        assert error["data"]["field"] == field, body


def test_extra_fields_grant_nothing(account: tuple[Harness, str]) -> None:
    """Unknown fields such as scopes or admin flags are ignored, never granting anything."""
    harness, secret = account
    body = valid_body(secret, scopes=["tme_admin"], scope="tme_admin", admin=True, expiresAt=2**62)
    data = harness.post(AUTHENTICATE, body).json()["success"]["data"]
    assert data["user"]["scopes"] == ["tme_user"]
    claims = harness.runtime.verifier.verify(data["access_token"])
    assert claims.scopes == ("tme_user",)
    assert claims.expires_at - claims.issued_at <= harness.runtime.settings.token_ttl


def test_token_responses_are_never_cached(account: tuple[Harness, str]) -> None:
    """A response carrying a token, and every error, says Cache-Control: no-store."""
    harness, secret = account
    response = harness.post(AUTHENTICATE, valid_body(secret))
    assert "access_token" in response.json()["success"]["data"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    token = response.json()["success"]["data"]["access_token"]
    assert harness.post("/client/session", token=token).headers["cache-control"] == "no-store"
    assert harness.post(AUTHENTICATE, valid_body("nope")).headers["cache-control"] == "no-store"
    assert harness.client.get("/nowhere").headers["cache-control"] == "no-store"


def test_hostile_request_uuids_are_replaced(victim: tuple[Harness, str]) -> None:
    """A uuid header that is not a UUID v4 is never echoed; a fresh v4 answers instead."""
    harness, _ = victim
    for hostile in [
        "' OR 1=1 --",
        "{{7*7}}",
        "x" * 5000,
        "0b8c7e7c-7d0e-1a8e-9f3c-2f1a2b3c4d5e",
        "\t",
    ]:
        response = harness.client.post(AUTHENTICATE, json={}, headers={"uuid": hostile})
        rid = response.json()["uuid"]
        assert rid != hostile
        assert len(rid) == 36
        assert rid[14] == "4"


# Raw sockets against a real server.

BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 2.0


@dataclass(frozen=True)
class Real:
    server: Server
    secret: str


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Real]:
    """One real server on SQLite, with short slow-client deadlines, for the whole module."""
    workdir: Path = tmp_path_factory.mktemp("hostile")
    env = server_env(
        f"sqlite:///{workdir / 'xpay-auth.db'}",
        XPAY_AUTH_BODY_TIMEOUT=str(BODY_TIMEOUT),
        XPAY_AUTH_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
    )
    server = Server(env=env, workdir=workdir)
    server.start()
    server.create_user("ivy@example.com")
    yield Real(server, server.create_key("ivy@example.com")["secretKey"])
    server.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.settimeout(10)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Read one HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        name.lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, json.loads(rest[:length])


def closed_by_server(sock: socket.socket) -> bool:
    """The server closed the connection: an orderly end, or a reset when it left bytes unread."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def healthy(real: Real) -> None:
    assert HTTP.get(f"{real.server.base_url}/healthz", timeout=5).status_code == 200
    assert real.server.login("ivy@example.com", real.secret)["access_token"]


def request_head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_declared_length_over_the_limit_is_refused_before_the_body(real_server: Real) -> None:
    """A Content-Length past 64 KiB gets 413 at once, without the server waiting for the body."""
    with connect(real_server.server) as sock:
        sock.sendall(
            request_head(
                AUTHENTICATE, **{"Content-Type": "application/json", "Content-Length": "100000000"}
            )
        )
        sock.sendall(b'{"username": ')
        status, headers, body = read_response(sock)
        assert status == 413
        assert body["error"]["message"] == "body too large"
        assert headers["connection"] == "close"
        assert closed_by_server(sock)
    healthy(real_server)


def test_chunked_body_growing_past_the_limit_is_refused(real_server: Real) -> None:
    """A chunked body with no declared length is cut off with 413 once it passes 64 KiB."""
    with connect(real_server.server) as sock:
        sock.sendall(
            request_head(
                AUTHENTICATE, **{"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
            )
        )
        chunk = b"x" * 8192
        sent = 0
        try:
            while sent <= LIMIT + len(chunk):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed as soon as the limit passed
        status, _, body = read_response(sock)
        assert status == 413
        assert body["error"]["message"] == "body too large"
    healthy(real_server)


def test_slow_body_is_answered_400_after_the_body_timeout(real_server: Real) -> None:
    """A body that stops arriving gets 400 "body not received in time"; the connection closes."""
    with connect(real_server.server) as sock:
        sock.sendall(
            request_head(
                AUTHENTICATE,
                **{
                    "Content-Type": "application/json",
                    "Content-Length": "200",
                    "uuid": UUID_HEADER,
                },
            )
        )
        sock.sendall(b'{"username": "ivy')
        started = time.monotonic()
        status, headers, body = read_response(sock)
        waited = time.monotonic() - started
        assert status == 400
        assert body["error"]["message"] == "body not received in time"
        assert body["uuid"] == UUID_HEADER
        assert headers["cache-control"] == "no-store"
        assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + 10
        assert closed_by_server(sock)
    healthy(real_server)


def test_slowloris_connections_are_cut_and_never_block_the_server(real_server: Real) -> None:
    """While 50 connections trickle headers /healthz answers; each gets 400 and is closed."""
    sockets = [connect(real_server.server) for _ in range(50)]
    try:
        for sock in sockets:
            sock.sendall(b"POST /client/authenticate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for _ in range(3):
            for index, sock in enumerate(sockets):
                sock.sendall(f"X-Slow-{index}: a\r\n".encode())
            healthy(real_server)
            time.sleep(0.2)
        for sock in sockets:
            status, headers, body = read_response(sock)
            assert status == 400
            assert body["error"]["message"] == "request headers not received in time"
            assert headers["connection"] == "close"
            assert closed_by_server(sock)
        assert time.monotonic() - started < HEADER_TIMEOUT + 10
    finally:
        for sock in sockets:
            sock.close()
    healthy(real_server)


def test_silent_connection_is_closed_after_the_header_timeout(real_server: Real) -> None:
    """A connection that opens and never sends a byte is closed, not kept for ever."""
    with connect(real_server.server) as sock:
        status, _, body = read_response(sock)
        assert status == 400
        assert body["error"]["message"] == "request headers not received in time"
        assert closed_by_server(sock)


def test_oversized_headers_are_refused(real_server: Real) -> None:
    """Headers past 32 KiB are refused with 400 in the envelope, and the server stays healthy."""
    with connect(real_server.server) as sock:
        sock.sendall(b"POST /client/authenticate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for index in range(20):
                sock.sendall(f"X-Big-{index}: {'b' * 4000}\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(sock)
        assert status == 400
        assert body["error"]["message"] == "request headers too large"
    healthy(real_server)


def test_hostile_input_leaves_the_real_server_unchanged(real_server: Real) -> None:
    """After the raw-socket attacks the server logged no 500 and still serves logins."""
    healthy(real_server)
    assert '"status":500' not in real_server.server.log()
