"""Language identification for items whose source gives none."""

from __future__ import annotations

import pytest

from pipeline.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The delivery was late and nobody answered my emails.", "en"),
        ("Очень долго ждали заказ, официант был груб.", "ru"),
        ("Дуже смачна кава, але персонал неввічливий.", "uk"),
        ("Obsługa była fatalna, czekaliśmy godzinę na kawę.", "pl"),
        ("Sehr freundliches Personal, aber viel zu teuer.", "de"),
        ("El mejor café que he probado, llegó muy rápido.", "es"),
    ],
)
def test_review_sentences(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "ok", "👍👍👍", "!!!", "5/5"])
def test_too_little_to_tell_is_none(text: str) -> None:
    assert detect_language(text) is None
