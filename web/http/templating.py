"""HTML rendering: Jinja2 templates (autoescaped) with the request's language and CSRF token."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from conference.text import format_datetime, thousands
from web.bootstrap import services
from web.http.auth import csrf_token, optional_user
from web.i18n import LANGUAGES, translator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


async def language(conn: HTTPConnection, signed_in: bool = True) -> str:
    user = await optional_user(conn) if signed_in else None
    if user is not None:
        return user.language
    lang = conn.cookies.get("lang", "vi")
    return lang if lang in LANGUAGES else "vi"


async def render(request: Request, template: str, status_code: int = 200, signed_in: bool = True,
                 **context: Any) -> HTMLResponse:
    """`signed_in=False`: as to a visitor, without reading who is signed in (the store may be away)."""
    lang = await language(request, signed_in)
    zone = services(request).settings.zone

    def when(moment: datetime | None) -> str:
        return format_datetime(moment, zone) if moment else ""

    def n(number: int) -> str:
        return thousands(number) if lang == "vi" else f"{number:,}"

    response: HTMLResponse = TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": translator(lang), "lang": lang, "user": await optional_user(request) if signed_in else None,
         "csrf": csrf_token(request),
         "when": when, "n": n, **context},
        status_code=status_code,
    )
    return response
