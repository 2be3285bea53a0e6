"""The UI's words in Vietnamese (default) and English, and the translator that picks one language.

Keys are stable English identifiers; each feature keeps its words in a catalogue module of this package
(`common`, `credentials`, `dashboard`, `checkin`, `documents`, `feedback`, `reports`, `audit`, `faces`,
`media`, `signin`, `administration`), each a `WORDS` dict of key -> (Vietnamese, English). `MESSAGES` is all
of them together; a key belongs to exactly one catalogue. The scan refusals and greetings (`REFUSALS`,
`GREETINGS`) live in `checkin`.
"""

from __future__ import annotations

from collections.abc import Callable

from web.i18n import (
    administration,
    audit,
    checkin,
    common,
    credentials,
    dashboard,
    documents,
    faces,
    feedback,
    media,
    reports,
    signin,
)
from web.i18n.checkin import GREETINGS, REFUSALS

__all__ = ["CATALOGUES", "GREETINGS", "LANGUAGES", "MESSAGES", "REFUSALS", "form_error", "translator",
           "verdict_message"]

LANGUAGES = ("vi", "en")

# In this order the keys are listed (the pages hand some of them to their scripts in this order).
CATALOGUES: tuple[dict[str, tuple[str, str]], ...] = (
    common.WORDS, credentials.WORDS, dashboard.WORDS, checkin.WORDS, documents.WORDS, feedback.WORDS,
    reports.WORDS, audit.WORDS, faces.WORDS, media.WORDS, signin.WORDS, administration.WORDS,
)
MESSAGES: dict[str, tuple[str, str]] = {key: text for words in CATALOGUES for key, text in words.items()}


def translator(lang: str) -> Callable[..., str]:
    """`t("hall_count", n=12, people="3.450")` in the chosen language; an unknown key shows itself."""
    index = 1 if lang == "en" else 0

    def t(key: str, **params: object) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return common.plural(text, params).format(**params) if params else text

    return t


def form_error(lang: str, error: Exception) -> str:
    """A refused form's message in the page's language: the words for the offending field (`err_<field>`),
    else the generic "invalid input" and the rule's own (English) message."""
    t = translator(lang)
    key = f"err_{getattr(error, 'field', None)}"
    return t(key) if key in MESSAGES else f"{t('error_422')} {getattr(error, 'message', error)}"


def verdict_message(lang: str, outcome: str, reason: str | None, **params: str) -> str:
    """The kiosk's one-line answer for a verdict, in the kiosk's language."""
    index = 1 if lang == "en" else 0
    if outcome == "refused":
        return REFUSALS.get(reason or "", ("Bị từ chối", "Refused"))[index]
    return GREETINGS[outcome][index].format(**params)
