"""QR credentials over HTTP: the participant's "Mã QR của tôi" page, QR images, re-issuing a lost card.

Handlers decode, call one use case of `Cards`, encode. QR images are drawn in a worker thread. A QR
is as good as the card it is printed on, so no response here may be cached by the browser or a proxy; the
member's own page is kept by the service worker (web/static/sw.js), which drops it when the server says so.
"""

from __future__ import annotations

import asyncio

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from web.bootstrap import services
from web.http.auth import api_user, current_user
from web.http.decoding import path_int, query_int
from web.http.encoding import ok
from web.http.templating import render
from web.render import qr

NO_STORE = {"Cache-Control": "no-store, private"}


async def my_qr(request: Request) -> Response:
    """The participant's own code, to show on the phone or print."""
    card = await services(request).cards.own(await current_user(request))
    image = await asyncio.to_thread(qr.svg, card.text, card.person.full_name)
    # Markup: the SVG is our own drawing, and the one text in it (the name) is escaped by qr.svg
    response = await render(request, "my_qr.html", card=card, qr_svg=Markup(image),
                            refreshed_at=services(request).conference.clock())
    response.headers.update(NO_STORE)
    return response


async def person_text(request: Request) -> str:
    """A person's QR text for staff who hand out cards (audited), for `?conference_id=` or their coming one."""
    return await services(request).cards.text(await api_user(request), path_int(request, "pid"),
                                              query_int(request, "conference_id", 0) or None)


async def person_qr_png(request: Request) -> Response:
    text = await person_text(request)
    return Response(await asyncio.to_thread(qr.png, text), media_type="image/png", headers=NO_STORE)


async def person_qr_svg(request: Request) -> Response:
    text = await person_text(request)
    return Response(await asyncio.to_thread(qr.svg, text), media_type="image/svg+xml", headers=NO_STORE)


async def reissue(request: Request) -> JSONResponse:
    """A lost card: a new credential, the old one refused from now on."""
    issued = await services(request).cards.reissue(await api_user(request), path_int(request, "pid"))
    return ok({"person_id": issued.person_id, "credential_id": issued.credential_id,
               "issued_at": issued.issued_at, "valid_until": issued.valid_until}, 201)


routes = [
    Route("/me/qr", my_qr),
    Route("/api/persons/{pid:int}/qr.png", person_qr_png),
    Route("/api/persons/{pid:int}/qr.svg", person_qr_svg),
    Route("/api/persons/{pid:int}/credential", reissue, methods=["POST"]),
]
