"""Write-behind for facts that must not slow a response: sessions, key use, audit events.

Requests hand their facts to the writer and return; a background task writes them in
batches every ``flush_interval`` seconds, and :meth:`close` writes what is left on a clean
shutdown. A failed flush keeps its batch and tries again, so a database hiccup loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from xpay_auth.domain import Session
from xpay_auth.logs import log_event
from xpay_auth.storage.failures import is_transient
from xpay_auth.storage.repositories import Database

T = TypeVar("T")

# Key use is written at most once a minute per key: enough for "last used" and cheap.
LAST_USE_RESOLUTION_MS = 60_000
# Past this many pending facts a broken database would exhaust memory; drop with a log.
MAX_PENDING = 200_000


class BackgroundWriter:
    def __init__(self, database: Database, flush_interval: float) -> None:
        self._database = database
        self._interval = flush_interval
        self._sessions: list[Session] = []
        self._last_use: dict[str, int] = {}
        self._last_use_written: dict[str, int] = {}
        self._audit: list[Mapping[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="xpay-auth-writer")

    def add_session(self, session: Session) -> None:
        if len(self._sessions) < MAX_PENDING:
            self._sessions.append(session)
        else:
            log_event("writer.dropped", level=logging.ERROR, kind="session", ticket=session.ticket)

    def key_used(self, key_id: str, at: int) -> None:
        if at - self._last_use_written.get(key_id, 0) >= LAST_USE_RESOLUTION_MS:
            self._last_use[key_id] = at

    def audit(self, event: Mapping[str, Any]) -> None:
        if len(self._audit) < MAX_PENDING:
            self._audit.append(event)
        else:
            log_event("writer.dropped", level=logging.ERROR, kind="audit", audit=event.get("event"))

    @property
    def pending(self) -> int:
        return len(self._sessions) + len(self._last_use) + len(self._audit)

    async def flush(self) -> None:
        async with self._lock:
            sessions, self._sessions = self._sessions, []
            last_use, self._last_use = self._last_use, {}
            audit, self._audit = self._audit, []
            try:
                await self._write_batch(self._database.sessions.insert_many, sessions, "session")
                sessions = []
                await self._database.api_keys.record_last_use(last_use)
                self._last_use_written.update(last_use)
                last_use = {}
                await self._write_batch(self._database.audit.insert_many, audit, "audit")
            except Exception:
                # Whatever was not written goes back before what arrived meanwhile, so
                # one failed write loses neither its own batch nor the ones after it.
                self._sessions[:0] = sessions
                self._last_use = {**last_use, **self._last_use}
                self._audit[:0] = audit
                raise

    async def _write_batch(
        self, write: Callable[[list[T]], Awaitable[None]], batch: list[T], kind: str
    ) -> None:
        """Write ``batch``; when the database refuses it for its content, row by row.

        A database that is away raises, and the caller keeps the batch for the next flush.
        A row the database can never take (a constraint, a value it rejects) is logged and
        dropped, so that one bad row cannot hold every later row back for ever.
        """
        try:
            await write(batch)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(batch) == 1:
                log_event(
                    "writer.dropped", level=logging.ERROR, kind=kind, error=type(exc).__name__
                )
                return
            for row in batch:
                await self._write_batch(write, [row], kind)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001  keep going; the batch is retried
                log_event("writer.flush_failed", level=logging.WARNING, exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            # Cancel only between flushes: a cancellation inside one would drop its batch.
            async with self._lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
