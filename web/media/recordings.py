"""The broadcasts' files under the media directory: live HLS streams (`hls/<session>/<key>/`) and
recordings (`recordings/<session>/<start>.mp4`): where a broadcast's muxer writes, which names may be
served, the list of a session's recordings, and the removal of ended streams.

An HLS stream's path holds a random key, which is its capability: the media API hands it only to the
session's audience, so nginx or a CDN can cache the files and serve them to everyone.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conference.errors import NotFound
from web.media.muxer import PLAYLIST, ProgramMuxer

HLS_KEEP_SECONDS = 600.0  # an ended HLS stream stays on disk this long
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HLS_FILE = re.compile(r"^(index\.m3u8|\d{1,9}\.ts)$")
RECORDING_FILE = re.compile(r"^\d{8}-\d{6}\.mp4$")


class Recordings:
    """The HLS streams and recordings kept under `media_root`."""

    def __init__(self, media_root: Path) -> None:
        self.hls_root = media_root / "hls"
        self.recordings_root = media_root / "recordings"

    def muxer(self, session_id: int, segment_seconds: float, hls: bool, record: bool,
              audio: bool) -> tuple[ProgramMuxer, str | None]:
        """A muxer for a broadcast of the session, writing a new HLS stream (its key returned) and/or a
        new recording."""
        key = secrets.token_urlsafe(18) if hls else None
        hls_dir = self.hls_root / str(session_id) / key if key is not None else None
        recordings = self.recordings_root / str(session_id) if record else None
        muxer = ProgramMuxer(hls_dir, recordings, segment_seconds, audio=audio, name=f"session-{session_id}")
        return muxer, key

    @staticmethod
    def hls_url(session_id: int, key: str) -> str:
        return f"/media/hls/{session_id}/{key}/{PLAYLIST}"

    def hls_file(self, session_id: int, key: str, name: str) -> Path:
        """A playlist or segment of an HLS stream; NotFound for any other name."""
        if not KEY.match(key) or not HLS_FILE.match(name):
            raise NotFound("no such HLS file")
        path = self.hls_root / str(session_id) / key / name
        if not path.is_file():
            raise NotFound("no such HLS file")
        return path

    def listing(self, session_id: int, live: Collection[Path] = ()) -> list[dict[str, Any]]:
        """The session's recordings, newest first; those in `live` are still being written."""
        directory = self.recordings_root / str(session_id)
        if not directory.is_dir():
            return []
        out = []
        for path in sorted(directory.iterdir(), reverse=True):
            if RECORDING_FILE.match(path.name):
                started = datetime.strptime(path.stem, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
                out.append({"name": path.name, "started_at": started.isoformat(), "bytes": path.stat().st_size,
                            "recording": path in live, "url": f"/media/recordings/{session_id}/{path.name}"})
        return out

    def recording_file(self, session_id: int, name: str) -> Path:
        path = self.recordings_root / str(session_id) / name
        if not RECORDING_FILE.match(name) or not path.is_file():
            raise NotFound("no such recording")
        return path

    def clean_hls(self, older_than: float, active: Collection[str | None] = ()) -> None:
        """Remove the HLS streams not in `active` and not written for `older_than` seconds (blocking I/O)."""
        root = self.hls_root
        if not root.is_dir():
            return
        limit = time.time() - older_than
        for session_dir in root.iterdir():
            for key_dir in session_dir.iterdir() if session_dir.is_dir() else []:
                if key_dir.name not in active and key_dir.stat().st_mtime < limit:
                    shutil.rmtree(key_dir, ignore_errors=True)
