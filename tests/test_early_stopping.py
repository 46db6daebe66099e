"""Early stopping of the SGD-trained heads on held-out rows (``fit(X, y, X_val, y_val)``)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import CRTClassifier, LORTClassifier, LWSClassifier, SoftmaxClassifier


def data(seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], [120, 40, 12, 6])
    X = rng.normal(size=(len(y), 6)) + 1.5 * np.eye(6)[y]
    y_val = np.repeat([0, 1, 2, 3], 15)
    X_val = rng.normal(size=(len(y_val), 6)) + 1.5 * np.eye(6)[y_val]
    return X, y, X_val, y_val


@pytest.mark.parametrize(
    "head",
    [
        LORTClassifier(n_epochs=6, random_state=0),
        LWSClassifier(random_state=0),
        CRTClassifier(solver="sgd", n_epochs=4, random_state=0),
        SoftmaxClassifier(solver="sgd", n_epochs=4, random_state=0),
    ],
    ids=lambda h: type(h).__name__,
)
def test_the_kept_epoch_is_the_best_on_validation(head):
    X, y, X_val, y_val = data()
    head.fit(X, y, X_val=X_val, y_val=y_val)
    scores = np.asarray(head.validation_scores_)
    assert scores.shape == (head.n_epochs + 1,)  # epoch 0 is the starting point
    assert head.best_epoch_ == int(np.argmax(scores))  # the earliest of ties
    # The fitted head is the kept epoch: its validation score is the best one.
    assert balanced_accuracy_score(y_val, head.predict(X_val)) == pytest.approx(scores.max())


def test_epoch_zero_keeps_the_starting_weights():
    X, y, X_val, y_val = data()
    base = LogisticRegression().fit(X, y)
    # A learning rate this large wrecks the base in one epoch: epoch 0 must win.
    lort = LORTClassifier(FrozenEstimator(base), lr=1e4, n_epochs=2, random_state=0)
    lort.fit(X, y, X_val=X_val, y_val=y_val)
    assert lort.best_epoch_ == 0
    assert_allclose(lort.coef_, base.coef_, rtol=1e-6)
    assert_allclose(lort.intercept_, base.intercept_, rtol=1e-6)


def test_early_stopping_errors():
    X, y, X_val, y_val = data()
    with pytest.raises(ValueError, match="both X_val and y_val"):
        LORTClassifier().fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match="solver='sgd'"):
        CRTClassifier().fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="features"):
        LORTClassifier().fit(X, y, X_val=X_val[:, :3], y_val=y_val)
    with pytest.raises(ValueError, match="inconsistent"):
        LORTClassifier().fit(X, y, X_val=X_val, y_val=y_val[:-1])


def test_an_auto_solver_that_resolves_to_sgd_takes_validation_data():
    from sklearn_lt import RetrainedClassifier

    X, y, X_val, y_val = data()
    head = RetrainedClassifier(max_norm=0.1, n_epochs=3, random_state=0)  # "auto" -> SGD
    head.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(head.validation_scores_) == 4
    with pytest.raises(ValueError, match="solver='sgd'"):
        RetrainedClassifier(random_state=0).fit(X, y, X_val=X_val, y_val=y_val)  # L-BFGS
