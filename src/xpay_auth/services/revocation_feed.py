"""The revocation feed: what changed after a verifier's cursor, one bounded page at a time.

A cursor is ``<generation>.<number>``: the database's generation (``revocation_feed``) and
the last change number the verifier has applied. A verifier starts without one and reads
the snapshot page by page; from then on each poll brings only the changes after its
cursor. A cursor the feed cannot continue (another database's, or one ahead of the feed,
as after a restore) gets the snapshot again, flagged ``reset``, so the verifier starts
its list afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from xpay_auth.logs import now_ms
from xpay_auth.storage.revocation_feed import FeedPage
from xpay_auth.storage.revocations import RevocationRepository

DEFAULT_PAGE_SIZE = 300  # about 25 KB of ticket entries: a page stays under 50 KB
MAX_PAGE_SIZE = 2000  # for snapshots, where fewer round trips matter more
_CURSOR = re.compile(r"([0-9a-f]{32})\.(0|[1-9][0-9]{0,17})")


@dataclass(frozen=True, slots=True)
class Cursor:
    generation: str
    seq: int

    def __str__(self) -> str:
        return f"{self.generation}.{self.seq}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        """The cursor in ``raw``, or None when it is not one this feed writes."""
        match = _CURSOR.fullmatch(raw)
        return cls(match.group(1), int(match.group(2))) if match else None


async def feed_page(
    repository: RevocationRepository, cursor: Cursor | None, limit: int
) -> dict[str, Any]:
    """The entries in force changed after ``cursor`` (all of them without one)."""
    now = now_ms()
    page: FeedPage = await repository.changes(
        after=cursor.seq if cursor else 0, now_ms=now, limit=limit
    )
    reset = cursor is None
    if cursor is not None and (cursor.generation != page.generation or cursor.seq > page.head):
        reset = True
        page = await repository.changes(after=0, now_ms=now, limit=limit)
    return {
        "revocations": [entry.to_json() for entry in page.entries],
        "cursor": str(Cursor(page.generation, page.last_seq)),
        "more": page.more,
        "reset": reset,
        "generatedAt": now,
    }
