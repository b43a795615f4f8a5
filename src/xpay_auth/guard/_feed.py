"""The revocation list, polled from ``GET /auth/revocations`` and kept in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xpay_auth.guard._keys import FeedError, FetchJson
from xpay_auth.security.revocation import Revocation, RevocationSet


def parse_revocations(document: Any) -> RevocationSet:
    """The feed's envelope as a :class:`RevocationSet`; anything malformed is a FeedError.

    A list that cannot be read whole is refused whole: trusting part of it could let a
    revoked token through.
    """
    try:
        entries = document["success"]["data"]["revocations"]
    except (KeyError, TypeError) as exc:
        raise FeedError("revocation feed did not answer with a list") from exc
    if not isinstance(entries, list):
        raise FeedError("revocation feed did not answer with a list")
    try:
        return RevocationSet.of(Revocation.from_json(entry) for entry in entries)
    except (KeyError, TypeError, ValueError) as exc:
        raise FeedError(f"revocation entry unreadable: {type(exc).__name__}") from exc


class RevocationFeed:
    """The latest complete revocation list and when it was asked for."""

    def __init__(self, fetch_json: FetchJson, url: str, *, clock: Callable[[], float]) -> None:
        self._fetch_json = fetch_json
        self._url = url
        self._clock = clock
        self.revocations = RevocationSet()
        # The start of the last successful poll: the list reflects the database at some
        # moment after it, so the list is never older than ``clock() - fresh_at``.
        self.fresh_at: float | None = None
        self.entries = 0
        self.polls = 0

    def age(self) -> float | None:
        return None if self.fresh_at is None else self._clock() - self.fresh_at

    async def poll(self) -> None:
        started = self._clock()
        self.polls += 1
        document = await self._fetch_json(self._url)
        revocations = parse_revocations(document)
        # One assignment: a request sees either the old list or the new one, never a mix.
        self.revocations = revocations
        self.entries = (
            len(revocations.tickets)
            + len(revocations.keys)
            + sum(len(entries) for entries in revocations.accounts.values())
        )
        self.fresh_at = started
