"""QR images of a credential text: error correction M, never larger than version 6.

A credential (`HN1:` + base32, 142 characters in QR's alphanumeric set) fits version 6 at level M;
anything that would need a larger symbol is refused rather than printed as a code too dense to scan.
"""

from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M

MAX_VERSION = 6
QUIET_ZONE = 4  # modules of white border the standard asks for


class QrTooLarge(ValueError):
    """The text needs a QR code larger than MAX_VERSION."""


def make(text: str) -> qrcode.QRCode:
    """The QR symbol for `text`, at level M, in the smallest version that holds it (at most 6)."""
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(text, optimize=0)  # one segment; alphanumeric mode when every character allows it
    qr.make(fit=True)
    if qr.version is None or qr.version > MAX_VERSION:
        raise QrTooLarge(f"the text needs QR version {qr.version}, more than {MAX_VERSION}")
    return qr


def modules(text: str) -> list[list[bool]]:
    """The symbol's modules, quiet zone included: True is dark."""
    return [list(row) for row in make(text).get_matrix()]


def dark_runs(matrix: list[list[bool]]) -> list[tuple[int, int, int]]:
    """Each row's horizontal runs of dark modules as (row, first column, length): few shapes to draw."""
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((y, start, x - start))
            else:
                x += 1
    return runs


def png(text: str, box_size: int = 8) -> bytes:
    """A black-on-white PNG of the code, `box_size` pixels per module."""
    qr = make(text)
    qr.box_size = box_size
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer)
    return buffer.getvalue()


def svg(text: str, label: str = "") -> str:
    """An inline SVG of the code (no XML declaration, so it can sit inside an HTML page)."""
    matrix = modules(text)
    size = len(matrix)
    path = "".join(f"M{x} {y}h{n}v1h-{n}z" for y, x, n in dark_runs(matrix))
    named = f' aria-label="{_escape(label)}"' if label else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" '
            f'role="img"{named}><rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path d="{path}" fill="#000"/></svg>')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
