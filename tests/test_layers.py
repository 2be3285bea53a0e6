"""The layering, kept by a test that reads every module's imports (README, "Design"):

- `conference/` and `attendance/` import neither each other nor `web/`;
- their pure modules (rules, records, token format, matching, state machines) import no web framework,
  database driver, cache client, vision or media library;
- `web/usecases/` imports no Starlette: a use case serves the JSON API, the pages and the live hub alike;
- `web/routes/` never touches a store: no store module, no SQL, no `.store` attribute of a service;
- every module opens with a docstring, and none grows past ~400 lines (data catalogues aside).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("conference", "attendance", "web")

# The pure core: no I/O, no clock, no framework. mypy checks these strictly (pyproject.toml).
PURE = {
    "conference.units", "conference.people", "conference.conferences", "conference.halls", "conference.accounts",
    "conference.documents", "conference.feedback", "conference.audit", "conference.roster", "conference.roster_sheets",
    "conference.errors", "conference.text",
    "attendance.checkins", "attendance.devices", "attendance.faces", "attendance.headcounts", "attendance.errors",
    "attendance.face_match", "attendance.liveness", "attendance.rules", "attendance.counting",
    "attendance.online", "attendance.credentials",
    "web.reporting.tables", "web.reporting.result", "web.live.protocol", "web.live.tally", "web.throttle.rule",
    "web.reporting.model", "web.reporting.figures", "web.reporting.rollup", "web.reporting.details",
    "web.demo.province", "web.demo.places", "web.demo.names", "web.demo.accounts",
}
IMPURE = ("starlette", "sqlalchemy", "asyncpg", "aiosqlite", "redis", "cv2", "dlib", "face_recognition", "aiortc",
          "av", "uvicorn", "websockets", "httpx", "jinja2", "openpyxl", "fpdf", "qrcode", "alembic", "web.db")
STORES = ("conference.store", "attendance.store", "conference.tables", "attendance.tables", "web.db", "sqlalchemy",
          "asyncpg", "aiosqlite")
MAX_LINES = 400
CATALOGUES = {"web/migrations/versions/0001_initial_schema.py"}  # data, not logic: the schema as it first was


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def imports(path: Path) -> set[str]:
    """Every module the file imports, with relative imports made absolute."""
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def under(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_module_list_is_read() -> None:
    assert "web.app" in MODULES and "attendance.rules" in MODULES and "conference.accounts" in MODULES
    assert set(MODULES) >= PURE, sorted(PURE - set(MODULES))


@pytest.mark.parametrize("package, forbidden", [("conference", ("attendance", "web")),
                                                ("attendance", ("conference", "web"))])
def test_cores_import_neither_each_other_nor_web(package: str, forbidden: tuple[str, ...]) -> None:
    bad = {name: sorted(i for i in imports(path) if under(i, forbidden))
           for name, path in MODULES.items() if under(name, package)}
    assert not {k: v for k, v in bad.items() if v}


def test_pure_modules_do_no_io() -> None:
    bad = {name: sorted(i for i in imports(MODULES[name]) if under(i, IMPURE)) for name in PURE}
    assert not {k: v for k, v in bad.items() if v}


def test_use_cases_import_no_starlette() -> None:
    bad = {name: sorted(i for i in imports(path) if under(i, "starlette"))
           for name, path in MODULES.items() if under(name, "web.usecases")}
    assert not {k: v for k, v in bad.items() if v}


def test_routes_do_not_touch_the_stores() -> None:
    bad: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        if not under(name, "web.routes"):
            continue
        found = sorted(i for i in imports(path) if under(i, STORES))
        tree = ast.parse(path.read_text())
        found += [f"line {n.lineno}: .store" for n in ast.walk(tree)
                  if isinstance(n, ast.Attribute) and n.attr == "store"]
        if found:
            bad[name] = found
    assert not bad


def test_this_test_sees_a_violation(tmp_path: Path) -> None:
    """The checks above can fail: a route reading a store is caught."""
    bad = tmp_path / "route.py"
    bad.write_text("from conference.store import ConferenceStore\nasync def f(svc):\n    return svc.conference.store\n")
    assert under("conference.store.ConferenceStore", STORES)
    assert any(under(i, STORES) for i in imports(bad))
    assert [n for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.Attribute) and n.attr == "store"]


def test_every_module_says_what_it_holds() -> None:
    missing = [name for name, path in MODULES.items()
               if path.read_text().strip() and not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing


def test_no_module_is_too_long() -> None:
    sources = [*MODULES.values(), *(ROOT / "scripts").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in sources
            if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(ROOT)) not in CATALOGUES}
    assert not long


def test_route_modules_follow_one_convention() -> None:
    """Every module that declares HTTP routes lives in web/routes/ (the WebSocket endpoint in web/live/),
    and is named after its resource, not `*_pages`, `*_api` or `*_routes`."""
    declaring = {name for name, path in MODULES.items() if "Route(" in path.read_text() and name != "web.app"}
    assert {n for n in declaring if not under(n, "web.routes")} <= {"web.live.endpoint", "web.http.openapi"}
    assert not [n for n in declaring if n.endswith(("_pages", "_api", "_routes"))]


def test_the_readme_map_names_files_that_exist() -> None:
    """README "Design" is the map a newcomer follows: every file it names is there, and every route module
    and use case is on it."""
    readme = (ROOT / "README.md").read_text()
    design = readme[readme.index("## Design"):readme.index("## Check-in")]
    named = set(re.findall(r"`((?:conference|attendance|web|tests)/[\w/]+\.(?:py|js))", design))
    templates = set(re.findall(r"`([\w]+\.html)`", design))
    assert named and templates
    assert not [n for n in named if not (ROOT / n).exists()]
    assert not [t for t in templates if not (ROOT / "web/templates" / t).exists()]
    for folder in ("web/routes", "web/usecases"):
        on_map = {n for n in named if n.startswith(folder)}
        there = {str(p.relative_to(ROOT)) for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py"}
        assert there <= on_map, sorted(there - on_map)
