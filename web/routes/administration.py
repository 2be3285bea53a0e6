"""Administering accounts over HTTP: the staff accounts below the signed-in administrator or organiser,
deactivating and reactivating them, changing their role or scope.

    GET  /api/accounts                        the accounts one may administer
    POST /api/accounts/{uid}/deactivate       every session of it ends, its sockets and media closed
    POST /api/accounts/{uid}/activate
    POST /api/accounts/{uid}/role             {"role": ..., "scope_unit_id": ...}
    GET  /accounts, POST /accounts/{uid}/active, POST /accounts/{uid}/role   the page and its forms

Who may, to whom: `ADMINISTER_ACCOUNTS` and `reach` (conference/accounts.py): the administrator, and an
organiser for the accounts below them in their scope, never their own, never raising anyone to their own
rank or above; the work and its audit in `conference/service_accounts.py`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conference.accounts import Role
from conference.errors import Invalid
from web.bootstrap import services
from web.http.auth import api_user, current_user, read_form
from web.http.decoding import body, choice, field, flag, option, optional_number, path_int, text
from web.http.encoding import ok, see_other
from web.http.templating import language, render
from web.i18n import form_error


async def api_list(request: Request) -> JSONResponse:
    user = await api_user(request)
    return ok({"accounts": await services(request).conference.administrable(user)})


async def _set_active(request: Request, active: bool) -> JSONResponse:
    user = await api_user(request)
    changed = await services(request).conference.set_active(user, path_int(request, "uid"), active)
    return ok({"user": changed})


async def api_deactivate(request: Request) -> JSONResponse:
    return await _set_active(request, False)


async def api_activate(request: Request) -> JSONResponse:
    return await _set_active(request, True)


async def api_role(request: Request) -> JSONResponse:
    user = await api_user(request)
    data = await body(request)
    changed = await services(request).conference.set_role(
        user, path_int(request, "uid"), choice(data, "role", Role), field(data, "scope_unit_id", int, None))
    return ok({"user": changed})


async def page(request: Request, status_code: int = 200, problem: str | None = None) -> Response:
    user = await current_user(request)
    svc = services(request).conference
    accounts = await svc.administrable(user)
    tree = await svc.tree()
    units = {a.scope_unit_id: tree.get(a.scope_unit_id).name for a in accounts
             if a.scope_unit_id is not None and a.scope_unit_id in tree}
    return await render(request, "accounts.html", status_code=status_code, accounts=accounts, problem=problem,
                        roles=[r for r in Role if r is not Role.ADMIN], units=units)


async def page_active(request: Request) -> Response:
    user = await current_user(request)
    form = await read_form(request)
    await services(request).conference.set_active(user, path_int(request, "uid"), flag(form, "active"))
    return see_other("/accounts")


async def page_role(request: Request) -> Response:
    user = await current_user(request)
    form = await read_form(request)
    try:
        await services(request).conference.set_role(user, path_int(request, "uid"),
                                                    option(Role, text(form, "role"), "role"),
                                                    optional_number(form, "scope_unit_id"))
    except Invalid as e:
        return await page(request, 422, form_error(await language(request), e))
    return see_other("/accounts")


routes = [
    Route("/api/accounts", api_list),
    Route("/api/accounts/{uid:int}/deactivate", api_deactivate, methods=["POST"]),
    Route("/api/accounts/{uid:int}/activate", api_activate, methods=["POST"]),
    Route("/api/accounts/{uid:int}/role", api_role, methods=["POST"]),
    Route("/accounts", page),
    Route("/accounts/{uid:int}/active", page_active, methods=["POST"]),
    Route("/accounts/{uid:int}/role", page_role, methods=["POST"]),
]
