"""Which parts of the business a review talks about: staff, wait time, price, and so on.

Why two signals: embedding similarity to short multilingual descriptions catches paraphrases in
any language the encoder knows ("nobody came to take our order" -> wait_time), while a few
keyword stems per language keep the obvious cases reliable and work for back ends that expose no
sentence embeddings (a plain sequence-classification model).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

ASPECTS = (
    "staff",
    "wait_time",
    "price",
    "quality",
    "cleanliness",
    "delivery",
    "billing",
    "app_website",
)

DESCRIPTIONS: dict[str, list[str]] = {
    "staff": [
        "rude or friendly staff, waiter, manager, employees",
        "грубый или вежливый персонал, официант, администратор",
        "niemiła lub miła obsługa, kelner, personel",
        "unfreundliches oder nettes Personal, Kellner",
        "personal amable o maleducado, camarero",
    ],
    "wait_time": [
        "long wait, waited an hour, slow service, queue",
        "долго ждали, очередь, ожидание больше часа",
        "długie czekanie, kolejka, czekaliśmy godzinę",
        "lange Wartezeit, Schlange",
        "esperamos mucho tiempo, cola",
    ],
    "price": [
        "too expensive, overpriced, good value for money, prices",
        "дорого, завышенные цены, цена и качество",
        "drogo, ceny, stosunek jakości do ceny",
        "teuer, überteuert, Preis-Leistung",
        "caro, precios, relación calidad-precio",
    ],
    "quality": [
        "quality of food or product, tasty, broken, defective",
        "качество еды или товара, вкусно, брак",
        "jakość jedzenia lub produktu, smaczne, wadliwy",
        "Qualität des Essens oder Produkts, lecker, defekt",
        "calidad de la comida o producto, sabroso, defectuoso",
    ],
    "cleanliness": [
        "dirty, clean, mold, cockroach, hygiene",
        "грязно, чисто, плесень, тараканы",
        "brudno, czysto, pleśń, karaluchy",
        "schmutzig, sauber, Schimmel",
        "sucio, limpio, moho, cucarachas",
    ],
    "delivery": [
        "delivery, courier, parcel arrived late or damaged",
        "доставка, курьер, посылка",
        "dostawa, kurier, paczka",
        "Lieferung, Kurier, Paket",
        "envío, repartidor, paquete",
    ],
    "billing": [
        "charged twice, refund, invoice, payment, hidden fees",
        "списали дважды, возврат денег, счёт, оплата",
        "pobrali dwa razy, zwrot pieniędzy, faktura, płatność",
        "doppelt abgebucht, Rückerstattung, Rechnung",
        "cobro doble, reembolso, factura, pago",
    ],
    "app_website": [
        "the app crashes, website not working, login problems",
        "приложение вылетает, сайт не работает",
        "aplikacja się zawiesza, strona nie działa",
        "App stürzt ab, Webseite funktioniert nicht",
        "la aplicación se cierra, la web no funciona",
    ],
}

KEYWORDS: dict[str, str] = {
    "staff": r"staff|waiter|waitress|manager|receptionist|rude|персонал|официант|администратор"
    r"|хам|нагруб|грубий|obsług|kelner|personel|personal|kellner|camarer|maleducad",
    "wait_time": r"waited|wait(ing)? (for )?\d|queue|hours? late|ждал|ждём|очеред|чекали|черга"
    r"|czekal|czekaliśmy|kolejk|gewartet|warte|schlange|esper|cola\b",
    "price": r"price|overpriced|expensive|cheap|value for money|цен|дорог|ціни|дорог|cen[ayi]\b"
    r"|drogo|preis|teuer|precio|caro\b|carísim",
    "quality": r"quality|tast|defect|broken|качеств|вкус|брак|якість|смачн|jakoś|smacz|qualität"
    r"|lecker|calidad|sabor",
    "cleanliness": r"dirty|filthy|clean|mold|mould|cockroach|bedbug|грязн|чист|плесен|таракан"
    r"|брудн|пліснява|тарган|brud|czyst|pleśń|karaluch|pluskw|schmutz|dreckig|sauber|schimmel"
    r"|kakerlak|bettwanz|sucio|limpi|moho|cucarach|chinche",
    "delivery": r"deliver|courier|parcel|package|shipping|доставк|курьер|кур'єр|посылк|dostaw"
    r"|kurier|paczk|liefer|paket|envío|envio|repartidor|paquete",
    "billing": r"charged|refund|invoice|bill\b|billing|\bfees?\b|chargeback|списал|возврат|счёт"
    r"|оплат|поверн|pobral|zwrot|faktur|płatnoś|abgebucht|rückerstatt|rechnung|cobr|reembols|factura",
    "app_website": r"\bapp\b|website|site\b|login|log in|приложени|сайт|застосун|aplikacj|strona"
    r"|webseite|\bweb\b|aplicación",
}
_PATTERNS = {a: re.compile(p, re.IGNORECASE) for a, p in KEYWORDS.items()}

# Similarity above which a description counts as matched. e5 cosine similarities sit in a
# narrow band (~0.70-0.90); the margin over the text's mean aspect similarity removes the
# "everything is similar" effect of short texts.
SIM_THRESHOLD = 0.83
SIM_MARGIN = 0.03


def embed_descriptions(embed: Callable[[list[str]], np.ndarray | None]) -> np.ndarray | None:
    """[n_aspects, n_desc, dim] embeddings of the descriptions, or None without embeddings."""
    flat = [d for a in ASPECTS for d in DESCRIPTIONS[a]]
    emb = embed(flat)
    if emb is None:
        return None
    per = len(DESCRIPTIONS[ASPECTS[0]])
    return emb.reshape(len(ASPECTS), per, -1)


def keyword_aspects(text: str) -> set[str]:
    """Aspects named outright by a keyword stem."""
    return {a for a, p in _PATTERNS.items() if p.search(text)}


def similar_aspects(emb: np.ndarray, desc: np.ndarray) -> set[str]:
    """Aspects whose best description is close to the text and stands out from the rest."""
    sims = np.einsum("d,akd->ak", emb, desc).max(axis=1)
    cut = max(SIM_THRESHOLD, float(sims.mean()) + SIM_MARGIN)
    return {ASPECTS[i] for i in np.flatnonzero(sims >= cut)}


def detect(
    texts: Sequence[str], emb: np.ndarray | None, desc: np.ndarray | None
) -> list[list[str]]:
    """Aspects per text, in ASPECTS order; empty texts have none."""
    out = []
    for i, text in enumerate(texts):
        found = keyword_aspects(text) if text.strip() else set()
        if text.strip() and emb is not None and desc is not None:
            found |= similar_aspects(emb[i], desc)
        out.append([a for a in ASPECTS if a in found])
    return out
