"""Uploaded files on disk, named by their content: `<root>/<first two hex digits>/<sha256>`.

A name chosen by a user never reaches the file system, the same content is stored once, and a
file is written whole or not at all (a temporary file, flushed, then renamed into place). The
methods are blocking; the async ones run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

from conference.errors import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound("no such file")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store the bytes (once); returns their SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(data):
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o640)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return sha256

    def existing(self, sha256: str) -> Path:
        """The stored file, or NotFound (the record outlived its file: a restore from an older backup)."""
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound("the document's file is missing on this server")
        return path

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()

    async def put_async(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put, data)

    async def delete_async(self, sha256: str) -> None:
        await asyncio.to_thread(self.delete, sha256)
