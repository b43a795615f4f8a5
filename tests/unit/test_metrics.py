"""Prometheus metrics of the client calls."""

from __future__ import annotations

import re

from tests.support import Harness


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
