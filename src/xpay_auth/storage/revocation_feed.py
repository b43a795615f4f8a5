"""The revocation feed's bookkeeping: the change counter, and pages of changes after a cursor.

Every change to ``revocations`` takes the next number of the counter row first
(``RevocationFeedRow``), so numbers commit in order and a cursor misses nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from xpay_auth.security.revocation import Revocation, RevocationEntry, RevocationKind
from xpay_auth.storage.rows import revocation_feed, revocations


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Revocations changed after a cursor, in change order, and where the next page starts."""

    entries: list[RevocationEntry]
    last_seq: int  # the cursor after this page
    more: bool
    generation: str
    head: int  # the feed's last change number when the page was read


COUNTER_ID = 1

_FEED_STATE = select(revocation_feed.c.last_seq, revocation_feed.c.generation).where(
    revocation_feed.c.id == COUNTER_ID
)
# Until the first revocation after the counter row went missing recreates it.
_NO_GENERATION = "0" * 32


async def feed_state(conn: AsyncConnection) -> tuple[int, str]:
    counter = (await conn.execute(_FEED_STATE)).first()
    if counter is None:
        in_use = (await conn.execute(select(func.max(revocations.c.seq)))).scalar()
        return int(in_use or 0), _NO_GENERATION
    return int(counter.last_seq), str(counter.generation)


FEED_COLUMNS = (
    revocations.c.kind,
    revocations.c.subject,
    revocations.c.not_after_s,
    revocations.c.except_ticket,
    revocations.c.expires_at_ms,
    revocations.c.seq,
)
CHANGES = (
    select(*FEED_COLUMNS)
    .where(
        revocations.c.seq > bindparam("after"),
        revocations.c.seq <= bindparam("upto"),
        # "+ 0" keeps the planner on the seq index: walked in order, a page reads about
        # `limit` rows. Through the expires_at_ms index, SQLite would read every row in force
        # and sort them (measured: 140 ms a page with 200,000 in force, against a few ms).
        (revocations.c.expires_at_ms + 0) > bindparam("now_ms"),
    )
    .order_by(revocations.c.seq)
    .limit(bindparam("limit"))
)


_KINDS = {kind.value: kind for kind in RevocationKind}


def entry_from_row(row: Sequence[Any]) -> RevocationEntry:
    # By position, in FEED_COLUMNS order: a snapshot page converts thousands of rows.
    kind, subject, not_after_s, except_ticket, expires_at_ms, _seq = row
    return RevocationEntry(
        Revocation(_KINDS[kind], subject, not_after_s, except_ticket), expires_at_ms
    )


_TAKE_NEXT = (
    update(revocation_feed)
    .where(revocation_feed.c.id == COUNTER_ID)
    .values(last_seq=revocation_feed.c.last_seq + 1)
    .returning(revocation_feed.c.last_seq)
)


async def next_seq(conn: AsyncConnection) -> int:
    # The first statement writes: it takes the counter row's lock (PostgreSQL) or the
    # database's write lock (SQLite) before anything is read, so revocations are decided
    # one at a time and their numbers commit in order.
    taken = (await conn.execute(_TAKE_NEXT)).scalar_one_or_none()
    if taken is not None:
        return int(taken)
    # The row is gone (the tables were emptied by hand): start a new generation after the
    # numbers still in use, so that every verifier's cursor reads the snapshot again.
    in_use = (await conn.execute(select(func.max(revocations.c.seq)))).scalar()
    values = {"id": COUNTER_ID, "last_seq": int(in_use or 0), "generation": secrets.token_hex(16)}
    if conn.dialect.name == "postgresql":
        await conn.execute(
            postgresql_insert(revocation_feed).values(values).on_conflict_do_nothing()
        )
    else:
        await conn.execute(sqlite_insert(revocation_feed).values(values).on_conflict_do_nothing())
    return int((await conn.execute(_TAKE_NEXT)).scalar_one())
