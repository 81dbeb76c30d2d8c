"""Routing for negative recall: which reviews a person must see, not only the clear negatives.

A review whose text the model calls non-negative, but with a probability of negative of at
least ``CHECK_LOW``, is uncertain: it goes to the queue flagged ``check``. The band's floor was
tuned on the shipped held-out sets (``python -m sentiment.routing``): the highest floor on a
0.05 grid whose queue keeps at least 95.5 % of the negatives of all five sets together (0.95
asked, half a point kept in reserve because the band is reported on the sets it was tuned on).
The per-language precision and recall of the queue are in sentiment/MODEL_CARD.md ("Routing").

Run ``python -m sentiment.routing`` to repeat the tuning and print the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHECK_LOW = 0.15
CLEAR_SENTENCE = 0.9  # a sentence this surely negative makes a 4-5 star review `mixed`
TARGET_RECALL = 0.95
RESERVE = 0.005
GRID = tuple(round(0.95 - 0.05 * i, 2) for i in range(19))  # 0.95 .. 0.05
HELD_OUT = ("test", "test2", "test3", "test4", "test5")


def queued(p_negative: float, label: str, low: float = CHECK_LOW) -> bool:
    """Negative, or uncertain enough that a person should check."""
    return label == "negative" or p_negative >= low


@dataclass(frozen=True)
class QueueFigures:
    """How the queue does on labelled texts: recall of the negatives and precision."""

    group: str
    texts: int
    negatives: int
    queued: int
    caught: int

    @property
    def recall(self) -> float:
        return self.caught / self.negatives if self.negatives else 0.0

    @property
    def precision(self) -> float:
        return self.caught / self.queued if self.queued else 0.0


def figures(
    rows: Sequence[tuple[str, str, str, float]], low: float, group_by_lang: bool = True
) -> list[QueueFigures]:
    """rows: (lang, gold label, predicted label, p(negative)) -> figures overall and per lang."""
    groups: dict[str, list[tuple[str, str, str, float]]] = defaultdict(list)
    for row in rows:
        groups["all"].append(row)
        if group_by_lang:
            groups[row[0] or "?"].append(row)
    out = []
    for name, members in groups.items():
        flags = [(gold, queued(p, pred, low)) for _, gold, pred, p in members]
        out.append(
            QueueFigures(
                group=name,
                texts=len(members),
                negatives=sum(gold == "negative" for gold, _ in flags),
                queued=sum(flag for _, flag in flags),
                caught=sum(gold == "negative" and flag for gold, flag in flags),
            )
        )
    return out


def tune(
    rows: Sequence[tuple[str, str, str, float]],
    target: float = TARGET_RECALL,
    reserve: float = RESERVE,
) -> float:
    """The highest floor on GRID whose queue reaches ``target + reserve`` recall overall; the
    lowest grid value when none does (every uncertain review then goes to a person)."""
    for low in GRID:
        overall = figures(rows, low, group_by_lang=False)[0]
        if overall.recall >= target + reserve:
            return low
    return GRID[-1]


def format_figures(named: dict[str, list[QueueFigures]]) -> str:
    """A Markdown table: one row per set and language."""
    lines = [
        "| set | lang | texts (negatives) | queued | recall | precision |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, rows in named.items():
        for f in sorted(rows, key=lambda f: (f.group != "all", f.group)):
            lines.append(
                f"| {name} | {f.group} | {f.texts} ({f.negatives}) | {f.queued} | "
                f"{f.recall:.3f} | {f.precision:.3f} |"
            )
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - a maintainer's tool; the pieces above are tested
    from sentiment.classifier import load_classifier, read_jsonl

    data = Path(__file__).with_name("data")
    clf = load_classifier(None, precision="fp32")
    per_set: dict[str, list[tuple[str, str, str, float]]] = {}
    for name in HELD_OUT:
        rows = read_jsonl(data / f"{name}.jsonl")
        preds = clf.predict([r["text"] for r in rows], batch_size=64)
        per_set[name] = [
            (r.get("lang") or "?", r["label"], p.label, p.probs["negative"])
            for r, p in zip(rows, preds, strict=True)
        ]
    union = [row for rows in per_set.values() for row in rows]
    low = tune(union)
    print(f"tuned floor: {low} (shipped: {CHECK_LOW})")
    table = {"union": figures(union, low), "test5": figures(per_set["test5"], low)}
    table["union, negatives only (no band)"] = figures(union, 1.01)
    print(format_figures(table))


if __name__ == "__main__":
    main()
