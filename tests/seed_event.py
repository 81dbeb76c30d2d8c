"""One event told in six languages on three platforms at two cafés (the card terminal charged
guests twice one weekend), among ordinary reviews: the data for the incident and topic tests.

``NOW`` is the evening after the event. Background complaints are about other things, and
those of one kind are more than three days apart, so the event is the only incident by
construction. The central café's baseline (14-104 days before ``NOW``) never mentions payment,
so the event is its only emerging topic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from pipeline.models import Location, Review, Sentiment

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    key: str
    lang: str
    platform: str
    location: str
    hours_ago: float
    rating: float
    text: str
    aspects: tuple[str, ...] = ()
    label: str = "negative"


EVENT = [
    Spec("e1", "en", "google", "central", 40, 1,
         "The card terminal charged me twice for a single latte on Saturday.", ("billing",)),
    Spec("e2", "pl", "trustpilot", "central", 36, 1,
         "Terminal kartowy pobrał ode mnie dwa razy za jedną kawę."),
    Spec("e3", "ru", "twogis", "riverside", 30, 1,
         "Терминал дважды списал деньги за один кофе, вернуть не могут.", ("billing",)),
    Spec("e4", "uk", "twogis", "central", 20, 2,
         "Термінал двічі зняв гроші з картки за одне замовлення."),
    Spec("e5", "de", "google", "riverside", 12, 1,
         "Das Kartenterminal hat meinen Kaffee zweimal abgebucht.", ("billing",)),
    Spec("e6", "en", "trustpilot", "riverside", 6, 1,
         "Double charge on my card at the terminal, two payments for one order."),
]  # fmt: skip

BACKGROUND = [
    Spec("b1", "en", "google", "central", 30, 2,
         "The croissant was stale and the coffee lukewarm.", ("quality",)),
    Spec("b2", "pl", "trustpilot", "central", 200, 1,
         "Kelner był niemiły i przewracał oczami.", ("staff",)),
    Spec("b3", "ru", "twogis", "riverside", 50, 2, "Грязные столы и липкий пол.",
         ("cleanliness",)),
    Spec("b4", "en", "trustpilot", "riverside", 100, 2, "Music so loud we could not talk."),
    Spec("b5", "de", "google", "central", 10, 2, "Viel zu teuer für so kleine Portionen.",
         ("price",)),
    Spec("b6", "ru", "twogis", "central", 150, 2, "Ждали заказ сорок минут.", ("wait_time",)),
    Spec("b7", "pl", "google", "riverside", 250, 1,
         "Zamówienie z dostawą przyszło zimne i spóźnione.", ("delivery",)),
    Spec("b8", "uk", "twogis", "riverside", 8, 1, "Офіціант нагрубив і пішов.", ("staff",)),
    Spec("b9", "en", "google", "central", 120, 2, "The app crashed when I tried to order.",
         ("app_website",)),
    Spec("b10", "es", "trustpilot", "central", 300, 1, "El baño estaba sucio.",
         ("cleanliness",)),
]  # fmt: skip

BASELINE = [
    Spec("n1", "en", "google", "central", 24 * 20, 5, "Lovely flat white and friendly staff.",
         ("staff",), "positive"),
    Spec("n2", "pl", "google", "central", 24 * 25, 5, "Pyszna kawa i miła obsługa.",
         ("staff",), "positive"),
    Spec("n3", "ru", "twogis", "central", 24 * 33, 5, "Вкусный кофе, приятная музыка.",
         (), "positive"),
    Spec("n4", "en", "trustpilot", "central", 24 * 41, 5, "Great cinnamon buns, will come back.",
         (), "positive"),
    Spec("n5", "de", "google", "central", 24 * 47, 5, "Sehr leckerer Kuchen, nettes Team.",
         (), "positive"),
    Spec("n6", "en", "google", "central", 24 * 55, 3, "Coffee was a bit bitter today.",
         ("quality",), "neutral"),
    Spec("n7", "pl", "trustpilot", "central", 24 * 62, 2, "Długo czekałam na zamówienie.",
         ("wait_time",)),
    Spec("n8", "ru", "twogis", "central", 24 * 70, 2, "Сырники были пересушены.", ("quality",)),
    Spec("n9", "uk", "twogis", "central", 24 * 78, 5, "Смачна кава, привітний бариста.",
         (), "positive"),
    Spec("n10", "en", "google", "central", 24 * 85, 5,
         "Nice place to work with a laptop, fast wifi.", (), "positive"),
    Spec("n11", "es", "trustpilot", "central", 24 * 93, 5, "Buen café y buen ambiente.",
         (), "positive"),
    Spec("n12", "en", "google", "central", 24 * 101, 2, "Seats are uncomfortable."),
    Spec("n13", "en", "google", "central", 24 * 3, 5, "Lovely cappuccino as always.", (),
         "positive"),
    Spec("n14", "pl", "trustpilot", "central", 24 * 5, 5, "Świetne ciasto marchewkowe.", (),
         "positive"),
]  # fmt: skip

ALL = [*EVENT, *BACKGROUND, *BASELINE]


def seed_reviews(session: Session, *, scored: bool = True) -> dict[str, int]:
    """Locations and reviews (scored by hand when ``scored``); review ids by key."""
    session.add_all(
        [
            Location(key="central", name="Central Cafe"),
            Location(key="riverside", name="Riverside Cafe"),
            Location(key="rival", name="Rival Bistro", is_competitor=True),
        ]
    )
    ids = {}
    for spec in ALL:
        at = NOW - timedelta(hours=spec.hours_ago)
        review = Review(
            platform=spec.platform,
            external_id=spec.key,
            url=f"https://reviews.example/{spec.key}",
            author=f"Guest {spec.key}",
            rating=spec.rating,
            text=spec.text,
            language=spec.lang,
            location_key=spec.location,
            published_at=at,
            first_seen=at,
            last_seen=at,
            raw={},
            content_hash=hashlib.sha256(spec.text.encode()).hexdigest(),
        )
        session.add(review)
        session.flush()
        ids[spec.key] = review.id
        if scored:
            session.add(
                Sentiment(
                    review_id=review.id,
                    label=spec.label,
                    score=-0.8 if spec.label == "negative" else 0.6,
                    aspects=list(spec.aspects),
                    model_id="hand",
                    model_version="1",
                    content_hash=review.content_hash,
                )
            )
    session.flush()
    return ids
