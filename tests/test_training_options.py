"""One resolved-options object per fit (issue #26 item 2) and the renamed parameters."""

import warnings

import numpy as np
import pytest
from _support import long_tailed
from numpy.testing import assert_array_equal

from sklearn_lt import CRTClassifier, LORTClassifier, RetrainedClassifier, SoftmaxClassifier
from sklearn_lt.heads._trainer import auto_weight_decay, resolve_batch_size
from sklearn_lt.metrics import ClassCounts
from sklearn_lt.sampling import ClassBalancedSampler, InstanceBalancedSampler


def options_of(head, X, y):
    import torch

    counts = ClassCounts(*np.unique(y, return_counts=True))
    return head._training_options(torch.as_tensor(X), counts)


def test_options_resolve_every_auto_from_the_parameters_and_the_data():
    X, y = long_tailed()
    crt = options_of(CRTClassifier(solver="sgd", lr=0.3), X, y)
    assert crt.weight_decay == auto_weight_decay(np.bincount(y))
    assert crt.batch_size == resolve_batch_size("auto", len(y)) == 32
    assert isinstance(crt.sampler, ClassBalancedSampler)
    assert (crt.solver, crt.lr, crt.name, crt.lr_stepped_before) == (
        "sgd", 0.3, "CRTClassifier", False)
    plain = options_of(SoftmaxClassifier(batch_size=7), X, y)
    assert isinstance(plain.sampler, InstanceBalancedSampler) and plain.batch_size == 7
    retrained = RetrainedClassifier(max_norm=0.1)
    resolved = options_of(retrained, X, y)
    assert (resolved.solver, resolved.weight_decay) == ("sgd", 1e-5)
    cosine = options_of(RetrainedClassifier(logits="cosine", logit_scale=16), X, y)
    assert (cosine.solver, cosine.weight_decay, cosine.logit_scale) == ("lbfgs", 0.0, 16.0)
    # The head keeps its parameters: resolving writes nothing on it.
    assert (retrained.solver, retrained.weight_decay) == ("auto", "auto")
    with pytest.raises(AttributeError):  # frozen: one object per fit, never edited
        resolved.lr = 1.0


def test_fit_does_not_write_its_resolved_options_on_the_head():
    X, y = long_tailed()
    head = RetrainedClassifier(reweight="class_balanced", reweight_from_epoch=2,
                               random_state=0).fit(X, y)
    assert head.get_params()["solver"] == "auto" and head.n_iter_ == head.n_epochs
    crt = CRTClassifier(random_state=0).fit(X, y)
    assert crt.get_params()["weight_decay"] == "auto"
    assert crt.weight_decay_ == auto_weight_decay(np.bincount(y))


@pytest.mark.parametrize(
    "old, new, value, params",
    [
        ("scale", "logit_scale", 12.0, {"logits": "cosine", "loss": "ldam"}),
        ("tau", "adjustment", 0.4, {"loss": "logit_adjusted"}),
    ],
)
def test_renamed_parameters_warn_and_are_used(old, new, value, params):
    X, y = long_tailed()
    renamed = RetrainedClassifier(**params, **{new: value}, random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match=f"'{old}' was renamed '{new}'.*{new}={value}"):
        deprecated = RetrainedClassifier(**params, **{old: value}, random_state=0).fit(X, y)
    assert_array_equal(deprecated.coef_, renamed.coef_)
    default = RetrainedClassifier(**params, random_state=0).fit(X, y)
    assert not np.array_equal(default.coef_, renamed.coef_)  # the value did change the fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name alone: no warning
        RetrainedClassifier(**params, **{new: value}, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=f"'{old}' parameter"):
        RetrainedClassifier(**{old: -1.0 if old == "scale" else "big"}).fit(X, y)


def test_lort_held_out_run_and_refit_share_a_random_state_instance():
    """A RandomState instance: the held-out run draws from a copy, so that the refit starts
    where an int seed's would (the probe used to be a clone, which deep-copies it)."""
    X, y = long_tailed()
    heads = [LORTClassifier(n_epochs=4, random_state=np.random.RandomState(3)).fit(X, y)
             for _ in range(2)]
    assert_array_equal(heads[0].coef_, heads[1].coef_)
    assert heads[0].best_epoch_ == heads[1].best_epoch_
