"""Issue 13, what a hub shows to whoever reaches its port, tried through the real HTTP interface:

- `/metrics` answers the holder of HOINGHI_METRICS_TOKEN (a bearer token) or, without one, this machine
  only: another address, a missing, wrong or differently cased token are refused;
- an unhandled error's last-resort 500 (Starlette's own, outside every middleware) carries the security
  headers like every other answer, and no trace of the error.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.security.test_headers_keys_limits import assert_protected
from web.app import create_app
from web.settings import Settings

TOKEN = "prometheus-scrapes-with-this-token-0123456789"


def test_metrics_answer_only_the_token_or_this_machine(app_settings: Settings) -> None:
    with TestClient(create_app(app_settings), client=("10.0.0.7", 40000)) as outsider:
        refused = outsider.get("/metrics")
        assert refused.status_code == 403 and "hoinghi_" not in refused.text
        assert outsider.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403  # none set
    with TestClient(create_app(app_settings), client=("127.0.0.1", 40000)) as local:
        assert "hoinghi_ready" in local.get("/metrics").text
    with TestClient(create_app(replace(app_settings, metrics_token=TOKEN)), client=("10.0.0.7", 40000)) as other:
        for authorization in (None, "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}",
                              f"Bearer {TOKEN.upper()}"):
            answer = other.get("/metrics", headers={"Authorization": authorization} if authorization else {})
            assert answer.status_code == 401, authorization
            assert answer.headers["www-authenticate"] == "Bearer" and "hoinghi_" not in answer.text
        good = other.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and "hoinghi_ready" in good.text
    with TestClient(create_app(replace(app_settings, metrics_token=TOKEN)), client=("127.0.0.1", 40000)) as local:
        assert local.get("/metrics").status_code == 401  # with a token, this machine needs it too


def test_an_unhandled_error_still_carries_the_security_headers(app_settings: Settings) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("secret detail of the failure")

    app = create_app(app_settings)
    app.router.routes.append(Route("/api/broken", broken))
    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/broken", "/broken"):
            answer = client.get(path)
            assert answer.status_code == 500
            assert_protected(answer)
            assert "secret detail" not in answer.text
