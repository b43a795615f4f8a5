"""Cost of reading a ``/client/authenticate`` body through its model, per call.

Compared with the hand-written reading the service used before the models (reproduced
here as the baseline): ``python bench/validate_body.py``.
"""

from __future__ import annotations

import functools
import time
import timeit
from typing import Any

from xpay_auth.errors import InvalidField
from xpay_auth.http.bodies import Authenticate
from xpay_auth.http.wire import parse

BODY = {"username": "ivy@example.com", "secretKey": "xpsk_" + "a" * 60, "isAPI": True}
RUNS = 200_000


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        raise InvalidField(name, "is required")
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    if len(value) > limit:
        raise InvalidField(name, f"must be at most {limit} characters")
    if "\x00" in value:
        raise InvalidField(name, "must not contain NUL characters")
    return value


def by_hand(body: dict[str, Any]) -> tuple[str, str, bool]:
    flag = body.get("isAPI")
    if not isinstance(flag, bool):
        raise InvalidField("isAPI", "must be true or false")
    return _text(body, "username", 384), _text(body, "secretKey", 1024), flag


def main() -> None:
    def by_model(body: dict[str, Any]) -> Authenticate:
        return parse(Authenticate, body)

    for label, read in (("by hand", by_hand), ("model", by_model)):
        # CPU time of this process: on a shared machine, wall time measures the neighbours.
        runs = timeit.repeat(
            functools.partial(read, BODY), number=RUNS, repeat=5, timer=time.process_time
        )
        best = min(runs)
        print(f"{label:8} {best / RUNS * 1e6:6.2f} us a body")


if __name__ == "__main__":
    main()
