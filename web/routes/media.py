"""The livestream over HTTP: the pages (present, watch, hall screen, the list), the media API, HLS files
and recordings. Decode, call the media service, encode; signalling itself goes over the hub's WebSocket.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from attendance.devices import Device
from conference.accounts import Action, Role, User, may
from conference.errors import ConferenceError, Forbidden
from web.bootstrap import services
from web.http.auth import current_device, current_user, optional_user
from web.http.templating import language, render
from web.i18n import MESSAGES, translator
from web.live.endpoint import live as hub_socket
from web.media.service import Audience, MediaService

HLS_PLAYLIST_CACHE = "public, max-age=1"  # a CDN/nginx serves one fetch a second to everyone
HLS_SEGMENT_CACHE = "public, max-age=86400, immutable"  # a segment never changes once listed


def media(request: Request) -> MediaService:
    return services(request).media


async def requester(request: Request) -> tuple[User | None, Device | None]:
    """A kiosk or hall screen (bearer token) or a signed-in user (cookie)."""
    if request.headers.get("authorization"):
        return None, await current_device(request)
    return await current_user(request), None


async def audience(request: Request) -> Audience:
    user, device = await requester(request)
    return await media(request).audience(user, device, request.path_params["sid"])


# -- JSON API ---------------------------------------------------------------------------------------
async def media_info(request: Request) -> JSONResponse:
    """The session's broadcast state, ICE servers and codec, for a page that is about to connect."""
    who = await audience(request)
    info = media(request).info(who)
    info["may_publish"] = media(request).may_publish(who.user)
    info["may_control"] = await media(request).may_control(who.user, who)
    return JSONResponse(info, headers={"Cache-Control": "no-store"})


async def recordings_api(request: Request) -> JSONResponse:
    who = await audience(request)
    return JSONResponse({"recordings": media(request).recordings(who.session_id)},
                        headers={"Cache-Control": "no-store"})


# -- files ------------------------------------------------------------------------------------------
async def hls_file(request: Request) -> Response:
    """A playlist or segment. No sign-in: the random key in the path is the capability, handed only to
    signed-in viewers by the media API, so nginx or a CDN can cache and serve it to everyone."""
    params = request.path_params
    try:
        path = media(request).hls_file(params["sid"], params["key"], params["name"])
    except ConferenceError:
        return PlainTextResponse("not found", status_code=404, headers={"Cache-Control": "no-store"})
    if path.suffix == ".m3u8":
        return FileResponse(path, media_type="application/vnd.apple.mpegurl",
                            headers={"Cache-Control": HLS_PLAYLIST_CACHE})
    return FileResponse(path, media_type="video/mp2t", headers={"Cache-Control": HLS_SEGMENT_CACHE})


async def recording_file(request: Request) -> Response:
    """A recording (MP4, seekable with Range requests), for the session's audience."""
    who = await audience(request)
    path = media(request).recording_file(who.session_id, request.path_params["name"])
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=60"})


# -- pages ------------------------------------------------------------------------------------------
def labels(lang: str) -> dict[str, str]:
    t = translator(lang)
    return {key: t(key) for key in MESSAGES if key.startswith("media_")}


def page_config(request: Request, lang: str, **values: Any) -> dict[str, Any]:
    return {"lang": lang, "zone": services(request).settings.timezone, "labels": labels(lang), **values}


async def _session_page(request: Request) -> tuple[User, Audience, Any, Any]:
    user = await current_user(request)
    svc = services(request)
    who = await svc.media.audience(user, None, request.path_params["sid"])
    conf, session = await svc.conference.session(user, who.session_id)
    return user, who, conf, session


async def watch_page(request: Request) -> Response:
    user, who, conf, session = await _session_page(request)
    lang = await language(request)
    control = await media(request).may_control(user, who)
    return await render(request, "media_watch.html", conference=conf, session=session,
                        config=page_config(request, lang, page="watch", session=session.id,
                                           control=control, viewer_topic=user.role is Role.PARTICIPANT))


async def present_page(request: Request) -> Response:
    user, who, conf, session = await _session_page(request)
    if not media(request).may_publish(user):
        raise Forbidden("only presenters and organisers may broadcast")
    lang = await language(request)
    control = await media(request).may_control(user, who)
    return await render(request, "media_present.html", conference=conf, session=session,
                        config=page_config(request, lang, page="present", session=session.id, control=control))


async def screen_page(request: Request) -> Response:
    """A hall's screen: watches, raises the hall's hand, and sends the hall's camera when given the floor.
    Signed-in hall staff, or (no session cookie) a kiosk device whose token the page keeps locally."""
    svc = services(request)
    lang = await language(request)
    hall_id, session_id = request.path_params["hid"], request.path_params["sid"]
    user = await optional_user(request)
    hall = conf = session = None
    if user is not None:
        hall = await svc.conference.hall(user, hall_id, Action.VIEW_ATTENDANCE)
        conf, session = await svc.conference.session(user, session_id)
        if hall.conference_id != conf.id:
            raise Forbidden("this hall is not in the session's conference")
    return await render(request, "media_screen.html", hall=hall, conference=conf, session=session,
                        config=page_config(request, lang, page="screen", session=session_id, hall=hall_id,
                                           device=user is None,
                                           two_way=hall is None or hall.channel.value == "two_way"))


async def live_list(request: Request) -> Response:
    """The broadcasts a user can reach: watch, present, or run a hall screen."""
    user = await current_user(request)
    svc = services(request)
    items = []
    publish = svc.media.may_publish(user)
    for conf, sessions in await svc.conference.my_conferences(user):
        if user.role is Role.PARTICIPANT and user.person_id not in await svc.facts.invited(conf.id):
            continue
        halls = []
        if may(user, Action.VIEW_ATTENDANCE) and user.role is not Role.ORGANISER:
            halls = await svc.conference.halls(user, conf.id)
        for session in sessions:
            broadcast = svc.media.broadcasts.get(session.id)
            items.append({"conference": conf, "session": session, "halls": halls, "publish": publish,
                          "live": broadcast is not None and broadcast.channel.on_air is not None})
    return await render(request, "media_list.html", items=items)


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
    Route("/media/recordings/{sid:int}/{name}", recording_file),
]
