"""One HTTP client for the suite's plain calls to the servers it starts.

Building an httpx client loads the CA bundle, about 25 ms of CPU, which every top-level
``httpx.get`` or ``httpx.post`` paid again, well over a thousand times a run. This one is
built once per process. It keeps no connection alive, so every call still opens a
connection of its own, as a client of its own would, and threads may share it.
"""

from __future__ import annotations

import httpx

HTTP = httpx.Client(limits=httpx.Limits(max_connections=None, max_keepalive_connections=0))
