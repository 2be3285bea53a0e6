"""Badge sheets over HTTP: choose a unit or a hall, start a job, watch its progress, download the PDF.

    GET  /units/{uid}/badges          the chooser (the unit's subtree, or a hall hosted in it)
    POST /units/{uid}/badges          start a job for the unit's subtree (form: csrf, conference_id?)
    POST /halls/{hid}/badges          start a job for the hall's invitees (form: csrf)
    GET  /badges/jobs/{id}/page       the progress page (polls the next one)
    GET  /badges/jobs/{id}            JSON: state, done, total
    GET  /badges/jobs/{id}.pdf        the PDF, once done

Scope is checked when the job starts; jobs are visible only to the user who started them, through any hub
(the job in the store, the PDF on shared storage: web/usecases/badge_jobs.py).
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference.accounts import User
from web.bootstrap import services
from web.http.auth import current_user, read_form
from web.http.decoding import optional_number, path_int
from web.http.templating import render
from web.i18n import translator
from web.render import badges
from web.usecases.badge_jobs import BadgeJob
from web.usecases.cards import SheetPlan

BADGE_LANGUAGE = "vi"  # the badge speaks to the delegate, whatever the organiser's screen language


async def _start(request: Request, user: User, plan: SheetPlan) -> RedirectResponse:
    cards = services(request).cards
    font_dir = services(request).settings.pdf_font_dir
    footer = translator(BADGE_LANGUAGE)("qr_hint")

    async def work(progress: badges.Progress) -> bytes:
        sheet = await cards.sheet(plan, footer)
        return await asyncio.to_thread(badges.render, sheet, font_dir, progress)

    filename = f"the-qr-{plan.subject.replace(':', '-')}.pdf"
    job = await services(request).badge_jobs.start(user.id, filename, len(plan.people), work)
    return RedirectResponse(f"/badges/jobs/{job.id}/page", status_code=303)


async def unit_badges(request: Request) -> Response:
    user = await current_user(request)
    uid = path_int(request, "uid")
    if request.method == "GET":
        return await render(request, "badges.html", choices=await services(request).cards.choices(user, uid))
    form = await read_form(request)
    plan = await services(request).cards.unit_plan(user, uid, optional_number(form, "conference_id"))
    return await _start(request, user, plan)


async def hall_badges(request: Request) -> Response:
    user = await current_user(request)
    await read_form(request)
    return await _start(request, user, await services(request).cards.hall_plan(user, path_int(request, "hid")))


async def _job(request: Request) -> BadgeJob:
    user = await current_user(request)
    jid: UUID = request.path_params["jid"]
    return await services(request).badge_jobs.get(str(jid), user.id)


async def job_page(request: Request) -> Response:
    return await render(request, "badge_job.html", job=await _job(request))


async def job_status(request: Request) -> JSONResponse:
    return JSONResponse((await _job(request)).status(), headers={"Cache-Control": "no-store"})


async def job_pdf(request: Request) -> Response:
    job = await _job(request)
    return Response(await services(request).badge_jobs.pdf(job), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{job.filename}"', "Cache-Control": "no-store, private"})


routes = [
    Route("/units/{uid:int}/badges", unit_badges, methods=["GET", "POST"]),
    Route("/halls/{hid:int}/badges", hall_badges, methods=["POST"]),
    Route("/badges/jobs/{jid:uuid}.pdf", job_pdf),
    Route("/badges/jobs/{jid:uuid}/page", job_page),
    Route("/badges/jobs/{jid:uuid}", job_status),
]
