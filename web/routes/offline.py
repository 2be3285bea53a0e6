"""The member's pages as an installable web app: the service worker, served from the site's root.

A service worker controls only the pages under the folder it is served from, so `/sw.js` is answered here
rather than under `/static/`; its scope is the whole site (`Service-Worker-Allowed: /`), and what it keeps
is decided in the worker itself (web/static/sw.js: the signed-in member's own pages, the documents they
opened, and the static files those pages use). It is revalidated on every visit (`no-cache`), so a new
version reaches the phones at their next visit online. The web manifest and the icons are static files.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from web.http.headers import WORKER_CSP

WORKER = Path(__file__).parent.parent / "static" / "sw.js"
WORKER_HEADERS = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/", "Content-Security-Policy": WORKER_CSP}


async def service_worker(request: Request) -> Response:
    """Anyone may fetch it: it is the same public script for everyone, and holds no data."""
    return FileResponse(WORKER, media_type="text/javascript", headers=WORKER_HEADERS)


routes = [Route("/sw.js", service_worker)]
