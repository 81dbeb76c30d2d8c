"""Emerging topics: per location, clusters of reviews whose share in the recent window clearly
exceeds their share before it, labelled with their most telling words in the reviews' own
languages.

How: a location's reviews of the recent window (``RECENT_DAYS``) and the baseline before it
(``BASELINE_DAYS``) are clustered on their stored embeddings (agglomerative, average linkage,
cosine distance below ``DISTANCE``). A cluster is emerging when it holds at least
``MIN_RECENT`` recent reviews and its recent share is at least ``FACTOR`` times its baseline
share and ``MIN_LIFT`` above it (a baseline needs ``MIN_BASELINE`` reviews). Labels:
class-based TF-IDF (scikit-learn's CountVectorizer; each cluster's texts are one class, so
words common to every cluster weigh nothing), shown per language among the cluster's members,
so a Polish review gives Polish words.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline import embeddings
from pipeline.insight_models import EmergingTopic
from pipeline.models import Location, Review, utcnow

RECENT_DAYS = 14
BASELINE_DAYS = 90
DISTANCE = 0.4  # average cosine distance inside a cluster (0.6 similarity; see incidents)
MIN_RECENT = 2
MIN_BASELINE = 5  # a location without history has no "usual" to emerge from
FACTOR = 2.0
MIN_LIFT = 0.1
MAX_REVIEWS = 2000  # per location; the baseline is sampled evenly beyond that
WORDS_PER_LANGUAGE = 4
WORD = r"(?u)\b[^\W\d_]{3,}\b"  # letters only, 3 or more

STOP_WORDS = frozenset(
    str.split(
        """a an and are as at be been but by for from had has have i in is it its my not of on or
    our so that the their them they this to too very was we were what when which with you your
    me us all just also again only there here than then after before about would could will
    one two
    и в во не на что я с со как а то все всё она он они мы вы так его но да ты к у же за бы по
    только её ее мне было вот от меня ещё еще нет о из ему теперь когда даже ну ли если уже или
    ни быть был была были него до вас нибудь опять уж вам ведь там потом себя ничего ей может
    тут где есть надо ней для мы тебя их чем сам без будто чего раз тоже себе под будет очень
    і й та що це як але ми ви він вона вони мені з зі до на по за від для при про чи ще вже
    і це там тут так теж дуже був була було були є
    i w we z ze na nie że to jest się do jak ale co o od po za dla bo czy już tak tylko był
    była było byli są być mi mnie nas was go jej ich ten ta te tam tu też bardzo przez który
    der die das und ist nicht ich ein eine es zu mit auf für von den dem im sie wir war sehr
    auch aber noch nur wie bei aus hat haben mir mich uns so dass nach wieder schon einen einem
    mein meine meinen meinem
    el la los las y de que en un una es no por con para lo se me mi muy al del su pero más ya
    fue era son está estaba nos le les como también hay este esta todo
    """
    )
)


@dataclass(frozen=True)
class Member:
    review_id: int
    text: str
    language: str
    recent: bool


def refresh_topics(
    session: Session,
    now: datetime | None = None,
    *,
    recent_days: int = RECENT_DAYS,
    baseline_days: int = BASELINE_DAYS,
) -> list[EmergingTopic]:
    """Recompute every location's emerging topics, replacing the stored ones."""
    now = now or utcnow()
    window_start = now - timedelta(days=recent_days)
    found: list[EmergingTopic] = []
    session.execute(delete(EmergingTopic))
    for key in session.scalars(select(Location.key).order_by(Location.key)):
        members, matrix = _members(session, key, now, window_start, baseline_days)
        for topic in emerging(members, matrix):
            topic.location_key, topic.window_start, topic.computed_at = key, window_start, now
            topic.key = f"{key}:{'+'.join(sorted(topic.words[:3]))}"[:150]  # alert keys: 160
            session.add(topic)
            found.append(topic)
    session.flush()
    return found


def _members(
    session: Session, key: str, now: datetime, window_start: datetime, baseline_days: int
) -> tuple[list[Member], np.ndarray]:
    start = window_start - timedelta(days=baseline_days)
    rows = session.execute(
        select(Review.id, Review.title, Review.text, Review.language, Review.published_at)
        .where(Review.location_key == key, Review.published_at >= start)
        .where(Review.published_at <= now)
        .order_by(Review.published_at.desc())
    ).all()
    recent = [r for r in rows if r.published_at >= window_start][: MAX_REVIEWS // 2]
    older = [r for r in rows if r.published_at < window_start]
    room = MAX_REVIEWS - len(recent)
    if len(older) > room:
        step = len(older) / room
        older = [older[int(i * step)] for i in range(room)]
    chosen = {r.id: r for r in [*recent, *older]}
    order, matrix = embeddings.text_matrix(session, list(chosen))
    members = []
    for review_id in order:
        row = chosen[review_id]
        text = ". ".join(p for p in (row.title, row.text) if p)
        members.append(
            Member(review_id, text, row.language or "?", row.published_at >= window_start)
        )
    return members, matrix


def emerging(members: list[Member], matrix: np.ndarray) -> list[EmergingTopic]:
    """The emerging clusters among one location's reviews (unsaved rows, best first)."""
    recent_total = sum(m.recent for m in members)
    baseline_total = len(members) - recent_total
    if recent_total < MIN_RECENT or baseline_total < MIN_BASELINE:
        return []
    labels = cluster(matrix)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[int(label)].append(index)
    words = label_words(members, groups)
    topics = []
    for label, indexes in groups.items():
        recent = sum(members[i].recent for i in indexes)
        base = len(indexes) - recent
        recent_share = recent / recent_total
        baseline_share = base / baseline_total if baseline_total else 0.0
        lifted = (
            recent_share >= FACTOR * baseline_share and recent_share >= baseline_share + MIN_LIFT
        )
        if recent >= MIN_RECENT and lifted and words.get(label):
            per_language = words[label]
            topics.append(
                EmergingTopic(
                    words=list(dict.fromkeys(w for ws in per_language.values() for w in ws)),
                    labels=per_language,
                    recent_reviews=recent,
                    recent_share=round(recent_share, 4),
                    baseline_share=round(baseline_share, 4),
                    sample_review_ids=[members[i].review_id for i in indexes if members[i].recent][
                        :5
                    ],
                )
            )
    topics.sort(key=lambda t: t.recent_share - t.baseline_share, reverse=True)
    return topics


def cluster(matrix: np.ndarray, distance: float = DISTANCE) -> np.ndarray:
    """Cluster labels per row of unit vectors (agglomerative, average linkage, cosine)."""
    from sklearn.cluster import AgglomerativeClustering

    if matrix.shape[0] < 2:
        return np.zeros(matrix.shape[0], dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    )
    return model.fit_predict(matrix)


def label_words(
    members: list[Member], groups: dict[int, list[int]], top: int = WORDS_PER_LANGUAGE
) -> dict[int, dict[str, list[str]]]:
    """Class-based TF-IDF: each cluster's texts are one class, so a word weighs by how much of
    the cluster uses it against how common it is across the location's clusters. Per language,
    the best-weighed words that occur in that language's members: {cluster: {language:
    [words]}}, languages by member count."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(lowercase=True, token_pattern=WORD, stop_words=sorted(STOP_WORDS))
    try:
        counts = vectorizer.fit_transform([m.text for m in members]).tocsr()
    except ValueError:  # nothing but stop words and numbers
        return {}
    vocabulary = vectorizer.get_feature_names_out()
    per_class = np.vstack(
        [np.asarray(counts[rows].sum(axis=0)).ravel() for rows in groups.values()]
    )
    idf = np.log(1.0 + per_class.sum() / max(len(groups), 1) / np.maximum(per_class.sum(0), 1))
    out: dict[int, dict[str, list[str]]] = {}
    for (label, rows), class_counts in zip(groups.items(), per_class, strict=True):
        weight = class_counts / max(class_counts.sum(), 1) * idf
        by_language: dict[str, list[int]] = defaultdict(list)
        for i in rows:
            by_language[members[i].language].append(i)
        out[label] = {}
        for language, own in sorted(by_language.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            present = np.asarray(counts[own].sum(axis=0)).ravel()
            ranked = sorted(
                np.flatnonzero(present), key=lambda j: (-weight[j], -present[j], vocabulary[j])
            )
            if ranked:
                out[label][language] = [str(vocabulary[j]) for j in ranked[:top]]
    return out


def topics_for(session: Session, location: str | None = None) -> list[EmergingTopic]:
    """The stored emerging topics, optionally of one location, strongest first."""
    query = select(EmergingTopic)
    if location:
        query = query.where(EmergingTopic.location_key == location)
    rows = session.scalars(query).all()
    return sorted(rows, key=lambda t: (t.location_key, t.baseline_share - t.recent_share))
