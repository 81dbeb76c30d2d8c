"""How soon a review needs a human: risk signals found in the text and a 0..100 urgency.

Why rules and not the model: health, safety, legal threats, chargebacks and threats to go to
the press are rare, costly and language-specific; a short multilingual stem list is auditable,
predictable and easy to extend, and it combines with the model's negativity and the stars.
"""

from __future__ import annotations

import re

SIGNALS: dict[str, str] = {
    "health": r"food poisoning|poisoned|sick after|made (me|us) sick|got sick|fell ill|hospital"
    r"|emergency room|allerg|ambulance|vomit|diarrh|health inspector|санэпид|санепід|sanepid"
    r"|gesundheitsamt|sanidad"
    r"|отрав|скорую|скорой|больниц|аллерг|отруї|швидку|лікарн|zatru|szpital|karetk|alergi"
    r"|vergiftung|krankenhaus|notarzt|allergi|intoxicaci|hospital|urgencias|alergi",
    "safety": r"unsafe|danger|injur|fire hazard|burn(ed|t) (my|his|her)|electric shock|gas leak"
    r"|опасн|травм|пожар|небезпеч|травмув|niebezpie|obrażeń|pożar|gefährlich|verletz|brandgefahr"
    r"|peligros|herid|incendio",
    "legal": r"lawyer|attorney|\bsue\b|lawsuit|\bcourt\b|legal action|police|адвокат|юрист|\bсуд"
    r"|прокуратур|роспотребнадзор|полици|до суду|поліці|захисту прав споживачів|prawnik|adwokat"
    r"|\bsąd|rzecznik|policj|anwalt|gericht|verklag|polizei|abogad|denuncia|demanda|tribunal"
    r"|policía",
    "chargeback": r"chargeback|charge ?back|dispute the charge|disputing the charge"
    r"|credit card company|возврат платежа|оспор|через банк|повернення коштів через банк"
    r"|przez bank|rückbuchung|über die bank|anule el cargo|anular el cargo|contracargo",
    "media": r"journalist|newspaper|the press|\btv\b|news channel|go viral|social media"
    r"|журналист|сми\b|телевиден|соцсет|журналіст|dziennikarz|media społeczn|telewizj"
    r"|journalist|presse|zeitung|periodista|prensa|redes sociales|televisión",
}
_PATTERNS = {name: re.compile(p, re.IGNORECASE) for name, p in SIGNALS.items()}
WEIGHTS = {"health": 30, "safety": 30, "legal": 25, "chargeback": 20, "media": 20}


def find_signals(text: str) -> list[str]:
    """Risk signals present in the text, in a fixed order."""
    return [name for name, p in _PATTERNS.items() if text and p.search(text)]


def urgency(
    rating: float | None, p_negative: float, signals: list[str], mixed: bool, label: str
) -> int:
    """0..100: negativity (up to 45) + low stars (up to 25) + risk signals + mixed (5)."""
    score = 45.0 * p_negative if label == "negative" else 20.0 * p_negative
    if rating is not None:
        score += {1: 25, 2: 15, 3: 5}.get(round(rating), 0)
    score += sum(WEIGHTS[s] for s in signals)
    score += 5 if mixed else 0
    return int(max(0, min(100, round(score))))
