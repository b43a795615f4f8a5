"""Prometheus metrics, served at ``GET /metrics``.

Each app has its own registry (tests build many apps in one process). With several
uvicorn workers, ``xpay-auth serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start, and ``/metrics`` sums what every worker wrote there.

A request only adds to plain counters in process memory (a few hundred nanoseconds);
prometheus_client's own calls take tens of microseconds each in multiprocess mode (a lock
and a memory-mapped file per value). :meth:`Metrics.publish` hands the sums to the
registry: on every scrape of this process, and every ``PUBLISH_SECONDS`` from the app's
background task, so other workers' counts reach a scrape at most that late.
"""

from __future__ import annotations

import bisect
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PUBLISH_SECONDS = 1.0


class _Latency:
    """Observations of one call not yet published: per-bucket counts and their sum."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        # One slot per upper bound, and the last for +Inf, as prometheus_client keeps them.
        self.buckets = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0


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

        self._counts: dict[tuple[str, int, bool], int] = {}
        self._latency: dict[str, _Latency] = {}

    def observe(self, call: str, status: int, *, refused: bool, seconds: float) -> None:
        key = (call, status, refused)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        latency = self._latency.get(call)
        if latency is None:
            latency = self._latency[call] = _Latency()
        latency.buckets[bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def publish(self) -> None:
        """Add what was observed since the last call to the registry's values."""
        counts, self._counts = self._counts, {}
        latencies, self._latency = self._latency, {}
        for (call, status, refused), count in counts.items():
            outcome = "error" if status != 200 else ("refused" if refused else "success")  # noqa: PLR2004
            self.requests.labels(call, outcome, str(status)).inc(count)
        for call, latency in latencies.items():
            child = self.duration.labels(call)
            # Histogram.observe takes one value at a time; its per-bucket values take sums.
            values = child._buckets  # noqa: SLF001  pinned by tests/unit/test_metrics.py
            for index, count in enumerate(latency.buckets):
                if count:
                    values[index].inc(count)
            child._sum.inc(latency.total)  # noqa: SLF001

    def exposition(self) -> bytes:
        self.publish()
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
