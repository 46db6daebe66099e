"""The study's models, declared once: each is built from stage one and then just fits.

Every row of the study's table is a :class:`StudyModel`: a name and a
function that builds an estimator from :class:`StageOne` (the frozen joint
classifier and the seed). Each also says how it fits: on the frozen training
features, or choosing a hyper-parameter on the balanced validation set (a
``*CV`` head with the one predefined split, or an SGD head keeping its best
epoch on it). Nothing here reads the test set.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from .._counts import ALL_SPLITS
from ..heads import (
    TABLE1_METHODS,
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifierCV,
)

__all__ = [
    "DECOUPLING_MODELS",
    "RETRAINING_MODELS",
    "StageOne",
    "StudyModel",
    "fit_on_training",
    "fit_with_early_stopping",
    "fit_with_validation_fold",
]

# The table's columns: the shot splits, head to tail, then all classes.
SPLITS = ALL_SPLITS
# The official tau sweep (classifier-balancing's tau_norm.py).
TAUS = np.round(np.linspace(0, 2, 21), 10)
_LOGISTIC_MAX_ITER = 3000


@dataclass(frozen=True)
class StageOne:
    """What the stage-two models of one seed are built from.

    Parameters
    ----------
    joint : fitted classifier
        Stage one's jointly trained classifier (``BackboneEmbedder.classifier_``,
        or a linear probe on frozen features).
    seed : int
        The seed of the run, for the models' ``random_state``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt.study import StageOne
    >>> joint = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> StageOne(joint, seed=0).seed
    0
    """

    joint: object
    seed: int


def validation_split(n_train, n_val):
    """The one predefined ``(train, test)`` split of the training + validation rows."""
    return [(np.arange(n_train), np.arange(n_train, n_train + n_val))]


def fit_on_training(estimator, features):
    """Fit on the frozen training features.

    Parameters
    ----------
    estimator : estimator
        Unfitted.
    features : Bunch
        The frozen features: ``F_train`` and ``y_train`` (``F_val``, ``y_val``
        are not read).

    Returns
    -------
    estimator
        ``estimator``, fitted.
    """
    return estimator.fit(features.F_train, features.y_train)


def fit_with_validation_fold(estimator, features):
    """Fit a ``*CV`` estimator with the balanced validation set as its one held-out fold.

    The training rows and the validation rows are passed together, with
    ``cv`` set to a single split: train on the training rows, score on the
    validation rows (a frozen base reads neither). The test set is never seen.

    Parameters
    ----------
    estimator : estimator with a ``cv`` parameter
        Unfitted; its ``cv`` is replaced.
    features : Bunch
        The frozen features: ``F_train``, ``y_train``, ``F_val`` and ``y_val``.

    Returns
    -------
    estimator
        ``estimator``, fitted on the training and validation rows.
    """
    split = validation_split(len(features.y_train), len(features.y_val))
    return estimator.set_params(cv=split).fit(
        np.concatenate([features.F_train, features.F_val]),
        np.concatenate([features.y_train, features.y_val]),
    )


def fit_with_early_stopping(estimator, features):
    """Fit on the training features, keeping the epoch best on the validation set.

    Parameters
    ----------
    estimator : estimator whose ``fit`` takes ``X_val`` and ``y_val``
        Unfitted (an SGD-trained head such as
        :class:`~sklearn_lt.heads.LORTClassifier`).
    features : Bunch
        The frozen features: ``F_train``, ``y_train``, ``F_val`` and ``y_val``.

    Returns
    -------
    estimator
        ``estimator``, fitted.
    """
    return estimator.fit(
        features.F_train, features.y_train, X_val=features.F_val, y_val=features.y_val
    )


@dataclass(frozen=True)
class StudyModel:
    """One row of the study: how to build a model from stage one, and how it fits.

    Parameters
    ----------
    name : str
        The row's name in the table.
    build : callable ``(StageOne) -> estimator``
        Builds the unfitted estimator of one seed.
    fit : callable ``(estimator, features) -> fitted estimator``, default=fit_on_training
        :func:`fit_on_training`, :func:`fit_with_validation_fold` (tau chosen
        on the balanced validation set, as Kang et al. do) or
        :func:`fit_with_early_stopping` (LORT's epoch chosen on it).

    Examples
    --------
    >>> from sklearn_lt import NCMClassifier
    >>> from sklearn_lt.study import DECOUPLING_MODELS, StudyModel
    >>> extra = StudyModel("NCM (cosine)", lambda stage: NCMClassifier("cosine"))
    >>> models = DECOUPLING_MODELS + (extra,)  # run_study(models=models)
    """

    name: str
    build: Callable
    fit: Callable = fit_on_training


def _joint(stage):
    return FrozenEstimator(stage.joint)


DECOUPLING_MODELS = (
    StudyModel("Joint (IB)", _joint),
    StudyModel("NCM", lambda stage: NCMClassifier()),
    StudyModel("cRT", lambda stage: CRTClassifier(random_state=stage.seed)),
    StudyModel(
        "tau-norm",
        lambda stage: TauNormClassifierCV(_joint(stage), taus=TAUS),
        fit_with_validation_fold,
    ),
    StudyModel("LWS", lambda stage: LWSClassifier(_joint(stage), random_state=stage.seed)),
    # The official 20-epoch schedule, the epoch kept chosen on the validation set (the
    # official code keeps the best epoch on the test set).
    StudyModel(
        "LORT",
        lambda stage: LORTClassifier(_joint(stage), n_epochs=20, random_state=stage.seed),
        fit_with_early_stopping,
    ),
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
"""The rows of the decoupling table: the joint classifier, the decoupled heads, two baselines.

A tuple of :class:`StudyModel`: the joint classifier (stage one's own, frozen),
NCM, cRT, tau-norm (tau chosen on the balanced validation set), LWS, LORT (its
epoch chosen on the validation set), and the baselines a practitioner would try
instead: a class-balanced ``LogisticRegression`` and random over-sampling
before one.
"""


def _on_joint(factory):
    """A Table 1 method from its factory, on the joint classifier where it takes a base."""

    def build(stage):
        estimator = factory(stage.seed)
        params = estimator.get_params()
        # RetrainedClassifier reads its estimator only with init="base".
        if "estimator" in params and params.get("init", "base") == "base":
            estimator.set_params(estimator=_joint(stage))
        return estimator

    return build


def _retraining_models():
    """LORT's Table 1 rows: every classifier re-training method on the same features.

    The methods that start from a classifier start from stage one's joint one,
    as in the paper; tau-normalisation and LORT choose on the validation set,
    as in the decoupling table.
    """
    same_as_decoupling = {m.name: m for m in DECOUPLING_MODELS}
    rows = []
    for name, factory in TABLE1_METHODS:
        if name in ("tau-norm", "LORT"):
            rows.append(same_as_decoupling[name])
        else:
            rows.append(StudyModel(name, _on_joint(factory)))
    return tuple(rows)


RETRAINING_MODELS = _retraining_models()
"""The rows of the re-training table: every method of LORT's Table 1 on the same features.

A tuple of :class:`StudyModel`, one per entry of
:data:`~sklearn_lt.heads.TABLE1_METHODS`, started from stage one's joint
classifier where the method takes a base; tau-norm and LORT are the rows of
:data:`DECOUPLING_MODELS`.
"""


def fit_study_model(model, stage, features):
    """Build ``model`` from ``stage`` and fit it on the frozen ``features`` (its own way)."""
    return model.fit(model.build(stage), features)
