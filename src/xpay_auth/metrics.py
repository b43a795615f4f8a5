"""Prometheus metrics, served at ``GET /metrics``.

Each app has its own registry (tests build many apps in one process). With several
uvicorn workers, ``xpay-auth serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start, and ``/metrics`` sums what every worker wrote there.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "xpay_auth_requests",
            "Client calls answered, by call, outcome (success, refused, error) and HTTP status.",
            ["call", "outcome", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "xpay_auth_request_duration_seconds",
            "Time to answer a client call, by call.",
            ["call"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, call: str, status: int, *, refused: bool, seconds: float) -> None:
        outcome = "error" if status != 200 else ("refused" if refused else "success")  # noqa: PLR2004
        self.requests.labels(call, outcome, str(status)).inc()
        self.duration.labels(call).observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
