"""The heads' reliability: silent wrong answers found by fuzzing (issue #18) and the
scale-freedom of the trained heads (issue #14), as regression tests and properties.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

from sklearn_lt import (
    BackboneEmbedder,
    CRTClassifier,
    LORTClassifier,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    ProgressivelyBalancedSampler,
    SoftmaxClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.datasets import make_long_tailed


def reproducer():
    """The setup of the issue's reproducers."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [60, 36, 20])
    X = rng.normal(size=(116, 5)) + 3 * np.eye(5)[y]
    return X, y


def digits_lt(seed=0):
    """Standardised digits made long-tailed (IR 20) and the rows left out: a real source."""
    X, y = load_digits(return_X_y=True)
    lt = make_long_tailed(X, y, imbalance_ratio=20, random_state=seed)
    rest = np.setdiff1d(np.arange(len(y)), lt.indices)
    scaler = StandardScaler().fit(lt.X)
    return scaler.transform(lt.X), lt.y, scaler.transform(X[rest]), y[rest]


SCALE_FREE_HEADS = [
    SoftmaxClassifier(random_state=0),
    SoftmaxClassifier(fit_intercept=False, random_state=0),
    SoftmaxClassifier(solver="sgd", random_state=0),
    CRTClassifier(random_state=0),
    CRTClassifier(solver="sgd", random_state=0),
    TauNormClassifier(random_state=0),
    LWSClassifier(random_state=0),
    LORTClassifier(random_state=0),
    LORTClassifierCV(n_epochs=3, cv=3, random_state=0),
    TauNormClassifierCV(cv=3, random_state=0),
    NCMClassifier(),
]


# ----------------------------------------------------------- #14: scale-free
@pytest.mark.parametrize("head", SCALE_FREE_HEADS, ids=lambda h: repr(h))
@pytest.mark.parametrize("factor", [1e-3, 0.1, 10.0, 1e4])
def test_feature_scale_does_not_change_the_fit(head, factor):
    # Training runs on the features over their RMS row norm: the fitted function
    # of c * X is that of X (up to rounding), at any feature scale.
    X, y, X_test, y_test = digits_lt()
    reference = head.fit(X, y).predict(X_test)
    scaled = head.fit(factor * X, y).predict(factor * X_test)
    agreement = np.mean(scaled == reference)
    assert agreement > 0.98, agreement
    gap = balanced_accuracy_score(y_test, scaled) - balanced_accuracy_score(y_test, reference)
    assert abs(gap) <= 0.02


# -------------------------------------------------- #18.1: failed refits
def test_failed_refit_leaves_the_head_as_it_was():
    X, y = reproducer()
    m = TauNormClassifier(LogisticRegression()).fit(X, y)
    before = {k: v.copy() if hasattr(v, "copy") else v for k, v in vars(m).items()}
    X4 = X[:, :4]
    with pytest.raises(ValueError, match="maps the features"):
        m.set_params(estimator=NCMClassifier()).fit(X4, y + 10)
    for name, value in before.items():
        if name != "estimator":  # the parameter the user changed
            assert_array_equal(np.asarray(getattr(m, name), dtype=object),
                               np.asarray(value, dtype=object))
    # Still the 3-class, 5-feature head: a 4-feature X is refused, not relabelled.
    with pytest.raises(ValueError, match="5 features"):
        m.predict(X4)
    assert set(m.set_params(estimator=LogisticRegression()).predict(X)) <= {0, 1, 2}


def test_failed_training_leaves_the_head_as_it_was():
    X, y = reproducer()
    crt = CRTClassifier(random_state=0).fit(X, y)
    coef = crt.coef_.copy()
    # Progressive sampling changes every epoch: L-BFGS refuses it inside training.
    crt.set_params(sampler=ProgressivelyBalancedSampler())
    with pytest.raises(ValueError, match="Progressively"):
        crt.fit(X[:, :4], y + 10)
    assert_array_equal(crt.coef_, coef)
    assert_array_equal(crt.classes_, [0, 1, 2])
    assert crt.n_features_in_ == 5


# ----------------------------------------- #18.2: unsorted base classes
@pytest.mark.parametrize("head", [LWSClassifier, TauNormClassifier, LORTClassifier])
def test_base_with_unsorted_classes_is_aligned(head):
    X, y = reproducer()
    base = LogisticRegression().fit(X, y)
    shuffled = LogisticRegression().fit(X, y)
    order = np.array([1, 0, 2])
    shuffled.classes_ = base.classes_[order]
    shuffled.coef_, shuffled.intercept_ = base.coef_[order], base.intercept_[order]
    plain = head(FrozenEstimator(base), random_state=0).fit(X, y)
    reordered = head(FrozenEstimator(shuffled), random_state=0).fit(X, y)
    assert_array_equal(reordered.class_counts_, [60, 36, 20])
    np.testing.assert_allclose(reordered.coef_, plain.coef_, rtol=1e-6, atol=1e-8)
    assert_array_equal(reordered.predict(X), plain.predict(X))


def test_embedder_with_unsorted_classes_rebalances_its_own_classifier():
    X, y = load_digits(return_X_y=True)
    keep = y < 3
    X, y = X[keep] / 16, y[keep]
    embedder = BackboneEmbedder(classes=[1, 0, 2], input_shape=(1, 8, 8), max_epochs=3,
                                random_state=0).fit(X, y)
    joint = embedder.classifier_
    assert_array_equal(joint.classes_, [0, 1, 2])
    assert_array_equal(joint.class_counts_, np.bincount(y))
    features = embedder.transform(X)
    lws = LWSClassifier(FrozenEstimator(joint), random_state=0).fit(features, y)
    assert_array_equal(lws.class_counts_, np.bincount(y))
    assert lws.score(features, y) >= embedder.score(X, y) - 0.05


# ------------------------------------------------ #18.3: NCM at extreme scales
@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")  # NearestCentroid
@pytest.mark.parametrize("factor", [1e20, 1e-25])
def test_ncm_float32_far_from_unit_scale(factor):
    X, y, X_test, y_test = digits_lt()
    ours = NCMClassifier().fit(X.astype(np.float32), y).predict(X_test.astype(np.float32))
    scaled = NCMClassifier().fit((factor * X).astype(np.float32), y)
    assert np.all(np.isfinite(scaled.coef_))
    assert_array_equal(scaled.predict((factor * X_test).astype(np.float32)), ours)
    reference = NearestCentroid().fit(X, y).score(X_test, y_test)
    assert scaled.score((factor * X_test).astype(np.float32), y_test) > reference - 0.1


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's check
def test_ncm_overflowing_column_sum_is_not_a_silent_nan():
    X, y = reproducer()
    big = (1e37 * (X + 10)).astype(np.float32)
    with np.errstate(over="ignore"):
        assert not np.all(np.isfinite(big.sum(axis=0)))  # 116 rows near 1e38: sums overflow
    # The mean is accumulated in float64.
    ncm = NCMClassifier().fit(big, y)
    assert np.all(np.isfinite(ncm.coef_)) and np.all(np.isfinite(ncm.feature_mean_))
    # Centred rows that themselves overflow float32 are refused, not NaN.
    lopsided = np.full_like(big, -3e38)
    lopsided[0] = 3e38
    with pytest.raises(ValueError, match="not finite"):
        NCMClassifier().fit(lopsided, y)


# ----------------------------------------------- #18.5: the caller's autograd
@pytest.mark.parametrize("head", SCALE_FREE_HEADS, ids=lambda h: repr(h))
def test_fit_never_touches_the_callers_autograd_state(head):
    X, y = reproducer()
    X_t = torch.tensor(X, requires_grad=True)
    head.fit(X_t, y)
    assert X_t.grad is None and X_t.requires_grad and X_t.grad_fn is None
    assert not head.coef_.requires_grad
    out = head.decision_function(X_t)
    assert not out.requires_grad


# ---------------------------------------- #18.11: a base of another width
@pytest.mark.parametrize(
    "head", [TauNormClassifier, LWSClassifier, LORTClassifier, TauNormClassifierCV]
)
def test_frozen_base_with_another_number_of_features(head):
    X, y = reproducer()
    base = FrozenEstimator(LogisticRegression().fit(X[:, :4], y))
    with pytest.raises(ValueError, match=r"4 features.*X has 5|5.*4"):
        head(base).fit(X, y)


# ------------------------------------------------ #18.13: the meta device
@pytest.mark.parametrize("head", [TauNormClassifier(), NCMClassifier(), CRTClassifier()],
                         ids=lambda h: type(h).__name__)
def test_meta_tensors_are_refused(head):
    X, y = reproducer()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    with pytest.raises(ValueError, match="meta"):
        head.fit(X_t.to("meta"), y_t)
    with pytest.raises(ValueError, match="meta"):
        head.fit(X_t, y_t.to("meta"))
    head.fit(X_t, y_t)
    with pytest.raises(ValueError, match="meta"):
        head.predict(X_t.to("meta"))


# -------------------------------------------------------- fuzzing the heads
FUZZED_HEADS = [
    SoftmaxClassifier(random_state=0),
    CRTClassifier(random_state=0),
    CRTClassifier(solver="sgd", n_epochs=2, random_state=0),
    TauNormClassifier(random_state=0),
    LWSClassifier(random_state=0),
    LORTClassifier(random_state=0),
    NCMClassifier(),
    NCMClassifier("cosine", center=False),
]


@st.composite
def long_tailed_problems(draw):
    n_classes = draw(st.integers(2, 4))
    counts = draw(st.lists(st.integers(1, 25), min_size=n_classes, max_size=n_classes))
    n_features = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # 1e-30 .. 1e30 in float64; float32 holds 1e-15 .. 1e15 with room for sums.
    exponent = draw(st.floats(-30, 30) if dtype == np.float64 else st.floats(-15, 15))
    offset = draw(st.sampled_from([0.0, 5.0]))  # centred or post-ReLU-like
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), counts)
    X = rng.normal(size=(len(y), n_features)) + offset + 2 * rng.normal(size=(n_classes, 1))[y]
    X = (X * 10.0**exponent).astype(dtype)
    labels = draw(st.sampled_from(["int", "str", "negative"]))
    y = {"int": y, "str": np.array([f"c{k}" for k in y]), "negative": -7 * y}[labels]
    container = draw(st.sampled_from(["numpy", "torch", "list"]))
    if container == "torch":
        X = torch.from_numpy(X)
        y = torch.from_numpy(y) if labels != "str" else y
    elif container == "list":
        X, y = X.tolist(), y.tolist()
    return X, y


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=long_tailed_problems(), head_index=st.integers(0, len(FUZZED_HEADS) - 1))
def test_fuzzed_problems_fit_cleanly_or_refuse_clearly(problem, head_index):
    X, y = problem
    head = FUZZED_HEADS[head_index]
    try:
        head.fit(X, y)
    except ValueError as exc:  # a clear refusal names the problem
        assert str(exc)
        return
    coef = np.asarray(head.coef_ if not torch.is_tensor(head.coef_) else head.coef_.numpy())
    assert np.all(np.isfinite(coef))
    predictions = head.predict(X)
    predictions = predictions.tolist() if hasattr(predictions, "tolist") else predictions
    y_list = y.tolist() if hasattr(y, "tolist") else list(y)
    assert set(predictions) <= set(y_list)
    proba = head.predict_proba(X)
    proba = proba.numpy() if torch.is_tensor(proba) else np.asarray(proba)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4)
