"""RetrainedClassifier runs each Table 1 row in its reference code's loss form (issue #25).

Full-batch L-BFGS converges to a stationary point of the head's objective;
with an instance-balanced sampler that objective is the reference loss over
the whole training set plus the weight decay, so the reference's gradient
(a port in ``test_losses_reference``) must vanish at the fitted weights.
"""

import numpy as np
import pytest
import torch
from test_losses_reference import (
    reference_cui_sigmoid,
    reference_ldam,
    reference_ldam_drw_focal,
    reference_ltwb_softmax_bce,
)

from sklearn_lt import RetrainedClassifier
from sklearn_lt.heads import class_balanced_weights, ldam_margins

WEIGHT_DECAY = 1e-3
TOL = 1e-5  # L-BFGS's stationarity; the wrong forms below are 100x further


def _data(seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], [150, 45, 14, 5])
    X = rng.normal(size=(len(y), 6)) + 1.5 * np.eye(6)[y]
    return 3.0 * X, y  # an RMS row norm far from 1


def _reference_gradient(clf, X, y, reference):
    """Largest gradient entry of ``reference + penalty`` at the fitted weights.

    In the trainer's normalised units (:mod:`sklearn_lt.heads._trainer`): the
    weights of ``X / s``, ``s`` the RMS row norm, with the penalty on them.
    """
    s = np.sqrt((X**2).sum(axis=1).mean())
    weight = torch.tensor(np.asarray(clf.coef_) * s, requires_grad=True)
    bias = torch.tensor(np.asarray(clf.intercept_), requires_grad=True)
    logits = torch.as_tensor(X / s) @ weight.T + bias
    penalty = 0.5 * WEIGHT_DECAY * ((weight**2).sum() + (bias**2).sum())
    objective = reference(logits, torch.as_tensor(y)) + penalty
    return max(float(g.abs().max()) for g in torch.autograd.grad(objective, [weight, bias]))


def _fit(**params):
    X, y = _data()
    clf = RetrainedClassifier(solver="lbfgs", weight_decay=WEIGHT_DECAY, tol=1e-9,
                              random_state=0, **params).fit(X, y)
    counts = np.bincount(y).astype(float)
    return clf, X, y, counts


def test_softmax_bce_minimises_the_port_ltwb_uses():
    clf, X, y, counts = _fit(loss="softmax_bce", reweight="class_balanced")
    w = class_balanced_weights(counts, 0.9999)
    assert _reference_gradient(clf, X, y, lambda z, t: reference_ltwb_softmax_bce(z, t, w)) < TOL


@pytest.mark.parametrize("loss, gamma", [("sigmoid_bce", 0.0), ("sigmoid_focal", 1.0)])
def test_sigmoid_losses_minimise_cuis(loss, gamma):
    clf, X, y, counts = _fit(loss=loss, gamma=gamma, reweight="class_balanced")
    w = class_balanced_weights(counts, 0.9999)
    gradient = _reference_gradient(clf, X, y, lambda z, t: reference_cui_sigmoid(z, t, w, gamma))
    assert gradient < TOL


def test_ldam_drw_focal_form_minimises_ldam_drws_focal_loss():
    clf, X, y, counts = _fit(loss="focal", gamma=1.0, focal_form="ldam_drw",
                             reweight="class_balanced")
    w = class_balanced_weights(counts, 0.9999)
    lin, *_ = _fit(loss="focal", gamma=1.0, reweight="class_balanced")

    def reference(z, t):
        return reference_ldam_drw_focal(z, t, w, 1.0)

    assert _reference_gradient(clf, X, y, reference) < TOL
    assert _reference_gradient(lin, X, y, reference) > 1e-3  # Lin et al.'s form differs


def test_scale_linear_logits_is_ldam_drws_ldam_loss_on_a_linear_layer():
    clf, X, y, counts = _fit(loss="ldam", scale_linear_logits=True)
    m = ldam_margins(counts, 0.5)
    gradient = _reference_gradient(clf, X, y, lambda z, t: reference_ldam(z, t, m, 30.0, None))
    assert gradient < TOL
    # Our default: the margin s * m on unscaled logits, the reference's loss at z / s.
    default, *_ = _fit(loss="ldam")
    assert _reference_gradient(default, X, y,
                               lambda z, t: reference_ldam(z / 30.0, t, m, 30.0, None)) < TOL
    assert _reference_gradient(default, X, y,
                               lambda z, t: reference_ldam(z, t, m, 30.0, None)) > 1e-3


def test_weight_normalization_by_weights_is_a_mini_batch_schedule():
    X, y = _data()
    batch = RetrainedClassifier(reweight="class_balanced", loss="cross_entropy", random_state=0)
    torchs = RetrainedClassifier(reweight="class_balanced", loss="cross_entropy",
                                 weight_normalization="weights", random_state=0).fit(X, y)
    assert torchs.n_iter_ == torchs.n_epochs  # solver="auto" picked SGD
    batch = batch.set_params(solver="sgd").fit(X, y)
    assert not np.allclose(batch.coef_, torchs.coef_)
    with pytest.raises(ValueError, match="weight_normalization"):
        RetrainedClassifier(reweight="class_balanced", weight_normalization="weights",
                            solver="lbfgs").fit(X, y)
