"""Conference documents over HTTP: upload and list them, open them by link or QR, print QR posters.

    GET|POST /conferences/{cid}/documents    the conference's documents; organisers upload here
    POST     /documents/{did}/delete         remove one (organisers)
    GET      /documents/{did}                what a document's QR opens: its details and a button to read it
    GET      /documents/{did}/file           the file, with the type found in its content, never sniffed
    GET      /documents/{did}/poster.pdf     its QR poster (organisers)
    GET      /halls/{hid}/documents          what a hall's QR opens: the conference's documents
    GET      /halls/{hid}/poster.pdf         the hall's QR poster (staff of the hall)
    GET      /me/documents                   the participant's documents, by conference
    /api/conferences/{cid}/documents, /api/documents/{did}: the same as JSON (upload as multipart)

A "sign-in required" document sends an anonymous reader to the sign-in page (the API answers 401),
whether they came by link or by QR. Handlers decode, call one use case, encode.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from conference.accounts import Action, User
from conference.documents import (
    CATEGORIES,
    DOCUMENT_MAX,
    Document,
    DocumentAccess,
    UploadProblem,
    UploadRefused,
    content_disposition,
)
from conference.errors import ConferenceError, Invalid
from conference.library import DocumentDraft, Openings
from web.bootstrap import services
from web.http.auth import api_user, current_user, form_of, optional_user, read_form
from web.http.decoding import day, option, path_int, text
from web.http.encoding import ok
from web.http.templating import language, render
from web.i18n import translator
from web.render import posters

FORM_OVERHEAD = 64 * 1024  # the form's other fields and multipart framing around the file
POSTER_LANGUAGE = "vi"  # a poster speaks to the delegates in the hall
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache",
                "Cross-Origin-Resource-Policy": "same-origin"}


def draft_of(form: Any) -> DocumentDraft:
    access = option(DocumentAccess, text(form, "access") or DocumentAccess.SIGNED_IN.value, "access")
    return DocumentDraft(text(form, "title"), text(form, "number"), text(form, "issuer"),
                         day(text(form, "issued_on"), "issued_on"), text(form, "category"), access)


async def read_upload(request: Request, form_csrf: bool = True) -> tuple[DocumentDraft, str, bytes]:
    """The upload form: refused by its declared size before a byte of it is read, then by its real size.
    A page's form carries its CSRF token as a field; the API's was checked in its header (`form_csrf` False)."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise Invalid("an upload needs a Content-Length header", field="file")
    if int(declared) > DOCUMENT_MAX + FORM_OVERHEAD:
        raise UploadRefused(UploadProblem.TOO_LARGE, f"the file is over {DOCUMENT_MAX // (1024 * 1024)} MB",
                            limit_mb=DOCUMENT_MAX // (1024 * 1024))
    if form_csrf:
        form = await read_form(request, max_files=1, max_part_size=FORM_OVERHEAD, limit=DOCUMENT_MAX + FORM_OVERHEAD)
    else:
        form = await form_of(request, max_files=1, max_part_size=FORM_OVERHEAD, limit=DOCUMENT_MAX + FORM_OVERHEAD)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UploadRefused(UploadProblem.EMPTY, "choose a file")
        data = await upload.read(DOCUMENT_MAX + 1)
        return draft_of(form), upload.filename or "", data
    finally:
        await form.close()


def refusal_text(lang: str, error: ConferenceError) -> str:
    """An upload refusal in the reader's words ("Tệp quá lớn: tối đa 25 MB")."""
    if isinstance(error, UploadRefused):
        return translator(lang)(f"upload_{error.problem.value}", **error.params)
    return error.message


# -- the organisers' and participants' list ----------------------------------------------------------
async def conference_documents(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request)
    lib = services(request).library
    cid = path_int(request, "cid")
    error: str | None = None
    if request.method == "POST":
        try:
            draft, filename, data = await read_upload(request)
            await lib.upload(user, cid, draft, filename, data)
            request.session["flash"] = "doc_uploaded"
            return RedirectResponse(f"/conferences/{cid}/documents", status_code=303)
        except (UploadRefused, Invalid) as e:
            error = refusal_text(await language(request), e)
    conf = await svc.conference.conference(user, cid)
    documents = await lib.listing(user, cid)
    manage = await lib.may_manage(user, cid)
    openings: dict[int, Openings] = await lib.openings(user, cid) if manage else {}
    flash = request.session.pop("flash", None)
    return await render(request, "documents.html", status_code=422 if error else 200, conference=conf,
                        documents=documents, can_manage=manage, openings=openings, upload_error=error,
                        categories=CATEGORIES, limit_mb=DOCUMENT_MAX // (1024 * 1024),
                        flash=flash if flash in ("doc_uploaded", "doc_removed") else None)


async def delete_document(request: Request) -> Response:
    user = await current_user(request)
    await read_form(request)
    doc = await services(request).library.remove(user, path_int(request, "did"))
    request.session["flash"] = "doc_removed"
    return RedirectResponse(f"/conferences/{doc.conference_id}/documents", status_code=303)


async def my_documents(request: Request) -> Response:
    user = await current_user(request)
    return await render(request, "my_documents.html", items=await services(request).library.for_participant(user),
                        refreshed_at=services(request).conference.clock())


# -- reading: by link or by QR -------------------------------------------------------------------------
async def document_page(request: Request) -> Response:
    user = await optional_user(request)
    doc, conf = await services(request).library.reading(user, path_int(request, "did"))
    return await render(request, "document.html", document=doc, conference=conf,
                        refreshed_at=services(request).conference.clock())


def _counts(request: Request) -> bool:
    """Whether this request is a reader opening the file (not a HEAD, not the rest of a ranged read)."""
    ranged = request.headers.get("range", "").replace(" ", "")
    return request.method == "GET" and (not ranged or ranged.startswith("bytes=0-"))


async def document_file(request: Request) -> Response:
    user = await optional_user(request)
    doc, path = await services(request).library.open(user, path_int(request, "did"), count=_counts(request))
    return FileResponse(path, media_type=doc.content_type,
                        headers={**FILE_HEADERS, "Content-Disposition": content_disposition(doc)})


async def hall_documents(request: Request) -> Response:
    user = await optional_user(request)
    found = await services(request).library.hall_documents(user, path_int(request, "hid"))
    return await render(request, "hall_documents.html", found=found)


# -- posters -----------------------------------------------------------------------------------------
def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


async def document_poster(request: Request) -> Response:
    user = await current_user(request)
    doc, conf = await services(request).library.managed_document(user, path_int(request, "did"))
    t = translator(POSTER_LANGUAGE)
    details = " · ".join(x for x in (doc.number, doc.issuer,
                                      doc.issued_on.strftime("%d/%m/%Y") if doc.issued_on else "") if x)
    poster = posters.Poster(conf.title, doc.title, str(request.url_for("document_page", did=doc.id)),
                            t("poster_document"), [details] if details else [],
                            "" if doc.public else t("poster_sign_in"))
    content = await asyncio.to_thread(posters.render, poster, services(request).settings.pdf_font_dir)
    return _pdf(content, f"ap-phich-tai-lieu-{doc.id}.pdf")


async def hall_poster(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request)
    hall, conf = await svc.conference.hall_and_conference(user, path_int(request, "hid"), Action.VIEW_ATTENDANCE)
    t = translator(POSTER_LANGUAGE)
    poster = posters.Poster(conf.title, hall.name, str(request.url_for("hall_documents", hid=hall.id)),
                            t("poster_hall"), [t("poster_hall_detail")])
    content = await asyncio.to_thread(posters.render, poster, svc.settings.pdf_font_dir)
    return _pdf(content, f"ap-phich-diem-cau-{hall.id}.pdf")


# -- JSON ----------------------------------------------------------------------------------------------
def document_json(request: Request, doc: Document, openings: Openings | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc.id, "conference_id": doc.conference_id, "title": doc.title, "number": doc.number,
        "issuer": doc.issuer, "issued_on": doc.issued_on, "category": doc.category, "access": doc.access,
        "content_type": doc.content_type, "size": doc.size, "created_at": doc.created_at,
        "page_url": str(request.url_for("document_page", did=doc.id)),
        "file_url": str(request.url_for("document_file", did=doc.id)),
    }
    if openings is not None:
        out["openings"] = {"total": openings.total,
                           "by_unit": [{"unit": name or None, "openings": n} for name, n in openings.by_unit]}
    return out


async def api_conference_documents(request: Request) -> JSONResponse:
    user: User = await api_user(request)
    lib = services(request).library
    cid = path_int(request, "cid")
    if request.method == "POST":
        draft, filename, data = await read_upload(request, form_csrf=False)
        return ok(document_json(request, await lib.upload(user, cid, draft, filename, data)), 201)
    documents = await lib.listing(user, cid)
    if not await lib.may_manage(user, cid):
        return ok([document_json(request, d) for d in documents])
    openings = await lib.openings(user, cid)
    return ok([document_json(request, d, openings.get(d.id, Openings(0, []))) for d in documents])


async def api_document(request: Request) -> JSONResponse:
    lib = services(request).library
    did = path_int(request, "did")
    if request.method == "DELETE":
        doc = await lib.remove(await api_user(request), did)
        return ok({"removed": doc.id})
    return ok(document_json(request, await lib.readable(await optional_user(request), did)))


routes = [
    Route("/conferences/{cid:int}/documents", conference_documents, methods=["GET", "POST"]),
    Route("/documents/{did:int}", document_page, name="document_page"),
    Route("/documents/{did:int}/file", document_file, name="document_file"),
    Route("/documents/{did:int}/delete", delete_document, methods=["POST"]),
    Route("/documents/{did:int}/poster.pdf", document_poster),
    Route("/halls/{hid:int}/documents", hall_documents, name="hall_documents"),
    Route("/halls/{hid:int}/poster.pdf", hall_poster),
    Route("/me/documents", my_documents),
    Route("/api/conferences/{cid:int}/documents", api_conference_documents, methods=["GET", "POST"]),
    Route("/api/documents/{did:int}", api_document, methods=["GET", "DELETE"]),
]
