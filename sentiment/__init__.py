"""Multilingual review sentiment, rating rules, aspects and urgency (imports nothing of revmon)."""

from sentiment.classifier import (
    Analysis,
    ModelLoadError,
    Prediction,
    SentimentClassifier,
    Vectors,
    load_classifier,
)
from sentiment.head import LABELS
from sentiment.training import train_head

__all__ = [
    "LABELS",
    "Analysis",
    "ModelLoadError",
    "Prediction",
    "SentimentClassifier",
    "Vectors",
    "load_classifier",
    "train_head",
]
