"""The UI's words (web/i18n/): every key in both languages, in one catalogue only, with the same placeholders."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from web.i18n import CATALOGUES, GREETINGS, LANGUAGES, MESSAGES, REFUSALS, translator, verdict_message

TABLES = {"MESSAGES": MESSAGES, "REFUSALS": REFUSALS, "GREETINGS": GREETINGS}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_key_has_a_vietnamese_and_an_english_text(table: str) -> None:
    bad = [key for key, texts in TABLES[table].items()
           if len(texts) != len(LANGUAGES) or not all(isinstance(x, str) and x.strip() for x in texts)]
    assert not bad


@pytest.mark.parametrize("table", sorted(TABLES))
def test_both_languages_take_the_same_parameters(table: str) -> None:
    bad = {key: (placeholders(vi), placeholders(en)) for key, (vi, en) in TABLES[table].items()
           if placeholders(vi) != placeholders(en)}
    assert not bad


def test_a_key_belongs_to_one_catalogue() -> None:
    counts = Counter(key for words in CATALOGUES for key in words)
    assert not [key for key, n in counts.items() if n > 1]
    assert len(MESSAGES) == sum(len(words) for words in CATALOGUES)


def test_the_translator_picks_the_language_and_fills_the_parameters() -> None:
    assert translator("vi")("hall_count", n=12, people="3.450") == "12 điểm cầu · 3.450 đại biểu"
    assert translator("en")("hall_count", n=12, people="3.450") == "12 halls · 3.450 delegates"
    assert translator("fr")("sign_in") == "Đăng nhập"  # anything else: the default, Vietnamese
    assert translator("en")("no_such_key") == "no_such_key"
    assert verdict_message("en", "refused", "wrong_hall") == "The delegate is expected at another hall"
    assert verdict_message("vi", "refused", "no_such_reason") == "Bị từ chối"
    assert verdict_message("vi", "accepted", None, name="An") == "Xin chào An"


def test_english_counts_take_their_plural() -> None:
    en, vi = translator("en"), translator("vi")
    assert en("hall_count", n=1, people="1") == "1 hall · 1 delegate"
    assert en("hall_count", n=12, people="3,450") == "12 halls · 3,450 delegates"  # counts written with marks
    assert en("doc_withheld", n=1) == "1 document is for signed-in readers only."
    assert en("doc_withheld", n=0) == "0 documents are for signed-in readers only."
    assert vi("hall_count", n=1, people="1.000") == "1 điểm cầu · 1.000 đại biểu"
    # every plural names a parameter its text has, so no "[[" is ever left on a page
    for key, (_, english) in MESSAGES.items():
        for name in re.findall(r"\[\[(\w+):", english):
            assert name in placeholders(english), key
