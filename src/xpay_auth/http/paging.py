"""Paging for every search call, the way the platform pages its other searches.

Request: ``page`` (1-based, default 1), ``pageSize`` (default 20, at most 100).
Response data: ``{"items": [...], "page", "pageSize", "total", "hasNext"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xpay_auth.http import fields

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size


def page_request(body: Mapping[str, Any]) -> PageRequest:
    page = fields.integer(body, "page", minimum=1, maximum=MAX_PAGE, default=1)
    size = fields.integer(
        body, "pageSize", minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )
    # Both have defaults, so neither is None; the fallbacks only satisfy the types.
    return PageRequest(page or 1, size or DEFAULT_PAGE_SIZE)


def page_data(request: PageRequest, items: Sequence[Any], total: int) -> dict[str, Any]:
    return {
        "items": list(items),
        "page": request.page,
        "pageSize": request.page_size,
        "total": total,
        "hasNext": request.offset + len(items) < total,
    }
