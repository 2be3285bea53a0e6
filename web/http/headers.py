"""Security headers on every answer (pages, JSON, files, errors): the one place they are set.

- `Content-Security-Policy` of a page: only this origin's scripts, styles, images, media and sockets; no inline
  script or style (the pages' JSON config blocks are data, not script), no plug-ins, no framing
  (`frame-ancestors 'none'`), forms post only here. `blob:` where the pages make their own objects: the
  face enrolment preview (img), the HLS player's media source and its worker. Every other answer (JSON,
  images, files) gets `FILE_CSP`: `default-src 'none'`, no framing; a PDF only no framing (its viewer); the
  service worker `WORKER_CSP` (it may fetch this origin, as its policy binds the worker). The kiosk page
  (`/kiosk`) alone may also compile WebAssembly (`KIOSK_CSP`: 'wasm-unsafe-eval', for its vendored QR reader).
- `X-Frame-Options: DENY` for browsers older than `frame-ancestors`; `X-Content-Type-Options: nosniff`;
  `Referrer-Policy: same-origin` (a page's address, which can hold ids, never leaves the site);
  `Permissions-Policy`: the camera and microphone for this origin only (kiosks, presenters), nothing else.
- `Strict-Transport-Security` when the answer goes out over HTTPS: the request's scheme (behind nginx,
  from `X-Forwarded-Proto`) or `HOINGHI_SECURE_COOKIES` (the deployment says it is served over HTTPS).

A header a route sets itself (a document file's stricter policy, say) is kept, never overwritten.
`SecuredApp` puts `SecurityHeaders` outside everything, Starlette's own last-resort 500 (its
`ServerErrorMiddleware`, outside every middleware an application is given) included.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# The kiosk reads QR codes itself offline with zxing-cpp compiled to WebAssembly (web/static/kiosk_decoder.js,
# vendored): compiling it needs 'wasm-unsafe-eval' (WebAssembly only, never JavaScript's eval), on that page only.
KIOSK_PATHS = frozenset({"/kiosk"})
KIOSK_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
# Any other answer (JSON, an image, a PDF, a script file) runs nothing: nothing may load from it but
# itself, and Chromium's own viewer of an image or text opened on its own may style it.
FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
# A PDF is shown by the browser's own viewer, which a policy on the PDF can break (it embeds the file in a
# page of its own): only no framing.
PDF_CSP = "frame-ancestors 'none'"
# The member's service worker (web/routes/offline.py): a script's policy binds the worker it starts, which
# fetches this origin's pages and files for the member's offline copy, and nothing else.
WORKER_CSP = "default-src 'none'; connect-src 'self'"
HSTS = "max-age=31536000; includeSubDomains"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def policy(headers: list[tuple[bytes, bytes]], path: str = "") -> str:
    """The Content-Security-Policy for an answer of this content type (at this path)."""
    kind = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    if kind.startswith(b"text/html"):
        return KIOSK_CSP if path in KIOSK_PATHS else CSP
    return PDF_CSP if kind.startswith(b"application/pdf") else FILE_CSP


class SecurityHeaders:
    """ASGI middleware adding `HEADERS` (and HSTS over HTTPS) to every HTTP answer."""

    def __init__(self, app: ASGIApp, always_https: bool = False) -> None:
        self.app = app
        self.always_https = always_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.always_https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in HEADERS if name not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", policy(headers, scope.get("path", "")).encode()))
                if https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredApp(Starlette):
    """A Starlette application whose every answer carries the headers: `SecurityHeaders` wraps its whole
    middleware stack, so an unhandled error's 500 has them too."""

    def __init__(self, *, always_https: bool = False, **kwargs: Any) -> None:
        self.always_https = always_https
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.always_https)
