"""Long-tail evaluation: shot splits, per-split accuracy, scorers and diagnostics."""

from .._counts import ClassCounts, SingleClassSplitWarning, UndefinedSplitWarning
from ._diagnostics import logits_magnitude, regularized_std, weight_norms
from ._scorers import make_shot_scorer, shot_scorers, training_class_counts
from ._shot import shot_accuracy, shot_splits

__all__ = [
    "ClassCounts",
    "SingleClassSplitWarning",
    "UndefinedSplitWarning",
    "logits_magnitude",
    "make_shot_scorer",
    "regularized_std",
    "shot_accuracy",
    "shot_scorers",
    "shot_splits",
    "training_class_counts",
    "weight_norms",
]
