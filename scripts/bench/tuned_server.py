"""`hoinghi` with server changes the check-in benchmark recommends, applied from outside, to measure them.

Not a way to run production: each change here belongs in the server itself once accepted. Use it as
the benchmark's server command, choosing the changes with environment variables:

    HOINGHI_BENCH_TUNE=gc,no-access-log,fast-b32,api-first \\
        uv run python scripts/bench/checkin.py --server-command "python scripts/bench/tuned_server.py"

- gc: `gc.freeze()` once started and a gen-0 threshold of 50,000 (the default 700 makes a server
  holding 70,000 credentials, cards and check-ins run a full collection every few hundred scans).
- no-access-log: uvicorn without its per-request access log line.
- fast-b32: base32 decoding of the QR text through int() instead of the pure-Python base64.b32decode.
- api-first: the check-in routes matched first (not after ~25 page and API routes), and no session
  cookie middleware on bearer-token (kiosk) requests, which never use a session.

(Ed25519 verification on a worker thread was tried too: `verify` holds the GIL, so it gains nothing.)
"""

from __future__ import annotations

import base64
import binascii
import gc
import os
import re
import sys
from typing import Any

TUNE = {t.strip() for t in os.environ.get("HOINGHI_BENCH_TUNE", "").split(",") if t.strip()}
B32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")
B32_TEXT = re.compile(r"[A-Z2-7]*")


def fast_b32decode(s: str | bytes, casefold: bool = False, map01: bytes | None = None) -> bytes:
    """base64.b32decode for the credential's padded, upper-case text, through one int()."""
    text = s.decode("ascii") if isinstance(s, bytes) else s
    body = text.rstrip("=")
    if casefold:
        body = body.upper()
    if map01 is not None or not B32_TEXT.fullmatch(body):
        return base64.b32decode(s, casefold, map01)  # anything unusual: the standard path and its errors
    if len(text) % 8:
        raise binascii.Error("Incorrect padding")
    size = len(body) * 5 // 8
    if not body:
        return b""
    value = int(body.translate(B32), 32) >> (len(body) * 5 - size * 8)
    return value.to_bytes(size, "big")


def main() -> None:
    from attendance import credentials

    if "fast-b32" in TUNE:
        assert fast_b32decode(base64.b32encode(b"hoinghi-test-bytes")) == b"hoinghi-test-bytes"
        credentials.base64.b32decode = fast_b32decode  # type: ignore[attr-defined]
    if "api-first" in TUNE:
        from starlette.middleware.sessions import SessionMiddleware

        import web.app
        from web.routes import checkins as checkin_api

        class KioskAwareSessions(SessionMiddleware):
            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] == "http" and any(k == b"authorization" for k, _ in scope["headers"]):
                    await self.app(scope, receive, send)
                    return
                await super().__call__(scope, receive, send)

        web.app.SessionMiddleware = KioskAwareSessions  # type: ignore[attr-defined,misc,unused-ignore]
        create_app = web.app.create_app

        def api_first(settings: Any) -> Any:
            app = create_app(settings)
            first = [r for r in app.router.routes if r in checkin_api.routes]
            app.router.routes[:] = first + [r for r in app.router.routes if r not in checkin_api.routes]
            return app

        web.app.create_app = api_first  # type: ignore[assignment,unused-ignore]
    if "no-access-log" in TUNE:
        import uvicorn

        run = uvicorn.run

        def quiet_run(*args: Any, **kwargs: Any) -> None:
            run(*args, access_log=False, **kwargs)

        uvicorn.run = quiet_run
    if "gc" in TUNE:
        from web import bootstrap as services

        build = services.build

        def tuned_build(settings: Any) -> Any:
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            return build(settings)

        services.build = tuned_build
        import web.app

        web.app.build = tuned_build  # type: ignore[attr-defined]
    from web.cli import main as hoinghi

    sys.argv = ["hoinghi", *sys.argv[1:]]
    hoinghi()


if __name__ == "__main__":
    main()
