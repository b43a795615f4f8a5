"""JSON logs: one object a line, events named ``noun.verb`` (listed in ``docs/events.md``).

Callers pass facts as keyword fields; no secret, password or token is ever among them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

LOGGER_NAME = "xpay_auth"
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's duplicate of the message with terminal colours
}

logger = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS
        )
        if record.exc_info:
            entry["exception"] = hide_statement_parameters(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, separators=(",", ":"))


# SQLAlchemy renders a failed statement's bound values on one line of its message. Engines
# are built with hide_parameters; this catches a message from any other source as well.
_PARAMETERS_LINE = re.compile(r"^\[parameters: .*$", re.MULTILINE)


def hide_statement_parameters(text: str) -> str:
    """``text`` with every ``[parameters: ...]`` line of a SQLAlchemy error replaced."""
    return _PARAMETERS_LINE.sub("[parameters hidden]", text)


def configure_logging(level: str = "INFO") -> None:
    """Send the service's and uvicorn's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level.upper())
        log.propagate = False
    # Access lines would duplicate request.* events and carry no request uuid.
    logging.getLogger("uvicorn.access").disabled = True


def log_event(
    event: str, *, level: int = logging.INFO, exc_info: Any = None, **fields: Any
) -> None:
    logger.log(level, event, exc_info=exc_info, extra=fields)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RepeatLimiter:
    """At most one log line per kind of failure per ``interval`` seconds.

    During an outage every request fails the same way; one line (with its traceback) per
    interval says as much as thousands, and the count of the lines held back since is given
    on the next line that is written. At most ``max_kinds`` kinds are remembered.
    """

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._max_kinds = max_kinds
        # kind -> [moment of its last written line, lines held back since]
        self._kinds: OrderedDict[Hashable, list[float]] = OrderedDict()

    def admit(self, kind: Hashable) -> int | None:
        """None to hold this line back; else the number held back since the last one."""
        now = self._clock()
        entry = self._kinds.get(kind)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return None
        held = int(entry[1]) if entry is not None else 0
        self._kinds[kind] = [now, 0]
        self._kinds.move_to_end(kind)
        while len(self._kinds) > self._max_kinds:
            self._kinds.popitem(last=False)
        return held
