"""The livestream over HTTP: the pages (present, watch, hall screen, the list), the media API, HLS files
and recordings. Decode, call the media service, encode; signalling itself goes over the hub's WebSocket.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from attendance.devices import Device
from conference.accounts import User
from conference.errors import ConferenceError
from web.bootstrap import services
from web.http.auth import current_device, current_user, optional_user
from web.http.templating import language, render
from web.i18n import MESSAGES, translator
from web.live.endpoint import live as hub_socket
from web.media.access import MediaAccess
from web.media.api import MediaApi

HLS_PLAYLIST_CACHE = "public, max-age=1"  # a CDN/nginx serves one fetch a second to everyone
HLS_SEGMENT_CACHE = "public, max-age=86400, immutable"  # a segment never changes once listed


def api(request: Request) -> MediaApi:
    return services(request).media.api


def access(request: Request) -> MediaAccess:
    return services(request).media.access


async def requester(request: Request) -> tuple[User | None, Device | None]:
    """A kiosk or hall screen (bearer token) or a signed-in user (cookie)."""
    if request.headers.get("authorization"):
        return None, await current_device(request)
    return await current_user(request), None


# -- JSON API ---------------------------------------------------------------------------------------
async def media_info(request: Request) -> JSONResponse:
    """The session's broadcast state, ICE servers and codec, for a page that is about to connect."""
    info = await api(request).info(*await requester(request), request.path_params["sid"])
    return JSONResponse(info, headers={"Cache-Control": "no-store"})


async def recordings_api(request: Request) -> JSONResponse:
    recordings = await api(request).recording_list(*await requester(request), request.path_params["sid"])
    return JSONResponse({"recordings": recordings}, headers={"Cache-Control": "no-store"})


# -- files ------------------------------------------------------------------------------------------
async def hls_file(request: Request) -> Response:
    """A playlist or segment. No sign-in: the random key in the path is the capability, handed only to
    signed-in viewers by the media API, so nginx or a CDN can cache and serve it to everyone. Under a viewer's
    own key (`.../<viewer>/<name>`), a segment fetched counts as that viewer's media flowing."""
    params = request.path_params
    try:
        path = await api(request).hls_file(params["sid"], params["key"], params["name"], params.get("viewer"))
    except ConferenceError:
        return PlainTextResponse("not found", status_code=404, headers={"Cache-Control": "no-store"})
    if path.suffix == ".m3u8":
        return FileResponse(path, media_type="application/vnd.apple.mpegurl",
                            headers={"Cache-Control": HLS_PLAYLIST_CACHE})
    return FileResponse(path, media_type="video/mp2t", headers={"Cache-Control": HLS_SEGMENT_CACHE})


async def hls_fetched(request: Request) -> Response:
    """nginx's question (auth_request) before it serves an HLS file from its cache: the original URI, whose
    viewer's fetch is recorded here; 200 (empty), or 403 for a forged viewer key or a path that names no file
    (nginx answers 403 then)."""
    found = await api(request).hls_fetched(request.headers.get("x-original-uri", ""))
    return Response(status_code=200 if found else 403, headers={"Cache-Control": "no-store"})


async def recording_file(request: Request) -> Response:
    """A recording (MP4, seekable with Range requests), for the session's audience."""
    params = request.path_params
    path = await api(request).recording_file(*await requester(request), params["sid"], params["name"])
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=60"})


# -- pages ------------------------------------------------------------------------------------------
def labels(lang: str) -> dict[str, str]:
    t = translator(lang)
    return {key: t(key) for key in MESSAGES if key.startswith("media_")}


def page_config(request: Request, lang: str, **values: Any) -> dict[str, Any]:
    return {"lang": lang, "zone": services(request).settings.timezone, "labels": labels(lang), **values}


async def watch_page(request: Request) -> Response:
    page = await access(request).session_page(await current_user(request), request.path_params["sid"])
    lang = await language(request)
    return await render(request, "media_watch.html", conference=page.conference, session=page.session,
                        config=page_config(request, lang, page="watch", session=page.session.id,
                                           control=page.control, viewer_topic=page.viewer_topic))


async def present_page(request: Request) -> Response:
    page = await access(request).session_page(await current_user(request), request.path_params["sid"], present=True)
    lang = await language(request)
    return await render(request, "media_present.html", conference=page.conference, session=page.session,
                        config=page_config(request, lang, page="present", session=page.session.id,
                                           control=page.control))


async def screen_page(request: Request) -> Response:
    """A hall's screen: watches, raises the hall's hand, and sends the hall's camera when given the floor.
    Signed-in hall staff, or (no session cookie) a kiosk device whose token the page keeps locally."""
    lang = await language(request)
    hall_id, session_id = request.path_params["hid"], request.path_params["sid"]
    user = await optional_user(request)
    hall = conf = session = None
    if user is not None:
        hall, conf, session = await access(request).screen(user, hall_id, session_id)
    return await render(request, "media_screen.html", hall=hall, conference=conf, session=session,
                        config=page_config(request, lang, page="screen", session=session_id, hall=hall_id,
                                           device=user is None,
                                           two_way=hall is None or hall.channel.value == "two_way"))


async def live_list(request: Request) -> Response:
    """The broadcasts a user can reach: watch, present, or run a hall screen."""
    return await render(request, "media_list.html", items=await api(request).live_list(await current_user(request)))


routes = [
    # the hub's own WebSocket (docs/PROTOCOL.md) at a second path, `/media/ws?session=S`, so that a proxy can
    # send everything of one session's media to the one process carrying it (deploy/nginx.conf)
    WebSocketRoute("/media/ws", hub_socket),
    Route("/live", live_list),
    Route("/sessions/{sid:int}/watch", watch_page),
    Route("/sessions/{sid:int}/present", present_page),
    Route("/halls/{hid:int}/sessions/{sid:int}/screen", screen_page),
    Route("/api/sessions/{sid:int}/media", media_info),
    Route("/api/sessions/{sid:int}/recordings", recordings_api),
    Route("/media/hls/{sid:int}/{key}/{name}", hls_file),
    Route("/media/hls/{sid:int}/{key}/{viewer}/{name}", hls_file),
    Route("/media/hls-fetch", hls_fetched),
    Route("/media/recordings/{sid:int}/{name}", recording_file),
]
