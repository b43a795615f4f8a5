"""``GET /metrics``: Prometheus text exposition."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xpay_auth.runtime import Runtime


async def metrics(request: Request) -> Response:
    """Counters and latency histograms of the client calls, summed over workers."""
    runtime: Runtime = request.app.state.runtime
    return Response(runtime.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


routes = [Route("/metrics", metrics, methods=["GET"])]
