"""The three signals of Burke's Secure Customer Index, read from a review's text.

A *secure* customer is satisfied, will return (or buy again) and will recommend. Reviews rarely
say all three, but they often say one outright ("will definitely be back", "никому не советую",
"Finger weg"). Each signal is +1 (shown), -1 (negated: "never again", "I won't recommend",
"switching to X") or 0 (not said).

Why rules: the phrases are few, language-specific and must be auditable; negation is checked
first, so "не рекомендую" never counts as "рекомендую". *Satisfied* falls back on the review's
sentiment when no phrase says it: a clearly positive review is a satisfied customer, a negative
one is not (and a 4-5 star review's text must not be negative, i.e. not ``mixed``).
Accuracy on labelled examples per language: sentiment/MODEL_CARD.md ("Secure Customer Index").
"""

from __future__ import annotations

import re

SIGNALS = ("satisfied", "return", "recommend")

_NEGATED: dict[str, str] = {
    "satisfied": (
        r"\b(dis|un)satisfied|not (very |really |at all )?(satisfied|happy|pleased)|unhappy"
        r"|disappointed|недовол|не довол|не понравил|разочарован|незадоволен|не задоволен"
        r"|не сподобал|розчарован|niezadowolon|nie (jestem |byłem |byłam )?zadowolon"
        r"|rozczarowan|zawiedzion|unzufrieden|nicht (sehr |ganz )?zufrieden|enttäuscht"
        r"|insatisfech|no (estoy |quedé |quedamos |quede )?(muy )?(satisfech|content)"
        r"|descontent|decepcionad"
    ),
    "return": (
        r"never again|never (be )?(coming|going|shopping|ordering|eating|buying) "
        r"|(won'?t|will not|wouldn'?t|not) (be )?(coming|going) back|not coming back"
        r"|(won'?t|will not|never) (come|go|be) back|(won'?t|will not|never) (return|shop|order"
        r"|buy|eat|stay|book|use them)[a-z ]{0,20}again|no chance|last time i|cancel(led|ed)? "
        r"my (subscription|account|membership)|switch(ing|ed)? to|moving (my \w+ )?to another"
        r"|taking my business elsewhere"
        r"|больше не (приду|вернусь|вернёмся|вернемся|закажу|буду|пойду|приеду)|ноги моей"
        r"|ни ногой|больше никогда|никогда больше|в последний раз|ухожу (к|в)|перехожу (к|в)"
        r"|перейду (к|в)|переходим (к|в)|больше сюда не"
        r"|більше не (прийду|повернуся|повернемося|замовлю|буду)|більше ніколи|ніколи більше"
        r"|востаннє|переходжу до|перейду до|більше сюди не"
        r"|nigdy więcej|więcej (tu |tam )?nie (wrócę|przyjdę|zamówię|kupię)|(już|juz) (tu )?nie"
        r" wrócę|nie wrócę|ostatni raz|przechodzę do|zmieniam (operatora|bank|dostawcę|na)"
        r"|nie wrócimy"
        r"|nie wieder|nicht wieder|komme? (hier )?nicht (mehr |wieder)|nicht mehr her"
        r"|kein zweites mal|zum letzten mal|wechsle (zu|zum|zur)|gewechselt"
        r"|nunca más|no (vuelvo|volveré|volveremos|repetiré|repetiremos)|jamás volveré"
        r"|última vez|me (cambio|paso) a"
    ),
    "recommend": (
        r"(not|n'?t|never) (\w+ )?recommend|not recommended|avoid|stay away|steer clear"
        r"|не (рекомендую|советую|рекомендовал|посоветую|рекомендуем)|обходите стороной"
        r"|держитесь подальше|не (рекомендую|раджу|пораджу)|оминайте|нікому не раджу"
        r"|nie polec|odradzam|omijajcie|omijać|nikomu nie polec"
        r"|nicht (zu )?empfehl|nicht empfehlenswert|keine empfehlung|finger weg|empfehlen werde"
        r" ich es auch niemandem|niemandem empfehlen|meiden"
        r"|no (lo |la |los |las |se lo |se la )?(recomiendo|recomendaré|recomendaría)"
        r"|no (es )?recomendable|no recomendad|eviten|evitad|huyan"
    ),
}

_SHOWN: dict[str, str] = {
    "satisfied": (
        r"\bsatisfied|\b(very |really |so )?(happy|pleased|delighted) with|delighted"
        r"|довол(ен|ьна|ьны)|понравил|задоволен|сподобал|zadowolon|\bzufrieden|begeistert"
        r"|satisfech|content[oa]s?\b|encantad"
    ),
    "return": (
        r"(will|'ll|we'll|i'll) (definitely |certainly |surely )?(be back|come back|return"
        r"|order again|buy again|use them again|visit again|shop here again)|coming back"
        r"|use them again|order again|buy again|be back|regulars?\b|go-to|\bour local\b"
        r"|(приду|придём|придем|зайду|вернусь|вернёмся|вернемся|закажу|приедем) (сюда )?(ещё|еще"
        r"|снова)|(обязательно |ещё |еще )(вернусь|вернёмся|вернемся|придём|придем)"
        r"|буду (заказывать|заходить|ходить|брать)|только (сюда|тут|здесь|к нему|к ней)"
        r"|постоянн\w+ клиент"
        r"|(прийду|прийдемо|зайду|замовлю) ще|повернус|повернемос|буду замовляти|замовлятиму"
        r"|тільки (сюди|тут)|постійн\w+ клієнт"
        r"|wrócę|wrócimy|wpadnę jeszcze|wracać|zamówię (ponownie|jeszcze)|będę (zamawiać|wracać"
        r"|kupować)|tylko (tutaj|tu)\b|stał\w+ klient"
        r"|(komme|kommen) (bestimmt |gerne |sicher )?wieder|wiederkommen|gerne wieder"
        r"|(bestelle|kaufe|buche) (gerne |bestimmt )?wieder|weiter hier bestellen|nur noch hier"
        r"|stammkund"
        r"|volveré|volveremos|repetiré|repetiremos|seguiré (pidiendo|comprando|viniendo)"
        r"|solo (compramos|comemos|pedimos|vamos) aquí|cliente habitual"
    ),
    "recommend": (
        r"recommend|tell (all |everyone |my )?\w* ?(friends|you know)|sent the link to"
        r"|рекоменд|совет|советую|рассказал\w* (всем )?друзьям|рекомендую|раджу|пораджу"
        r"|порадимо|polec|godne polecenia|empfehl|empfohlen|recomiend|recomendable"
        r"|recomendado"
    ),
}
_NEG = {name: re.compile(p, re.IGNORECASE) for name, p in _NEGATED.items()}
_POS = {name: re.compile(p, re.IGNORECASE) for name, p in _SHOWN.items()}


def explicit(text: str) -> dict[str, int]:
    """Signals said outright in the text: +1, -1 (negated) or 0 for each of SIGNALS."""
    out = {}
    for name in SIGNALS:
        if text and _NEG[name].search(text):
            out[name] = -1
        elif text and _POS[name].search(text):
            out[name] = 1
        else:
            out[name] = 0
    return out


def signals(text: str, label: str | None, rating: float | None = None) -> dict[str, int]:
    """The three SCI signals of one review: explicit phrases first; *satisfied* otherwise from
    the review's label (positive and, when rated, 4.5+ stars: the top box Burke counts)."""
    found = explicit(text)
    if found["satisfied"] == 0 and label is not None:
        if label == "negative":
            found["satisfied"] = -1
        elif label == "positive" and (rating is None or rating >= 4.5):
            found["satisfied"] = 1
    return found


def is_secure(found: dict[str, int]) -> bool:
    """All three shown: Burke's secure customer."""
    return all(found.get(name) == 1 for name in SIGNALS)
