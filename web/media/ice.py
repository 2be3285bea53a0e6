"""ICE servers: none by default (conference networks are often closed), or STUN/TURN from the settings.
Pure: the same list configures the server's peer connections and is handed to browsers."""

from __future__ import annotations

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
