"""Paging for every search call, the way the platform pages its other searches.

Request: ``page`` (1-based, default 1), ``pageSize`` (default 20, at most 100).
Response data: ``{"items": [...], "page", "pageSize", "total", "hasNext"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, Protocol, TypeVar

from pydantic import Field
from typing_extensions import TypedDict

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000

PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE, description="from 1")]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="items a page")]
Item = TypeVar("Item")


class Paged(Protocol):
    """A request body with paging fields."""

    @property
    def page(self) -> int: ...
    @property
    def page_size(self) -> int: ...


class PageOf(TypedDict, Generic[Item]):
    """One page of a search's answer."""

    items: list[Item]
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)]
    pageSize: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
    total: Annotated[int, Field(ge=0)]
    hasNext: bool


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


def page_request(body: Paged) -> PageRequest:
    return PageRequest(body.page, body.page_size)


def page_data(request: PageRequest, items: Sequence[Item], total: int) -> PageOf[Item]:
    return {
        "items": list(items),
        "page": request.page,
        "pageSize": request.page_size,
        "total": total,
        "hasNext": request.offset + len(items) < total,
    }
