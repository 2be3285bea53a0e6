"""Health and metrics of this hub, for nginx, the compose healthchecks and Prometheus.

    GET /healthz   200 while the process answers
    GET /readyz    200 when the store and (when configured) Redis answer, else 503 with what does not
    GET /metrics   the Prometheus text format (web/metrics.py)

Who may: /healthz and /readyz anyone, without signing in (no account, no personal data). /metrics only
the holder of `HOINGHI_METRICS_TOKEN` (a bearer token), or this machine when none is set
(`web/metrics.py`, `scrape_refusal`); nginx also keeps it off the public door (deploy/nginx.conf), and
Prometheus scrapes each hub on the internal network with the token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from web import metrics
from web.bootstrap import services
from web.http.auth import client_address

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "hub": services(request).health.hub_id}, headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    checks = await services(request).health.readiness()
    ready = checks["store"] is True and checks["redis"] is not False
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503, headers=NO_STORE)


async def metrics_text(request: Request) -> Response:
    refused = metrics.scrape_refusal(services(request).settings.metrics_token,
                                     request.headers.get("authorization", ""), client_address(request))
    if refused is not None:
        status, why = refused
        challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return PlainTextResponse(why, status_code=status, headers={**NO_STORE, **challenge})
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers=NO_STORE)


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics_text),
]
