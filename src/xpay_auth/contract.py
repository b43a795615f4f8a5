"""The client contract in one place: request uuid, envelopes, body rules.

See the conventions of ``docs/api.md``: every response is a JSON envelope carrying the request
``uuid``; errors carry a fresh ``tag`` that is logged with the details.

JSON goes through orjson both ways. Parsing keeps the strict rules of
:func:`parse_json_object`: orjson answers the common case (an object with plain values), and
any body where its answer could differ from the strict rules (a possible duplicate key, a
number it turned into a float, anything it refuses) is decided by the standard library's
parser with the strict hooks, exactly as before.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from xpay_auth import randomness
from xpay_auth.errors import BadRequest, UnsupportedMediaType, XpayAuthError
from xpay_auth.logs import RepeatLimiter, log_event

JSON_MEDIA_TYPE = "application/json"
# Responses may carry tokens or account facts: no cache may keep them (RFC 6749 section 5.1).
BASE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_JSON_DEPTH = 32
_UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)


def request_uuid(raw: str | None) -> str:
    """The client's ``uuid`` header, echoed as sent when it is a UUID v4, else a fresh v4."""
    if raw is not None and _UUID4.fullmatch(raw):
        return raw
    return randomness.uuid4()


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON; the standard library takes what orjson does not (huge integers)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


_dumps = dumps


def success_response(
    request_id: str, message: str, data: Any, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"success": {"message": message, "data": data}, "uuid": request_id}
    return Response(
        _dumps(body), 200, headers={**BASE_HEADERS, **(headers or {})}, media_type=JSON_MEDIA_TYPE
    )


# Server failures repeat by the thousand while a database is away: one line per kind of
# failure (status, error, detail) every REPEAT_LOG_INTERVAL seconds, with the count held back.
REPEAT_LOG_INTERVAL = 10.0
server_failures = RepeatLimiter(REPEAT_LOG_INTERVAL)


def log_failure(request_id: str, error: XpayAuthError, *, path: str, status: int) -> None:
    """Log a failed call with its details under the error's tag; 5xx with the traceback,
    and an identical 5xx at most once per ``REPEAT_LOG_INTERVAL`` with the count held back."""
    extra: dict[str, Any] = {}
    if status >= 500:  # noqa: PLR2004
        held = server_failures.admit((status, type(error).__name__, error.detail))
        if held is None:
            return
        extra["repeated"] = held
    log_event(
        "request.failed",
        level=logging.ERROR if status >= 500 else logging.INFO,  # noqa: PLR2004
        **extra,
        uuid=request_id,
        tag=error.tag,
        status=status,
        error=type(error).__name__,
        client_message=error.client_message,
        detail=error.detail,
        path=path,
        exc_info=error.__cause__ if status >= 500 else None,  # noqa: PLR2004
    )


def error_response(request_id: str, error: XpayAuthError, *, path: str = "") -> Response:
    """Render ``error`` in the envelope and log it, with its details, under a fresh tag."""
    log_failure(request_id, error, path=path, status=error.status)
    body = {
        "error": {"message": error.client_message, "data": error.data, "tag": error.tag},
        "uuid": request_id,
    }
    return Response(
        _dumps(body),
        error.status,
        headers={**BASE_HEADERS, **error.headers},
        media_type=JSON_MEDIA_TYPE,
    )


def check_content_type(raw: str | None, *, body_present: bool) -> None:
    """JSON, with any charset; no content type is accepted only together with a body."""
    if raw is None:
        return
    media_type = raw.split(";", 1)[0].strip().lower()
    if media_type == JSON_MEDIA_TYPE or (not media_type and body_present):
        return
    raise UnsupportedMediaType(detail=f"content type {raw[:100]!r}")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BadRequest(message="body has a duplicate key", detail="duplicate JSON key")
    return result


def _reject_constant(name: str) -> Any:
    raise BadRequest(message="body is not valid JSON", detail=f"JSON constant {name}")


def _finite_float(text: str) -> float:
    # A literal such as 1e999 overflows to infinity, the value parse_constant refuses by name.
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(message="body is not valid JSON", detail="number out of range")
    return value


def _depth_exceeds(raw: bytes, limit: int) -> bool:  # noqa: C901  one byte scanner, one loop
    # A cheap bound before parsing: nesting can never exceed the count of openers.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # noqa: PLR2004  backslash
                escaped = True
            elif byte == 0x22:  # noqa: PLR2004  quote
                in_string = False
        elif byte == 0x22:  # noqa: PLR2004
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _key_count(value: Any) -> int | None:
    """Keys of every object in ``value``; None when a float is in it (decided strictly)."""
    if isinstance(value, dict):
        count = len(value)
        for item in value.values():
            inner = _key_count(item)
            if inner is None:
                return None
            count += inner
        return count
    if isinstance(value, list):
        count = 0
        for item in value:
            inner = _key_count(item)
            if inner is None:
                return None
            count += inner
        return count
    return None if isinstance(value, float) else 0


def _fast_parse(raw: bytes) -> dict[str, Any] | None:
    """orjson's object when it is certainly what the strict parser would answer, else None.

    Every member of an object has one colon outside strings, and colons can only otherwise
    appear inside strings, so as many colons as parsed keys proves no key was repeated.
    orjson refuses lone surrogates, NaN, infinities and invalid UTF-8 itself; a float may
    be an integer too large for it, so floats go the strict way too.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or _key_count(value) != raw.count(b":"):
        return None
    return value


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object, strictly.

    Refused with 400: invalid UTF-8, invalid JSON, NaN/Infinity, duplicate keys, nesting
    deeper than ``MAX_JSON_DEPTH``, numbers too large to convert, lone surrogates, and
    anything but an object.
    """
    if _depth_exceeds(raw, MAX_JSON_DEPTH):
        raise BadRequest(message="body is nested too deeply")
    fast = _fast_parse(raw)
    if fast is not None:
        return fast
    return strict_parse(raw)


def strict_parse(raw: bytes) -> dict[str, Any]:
    """The standard library's parse with the strict hooks: the reference for every rule."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except UnicodeDecodeError as exc:
        raise BadRequest(message="body is not valid UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        # ValueError covers malformed JSON and integers beyond the conversion limit.
        raise BadRequest(message="body is not valid JSON", detail=str(exc)[:200]) from exc
    if not isinstance(value, dict):
        raise BadRequest
    # A \uD800-style escape decodes to a lone surrogate, which no UTF-8 text, database or
    # hash can take: I-JSON (RFC 7493 section 2.1) forbids it. Only escapes can make one.
    if b"\\ud" in raw.lower() and _has_lone_surrogate(value):
        raise BadRequest(message="body has an invalid Unicode escape")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
