"""The yardstick: a bare Starlette app doing the authenticate work from an in-memory table.

It parses the body, finds the key in a dict, checks an HMAC in constant time and signs an
ES256 token, with none of the service's storage, audit or contract machinery. The
benchmark reports xpay-auth as a ratio of this app on the same machine in the same run.

Run by ``bench/authenticate.py``: ``BENCH_USERNAME`` and ``BENCH_SECRET`` name the one
account it accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_HASH_KEY = secrets.token_bytes(32)
_PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
_TABLE = {
    os.environ["BENCH_USERNAME"]: hmac.new(
        _HASH_KEY, os.environ["BENCH_SECRET"].encode(), hashlib.sha256
    ).digest()
}


async def authenticate(request: Request) -> Response:
    body = json.loads(await request.body())
    stored = _TABLE.get(body["username"].strip().lower())
    digest = hmac.new(_HASH_KEY, body["secretKey"].encode(), hashlib.sha256).digest()
    if stored is None or not hmac.compare_digest(stored, digest):
        return Response(
            b'{"error":{"message":"invalid credentials"}}', media_type="application/json"
        )
    now = int(time.time())
    ticket = secrets.token_hex(16)
    token = jwt.encode(
        {"sub": body["username"], "iat": now, "exp": now + 3600, "sid": ticket},
        _PRIVATE_KEY,
        algorithm="ES256",
    )
    payload = {
        "success": {"message": "Authenticated", "data": {"ticket": ticket, "access_token": token}}
    }
    return Response(json.dumps(payload).encode(), media_type="application/json")


app = Starlette(routes=[Route("/client/authenticate", authenticate, methods=["POST"])])
