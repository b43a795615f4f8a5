"""Prometheus metrics of the client calls."""

from __future__ import annotations

import re

from prometheus_client import generate_latest

from tests.support import Harness
from xpay_auth.metrics import Metrics


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_successes_refusals_and_errors(harness: Harness) -> None:
    """Each authenticate outcome is counted under its own label, with its latency."""
    harness.create_user("metrics@example.com")
    _, secret = harness.create_key("metrics@example.com")
    harness.login("metrics@example.com", secret)
    harness.post(
        "/client/authenticate", {"username": "metrics@example.com", "secretKey": "x", "isAPI": True}
    )
    harness.client.post(
        "/client/authenticate", content=b"[]", headers={"Content-Type": "application/json"}
    )

    response = harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    total = "xpay_auth_requests_total"
    assert _sample(text, total, call="authenticate", outcome="success", status="200") == 1
    assert _sample(text, total, call="authenticate", outcome="refused", status="200") == 1
    assert _sample(text, total, call="authenticate", outcome="error", status="400") == 1
    assert _sample(text, "xpay_auth_request_duration_seconds_count", call="authenticate") == 3


def test_counts_are_published_once_each() -> None:
    """Observations reach the registry on publish, once: publishing again adds nothing."""
    metrics = Metrics()
    for seconds in (0.0005, 0.001, 0.003, 9.0):
        metrics.observe("authenticate", 200, refused=False, seconds=seconds)
    metrics.observe("authenticate", 200, refused=True, seconds=0.002)
    metrics.publish()
    metrics.publish()
    text = generate_latest(metrics.registry).decode()
    total = "xpay_auth_requests_total"
    assert _sample(text, total, call="authenticate", outcome="success", status="200") == 4
    assert _sample(text, total, call="authenticate", outcome="refused", status="200") == 1
    bucket = "xpay_auth_request_duration_seconds_bucket"
    assert _sample(text, bucket, call="authenticate", le="0.001") == 2
    assert _sample(text, bucket, call="authenticate", le="0.005") == 4
    assert _sample(text, bucket, call="authenticate", le="5.0") == 4
    assert _sample(text, bucket, call="authenticate", le="+Inf") == 5
    total_seconds = _sample(text, "xpay_auth_request_duration_seconds_sum", call="authenticate")
    assert abs(total_seconds - 9.0065) < 1e-9


def test_a_scrape_publishes_what_this_worker_observed(harness: Harness) -> None:
    """A call answered just before a scrape is already in that scrape."""
    harness.client.post("/client/session")
    text = harness.client.get("/metrics").text
    assert _sample(text, "xpay_auth_requests_total", call="session", status="401") == 1
