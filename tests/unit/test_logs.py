"""JSON logs: one object a line, the event name and its fields."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest

from xpay_auth import logs

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger(logs.LOGGER_NAME)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_event_writes_one_json_line_with_its_fields(captured: io.StringIO) -> None:
    """An event is one JSON object holding ts, level, the event name and its fields."""
    logs.log_event("login.failed", uuid="u-1", tag="t-1", attempts=3)
    [entry] = _lines(captured)
    assert entry["event"] == "login.failed"
    assert entry["level"] == "info"
    assert entry["uuid"] == "u-1"
    assert entry["tag"] == "t-1"
    assert entry["attempts"] == 3
    assert isinstance(entry["ts"], float)
    assert "msg" not in entry
    assert "args" not in entry


def test_levels_and_unserialisable_values(captured: io.StringIO) -> None:
    """Levels are lower-case names, and values JSON cannot hold are written as text."""
    logs.log_event("writer.dropped", level=logging.ERROR, thing={1, 2}.__class__)
    [entry] = _lines(captured)
    assert entry["level"] == "error"
    assert entry["thing"] == "<class 'set'>"


def test_exceptions_are_one_line_of_json(captured: io.StringIO) -> None:
    """An exception's traceback is kept inside the one JSON line."""
    try:
        raise RuntimeError("boom")  # noqa: TRY301
    except RuntimeError as exc:
        logs.log_event("request.failed", level=logging.ERROR, exc_info=exc)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1
    assert "RuntimeError: boom" in json.loads(lines[0])["exception"]


def test_newlines_in_fields_cannot_forge_lines(captured: io.StringIO) -> None:
    """A field holding a newline stays inside its line, so no fake entry can be injected."""
    logs.log_event("login.failed", username='x"\n{"event":"forged"}')
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["username"] == 'x"\n{"event":"forged"}'


def test_configure_logging_sends_service_and_uvicorn_logs_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After configure_logging, the service's and uvicorn's records are JSON on stderr."""
    names = (logs.LOGGER_NAME, "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (
            logging.getLogger(name).handlers[:],
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
            logging.getLogger(name).disabled,
        )
        for name in names
    }
    try:
        logs.configure_logging("info")
        logs.log_event("server.started", database="sqlite")
        logging.getLogger("uvicorn.error").info("Uvicorn running")
        logging.getLogger(logs.LOGGER_NAME).debug("not shown")
        entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [entry["event"] for entry in entries] == ["server.started", "Uvicorn running"]
        assert logging.getLogger("uvicorn.access").disabled
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


def test_now_ms_is_milliseconds() -> None:
    """now_ms counts milliseconds since the epoch."""
    before = int(time.time() * 1000)
    value = logs.now_ms()
    assert before - 5 <= value <= int(time.time() * 1000) + 5
