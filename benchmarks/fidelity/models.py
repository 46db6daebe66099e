"""How the runner builds and fits a model: :class:`Model` and :func:`head`.

``runner.MODELS`` lists the models declaratively with these two helpers.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.frozen import FrozenEstimator

__all__ = ["KINDS", "Model", "fit_on_training", "fit_with_validation_fold", "head"]

# joint: the source's own classifier, already fitted. base: an instance-balanced
# classifier trained here (the heads' default base). head: a stage-two head that
# rebalances; the orderings compare these with the joint classifier.
# baseline: what a practitioner would try instead of a head.
KINDS = ("joint", "base", "head", "baseline")


def fit_on_training(model, d):
    """Fit on the long-tailed training set."""
    return model.fit(d.F_train, d.y_train)


def fit_with_validation_fold(model, d):
    """Fit a ``*CV`` model with the balanced validation set as its one held-out fold.

    The training rows and the validation rows are passed together, with
    ``cv`` set to a single split: train on the training rows, score on the
    validation rows (a frozen base reads neither). The test set is never seen.
    """
    n_train, n_val = len(d.y_train), len(d.y_val)
    split = [(np.arange(n_train), np.arange(n_train, n_train + n_val))]
    return model.set_params(cv=split).fit(
        np.concatenate([d.F_train, d.F_val]), np.concatenate([d.y_train, d.y_val])
    )


@dataclass(frozen=True)
class Model:
    """A model of the suite.

    make : callable ``(d, seed) -> estimator``
        Builds the (unfitted, except for ``kind="joint"``) estimator for the
        source's Bunch ``d``.
    kind : one of :data:`KINDS`
    fit : callable ``(estimator, d) -> fitted estimator``
        How it is fitted (ignored for ``kind="joint"``).
    needs_joint : bool
        Skipped on a source without a joint classifier.
    """

    make: Callable
    kind: str = "head"
    fit: Callable = fit_on_training
    needs_joint: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")


def head(cls, *, base=None, kind="head", fit=fit_on_training, **params):
    """A model built as ``cls(**params)`` at its defaults, with ``random_state=seed``.

    ``base="joint"`` passes ``FrozenEstimator(d.joint)`` as the head's
    ``estimator`` (the rebalancing heads' stage-one classifier); ``None``
    leaves the head's default base. ``random_state`` is only set where the
    head has that parameter.
    """
    if base not in (None, "joint"):
        raise ValueError(f"base must be None or 'joint', got {base!r}.")
    seeded = "random_state" in cls().get_params()

    def make(d, seed):
        extra = {"random_state": seed} if seeded else {}
        if base == "joint":
            extra["estimator"] = FrozenEstimator(d.joint)
        return cls(**params, **extra)

    return Model(make=make, kind=kind, fit=fit, needs_joint=base == "joint")
