"""Split a review into the sentences and clauses that carry one opinion each.

Why clauses and not only sentences: "Coffee is great, but shipping took nine days" praises one
aspect and complains about another in one sentence; the model reads each half on its own far
better than the whole (the whole leans to whichever half is stronger). A contrastive
conjunction after a comma ("but", "но", "ale", "aber", "pero", ...) starts a new clause.
"""

from __future__ import annotations

import re

MAX_SENTENCES = 16  # longer reviews keep their first 16 pieces; the rest share the review's view
MIN_CHARS = 2

_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+|\n+|(?<=[.!?…])(?=[A-ZА-ЯЁІЇЄҐ])")
_CONTRAST = re.compile(
    r",\s*(?=(?:but|however|although|though|yet|whereas|"
    r"но|однако|зато|хотя|а вот|"
    r"але|проте|однак|хоча|"
    r"ale|lecz|jednak|chociaż|choć|"
    r"aber|doch|jedoch|allerdings|obwohl|"
    r"pero|aunque|sin embargo)\b)",
    re.IGNORECASE,
)


def split(text: str) -> list[str]:
    """Sentences, then clauses split at ", but"-like conjunctions; whitespace trimmed, empty
    pieces dropped, at most ``MAX_SENTENCES``. A text without any break is one piece."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text or ""):
        for clause in _CONTRAST.split(sentence):
            clause = clause.strip(" \t,;")
            if len(clause) >= MIN_CHARS:
                pieces.append(clause)
    return pieces[:MAX_SENTENCES]
