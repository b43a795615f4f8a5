"""The revocation list, kept in memory from ``GET /auth/revocations``, one change at a time.

The guard holds a cursor. Its first poll reads the snapshot, page by page, into a new list
that replaces the old one only once complete; every later poll asks for the changes after
the cursor (usually none or a few) and applies them in place. A ``reset`` answer (the
cursor came from another database) starts a snapshot again. Entries whose tokens have all
expired are dropped every ``prune_interval`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from xpay_auth.guard._keys import FeedError
from xpay_auth.security.revocation import RevocationEntry, RevocationSet

FetchPage = Callable[[dict[str, str]], Awaitable[Any]]
PAGE_SIZE = 300
# Larger pages for the snapshot, fewer round trips; each is still built in a few ms.
SNAPSHOT_PAGE_SIZE = 1000
# A poll follows at most this many pages; a feed that never ends is a failed poll.
MAX_PAGES = 10_000
_CURSOR_LENGTH = 64


@dataclass(frozen=True, slots=True)
class FeedPage:
    entries: list[RevocationEntry]
    cursor: str
    more: bool
    reset: bool


def parse_page(document: Any) -> FeedPage:
    """One page of the feed's envelope; anything malformed is a FeedError.

    A page that cannot be read whole is refused whole: trusting part of it could let a
    revoked token through.
    """
    try:
        data = document["success"]["data"]
        raw_entries, cursor = data["revocations"], data["cursor"]
        more, reset = data["more"], data["reset"]
    except (KeyError, TypeError) as exc:
        raise FeedError("revocation feed did not answer with a page") from exc
    if not isinstance(raw_entries, list):
        raise FeedError("revocation feed did not answer with a list")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _CURSOR_LENGTH:
        raise FeedError("revocation feed gave no usable cursor")
    if not isinstance(more, bool) or not isinstance(reset, bool):
        raise FeedError("revocation feed page is malformed")
    try:
        entries = [RevocationEntry.from_json(entry) for entry in raw_entries]
    except (KeyError, TypeError, ValueError) as exc:
        raise FeedError(f"revocation entry unreadable: {type(exc).__name__}") from exc
    return FeedPage(entries, cursor, more, reset)


class RevocationFeed:
    """The revocations in force as of the start of the last complete poll."""

    def __init__(
        self,
        fetch_page: FetchPage,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float] = time.time,
        page_size: int = PAGE_SIZE,
        snapshot_page_size: int = SNAPSHOT_PAGE_SIZE,
        prune_interval: float = 30.0,
    ) -> None:
        self._fetch_page = fetch_page
        self._clock = clock
        self._wall_clock = wall_clock
        self._page_size = page_size
        self._snapshot_page_size = snapshot_page_size
        self._prune_interval = prune_interval
        self._pruned_at = wall_clock()
        self.revocations = RevocationSet()
        self.cursor: str | None = None
        # The start of the last complete poll: the list reflects the database at some
        # moment after it, so the list is never older than ``clock() - fresh_at``.
        self.fresh_at: float | None = None
        self.polls = 0
        self.pages = 0
        self.snapshots = 0

    @property
    def entries(self) -> int:
        return len(self.revocations)

    def age(self) -> float | None:
        return None if self.fresh_at is None else self._clock() - self.fresh_at

    async def _page(self, cursor: str | None, *, snapshot: bool) -> FeedPage:
        size = self._snapshot_page_size if snapshot else self._page_size
        params = {"limit": str(size)}
        if cursor is not None:
            params["since"] = cursor
        self.pages += 1
        return parse_page(await self._fetch_page(params))

    async def poll(self) -> None:
        """Bring the list up to date; raises FeedError, leaving it as it was, on failure."""
        started = self._clock()
        self.polls += 1
        cursor = self.cursor
        # A snapshot is built aside and swapped in whole: a request never sees half of one.
        building = RevocationSet() if cursor is None else None
        for _ in range(MAX_PAGES):
            page = await self._page(cursor, snapshot=building is not None)
            if page.reset:
                building = RevocationSet()
            target = building if building is not None else self.revocations
            for entry in page.entries:
                target.apply(entry)
            cursor = page.cursor
            if building is None:
                # Applied in place already: a later failure must not apply them again.
                self.cursor = cursor
            if not page.more:
                break
        else:
            raise FeedError(f"revocation feed still had more after {MAX_PAGES} pages")
        if building is not None:
            self.snapshots += 1
            self.revocations = building  # one assignment: the old list or the new one
        self.cursor = cursor
        self.fresh_at = started
        self._prune()

    def _prune(self) -> None:
        now = self._wall_clock()
        if now - self._pruned_at >= self._prune_interval:
            self._pruned_at = now
            self.revocations.prune(int(now * 1000))
