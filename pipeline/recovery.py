"""Recovery: did answering a negative review win its author back?

A review's versions come from ``review_revisions`` (each replaced version, oldest first, with the
time it was first seen and the text label the model gave it) and the current row. The review
counts as a *replied negative* when its first version was negative (1-2 stars, or a negative
text) and it got an answer (a public reply, or marked responded). It *recovered* when a version
first seen at or after the answer raised the rating out of 1-2 stars above the first version's,
or turned a negative text non-negative. The time to recovery runs from the answer to when that
version was first seen.

Pure functions here; ``pipeline.rollups`` applies them per review and stores the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

NEGATIVE_STARS = 2.5


class Version(NamedTuple):
    """One version of a review as recovery needs it."""

    rating: float | None
    text_label: str | None
    seen_from: datetime | None


@dataclass(frozen=True)
class Outcome:
    """A replied negative review, and whether and when it recovered."""

    answered_at: datetime
    recovered_at: datetime | None

    @property
    def hours(self) -> float:
        if self.recovered_at is None:
            raise ValueError("not recovered")
        return max(0.0, (self.recovered_at - self.answered_at).total_seconds() / 3600.0)


def is_negative(version: Version) -> bool:
    low_stars = version.rating is not None and version.rating <= NEGATIVE_STARS
    return low_stars or version.text_label == "negative"


def improved(first: Version, later: Version) -> bool:
    """Rating raised out of 1-2 stars, or a negative text turned non-negative."""
    rated = first.rating is not None and later.rating is not None
    if rated and later.rating > first.rating and later.rating > NEGATIVE_STARS:  # type: ignore[operator]
        return True
    return first.text_label == "negative" and later.text_label in ("neutral", "positive")


def recovery_of(versions: Sequence[Version], answered_at: datetime | None) -> Outcome | None:
    """None when the review is not a replied negative; else whether a version seen after the
    answer improved on the first (the earliest such version sets the time)."""
    if not versions or answered_at is None or not is_negative(versions[0]):
        return None
    first = versions[0]
    for later in versions[1:]:
        if (
            later.seen_from is not None
            and later.seen_from >= answered_at
            and improved(first, later)
        ):
            return Outcome(answered_at, later.seen_from)
    return Outcome(answered_at, None)
