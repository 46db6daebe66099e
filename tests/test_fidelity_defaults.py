"""Defaults that hold at many classes and never leave the user below the base (issues #22, #23).

- cRT's ``weight_decay="auto"`` is scikit-learn's ``1 / N`` from 100 classes on: a converged
  cRT is then ``LogisticRegression(class_weight="balanced")``;
- L-BFGS's first trial step does not shrink with the number of parameters;
- ``LORTClassifier()`` chooses its stopping epoch on held-out training rows, 0 being the base.
"""

import numpy as np
import pytest
import torch
from _support import long_tailed
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from benchmarks.fidelity import data
from benchmarks.fidelity.stopping import record_path
from sklearn_lt import CRTClassifier, LORTClassifier
from sklearn_lt.heads._lort import _held_out_rows
from sklearn_lt.heads._modules import LinearLogits
from sklearn_lt.heads._trainer import (
    Callback,
    TrainingOptions,
    auto_weight_decay,
    cross_entropy,
    train,
)
from sklearn_lt.sampling import InstanceBalancedSampler


@pytest.fixture(scope="module")
def many():
    """200 unit-norm 32-d classes, Zipf counts 1000..5 (the fidelity suite's generator)."""
    return data.make_many_class(n_classes=200, n_features=32, seed=0)


# ---------------------------------------------------------------- cRT
def test_auto_weight_decay_is_one_over_n_from_100_classes():
    for counts in ([500, 300, 200], [10] * 100, [7] * 250 + [0] * 3, list(range(1, 41))):
        c = np.asarray(counts, dtype=float)
        present = np.count_nonzero(c)
        assert_allclose(auto_weight_decay(counts), min(1.0, present / 100) / c.sum(), rtol=1e-12)


def test_crt_auto_penalty_is_recorded_and_used():
    X, y = long_tailed()
    auto = CRTClassifier(random_state=0).fit(X, y)
    assert auto.weight_decay_ == auto_weight_decay(np.bincount(y))
    fixed = CRTClassifier(weight_decay=auto.weight_decay_, random_state=0).fit(X, y)
    assert_array_equal(auto.coef_, fixed.coef_)
    with pytest.raises(ValueError, match="'weight_decay' parameter"):
        CRTClassifier(weight_decay="big").fit(X, y)


def test_crt_is_balanced_logistic_regression_at_many_classes(many):
    """With the former fixed 1e-4 the two agreed on 0.90 of the test rows here."""
    X, y, X_test = many["F_train"], many["y_train"], many["F_test"]
    logreg = LogisticRegression(class_weight="balanced", tol=1e-8, max_iter=10_000).fit(X, y)
    crt = CRTClassifier(random_state=0).fit(X, y)
    assert (crt.predict(X_test) == logreg.predict(X_test)).mean() > 0.99
    # The weights too (scikit-learn leaves the intercept unpenalised: a small difference).
    assert np.abs(np.asarray(crt.coef_) - logreg.coef_).max() < 0.02 * np.abs(logreg.coef_).max()


def test_lbfgs_first_step_does_not_shrink_with_the_parameters(many):
    """torch's first trial step 1 / ||g||_1 shrinks with the number of parameters: at 200
    classes the first line search grew it over 5 evaluations (6 passes by the end of the
    first iteration; 68 passes for the fit's 20 iterations). From scipy's 1 / ||g||_2 the
    first iteration takes 4 passes (31 for the fit).

    Counted on the first iteration, which rounding does not move: the last
    iterations' line searches work at float32's resolution of the loss, and
    any change of rounding (the closed-form gradient, older versions of the
    dependencies) moves their count by about ten."""
    with record_path(many["F_val"]) as path:
        crt = CRTClassifier(random_state=0).fit(many["F_train"], many["y_train"])
    assert path[0]["passes"] <= 4, path[0]["passes"]
    assert crt.loss_curve_[0] - crt.loss_curve_[1] > 0.01  # the first trial step moves


def test_lbfgs_max_iter_one_runs_one_iteration():
    X, y = long_tailed()
    crt = CRTClassifier(max_iter=1, random_state=0).fit(X, y)
    assert crt.n_iter_ == 1


# ------------------------------------------------------------ the trainer
def test_a_callback_answering_true_stops_the_schedule():
    X, y = long_tailed()
    inputs = torch.as_tensor(X)
    module = LinearLogits(torch.zeros(5, X.shape[1], dtype=inputs.dtype),
                          torch.zeros(5, dtype=inputs.dtype), 1.0)
    seen = []

    class StopAfterTwo(Callback):
        def on_epoch_end(self, module, epoch):
            seen.append(epoch)
            return epoch == 1

    options = TrainingOptions(solver="sgd", sampler=InstanceBalancedSampler(),
                              weight_decay=0.0, n_epochs=6, batch_size=32, lr=0.1)
    losses, n_iter = train(
        module, inputs, y, np.bincount(y), loss=cross_entropy(), options=options,
        rng=np.random.RandomState(0), callbacks=[StopAfterTwo()],
    )
    assert seen == [0, 1] and n_iter == 2 and len(losses) == 2


# ------------------------------------------------------------------ LORT
def test_held_out_rows_keep_every_class_in_training():
    y = np.repeat(np.arange(5), [100, 20, 5, 2, 1])
    fit, val = _held_out_rows(y, 0.2, np.random.RandomState(0))
    assert_array_equal(np.bincount(y[val], minlength=5), [20, 4, 1, 1, 0])
    assert_array_equal(np.bincount(y[fit], minlength=5), [80, 16, 4, 1, 1])
    assert_array_equal(np.sort(np.concatenate([fit, val])), np.arange(len(y)))


def test_lort_default_never_leaves_the_base_when_held_out_rows_say_no():
    """A schedule that wrecks the base (lr 1e4): the default keeps epoch 0, the base itself."""
    X, y = long_tailed()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    lort = LORTClassifier(FrozenEstimator(base), lr=1e4, random_state=0).fit(X, y)
    # n_iter_ counts the held-out run's epochs (scikit-learn: >= 1), the refit ran none
    assert lort.best_epoch_ == 0 and lort.n_iter_ == lort.n_epochs and lort.loss_curve_ == []
    assert_allclose(lort.coef_, base.coef_)
    assert_allclose(lort.intercept_, base.intercept_)
    assert len(lort.validation_scores_) == lort.n_epochs + 1
    wrecked = LORTClassifier(FrozenEstimator(base), lr=1e4, early_stopping=False,
                             random_state=0).fit(X, y)
    score = lambda head: balanced_accuracy_score(y, head.predict(X))  # noqa: E731
    assert score(wrecked) < score(lort) - 0.1
    assert wrecked.n_iter_ == 2 and not hasattr(wrecked, "best_epoch_")


def test_lort_refits_on_every_row_and_stops_at_the_chosen_epoch():
    X, y = long_tailed()
    lort = LORTClassifier(n_epochs=4, random_state=0).fit(X, y)
    scores = lort.validation_scores_
    assert len(scores) == 5 and lort.best_epoch_ == int(np.argmax(scores))
    assert lort.best_epoch_ == len(lort.loss_curve_)
    assert lort.n_iter_ == lort.n_epochs + lort.best_epoch_  # held-out run, then the refit
    assert_array_equal(lort.class_counts_, np.bincount(y))  # the refit saw every row
    again = LORTClassifier(n_epochs=4, random_state=0).fit(X, y)
    assert_array_equal(again.coef_, lort.coef_)  # deterministic


def test_lort_one_row_per_class_trains_without_holding_out():
    X = np.eye(4) * 3
    y = np.arange(4)
    lort = LORTClassifier(random_state=0).fit(X, y)
    assert lort.n_iter_ == 2 and not hasattr(lort, "best_epoch_")
