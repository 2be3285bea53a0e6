"""`create_app(settings)`: the one place the application is assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from web.bootstrap import build
from web.http import openapi
from web.http.auth import CookieSessions
from web.http.errors import HANDLERS
from web.http.headers import SecuredApp
from web.live import endpoint as live
from web.routes import (
    accounts,
    administration,
    badges,
    checkins,
    conferences,
    credentials,
    dashboard,
    devices,
    documents,
    faces,
    feedback,
    halls,
    health,
    kiosk,
    media,
    offline,
    reports,
)
from web.settings import Settings

STATIC = Path(__file__).parent / "static"
SESSION_HOURS = 12


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with build(settings) as services:
            app.state.services = services
            yield

    return SecuredApp(
        always_https=settings.secure_cookies,
        routes=[
            *checkins.routes,  # first: a kiosk's check-in is the busiest request, matched before ~25 others
            *accounts.routes,
            *administration.routes,
            *conferences.routes,
            *devices.routes,
            *halls.routes,
            *dashboard.routes,
            *openapi.routes,
            *live.routes,
            *media.routes,
            *credentials.routes,
            *badges.routes,
            *faces.routes,
            *kiosk.routes,
            *documents.routes,
            *feedback.routes,
            *reports.routes,
            *health.routes,
            *offline.routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(CookieSessions, secret_key=settings.secret_key, session_cookie="hoinghi",
                               max_age=SESSION_HOURS * 3600, same_site="lax", https_only=settings.secure_cookies)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
