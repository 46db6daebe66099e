"""The study's models, declared once: each is built from stage one and then just fits.

Every row of the study's table is a :class:`StudyModel`: a name and a
function that builds an estimator from :class:`StageOne` (the frozen joint
classifier, the seed and the predefined validation split). The study fits
each one on the frozen training features, or, for the models that choose a
hyper-parameter on the validation set, on the training and validation rows
with ``cv`` set to the one predefined split. Nothing here reads the test set.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from ..heads import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifierCV,
)

__all__ = ["DECOUPLING_MODELS", "TAUS", "StageOne", "StudyModel", "fit_study_model"]

# The official tau sweep (classifier-balancing's tau_norm.py).
TAUS = np.round(np.linspace(0, 2, 21), 10)
_LOGISTIC_MAX_ITER = 3000


@dataclass(frozen=True)
class StageOne:
    """What the stage-two models of one seed are built from.

    Attributes
    ----------
    joint : fitted linear classifier
        Stage one's jointly trained classifier (``BackboneEmbedder.classifier_``).
    seed : int
    validation : list of one ``(train, test)`` pair
        The predefined split over the training rows followed by the
        validation rows: what ``cv`` gets for the models that choose on the
        validation set.
    """

    joint: object
    seed: int
    validation: list


@dataclass(frozen=True)
class StudyModel:
    """One row of the study.

    Attributes
    ----------
    name : str
    build : callable ``(StageOne) -> estimator``
    uses_validation : bool, default=False
        Fit on the training and validation rows, ``cv`` being the predefined
        split (tau chosen on the balanced validation set, as Kang et al. do).
    """

    name: str
    build: Callable
    uses_validation: bool = False


def _joint(stage):
    return FrozenEstimator(stage.joint)


DECOUPLING_MODELS = (
    StudyModel("Joint (IB)", _joint),
    StudyModel("NCM", lambda stage: NCMClassifier()),
    StudyModel("cRT", lambda stage: CRTClassifier(random_state=stage.seed)),
    StudyModel(
        "tau-norm",
        lambda stage: TauNormClassifierCV(_joint(stage), taus=TAUS, cv=stage.validation),
        uses_validation=True,
    ),
    StudyModel("LWS", lambda stage: LWSClassifier(_joint(stage), random_state=stage.seed)),
    StudyModel("LORT", lambda stage: LORTClassifier(_joint(stage), random_state=stage.seed)),
    StudyModel(
        "LogReg (balanced)",
        lambda stage: LogisticRegression(class_weight="balanced", max_iter=_LOGISTIC_MAX_ITER),
    ),
    StudyModel(
        "ROS + LogReg",
        lambda stage: make_pipeline(
            RandomOverSampler(random_state=stage.seed),
            LogisticRegression(max_iter=_LOGISTIC_MAX_ITER),
        ),
    ),
)


def fit_study_model(model, stage, features):
    """Build ``model`` from ``stage`` and fit it on the frozen ``features``.

    ``features`` holds ``F_train, y_train, F_val, y_val``; the validation rows
    are used only by the models that choose on them.
    """
    estimator = model.build(stage)
    if not model.uses_validation:
        return estimator.fit(features.F_train, features.y_train)
    return estimator.fit(
        np.concatenate([features.F_train, features.F_val]),
        np.concatenate([features.y_train, features.y_val]),
    )


def validation_split(n_train, n_val):
    """The one predefined ``(train, test)`` split of the training + validation rows."""
    return [(np.arange(n_train), np.arange(n_train, n_train + n_val))]
