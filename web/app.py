"""`create_app(settings)`: the one place the application is assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from web import (
    api,
    checkin_api,
    credential_routes,
    dashboard,
    document_pages,
    face_routes,
    feedback_pages,
    hall_pages,
    openapi,
    pages,
    report_pages,
)
from web.errors import HANDLERS
from web.kiosk import routes as kiosk
from web.live import endpoint as live
from web.media import routes as media
from web.services import build
from web.settings import Settings

STATIC = Path(__file__).parent / "static"
SESSION_HOURS = 12


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with build(settings) as services:
            app.state.services = services
            yield

    return Starlette(
        routes=[
            *pages.routes,
            *api.routes,
            *checkin_api.routes,
            *hall_pages.routes,
            *dashboard.routes,
            *openapi.routes,
            *live.routes,
            *media.routes,
            *credential_routes.routes,
            *face_routes.routes,
            *kiosk.routes,
            *document_pages.routes,
            *feedback_pages.routes,
            *report_pages.routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="hoinghi",
                               max_age=SESSION_HOURS * 3600, same_site="lax", https_only=settings.secure_cookies)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
