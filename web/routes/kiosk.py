"""The kiosk page (`/kiosk`), the small device-authenticated API it needs besides the check-in API, and
the hall's kiosk list where staff make enrolment codes and revoke kiosks (`/halls/{id}/kiosks`).

The kiosk page is public: it holds nothing until the operator enrols the device with a one-time code,
and everything after that is fetched with the device token (`Authorization: Bearer …`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.accounts import Action
from conference.errors import Invalid
from web.bootstrap import services, utc_now
from web.http.auth import current_device, current_user, read_form
from web.http.decoding import number, path_int, text
from web.http.encoding import ok
from web.http.templating import language, render
from web.i18n import GREETINGS, MESSAGES, REFUSALS, translator
from web.kiosk.camera import FPS, REPEAT_WINDOW_SECONDS
from web.live.protocol import BINARY_FRAME_MAX, HEARTBEAT_S


def labels(lang: str) -> dict[str, Any]:
    """The words the kiosk script needs, in the page's language (offline verdicts included)."""
    t = translator(lang)
    index = 1 if lang == "en" else 0
    return {
        **{key: t(key) for key in MESSAGES if key.startswith("kiosk_")},
        "refusals": {reason: texts[index] for reason, texts in REFUSALS.items()},
        "greetings": {outcome: texts[index] for outcome, texts in GREETINGS.items()},
    }


async def kiosk_page(request: Request) -> Response:
    lang = await language(request)
    zone = services(request).settings.timezone
    config = {"lang": lang, "zone": zone, "labels": labels(lang), "fps": FPS, "frame_max": BINARY_FRAME_MAX,
              "repeat_seconds": REPEAT_WINDOW_SECONDS, "heartbeat_s": HEARTBEAT_S}
    return await render(request, "kiosk.html", config=config)


async def kiosk_sessions(request: Request) -> JSONResponse:
    """The kiosk's hall, its conference and the conference's sessions, for the operator to pick one."""
    svc = services(request)
    device = await current_device(request)
    hall, conf, sessions = await svc.conference.kiosk_programme(device.hall_id)
    now = utc_now()
    return ok({
        "device": {"id": device.id, "name": device.name},
        "hall": {"id": hall.id, "name": hall.name},
        "conference": {"id": conf.id, "title": conf.title},
        "sessions": [{"id": s.id, "title": s.title, "starts_at": s.starts_at, "ends_at": s.ends_at,
                      "checkin_opens_at": s.checkin_opens_at, "checkin_closes_at": s.checkin_closes_at,
                      "checkin_open": s.checkin_open(now)} for s in sessions],
        "faces": True,  # face mode: recognised among the hall's enrolled invitees (opt-in, docs/FACES.md)
    })


async def hall_kiosks(request: Request) -> Response:
    """The hall's kiosks: make a one-time enrolment code, revoke a kiosk (organisers and hall clerks in scope)."""
    user = await current_user(request)
    svc = services(request)
    hall, conf = await svc.conference.hall_and_conference(user, path_int(request, "hid"), Action.MANAGE_DEVICES)
    code = expires = None
    if request.method == "POST":
        form = await read_form(request)
        action = text(form, "action")
        if action == "code":
            code, expires = await svc.devices.issue_enrolment_code(hall.id, user.id)
        elif action == "revoke":
            device = await svc.devices.device(number(form, "device_id"))
            device.require_hall(hall.id)
            await svc.devices.revoke(device.id, user.id)
        else:
            raise Invalid("unknown action", field="action")
    devices = sorted(await svc.devices.devices(hall.id), key=lambda d: (d.revoked_at is not None, d.name))
    kiosk_url = str(request.url_for("kiosk_page"))
    return await render(request, "kiosk_devices.html", hall=hall, conference=conf, devices=devices, code=code,
                        expires=expires, kiosk_url=kiosk_url, calibration=await svc.biometrics.calibration())


routes = [
    Route("/kiosk", kiosk_page, name="kiosk_page"),
    Route("/api/kiosk/sessions", kiosk_sessions),
    Route("/halls/{hid:int}/kiosks", hall_kiosks, methods=["GET", "POST"]),
]
