"""A browser's HTTP, as little as the rehearsal needs: one keep-alive HTTP/1.1 connection over TLS (asyncio
streams), the session cookie kept by hand, the sign-in page, and live-hub tickets.

Every client talks HTTPS and WSS to nginx (`Front`), trusting only the run's own CA (the compose `tls`
service's), as a hall's browser that installed it would; each device may come from an address of its own
(`device_address`: 127.x.y.z is all this machine's), so nginx's per-address limits see hall PCs and
phones, not one client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import re
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import itsdangerous

SESSION_COOKIE = "hoinghi"  # web/app.py
TIMEOUT = 30.0
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def reason(status: int, body: bytes) -> str:
    """An answer in a few words: a JSON error's code, an HTML page's title, or the start of the text."""
    text = body[:300].decode("utf-8", "replace")
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(body).get("error", text))[:60]
    title = re.search(r"<title>(.*?)</title>", text)
    return (title.group(1) if title else " ".join(text.split())).removeprefix(f"{status} ")[:60]


class HttpError(Exception):
    """A transport failure or an answer the caller did not expect."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@functools.cache
def _trusting(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def device_address(kind: int, n: int) -> str:
    """The n-th device of a kind (1 kiosks, 2 participants' browsers, 3 organisers) as a loopback address."""
    return f"127.{kind}.{n // 250 % 250}.{n % 250 + 1}"


@dataclass(frozen=True)
class Front:
    """nginx as the clients reach it: HTTPS and WSS on `port`, the run's CA certificate `ca` trusted."""

    host: str
    port: int
    ca: str

    def tls(self) -> ssl.SSLContext:
        return _trusting(self.ca)

    def http(self, source: str | None = None) -> Http:
        return Http(self.host, self.port, tls=self.tls(), source=source)

    @property
    def ws(self) -> str:
        return f"wss://{self.host}:{self.port}/ws"


@dataclass
class Http:
    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    source: str | None = None  # the device's own address
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                      timeout: float = TIMEOUT) -> Answer:
        try:
            return await asyncio.wait_for(self._request(method, path, body, headers or {}), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:  # ssl.SSLError: OSError
            self.close()
            raise HttpError(0, f"{type(e).__name__}: {e}") from None

    async def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls, local_addr=(self.source, 0) if self.source else None)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        parsed = [(k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in head[1:] if h)]
        values = dict(parsed)
        if values.get("transfer-encoding", "").lower() == "chunked":
            data = bytearray()
            while size := int((await self.reader.readuntil(b"\r\n")).strip() or b"0", 16):
                data += await self.reader.readexactly(size + 2)
                del data[-2:]
            await self.reader.readuntil(b"\r\n")
        else:
            data = bytearray(await self.reader.readexactly(int(values.get("content-length", "0"))))
        for name, value in parsed:
            if name == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if values.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, parsed, bytes(data))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def sign_in(http: Http, username: str, password: str) -> str:
    """The sign-in page, as a browser fills it in; returns the CSRF token of the signed-in session."""
    page = await http.request("GET", "/login")
    found = _CSRF_FIELD.search(page.body.decode("utf-8", "replace"))
    if page.status != 200 or not found:
        raise HttpError(page.status, f"sign-in page without a form: {reason(page.status, page.body)}")
    form = urlencode({"username": username, "password": password, "csrf": found.group(1)}).encode()
    done = await http.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    if done.status != 303:
        raise HttpError(done.status, f"sign-in of {username} refused: {reason(done.status, done.body)}")
    me = await http.request("GET", "/api/me")
    if me.status != 200:
        raise HttpError(me.status, reason(me.status, me.body))
    return str(me.json()["csrf_token"])


async def ticket(http: Http, csrf: str) -> str:
    """A 60-second live-hub ticket for the signed-in session (POST /api/live/ticket)."""
    answer = await http.request("POST", "/api/live/ticket", headers={"X-CSRF-Token": csrf})
    if answer.status != 200:
        raise HttpError(answer.status, reason(answer.status, answer.body))
    return str(answer.json()["ticket"])


def issued_session(secret_key: str, user_id: int, version: int = 0) -> tuple[str, str]:
    """The session cookie a sign-in of `user_id` gives (what web.http.auth.sign_in stores: the user, the
    account's session version, 0 for a new account, and the CSRF token; signed as Starlette's SessionMiddleware
    signs it) and its CSRF token: for participants who signed in before the rehearsal."""
    csrf = secrets.token_urlsafe(24)
    data = base64.b64encode(json.dumps({"uid": user_id, "sv": version, "csrf": csrf}).encode())
    return itsdangerous.TimestampSigner(secret_key).sign(data).decode(), csrf
