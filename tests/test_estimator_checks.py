"""scikit-learn's and imbalanced-learn's estimator checks on every public estimator."""

import pytest
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt import (
    ClassBalancedSampler,
    CRTClassifier,
    InstanceBalancedSampler,
    LogitAdjustedClassifier,
    LogitAdjustedClassifierCV,
    LORTClassifier,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    PowerSampler,
    ProgressivelyBalancedSampler,
    RetrainedClassifier,
    SoftmaxClassifier,
    SquareRootSampler,
    TauNormClassifier,
    TauNormClassifierCV,
)

HEADS = [
    SoftmaxClassifier(random_state=0),
    CRTClassifier(random_state=0),
    TauNormClassifier(random_state=0),
    TauNormClassifier(LogisticRegression(), tau=0.5),
    LWSClassifier(random_state=0),
    LORTClassifier(smoothing=0.5, random_state=0),
    NCMClassifier(),
    NCMClassifier(metric="cosine", center=False),
    NCMClassifier(metric="dot"),
    LORTClassifierCV(n_epochs=2, cv=3, random_state=0),
    TauNormClassifierCV(cv=3),
    RetrainedClassifier(random_state=0),
    RetrainedClassifier(logits="cosine", loss="ldam", random_state=0),
    RetrainedClassifier(loss="focal", reweight="class_balanced", reweight_from_epoch=2,
                        n_epochs=3, random_state=0),
    RetrainedClassifier(init="base", max_norm=0.1, reweight="class_balanced", random_state=0),
    LogitAdjustedClassifier(random_state=0),
    LogitAdjustedClassifier(LogisticRegression(), tau=0.5),
    LogitAdjustedClassifierCV(cv=3),
]

SAMPLERS = [
    PowerSampler(q=0.3, random_state=0),
    InstanceBalancedSampler(random_state=0),
    ClassBalancedSampler(random_state=0),
    SquareRootSampler(random_state=0),
    ProgressivelyBalancedSampler(epoch=2, n_epochs=5, random_state=0),
]


@parametrize_with_checks(HEADS + SAMPLERS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _as_list(parametrize):
    """The same parametrization with its values in a list.

    imbalanced-learn's ``parametrize_with_checks`` hands pytest a generator,
    which pytest deprecates (``PytestRemovedIn10Warning``).
    """
    argnames, argvalues = parametrize.args
    return pytest.mark.parametrize(argnames, list(argvalues), **parametrize.kwargs)


@_as_list(imblearn_checks(SAMPLERS))
def test_imblearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("head", HEADS, ids=lambda h: type(h).__name__)
def test_heads_are_classifiers(head):
    assert head.__sklearn_tags__().estimator_type == "classifier"
