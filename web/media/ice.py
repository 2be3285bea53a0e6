"""ICE servers: none by default (conference networks are often closed), or STUN/TURN from the settings,
and a TURN server of the deployment's own (coturn) whose credentials are made per use and expire: the TURN
REST API's `<expiry>:<name>` username and base64 HMAC-SHA1 password under the shared secret, which coturn
checks with `use-auth-secret` / `static-auth-secret`. Pure: time is an argument; the same lists configure
the server's peer connections and are handed to browsers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class IceServer:
    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


def parse_ice_servers(text: str) -> list[IceServer]:
    """`HOINGHI_ICE_SERVERS`: empty (host candidates only, the default for closed networks), a comma-
    separated list of stun:/turn: URLs, or a JSON list like the browser's `iceServers`."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise ValueError("ice servers: not valid JSON") from None
        servers = []
        for item in items:
            if not isinstance(item, dict) or "urls" not in item:
                raise ValueError("ice servers: each entry needs urls")
            urls = item["urls"] if isinstance(item["urls"], list) else [item["urls"]]
            servers.append(IceServer([str(u) for u in urls], item.get("username"), item.get("credential")))
    else:
        servers = [IceServer([u.strip()]) for u in text.split(",") if u.strip()]
    for server in servers:
        for url in server.urls:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"ice servers: {url!r} is not a stun:, turn: or turns: URL")
    return servers


@dataclass(frozen=True)
class Turn:
    """A TURN server sharing a secret with the hubs (HOINGHI_TURN_URLS, HOINGHI_TURN_SECRET)."""

    urls: list[str]
    secret: str
    ttl_seconds: int = 43200

    def credential(self, now: float, name: str = "hoinghi") -> IceServer:
        """Credentials valid until `now` + ttl: no password that lasts, nothing to revoke."""
        username = f"{int(now) + self.ttl_seconds}:{name}"
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return IceServer(self.urls, username, base64.b64encode(digest).decode())


def parse_turn(urls: str, secret: str, ttl_seconds: int) -> Turn | None:
    """The deployment's TURN server, or None without one; its URLs are turn: or turns:."""
    if not urls.strip():
        return None
    listed = [u.strip() for u in urls.split(",") if u.strip()]
    for url in listed:
        if not url.startswith(("turn:", "turns:")):
            raise ValueError(f"turn urls: {url!r} is not a turn: or turns: URL")
    return Turn(listed, secret, ttl_seconds)


def ice_for(servers: list[IceServer], turn: Turn | None, now: float, name: str = "hoinghi") -> list[IceServer]:
    """The ICE servers for one peer connection made at `now`: the configured ones and fresh TURN credentials."""
    return servers + ([turn.credential(now, name)] if turn is not None else [])
