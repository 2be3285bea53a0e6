"""Face enrolment and recognition over HTTP. Handlers decode, call one use case of `Biometrics`, encode.

Uploaded pictures are parsed in memory only (`read_upload`): a face picture never reaches a
temporary file, the database or a log. Responses about a person's face data are never cached.

Kiosks: `POST /api/faces/identify` answers who is in front of the camera; it does not check anyone
in unless asked with `check_in: true`, which records each accepted face exactly as `POST /api/checkins`
with method "face" would (`CheckIns.faces`). A CONFIRM goes to the clerk, who then checks the
person in with `POST /api/checkins` (method "face", person_id, face_score).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from attendance.errors import AttendanceError
from attendance.face_engine import EngineUnavailable
from attendance.face_match import Decision, MatchReason
from attendance.face_service import MAX_FRAMES, FaceResult
from attendance.faces import CONSENT_TEXTS, CONSENT_VERSION, Consent, ConsentChannel, FaceStatus
from attendance.liveness import LivenessFailure, LivenessState
from conference.errors import ConferenceError, Invalid, NotFound
from web.bootstrap import Services, services
from web.http.auth import api_user, check_csrf, current_device, current_user, form_of
from web.http.decoding import body, bounded, field, flag, number, optional_number, path_int, text
from web.http.encoding import plain, verdict_json
from web.http.templating import language, render
from web.i18n import translator
from web.routes.checkins import kiosk_time, lang_of
from web.usecases.biometrics import Busy
from web.usecases.checkin import Actor, Shown

IMAGE_MAX = 8 * 1024 * 1024  # one enrolment picture
BURST_MAX = 6 * 1024 * 1024  # a kiosk's frames, all together
NO_STORE = {"Cache-Control": "no-store, private"}


class _InMemory(MultiPartParser):
    spool_max_size = IMAGE_MAX + BURST_MAX  # above any accepted upload: files stay in memory, never on disk


async def read_upload(request: Request, limit: int) -> FormData:
    """The request's multipart form, parsed in memory, at most `limit` bytes in all (declared or chunked)."""
    parser = _InMemory(request.headers, bounded(request, limit).stream(), max_files=MAX_FRAMES + 1, max_fields=20,
                       max_part_size=64 * 1024)
    try:
        return await parser.parse()
    except MultiPartException as e:
        raise Invalid(f"the upload is not a valid multipart form: {e.message}") from None


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def picture(value: object, name: str) -> bytes:
    """A base64 picture from JSON (a data: URL prefix is allowed)."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"{name} must be a base64 JPEG or PNG picture", field=name)
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{name} is not valid base64", field=name) from None


async def upload_pictures(form: FormData, name: str) -> list[bytes]:
    out = []
    for item in form.getlist(name):
        if not isinstance(item, UploadFile):
            raise Invalid(f"{name} must be an uploaded picture", field=name)
        out.append(await item.read())
    return out


@dataclass(frozen=True)
class KioskRequest:
    session_id: int
    hall_id: int | None
    person_id: int | None
    frames: list[bytes]
    check_in: bool
    nonce: str | None
    kiosk_time: datetime | None


async def kiosk_request(request: Request) -> KioskRequest:
    """A kiosk's picture(s): multipart (`image`, or several `frames`) or JSON (base64 `image` or `frames`)."""
    if is_multipart(request):
        form = await read_upload(request, BURST_MAX)
        try:
            frames = await upload_pictures(form, "frames") or await upload_pictures(form, "image")
            data: dict[str, Any] = {k: text(form, k) for k in ("kiosk_time", "nonce")}
            session_id = number(form, "session_id")
            hall_id = optional_number(form, "hall_id")
            person_id = optional_number(form, "person_id")
            check_in = flag(form, "check_in")
        finally:
            await form.close()
        data = {k: v for k, v in data.items() if v}
    else:
        data = await body(request, limit=BURST_MAX * 4 // 3 + 4096)
        raw = data.get("frames")
        if raw is not None and not isinstance(raw, list):
            raise Invalid("frames must be a list of base64 pictures", field="frames")
        frames = [picture(f, "frames") for f in raw] if raw else [picture(data.get("image"), "image")]
        session_id = field(data, "session_id", int)
        hall_id = field(data, "hall_id", int, None)
        person_id = field(data, "person_id", int, None)
        check_in = field(data, "check_in", bool, False)
    if not frames:
        raise Invalid("send the picture as image (or a burst as frames)", field="image")
    if len(frames) > MAX_FRAMES:
        raise Invalid(f"at most {MAX_FRAMES} frames", field="frames")
    nonce = field(data, "nonce", str, None)
    assert session_id is not None
    return KioskRequest(session_id, hall_id, person_id, frames, check_in, nonce, kiosk_time(data))


# -- kiosks ----------------------------------------------------------------------------------------
async def face_json(request: Request, svc: Services, result: FaceResult) -> dict[str, Any]:
    t = translator(lang_of(request))
    d = result.decision
    named = d.person_id
    cards = await svc.facts.cards([p for p in (named, d.runner_up.person_id if d.runner_up else None) if p])
    card = cards.get(named) if named is not None else None
    alternatives = []
    if d.decision is Decision.CONFIRM and d.reason is MatchReason.AMBIGUOUS and d.runner_up is not None:
        other = cards.get(d.runner_up.person_id)
        if other is not None:
            alternatives.append(plain(other) | {"distance": round(d.runner_up.distance, 4)})
    if d.reason is MatchReason.TOO_SMALL:
        message = t("face_msg_too_small")
    elif d.decision is Decision.REJECT or card is None:
        message = t("face_msg_reject")
    else:
        message = t(f"face_msg_{d.decision.value}", name=card.full_name)
    distance = round(d.distance, 4) if d.distance is not None else None
    return {"decision": d.decision.value, "reason": d.reason.value, "distance": distance,
            "face_score": distance if named is not None else None, "message": message,
            "person": plain(card) if card else None, "alternatives": alternatives,
            "box": plain(result.box), "problem": result.problem.value if result.problem else None}


def liveness_json(request: Request, svc: Services, state: LivenessState, failure: LivenessFailure | None
                  ) -> dict[str, Any]:
    t = translator(lang_of(request))
    out: dict[str, Any] = {"liveness": state.value, "liveness_mode": svc.settings.face_liveness,
           "liveness_failure": failure.value if failure else None}
    if state is LivenessState.FAILED:
        out["message"] = t("face_msg_liveness")
    return out


async def identify(request: Request) -> JSONResponse:
    """Who is in front of the kiosk (its hall's invitees only); with check_in, accepted faces are checked in."""
    svc = services(request)
    device = await current_device(request)
    req = await kiosk_request(request)
    try:
        found = await svc.biometrics.identify(device, req.session_id, req.hall_id, req.frames)
    except Busy as e:
        raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from None
    except EngineUnavailable as e:
        raise HTTPException(503, e.message, headers={"Retry-After": "5"}) from None
    checked_in: list[Shown | None] = [None] * len(found.faces)
    if req.check_in:
        checked_in = await svc.checkins.faces(Actor(device, None), req.session_id, found, req.nonce, req.kiosk_time,
                                              lang_of(request))
    faces = []
    for result, shown in zip(found.faces, checked_in, strict=True):
        item = await face_json(request, svc, result)
        item["face_decision"] = svc.checkins.face_decisions.seal(Actor(device, None), req.session_id, result.decision)
        if shown is not None:
            item["checkin"] = verdict_json(shown)
        faces.append(item)
    return JSONResponse({**liveness_json(request, svc, found.liveness, found.liveness_failure),
                         "gallery_size": found.gallery_size, "faces": faces}, headers=NO_STORE)


async def verify(request: Request) -> JSONResponse:
    """1:1 after a QR scan: is the face at the kiosk the card holder's?"""
    svc = services(request)
    device = await current_device(request)
    req = await kiosk_request(request)
    if req.person_id is None:
        raise Invalid("person_id is required", field="person_id")
    try:
        result = await svc.biometrics.verify(device, req.session_id, req.hall_id, req.person_id, req.frames)
    except Busy as e:
        raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from None
    except EngineUnavailable as e:
        raise HTTPException(503, e.message, headers={"Retry-After": "5"}) from None
    v = result.verification
    return JSONResponse({**liveness_json(request, svc, result.liveness, result.liveness_failure),
                         "person_id": req.person_id, "decision": v.decision.value if v else None,
                         "distance": round(v.distance, 4) if v else None,
                         "face_score": round(v.distance, 4) if v else None}, headers=NO_STORE)


async def consent_text(request: Request) -> JSONResponse:
    """The consent text to show before an enrolment (current version, or ?version=)."""
    version = request.query_params.get("version", CONSENT_VERSION)
    text = CONSENT_TEXTS.get(version)
    if text is None:
        raise NotFound(f"no consent text version {version!r}")
    return JSONResponse({"version": text.version, "title": text.title, "paragraphs": list(text.paragraphs),
                         "current": text.version == CONSENT_VERSION})


# -- a person's face data (self, or staff in scope) ------------------------------------------------
def status_json(status: FaceStatus) -> dict[str, Any]:
    return {"person_id": status.person_id, "enrolled": status.enrolled_at is not None,
            "enrolled_at": status.enrolled_at.isoformat() if status.enrolled_at else None,
            "consent": plain(status.consent), "consents": plain(list(status.consents))}


async def person_face(request: Request) -> JSONResponse:
    """GET: enrolment status; POST: enrol (multipart image + consent); DELETE: withdraw consent."""
    svc = services(request)
    user = await api_user(request)
    pid = path_int(request, "pid")
    if request.method == "GET":
        _, status = await svc.biometrics.status(user, pid)
        return JSONResponse(status_json(status), headers=NO_STORE)
    if request.method == "DELETE":
        withdrawn, deleted = await svc.biometrics.withdraw(user, pid)
        return JSONResponse({"person_id": pid, "withdrawn": [c.id for c in withdrawn], "template_deleted": deleted},
                            headers=NO_STORE)
    if is_multipart(request):
        form = await read_upload(request, IMAGE_MAX)
        try:
            images = await upload_pictures(form, "image")
            consent = flag(form, "consent")
            channel_raw = text(form, "channel") or None
            version = text(form, "text_version") or CONSENT_VERSION
        finally:
            await form.close()
        if len(images) != 1:
            raise Invalid("send one picture as image", field="image")
        image = images[0]
    else:
        data = await body(request, limit=IMAGE_MAX * 4 // 3 + 4096)
        image = picture(data.get("image"), "image")
        consent = field(data, "consent", bool, False)
        channel_raw = field(data, "channel", str, None)
        version = field(data, "text_version", str, CONSENT_VERSION)
    try:
        channel = ConsentChannel(channel_raw) if channel_raw else None
    except ValueError:
        raise Invalid("channel is hall_operator or paper", field="channel") from None
    try:
        done = await svc.biometrics.enrol(user, pid, image, consent, channel, version)
    except EngineUnavailable as e:
        raise HTTPException(503, e.message, headers={"Retry-After": "5"}) from None
    return JSONResponse({"person_id": pid, "consent": plain(done.consent), "enrolled_at": done.enrolled_at.isoformat(),
                         "face_size": done.face_size}, status_code=201, headers=NO_STORE)


# -- pages -----------------------------------------------------------------------------------------
def problem_text(request_lang: str, error: AttendanceError | ConferenceError) -> str:
    t = translator(request_lang)
    key = f"face_problem_{getattr(error, 'code', '')}"
    return t(key) if t(key) != key else t("face_problem_other", message=error.message)


def latest(status: FaceStatus) -> Consent | None:
    return status.consent or (status.consents[0] if status.consents else None)


async def my_face(request: Request) -> Response:
    """Đăng ký khuôn mặt: the participant's opt-in page (consent, camera picture, withdrawal)."""
    user = await current_user(request)
    if user.person_id is None:
        raise NotFound("this account has no entry on the roster")
    bio = services(request).biometrics
    problem = None
    if request.method == "POST":
        form = await read_upload(request, IMAGE_MAX) if is_multipart(request) else await form_of(request, max_files=0)
        try:
            csrf = form.get("csrf")
            check_csrf(request, csrf if isinstance(csrf, str) else None)
            what = text(form, "what")
            images = await upload_pictures(form, "image") if what != "withdraw" else []
            consent = flag(form, "consent")
            version = text(form, "text_version") or CONSENT_VERSION
        finally:
            await form.close()
        try:
            if what == "withdraw":
                await bio.withdraw(user, user.person_id)
                return RedirectResponse("/me/face?done=withdrawn", status_code=303)
            images = [i for i in images if i]
            if len(images) != 1:
                raise Invalid("send one picture", field="image")
            await bio.enrol(user, user.person_id, images[0], consent, text_version=version)
            return RedirectResponse("/me/face?done=enrolled", status_code=303)
        except (AttendanceError, ConferenceError) as e:
            problem = e
    person, status = await bio.status(user, user.person_id)
    done = request.query_params.get("done")
    lang = await language(request)
    response = await render(
        request, "face.html", status_code=422 if problem else 200, person=person, status=status,
        consent=latest(status), text=CONSENT_TEXTS[CONSENT_VERSION],
        problem=problem_text(lang, problem) if problem else None,
        notice=f"face_done_{done}" if done in ("enrolled", "withdrawn") else None)
    response.headers.update(NO_STORE)
    return response


async def consent_sheet(request: Request) -> Response:
    """The printable consent form: the person's consent as recorded, or a blank form to sign on paper."""
    user = await current_user(request)
    sheet = await services(request).biometrics.consent_sheet(user, request.path_params["pid"])
    response = await render(request, "face_consent.html", sheet=sheet)
    response.headers.update(NO_STORE)
    return response


routes = [
    Route("/me/face", my_face, methods=["GET", "POST"]),
    Route("/persons/{pid:int}/consent", consent_sheet),
    Route("/api/persons/{pid:int}/face", person_face, methods=["GET", "POST", "DELETE"]),
    Route("/api/faces/identify", identify, methods=["POST"]),
    Route("/api/faces/verify", verify, methods=["POST"]),
    Route("/api/faces/consent-text", consent_text),
]
