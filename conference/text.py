"""Vietnamese text rules: store in NFC, search without diacritics, format numbers and dates."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, tzinfo

_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """NFC-normalise and collapse white space: the form every stored name takes."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str) -> str:
    """A search key: lower case, no diacritics, đ as d ("Nguyễn Văn An" -> "nguyen van an")."""
    decomposed = unicodedata.normalize("NFD", clean(text).lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d")


def thousands(n: int) -> str:
    """Vietnamese thousands separator: 70000 -> "70.000"."""
    return f"{n:,}".replace(",", ".")


def format_datetime(moment: datetime, zone: tzinfo) -> str:
    """dd/MM/yyyy HH:mm in the given zone (Asia/Ho_Chi_Minh in deployments)."""
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")
