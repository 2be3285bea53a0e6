"""What the media API, the files and the live list ask of this process's broadcasts: a session's media
info (state, ICE servers, codec, what the asker may do), its recordings and the HLS files, each request
checked by `access` first. The routes (web/routes/media.py) decode, call one of these, and encode.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attendance.devices import Device
from conference.accounts import User
from conference.errors import NotFound
from web.media.broadcast import quiet_state
from web.media.ice import ice_for

if TYPE_CHECKING:
    from web.media.service import MediaService

HEARTBEAT_SECONDS = 15  # a watch page's viewer pings
HLS_PATH = re.compile(r"^/media/hls/(\d{1,12})/([^/]+)/(?:([^/]+)/)?([^/]+)$")


class MediaApi:
    def __init__(self, media: MediaService) -> None:
        self.media = media
        self.access = media.access
        self.recordings = media.recordings

    async def info(self, user: User | None, device: Device | None, session_id: int) -> dict[str, Any]:
        """What a page needs to start: the state, the ICE servers and the codec, and what it may do."""
        audience = await self.access.audience(user, device, session_id)
        config = self.media.config
        broadcast = self.media.broadcasts.get(audience.session_id)
        state = self.media.state(broadcast) if broadcast is not None else quiet_state(audience.session_id)
        servers = ice_for(config.ice_servers, config.turn, time.time())  # TURN credentials of this moment
        viewer = None if audience.user is None else self.media.viewer_keys.key(audience.session_id, audience.user.id)
        return {**state, "ice_servers": [s.as_dict() for s in servers], "codec": config.video_codec,
                "heartbeat_s": HEARTBEAT_SECONDS, "hls_viewer": viewer,
                "may_publish": await self.access.may_present(audience.user, audience),
                "may_control": await self.access.may_control(audience.user, audience)}

    async def recording_list(self, user: User | None, device: Device | None, session_id: int) -> list[dict[str, Any]]:
        """The session's recordings, for its audience."""
        audience = await self.access.audience(user, device, session_id)
        live = {b.muxer.stats.recording for b in self.media.broadcasts.values() if b.muxer is not None}
        return self.recordings.listing(audience.session_id, {p for p in live if p is not None})

    async def recording_file(self, user: User | None, device: Device | None, session_id: int, name: str) -> Path:
        """A recording of the session, for its audience."""
        audience = await self.access.audience(user, device, session_id)
        return self.recordings.recording_file(audience.session_id, name)

    async def hls_file(self, session_id: int, key: str, name: str, viewer: str | None = None) -> Path:
        """A file of an HLS stream, for anyone: the random key in its path is the capability. With a viewer's
        own key (`/media/hls/<session>/<key>/<viewer>/<name>`), a segment fetched counts as their media
        flowing (online attendance); a forged viewer key finds nothing."""
        user_id = None if viewer is None else self.media.viewer_keys.viewer(session_id, viewer)
        if viewer is not None and user_id is None:
            raise NotFound("no such HLS file")
        path = self.recordings.hls_file(session_id, key, name)
        if user_id is not None and path.suffix == ".ts":
            await self.media.segment_fetched(session_id, user_id)
        return path

    async def hls_fetched(self, uri: str) -> bool:
        """nginx serves HLS files from its cache and asks first (auth_request) with the request's URI: a
        viewer's fetch is recorded as if it had reached this hub; False for a path that names no file."""
        found = HLS_PATH.match(uri.split("?", 1)[0])
        if found is None:
            return False
        session, key, viewer, name = found.groups()
        try:
            await self.hls_file(int(session), key, name, viewer)
        except NotFound:
            return False
        return True

    async def live_list(self, user: User) -> list[dict[str, Any]]:
        """The sessions the user may watch (`access.reachable`), each saying whether it is on air here."""
        items = await self.access.reachable(user)
        for item in items:
            broadcast = self.media.broadcasts.get(item["session"].id)
            item["live"] = broadcast is not None and broadcast.channel.on_air is not None
        return items
