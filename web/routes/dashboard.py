"""The organiser's live dashboard: the server renders the shell, `static/dashboard.js` fills it from the
live hub (`session:S/unit:U`, docs/PROTOCOL.md) and keeps it current without reloading.

Access mirrors the hub's rule for unit topics: staff allowed to view attendance, for a unit inside
their scope (the administrator: any). The page itself carries no attendance figures.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conference.accounts import Action, User, in_scope, may
from conference.conferences import Conference
from conference.errors import Forbidden
from conference.units import Unit, UnitTree
from web.bootstrap import services
from web.http.auth import current_user
from web.http.decoding import query_number
from web.http.templating import language, render
from web.i18n import MESSAGES, translator

LEVELS = (0, 1, 2, 3)
METHODS = ("qr", "face", "manual", "online", "headcount")
CONNECTIONS = ("online", "offline", "unknown")
CHANNELS = ("two_way", "receive_only", "broadcast", "in_person")


def default_unit(user: User, conf: Conference, tree: UnitTree) -> int:
    """The unit a dashboard opens on: the conference's own top when it lies in the user's scope,
    otherwise the user's scope (a district organiser watching the province's conference)."""
    scope = user.scope_unit_id
    if scope is None or scope not in tree or tree.within(conf.organiser_unit_id, scope):
        return conf.organiser_unit_id
    return scope


def visible_path(user: User, unit_id: int, tree: UnitTree) -> list[Unit]:
    """The breadcrumb: from the top the user may see down to `unit_id`."""
    path = tree.path(unit_id)
    scope = user.scope_unit_id
    if scope is not None:
        ids = [u.id for u in path]
        if scope in ids:
            path = path[ids.index(scope):]
    return path


def labels(lang: str) -> dict[str, Any]:
    """The words the script needs, in the page's language."""
    t = translator(lang)
    words = {key: t(key) for key in MESSAGES if key.startswith("dash_")}
    return {
        **words,
        "levels": {str(level): t(f"dash_level_{level}") for level in LEVELS},
        "levels_short": {str(level): t(f"dash_level_short_{level}") for level in LEVELS},
        "methods": {m: t(f"dash_method_{m}") for m in METHODS},
        "connections": {c: t(f"conn_{c}") for c in CONNECTIONS},
        "channels": {c: t(f"channel_{c}") for c in CHANNELS},
    }


async def dashboard(request: Request) -> Response:
    user = await current_user(request)
    svc = services(request)
    conf, session = await svc.conference.session(user, request.path_params["sid"])
    if not may(user, Action.VIEW_ATTENDANCE):
        raise Forbidden("this role may not view attendance")
    tree = await svc.conference.tree(session.starts_at.astimezone(svc.settings.zone).date())
    unit_id = query_number(request, "unit", 1)
    # NotFound for a unit not in the session's tree
    unit = tree.get(default_unit(user, conf, tree) if unit_id is None else unit_id)
    if not in_scope(user, unit.id, tree):
        raise Forbidden(f"unit {unit.id} is outside the user's scope")
    path = visible_path(user, unit.id, tree)
    lang = await language(request)
    config = {
        "session_id": session.id, "conference_id": conf.id, "unit_id": unit.id,
        "path": [{"id": u.id, "name": u.name} for u in path],
        "lang": lang, "zone": svc.settings.timezone, "labels": labels(lang),
    }
    return await render(request, "dashboard.html", conference=conf, session=session, unit=unit, path=path,
                        config=config)


routes = [Route("/sessions/{sid:int}/dashboard", dashboard)]
