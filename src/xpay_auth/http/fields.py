"""Reading fields of a request body: each failure names the field (the contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xpay_auth.errors import InvalidField

MAX_TEXT = 1024


def text(
    body: Mapping[str, Any], name: str, *, max_length: int = MAX_TEXT, required: bool = True
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    if len(value) > max_length:
        raise InvalidField(name, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidField(name, "must not contain NUL characters")
    return value


def required_text(body: Mapping[str, Any], name: str, *, max_length: int = MAX_TEXT) -> str:
    value = text(body, name, max_length=max_length)
    if value is None:  # pragma: no cover  text() raised already
        raise InvalidField(name, "is required")
    return value


def flag(
    body: Mapping[str, Any], name: str, *, required: bool = True, default: bool = False
) -> bool:
    """A JSON boolean, or the strings "true"/"false" in any case (the seed's curl sends "true")."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "is required")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
    raise InvalidField(name, "must be true or false")


def integer(
    body: Mapping[str, Any], name: str, *, minimum: int, maximum: int, default: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(name, "must be an integer")
    if not minimum <= value <= maximum:
        raise InvalidField(name, f"must be between {minimum} and {maximum}")
    return value


def text_list(
    body: Mapping[str, Any], name: str, *, max_items: int = 32, max_length: int = 100
) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidField(name, f"must be a list of at most {max_items} strings")
    if not all(isinstance(item, str) and 0 < len(item) <= max_length for item in value):
        raise InvalidField(name, f"each item must be a string of 1 to {max_length} characters")
    return list(value)
