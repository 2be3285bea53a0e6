"""The media plane's refusals: a signalling request refused with a code of docs/PROTOCOL.md section 7."""

from __future__ import annotations


class MediaRefused(Exception):
    """A signalling request that is refused; sent back as `rtc_error` with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
