"""Bad and unusual input for every head and sampler: a right answer or a clear error."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from sklearn_lt import (
    ClassBalancedSampler,
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SoftmaxClassifier,
    SquareRootSampler,
    TauNormClassifier,
)

HEADS = [
    SoftmaxClassifier(n_epochs=3, random_state=0),
    CRTClassifier(n_epochs=3, random_state=0),
    TauNormClassifier(tau=0.5, random_state=0),
    LWSClassifier(n_epochs=3, random_state=0),
    LORTClassifier(n_epochs=3, random_state=0),
    NCMClassifier(),
    NCMClassifier(metric="euclidean"),
]
SAMPLERS = [
    PowerSampler(q=0.2, random_state=0),
    ClassBalancedSampler(random_state=0),
    SquareRootSampler(random_state=0),
    ProgressivelyBalancedSampler(epoch=1, n_epochs=3, random_state=0),
]
name = lambda e: type(e).__name__  # noqa: E731


def data(seed=0, n_features=5):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], [60, 25, 10, 4])
    X = rng.normal(size=(len(y), n_features)) + 2 * np.eye(n_features)[y]
    return X.astype(np.float32), y


@pytest.mark.parametrize("head", HEADS, ids=name)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64])
def test_low_precision_and_integer_tensors_are_upcast(head, dtype):
    X, y = data()
    Xt = torch.from_numpy(X * 4).to(dtype)
    head = clone(head).fit(Xt, y)
    assert head.coef_.dtype == torch.float32
    ref = clone(head).fit(Xt.to(torch.float32), y)
    assert_array_equal(head.predict(Xt).numpy(), ref.predict(Xt.to(torch.float32)).numpy())


@pytest.mark.parametrize("head", HEADS, ids=name)
def test_non_contiguous_tensors(head):
    X, y = data()
    wide = torch.from_numpy(np.repeat(X, 2, axis=1))
    Xnc = wide[:, ::2]
    assert not Xnc.is_contiguous()
    a = clone(head).fit(Xnc, y)
    b = clone(head).fit(Xnc.contiguous(), y)
    assert_allclose(a.coef_.numpy(), b.coef_.numpy())
    assert_array_equal(a.predict(Xnc).numpy(), b.predict(Xnc.contiguous()).numpy())
    assert_array_equal(a.predict(torch.from_numpy(X).T.contiguous().T).numpy(),
                       a.predict(torch.from_numpy(X)).numpy())


@pytest.mark.parametrize("head", HEADS, ids=name)
def test_empty_input_and_wrong_dimensions(head):
    X, y = data()
    for bad in (np.empty((0, 5), np.float32), torch.empty(0, 5)):
        with pytest.raises(ValueError, match="sample"):
            clone(head).fit(bad, y[:0])
    with pytest.raises(ValueError, match="2-D|2D"):
        clone(head).fit(torch.from_numpy(X)[None], y)
    fitted = clone(head).fit(X, y)
    with pytest.raises(ValueError, match="sample"):
        fitted.predict(torch.empty(0, 5))


@pytest.mark.parametrize("head", HEADS, ids=name)
def test_string_labels_and_fitted_head_on_other_dtype(head):
    X, y = data()
    labels = np.array(["cat", "dog", "emu", "yak"])[y]
    fitted = clone(head).fit(X, labels)
    assert_array_equal(fitted.classes_, ["cat", "dog", "emu", "yak"])
    pred = fitted.predict(X.astype(np.float64))
    assert set(pred) <= set(labels)
    assert fitted.predict_proba(torch.from_numpy(X).double()).dtype == torch.float64


@pytest.mark.parametrize("head", HEADS, ids=name)
def test_bit_for_bit_determinism_and_round_trip(head):
    X, y = data()
    a, b = clone(head).fit(X, y), clone(head).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    loaded = pickle.loads(pickle.dumps(a))
    assert_array_equal(loaded.decision_function(X), a.decision_function(X))


@pytest.mark.parametrize("sampler", SAMPLERS, ids=name)
def test_sampler_bad_input(sampler):
    X, y = data()
    with pytest.raises(ValueError, match="inconsistent"):
        clone(sampler).fit_resample(X, y[:-1])
    with pytest.raises(ValueError, match="class"):
        clone(sampler).fit_resample(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        clone(sampler).fit_resample(X, np.linspace(0, 1, len(y)))
    # strings, NaN and object data are just rows to draw
    Xs = np.array(["a", "b", "c", "d", "e"], dtype=object)[np.arange(len(y)) % 5][:, None]
    Xs_res, y_res = clone(sampler).fit_resample(Xs, y)
    assert Xs_res.shape == (len(y), 1) and len(y_res) == len(y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    assert np.isnan(clone(sampler).fit_resample(Xn, y)[0]).sum() >= 0


@pytest.mark.parametrize("sampler", SAMPLERS, ids=name)
def test_sampler_string_labels_and_torch(sampler):
    X, y = data()
    labels = np.array(["a", "b", "c", "d"])[y]
    X_res, y_res = clone(sampler).fit_resample(torch.from_numpy(X), labels)
    assert isinstance(X_res, torch.Tensor) and isinstance(y_res, np.ndarray)
    assert set(y_res) <= set(labels)


def test_finite_check_is_exact_when_the_sum_overflows():
    # Every entry finite but the sum overflows float32: must be accepted.
    from sklearn_lt.utils import validate_features

    class Holder:
        pass

    big = torch.full((10, 3), 3e38)
    assert validate_features(Holder(), big, reset=True).shape == (10, 3)
    big[4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        validate_features(Holder(), big, reset=True)
