"""L-BFGS's stopping rule (issue #22): the fit stops at the first iteration that meets it.

The rule (the ``tol`` entry of the heads' docstrings): no gradient entry of the
objective above ``tol`` nor a tenth of the largest entry at the start (or a loss
that no longer moves: below 1e-12, which float64 fits here never reach first).
Checked against a plain numpy objective of the weighted mean cross-entropy in
float64, on scikit-learn's digits (real data) cut to a long tail. A rule that
also stopped once the loss moved by less than ``tol`` (1.2-1.4x fewer passes on
the fidelity suite) fails it: such fits stop with gradient entries of 1e-5.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_lt import CRTClassifier, RetrainedClassifier, SoftmaxClassifier
from sklearn_lt.heads import _trainer, default_base


@pytest.fixture(scope="module")
def digits():
    """The digits, class ``j`` cut to ``180 * 0.6**j`` rows (180..18), float64."""
    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == j)[: int(180 * 0.6**j)] for j in range(10)])
    return X[keep].astype(np.float64), y[keep]


def objective(head, X, y, balanced):
    """Mean cross-entropy (class-balanced: each class weighs the same) plus ``weight_decay
    / 2`` of the squared weights, and its largest gradient entry in the trained parameters
    (the weights times the RMS row norm: the trainer's ``LinearLogits``, and the intercept
    when it is fitted)."""
    scale = np.sqrt(np.mean((X**2).sum(1)))
    coef, intercept = np.asarray(head.coef_), np.asarray(head.intercept_)
    logits = X @ coef.T + intercept
    logits -= logits.max(1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    w = (1.0 / np.bincount(y))[y] if balanced else np.ones(len(y))
    w /= w.sum()
    decay = getattr(head, "weight_decay_", head.weight_decay)
    penalty = 0.5 * decay * ((coef * scale) ** 2).sum()
    residual = (np.exp(log_p) - np.eye(coef.shape[0])[y]) * w[:, None]
    grads = [residual.T @ (X / scale) + decay * coef * scale]
    if head.fit_intercept:
        penalty += 0.5 * decay * (intercept**2).sum()
        grads.append(residual.sum(0) + decay * intercept)
    loss = -(w * log_p[np.arange(len(y)), y]).sum() + penalty
    return loss, max(np.abs(g).max() for g in grads)


@pytest.mark.parametrize("make, balanced", [
    (lambda **kw: CRTClassifier(random_state=0, **kw), True),
    (lambda **kw: SoftmaxClassifier(fit_intercept=False, random_state=0, **kw), False),
], ids=["cRT", "default base"])
def test_fit_stops_at_the_first_iteration_that_meets_the_rule(digits, make, balanced):
    X, y = digits
    head = make().fit(X, y)
    n, tol = head.n_iter_, head.tol
    # The same path cut one iteration earlier (the rule never changes the path).
    before = objective(make(max_iter=n - 1).fit(X, y), X, y, balanced)
    at_exit = objective(head, X, y, balanced)
    assert at_exit[1] <= tol < before[1], (n, at_exit[1], before[1])
    assert before[0] - at_exit[0] > 1e-12  # the loss still moved: the gradient rule stopped it


def test_the_rule_is_the_documented_default():
    """Every L-BFGS head stops at tol=1e-6; only the default base uses scikit-learn's 1e-4
    (see test_crt_trains_at_many_classes_whatever_tol for why a loose tol needs the floor)."""
    assert CRTClassifier().tol == SoftmaxClassifier().tol == RetrainedClassifier().tol == 1e-6
    assert default_base().tol == 1e-4
    for head in (CRTClassifier, SoftmaxClassifier):
        documented = " ".join(head.__doc__.split())
        assert "tol : float, default=1e-6" in documented
        assert "no gradient entry of the objective (the weighted mean loss plus the" in documented


def test_crt_trains_at_many_classes_whatever_tol(monkeypatch):
    """The class-balanced mean loss spreads its gradient over the classes: at thousands of
    classes its largest entry starts below scikit-learn's 1e-4, where a cRT with that tol
    stopped at iteration 0 (no training at all). The gradient test is against ``min(tol, a
    tenth of the starting gradient's largest entry)``: every tol trains there."""
    rng = np.random.RandomState(0)
    n_classes, n_features = 8142, 16  # iNaturalist 2018's classes, 2-5 rows each
    y = np.repeat(np.arange(n_classes), rng.randint(2, 6, n_classes))
    means = rng.normal(size=(n_classes, n_features))
    X = means[y] + rng.normal(size=(len(y), n_features))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    with monkeypatch.context() as patched:  # the absolute rule alone: the failure
        patched.setattr(_trainer, "GRADIENT_FLOOR", np.inf)
        stopped_early = CRTClassifier(tol=1e-4, random_state=0).fit(X, y)
    assert stopped_early.n_iter_ == 0
    start = stopped_early.loss_curve_[0]
    for tol in (1e-4, 1e-6):
        head = CRTClassifier(tol=tol, random_state=0).fit(X, y)
        assert head.n_iter_ >= 3
        assert head.loss_curve_[0] == start
        assert head.loss_curve_[-1] < start - 0.5
        assert (head.predict(X) == y).mean() > 10 * (stopped_early.predict(X) == y).mean()


def test_a_tighter_tol_runs_on_along_the_same_path(digits):
    """``tol`` is the one knob: a tight one fits to the float64 optimum (the loss no longer
    moves), and the default's fit is a prefix of it."""
    X, y = digits
    default = CRTClassifier(random_state=0).fit(X, y)
    tight = CRTClassifier(tol=1e-10, random_state=0).fit(X, y)
    assert tight.n_iter_ > default.n_iter_
    assert tight.loss_curve_[: len(default.loss_curve_)] == default.loss_curve_
    assert objective(tight, X, y, balanced=True)[1] < 1e-6 < objective(
        CRTClassifier(random_state=0, max_iter=default.n_iter_ - 1).fit(X, y), X, y, True)[1]
