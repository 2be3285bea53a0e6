"""Health and metrics of this hub, for nginx, the compose healthchecks and Prometheus.

    GET /healthz   200 while the process answers
    GET /readyz    200 when the store and (when configured) Redis answer, else 503 with what does not
    GET /metrics   the Prometheus text format (web/metrics.py)

Who may: anyone, without signing in (public in the permission table's sense: no account, no personal
data in any of the three). /metrics is kept off the public door: nginx denies it (deploy/nginx.conf), and
Prometheus scrapes each hub on the internal network.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from web import metrics
from web.bootstrap import services

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "hub": services(request).health.hub_id}, headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    checks = await services(request).health.readiness()
    ready = checks["store"] is True and checks["redis"] is not False
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503, headers=NO_STORE)


async def metrics_text(request: Request) -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers=NO_STORE)


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics_text),
]
