"""Reference parity (#25): LDAM-DRW's learning-rate schedule and Cui et al.'s sigmoid bias start.

Each held to a plain port of its reference code: ``adjust_learning_rate`` of
LDAM-DRW's ``cifar_train.py``; the bias initialiser of class-balanced-loss's
``model_base.py`` (``-np.log(out_dim - 1)`` for the sigmoid and focal losses)
and its penalty without the last layer's bias (``cifar_main.py``).
"""

import math

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from sklearn_lt import ClassCounts, RetrainedClassifier
from sklearn_lt.heads._trainer import (
    Callback,
    _l2_penalty,
    _sgd_param_groups,
    ldam_drw_lr,
)


def adjust_learning_rate(lr, epoch):
    """LDAM-DRW's ``adjust_learning_rate`` (cifar_train.py), returning the lr it sets."""
    epoch = epoch + 1
    if epoch <= 5:
        lr = lr * epoch / 5
    elif epoch > 180:
        lr = lr * 0.0001
    elif epoch > 160:
        lr = lr * 0.01
    else:
        lr = lr
    return lr


def data(seed=0, counts=(60, 20, 8, 4)):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), 5)) + 2 * np.eye(5)[y]
    return X, y


class Recorded(RetrainedClassifier):
    """RetrainedClassifier whose trainer also calls ``recorder`` (a Callback)."""

    recorder = None

    def _callbacks(self, start, loss, options):
        return [*super()._callbacks(start, loss, options), self.recorder]


class StepLearningRates:
    """The learning rate of every optimizer step, through torch's global step hook."""

    def __enter__(self):
        self.lrs = []
        self.handle = register_optimizer_step_pre_hook(
            lambda optimizer, args, kwargs: self.lrs.append(
                [group["lr"] for group in optimizer.param_groups]
            )
        )
        return self

    def __exit__(self, *exc):
        self.handle.remove()


# ------------------------------------------------------------- LDAM-DRW's schedule
def test_ldam_drw_lr_is_the_reference_at_200_epochs():
    for epoch in range(200):
        assert ldam_drw_lr(0.1, epoch, 200) == adjust_learning_rate(0.1, epoch)


def test_ldam_drw_lr_steps_at_the_same_fractions_of_shorter_runs():
    assert [ldam_drw_lr(1.0, e, 10) for e in range(10)] == [
        0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 0.01, 0.0001
    ]
    # 20 epochs: steps after epochs 16 and 18 (1-based), as 160 and 180 of 200.
    lrs = [ldam_drw_lr(1.0, e, 20) for e in range(20)]
    assert lrs[5:16] == [1.0] * 11 and lrs[16:18] == [0.01] * 2 and lrs[18:] == [0.0001] * 2


@pytest.mark.parametrize("n_epochs", [200, 12])
def test_sgd_fit_runs_the_ldam_drw_schedule(n_epochs):
    # A real fit, one step per epoch: the lr of each step is the schedule's.
    X, y = data()
    head = RetrainedClassifier(loss="ldam", reweight="class_balanced", lr_schedule="ldam_drw",
                               n_epochs=n_epochs, batch_size=len(y), lr=0.5, random_state=0)
    with StepLearningRates() as steps:
        head.fit(X, y)
    assert head.n_iter_ == n_epochs  # solver="auto" picked SGD
    lrs = [group_lrs[0] for group_lrs in steps.lrs]
    expected = [ldam_drw_lr(0.5, e, n_epochs) for e in range(n_epochs)]
    assert lrs == expected
    if n_epochs == 200:
        assert lrs == [adjust_learning_rate(0.5, e) for e in range(200)]


def test_ldam_drw_schedule_with_drw_at_160_of_200():
    # LDAM-DRW as its script runs: the weights from epoch 160, the lr steps at 160 and 180.
    X, y = data()
    head = RetrainedClassifier(loss="ldam", reweight="class_balanced", reweight_from_epoch=160,
                               lr_schedule="ldam_drw", n_epochs=200, batch_size=len(y),
                               random_state=0).fit(X, y)
    assert head.n_iter_ == 200 and np.isfinite(head.coef_).all()


def test_ldam_drw_schedule_needs_sgd():
    X, y = data()
    with pytest.raises(ValueError, match="lr_schedule='ldam_drw'.*use solver='sgd'"):
        RetrainedClassifier(solver="lbfgs", lr_schedule="ldam_drw").fit(X, y)
    with pytest.raises(ValueError, match="cosine_step='before_epoch'.*own epochs"):
        RetrainedClassifier(lr_schedule="ldam_drw", cosine_step="before_epoch").fit(X, y)
    with pytest.raises(ValueError, match="'lr_schedule' parameter"):
        RetrainedClassifier(lr_schedule="step").fit(X, y)
    options = RetrainedClassifier(lr_schedule="ldam_drw")._training_options(
        torch.as_tensor(X), ClassCounts.from_labels(y)
    )
    assert (options.solver, options.lr_schedule) == ("sgd", "ldam_drw")


def test_default_schedule_is_the_cosine():
    X, y = data()
    kwargs = dict(solver="sgd", n_epochs=4, batch_size=len(y), lr=2.0, random_state=0)
    with StepLearningRates() as steps:
        RetrainedClassifier(**kwargs).fit(X, y)
    expected = [0.5 * 2.0 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose([lrs[0] for lrs in steps.lrs], expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------- Cui et al.'s bias start
class StartingBias(Callback):
    def on_train_begin(self, module, options):
        self.module = module
        self.bias = module.bias.detach().clone()
        self.weight = module.weight.detach().clone()


@pytest.mark.parametrize("loss", ["sigmoid_bce", "sigmoid_focal"])
@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_prior_init_starts_every_sigmoid_at_one_over_c(loss, solver):
    X, y = data()
    n_classes = 4
    Recorded.recorder = StartingBias()
    head = Recorded(loss=loss, init="prior", solver=solver, n_epochs=2, random_state=0)
    head.fit(X, y)
    bias, weight = Recorded.recorder.bias, Recorded.recorder.weight
    # The reference: tf.constant_initializer(-np.log(out_dim - 1)).
    np.testing.assert_allclose(bias.numpy(), np.full(n_classes, -np.log(n_classes - 1)))
    pi = 1 / n_classes
    np.testing.assert_allclose(torch.sigmoid(bias).numpy(), pi)
    np.testing.assert_allclose(bias.numpy(), -np.log((1 - pi) / pi))
    # The weights start as init="random"'s (the same draw).
    Recorded.recorder = StartingBias()
    Recorded(loss=loss, solver=solver, n_epochs=2, random_state=0).fit(X, y)
    torch.testing.assert_close(weight, Recorded.recorder.weight, rtol=0, atol=0)
    assert not torch.equal(bias, Recorded.recorder.bias)


def test_prior_init_exempts_the_bias_from_weight_decay():
    # Cui et al. penalise every trainable variable but 'dense/bias' (sigmoid and
    # focal losses): the penalty's gradient on the bias is 0, on the weights not.
    X, y = data()
    modules = {}
    for init in ("prior", "random"):
        Recorded.recorder = StartingBias()
        Recorded(loss="sigmoid_bce", init=init, solver="sgd", n_epochs=1, random_state=0).fit(X, y)
        modules[init] = Recorded.recorder.module
    for init, module in modules.items():
        module.zero_grad()
        _l2_penalty(module, 0.3).backward()
        assert module.weight.grad.abs().max() > 0
        bias_grad = module.bias.grad
        if init == "prior":
            assert bias_grad is None or not bias_grad.any()
        else:
            torch.testing.assert_close(bias_grad, 0.3 * module.bias.detach())
    # SGD: the bias in a group of its own, without weight decay.
    groups = _sgd_param_groups(modules["prior"])
    assert [len(group["params"]) for group in groups] == [1, 1]
    assert groups[1]["params"][0] is modules["prior"].bias and groups[1]["weight_decay"] == 0.0
    assert len(_sgd_param_groups(modules["random"])) == 1


def test_prior_init_bias_is_not_shrunk_by_a_strong_penalty():
    # Under a penalty strong enough to flatten the weights, the undecayed bias
    # settles at each sigmoid's own optimum, logit(n_j / N); a decayed one near 0.
    X, y = data()
    counts = np.bincount(y)
    pi = counts / counts.sum()
    prior = RetrainedClassifier(loss="sigmoid_bce", init="prior", weight_decay=100.0).fit(X, y)
    random = RetrainedClassifier(loss="sigmoid_bce", weight_decay=100.0, random_state=0).fit(X, y)
    np.testing.assert_allclose(prior.intercept_, np.log(pi / (1 - pi)), atol=0.02)
    assert np.abs(random.intercept_).max() < 0.05


def test_prior_init_is_refused_where_meaningless():
    X, y = data()
    for params in (dict(loss="cross_entropy"), dict(loss="softmax_bce"),
                   dict(loss="balanced_softmax"),
                   dict(loss="sigmoid_bce", logits="cosine")):
        with pytest.raises(ValueError, match="init='prior'"):
            RetrainedClassifier(init="prior", **params).fit(X, y)


def test_prior_init_without_fit_intercept_keeps_the_prior():
    X, y = data()
    head = RetrainedClassifier(loss="sigmoid_bce", init="prior", fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(head.intercept_, -np.log(3))
