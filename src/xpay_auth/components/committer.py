"""Group commit: a request's new rows are written before it is answered, many requests at once.

A request hands its rows (a session, its audit events, a key's last use) to
:meth:`Committer.commit` and waits. While one batch is being written, the rows of every
request that arrives queue up; when the write ends, all of them go into the next batch, one
transaction with one ``executemany`` (or, on PostgreSQL, one statement) per table. So each
request waits for at most the batch in progress and its own, and the more requests there are,
the more each commit carries.

Nothing is acknowledged that is not written:

- the database is away or busy: every request of the batch fails with 503 and
  ``Retry-After``, and nothing of it was written;
- the database refuses a row for its content: the batch is written again request by request,
  so that only the request with that row fails (500, details in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from xpay_auth.domain import Session
from xpay_auth.errors import InternalError, StorageUnavailable, XpayAuthError
from xpay_auth.logs import log_event
from xpay_auth.storage.batch import Batch, BatchStore
from xpay_auth.storage.failures import is_transient

# Key use is written at most once a minute per key: enough for "last used" and cheap.
LAST_USE_RESOLUTION_MS = 60_000


class Committer:
    def __init__(self, store: BatchStore) -> None:
        self._store = store
        self._waiting: list[tuple[Batch, asyncio.Future[None]]] = []
        # Batches written at once: one on SQLite (one writer at a time anyway), more where the
        # database commits in parallel, so that a batch fills while another is in flight.
        self._lanes: set[asyncio.Task[None]] = set()
        self._last_use_written: dict[str, int] = {}

    @property
    def pending(self) -> int:
        """Requests waiting for their rows to be committed."""
        return len(self._waiting)

    async def commit(
        self,
        *,
        sessions: Iterable[Session] = (),
        audit: Iterable[Mapping[str, Any]] = (),
        key_use: Mapping[str, int] | None = None,
    ) -> None:
        """Write these rows, with whatever else is waiting; return once they are committed.

        Raises :class:`StorageUnavailable` (503) when the database could not take the batch,
        and :class:`InternalError` when it refused one of these rows for its content.
        """
        batch = Batch(sessions=list(sessions), audit=list(audit), last_use=self._due(key_use))
        if not len(batch):
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((batch, done))
        if len(self._lanes) < self._store.lanes:
            self._lanes.add(asyncio.create_task(self._drain(), name="xpay-auth-committer"))
        # A request cancelled here (its client left) stops waiting; its rows are written.
        await done

    def _due(self, key_use: Mapping[str, int] | None) -> dict[str, int]:
        if not key_use:
            return {}
        return {
            key_id: at
            for key_id, at in key_use.items()
            if at - self._last_use_written.get(key_id, 0) >= LAST_USE_RESOLUTION_MS
        }

    async def _drain(self) -> None:
        """Commit batch after batch while requests wait; then end until the next one."""
        lane = asyncio.current_task()
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    await self._write_group(group)
                except BaseException as exc:
                    # Cancelled mid-write (the loop is closing): nobody may wait for ever.
                    self._fail(group, exc)
                    raise
        finally:
            # Left in the same step as the last look at the queue: a request queued after
            # it finds the lane gone and starts a new one, never waits on a finished lane.
            if lane is not None:
                self._lanes.discard(lane)

    async def _write_group(self, group: list[tuple[Batch, asyncio.Future[None]]]) -> None:
        batch = Batch()
        for rows, _ in group:
            batch.add(rows)
        try:
            await self._store.write(batch)
        except Exception as exc:  # noqa: BLE001  every kind of failure is answered below
            if is_transient(exc) or len(group) == 1:
                self._fail(group, exc)
                return
            # Some row was refused for its content: find whose, one request at a time.
            for rows, done in group:
                await self._write_group([(rows, done)])
            return
        self._last_use_written.update(batch.last_use)
        for _, done in group:
            if not done.done():
                done.set_result(None)

    def _fail(self, group: list[tuple[Batch, asyncio.Future[None]]], exc: BaseException) -> None:
        transient = is_transient(exc) or not isinstance(exc, Exception)
        log_event(
            "commit.failed",
            level=logging.WARNING if transient else logging.ERROR,
            requests=len(group),
            transient=transient,
            error=type(exc).__name__,
        )
        for _, done in group:
            if done.done():
                continue
            # One error each: every answer carries a tag of its own.
            error: XpayAuthError
            if transient:
                error = StorageUnavailable(detail=f"commit failed: {type(exc).__name__}")
            else:
                error = InternalError(detail=f"row refused: {type(exc).__name__}: {exc}"[:500])
            error.__cause__ = exc
            done.set_exception(error)

    async def close(self) -> None:
        """Wait for the batches in progress, then close the store."""
        while self._lanes:
            with contextlib.suppress(Exception):
                await asyncio.shield(next(iter(self._lanes)))
        await self._store.close()
