"""One thread that runs blocking reads for the event loop, in batches.

A read of the SQLite file is a system call that can wait on the disk, and a busy database
makes it wait longer; on the event loop that wait would stall every other request of the
worker. Here the reads run on a thread of their own, which owns its connection. Under
load the thread finds several reads queued each time it wakes, runs them all, and wakes
the loop once for the whole batch, so the hand-off is paid once per batch rather than
once per read.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Work = Callable[[Any], Any]
# A submitted read: the loop to answer on, the future to answer, the work.
_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", _Work]
_STOP = None


def _deliver(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.done():
            continue  # the caller was cancelled meanwhile
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class ReadThread:
    """Runs ``work(resource)`` on one thread; ``open_resource`` is called on that thread."""

    def __init__(
        self,
        open_resource: Callable[[], Any],
        close_resource: Callable[[Any], None],
        *,
        name: str = "xpay-auth-reads",
    ) -> None:
        self._open = open_resource
        self._close = close_resource
        self._name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                    thread.start()
                    self._thread = thread

    async def run(self, work: Callable[[Any], T]) -> T:
        """``work(resource)``'s result, computed on the thread; its exception, raised here."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, work))
        return await future

    def _serve(self) -> None:
        resource: Any = None
        stopping = False
        try:
            while not stopping:
                batch: list[_Item] = []
                item = self._queue.get()
                while item is not _STOP:
                    batch.append(item)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                else:
                    stopping = True
                if resource is None and batch:
                    try:
                        resource = self._open()
                    except Exception as exc:  # noqa: BLE001  handed to every waiting caller
                        self._answer(batch, failure=exc)
                        continue
                self._answer(batch, resource=resource)
        finally:
            if resource is not None:
                self._close(resource)

    @staticmethod
    def _answer(
        batch: list[_Item], *, resource: Any = None, failure: BaseException | None = None
    ) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for loop, future, work in batch:
            if failure is not None:
                outcome: tuple[asyncio.Future[Any], bool, Any] = (future, False, failure)
            else:
                try:
                    outcome = (future, True, work(resource))
                except Exception as exc:  # noqa: BLE001  raised again in the caller's task
                    outcome = (future, False, exc)
            by_loop.setdefault(loop, []).append(outcome)
        for loop, results in by_loop.items():
            # A loop that has closed has no caller left to answer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, results)

    def close(self) -> None:
        """Stop the thread after the reads already queued; it closes its resource."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=10)
