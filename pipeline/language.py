"""Language identification for items whose source does not say (lingua: accurate on short texts)."""

from __future__ import annotations

from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# The languages review monitoring meets most in revmon's markets; a closed set keeps short texts
# from being mistaken for a rare language and keeps the detector small in memory.
SUPPORTED = (
    "en", "ru", "uk", "pl", "de", "es", "fr", "it", "pt", "nl", "cs", "sk", "tr", "be", "kk", "lt",
    "lv", "et", "ro", "hu", "sv", "fi", "da", "bg", "sr", "hr", "el", "he", "ar", "ja", "zh", "ko",
)  # fmt: skip
MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in SUPPORTED
    ]
    # Low-accuracy mode loads only trigram models: ~0.3 s instead of ~10 s at first use, and
    # review-length sentences still come out right; short ambiguous ones fall under MIN_CONFIDENCE.
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``, or None when it is too short or too ambiguous to tell."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3:
        return None
    confidences = _detector().compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return None
    return confidences[0].language.iso_code_639_1.name.lower()
