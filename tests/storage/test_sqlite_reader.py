"""SQLite hot reads run off the event loop, on a thread of their own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Select, column, select, table
from sqlalchemy.exc import OperationalError

from xpay_auth.storage.reader import SqliteReader

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

_ROWS: Select[Any] = select(column("x")).select_from(table("t")).where(column("x") == 1)


def _database(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x INTEGER)")
    connection.execute("INSERT INTO t VALUES (1)")
    connection.commit()
    connection.close()


async def _max_gap_while(work: asyncio.Future[Any]) -> float:
    """The longest the loop went without running this ticker while ``work`` was pending."""
    gap, last = 0.0, time.monotonic()
    while not work.done():
        await asyncio.sleep(0.005)
        now = time.monotonic()
        gap, last = max(gap, now - last), now
    return gap


async def test_a_read_waiting_on_a_lock_leaves_the_event_loop_running(tmp_path: Path) -> None:
    """While a read waits for another process's lock, other requests keep being served."""
    path = tmp_path / "locked.db"
    _database(path)  # a rollback journal, where a writer's lock makes readers wait
    reader = SqliteReader(f"sqlite:///{path}")
    locker = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.4, locker.execute, ["COMMIT"])
    release.start()
    try:
        started = time.monotonic()
        read = asyncio.ensure_future(reader.first(_ROWS))
        gap = await _max_gap_while(read)
        assert await read == {"x": 1}
        assert time.monotonic() - started >= 0.3
        assert gap < 0.1
    finally:
        release.join()
        locker.close()
        await reader.close()


async def test_reads_answer_in_order_and_errors_reach_their_caller(tmp_path: Path) -> None:
    """Many concurrent reads each get their own row; a failing one raises only in its caller."""
    path = tmp_path / "many.db"
    _database(path)
    reader = SqliteReader(f"sqlite:///{path}")
    missing: Select[Any] = select(column("x")).select_from(table("nope"))
    try:
        results = await asyncio.gather(
            *(reader.first(_ROWS) for _ in range(200)),
            reader.first(missing),
            return_exceptions=True,
        )
        assert results[:200] == [{"x": 1}] * 200
        assert isinstance(results[200], OperationalError)
        assert await reader.first(_ROWS) == {"x": 1}
    finally:
        await reader.close()


async def test_a_closed_reader_stops_its_thread(tmp_path: Path) -> None:
    """Closing the reader ends its thread, and a later read starts a new one."""
    path = tmp_path / "closed.db"
    _database(path)
    reader = SqliteReader(f"sqlite:///{path}")
    assert await reader.first(_ROWS) == {"x": 1}
    thread = reader._thread._thread
    assert thread is not None
    assert thread.is_alive()
    await reader.close()
    assert not thread.is_alive()
    assert await reader.first(_ROWS) == {"x": 1}
    await reader.close()
