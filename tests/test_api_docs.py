"""The API's documentation page in a real Chromium: /api/docs draws the OpenAPI document with the vendored
Swagger UI, served from this server only (nothing fetched elsewhere), under the pages' strict CSP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.browser import chromium, hoinghi_server
from tests.security.test_headers_keys_limits import watch

VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"


def test_the_vendored_swagger_ui_is_the_recorded_one() -> None:
    recorded = (VENDOR / "README.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"`sha256sum {name}` = `{digest}`" in recorded, name
    assert "Apache License" in (VENDOR / "swagger-ui-LICENSE").read_text()


@pytest.mark.browser
def test_the_documentation_page_draws_every_operation_without_breaking_its_csp(tmp_path: Path) -> None:
    problems: list[str] = []
    elsewhere: list[str] = []
    with hoinghi_server("demo", "--dir", str(tmp_path / "demo"), "--members", "200",
                        log=tmp_path / "demo.log") as base, chromium() as browser:
        page = browser.new_page()
        watch(page, problems)
        page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((base, "blob:", "data:"))
                else None)
        answer = page.goto(base + "/api/docs")
        assert answer is not None and answer.status == 200  # public: no sign-in
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        page.wait_for_selector("text=Check a person in", timeout=30000)
        page.wait_for_selector("text=Deactivate an account below one", timeout=10000)
        operations = page.locator(".opblock").count()
        document = page.request.get(base + "/api/openapi.json").json()
        assert operations == sum(len(ops) for ops in document["paths"].values())  # an entry per operation
    assert not problems, problems
    assert not elsewhere, elsewhere
