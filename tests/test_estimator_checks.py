"""scikit-learn's and imbalanced-learn's estimator checks on every public estimator.

The heads are the shared list of ``_support``; that they act as classifiers in
scikit-learn's model selection is tested in test_heads_common.py.
"""

import pytest
from _support import HEADS
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt import (
    ClassAwareSampler,
    ClassBalancedSampler,
    InstanceBalancedSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)

SAMPLERS = [
    PowerSampler(q=0.3, random_state=0),
    InstanceBalancedSampler(random_state=0),
    ClassBalancedSampler(random_state=0),
    SquareRootSampler(random_state=0),
    ProgressivelyBalancedSampler(epoch=2, n_epochs=5, random_state=0),
    ClassAwareSampler(random_state=0),
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
