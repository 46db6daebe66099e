"""Each head's own formulas against plain numpy; what every head shares is in
test_heads_common.py."""

import numpy as np
import pytest
import torch
from _support import COUNTS, long_tailed
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lt import (
    ClassBalancedSampler,
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
    SquareRootSampler,
    TauNormClassifier,
)
from sklearn_lt.heads import _lws, auto_smoothing
from sklearn_lt.heads._trainer import cross_entropy


# --------------------------------------------------------------- formulas
@pytest.mark.parametrize("tau", [0.0, 0.3, 0.7, 1.0, 2.0])
def test_tau_norm_on_frozen_logistic_regression_matches_numpy(tau):
    X, y = long_tailed(dtype=np.float32)
    base = LogisticRegression(max_iter=1000).fit(X, y)
    clf = TauNormClassifier(FrozenEstimator(base), tau=tau).fit(X, y)
    W = base.coef_.astype(np.float32).astype(np.float64)
    # Normalised in the units of the features over their RMS row norm s.
    s = clf.feature_scale_
    assert s == pytest.approx(np.sqrt(np.mean(np.sum(X.astype(np.float64) ** 2, axis=1))))
    expected = (W / (s * np.linalg.norm(W, axis=1, keepdims=True)) ** tau).astype(np.float32)
    assert clf.coef_.dtype == np.float32
    assert_array_equal(clf.coef_, expected)  # to the last digit of float32
    assert_array_equal(clf.intercept_, np.zeros(len(COUNTS), np.float32))
    assert_allclose(clf.decision_function(X), X @ clf.coef_.T, rtol=1e-5, atol=1e-5)
    assert_array_equal(clf.predict(X), np.argmax(X @ clf.coef_.T, axis=1))


def test_tau_zero_keeps_weights_and_binary_models_expand():
    X, y = long_tailed()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    clf = TauNormClassifier(FrozenEstimator(base), tau=0.0).fit(X, y)
    assert_allclose(clf.coef_, base.coef_)
    Xb, yb = X[y < 2], y[y < 2]
    binary = LogisticRegression().fit(Xb, yb)
    clf = TauNormClassifier(FrozenEstimator(binary), tau=0.0).fit(Xb, yb)
    w = binary.coef_[0]
    assert_allclose(clf.coef_, np.stack([-w / 2, w / 2]))
    # one-column decision function (sklearn convention) = w . x without bias
    assert_allclose(clf.decision_function(Xb), Xb @ w)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_pipeline_grid_search_over_tau_finds_the_tau_the_data_calls_for(as_tensor):
    # A frozen base whose row norms grow with the class counts by construction
    # (n_j / n_min times the unit direction of class j's mean): tau = 1 removes
    # exactly that growth, lower taus favour the head classes and higher ones
    # the tail, so balanced accuracy peaks at tau = 1.
    X, y = long_tailed(n_features=5, centers="axes")
    Z = StandardScaler().fit_transform(X)
    means = np.stack([Z[y == j].mean(0) for j in range(len(COUNTS))])
    W = np.asarray(COUNTS)[:, None] / min(COUNTS) * means
    W /= np.linalg.norm(means, axis=1, keepdims=True)
    base = SoftmaxClassifier.from_weights(W, np.zeros(len(COUNTS)), classes=np.arange(5),
                                          class_counts=COUNTS)
    y_in = y
    if as_tensor:
        X, y_in = torch.from_numpy(X), torch.from_numpy(y)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", TauNormClassifier(FrozenEstimator(base)))])
    taus = [0.0, 0.5, 1.0, 1.5, 2.0]
    search = GridSearchCV(pipe, {"clf__tau": taus}, cv=3, scoring="balanced_accuracy").fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_params_["clf__tau"] == 1.0
    assert np.all(np.diff(scores[:3]) > 0) and np.all(np.diff(scores[2:]) < 0)  # one peak
    assert search.score(X, y_in) > 0.5


def ncm_reference(center):
    """Training data, queries, normalised queries and centroids, in plain numpy."""
    X, y = long_tailed()
    mean = X.mean(0) if center else np.zeros(X.shape[1])
    Z = (X - mean) / np.linalg.norm(X - mean, axis=1, keepdims=True)
    mu = np.stack([Z[y == j].mean(0) for j in range(len(COUNTS))])
    Xq = long_tailed(seed=1)[0][:50]
    Zq = (Xq - mean) / np.linalg.norm(Xq - mean, axis=1, keepdims=True)
    return X, y, Xq, Zq, mu


@pytest.mark.parametrize("center", [True, False])
def test_ncm_cosine_matches_numpy(center):
    X, y, Xq, Zq, mu = ncm_reference(center)
    expected = Zq @ (mu / np.linalg.norm(mu, axis=1, keepdims=True)).T
    clf = NCMClassifier("cosine", center=center).fit(X, y)
    assert_allclose(clf.centroids_, mu, rtol=1e-12)
    assert_allclose(clf.decision_function(Xq), expected, rtol=1e-12, atol=1e-14)
    assert_array_equal(clf.predict(Xq), expected.argmax(1))


@pytest.mark.parametrize("center", [True, False])
def test_ncm_euclidean_matches_numpy(center):
    X, y, Xq, Zq, mu = ncm_reference(center)
    expected = -(((Zq[:, None, :] - mu[None]) ** 2).sum(-1))
    clf = NCMClassifier(metric="euclidean", center=center).fit(X, y)
    assert_allclose(clf.decision_function(Xq), expected, rtol=1e-10, atol=1e-12)
    assert_array_equal(clf.predict(Xq), expected.argmax(1))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ncm_float32_logits_far_from_the_origin_and_a_row_at_the_mean(metric):
    # NCM's logits are (x @ W.T - m @ W.T) / ||x - m||: check the float32
    # path against float64 on features whose mean is far from the origin
    # (post-ReLU-like), and a query equal to the mean (phi(x) = 0).
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), [200, 60, 20, 6])
    X = 20.0 + rng.normal(size=(len(y), 32)) + 2 * np.eye(32)[y]
    Xq = 20.0 + rng.normal(size=(300, 32))
    ref = NCMClassifier(metric).fit(X, y)
    f32 = NCMClassifier(metric).fit(torch.from_numpy(X).float(), torch.from_numpy(y))
    logits = f32.decision_function(torch.from_numpy(Xq).float()).double().numpy()
    assert_allclose(logits, ref.decision_function(Xq), atol=2e-5)
    # the mean row inside a batch (the batched matmul may round differently)
    with_mean = np.vstack([Xq[:150], np.asarray(ref.feature_mean_)[None], Xq[150:]])
    assert_array_equal(ref.decision_function(with_mean)[150], ref.intercept_)
    with_mean32 = torch.cat([torch.from_numpy(Xq[:150]).float(), f32.feature_mean_[None]])
    assert torch.equal(f32.decision_function(with_mean32)[150], f32.intercept_)


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")  # NearestCentroid
@pytest.mark.parametrize("factor", [1e20, 1e-25])
def test_ncm_float32_far_from_unit_scale(factor, digits_lt_features):
    # Issue #18.3: float32 features near 1e20 or 1e-25 give the same predictions.
    X, y, X_test, y_test = digits_lt_features
    ours = NCMClassifier().fit(X.astype(np.float32), y).predict(X_test.astype(np.float32))
    scaled = NCMClassifier().fit((factor * X).astype(np.float32), y)
    assert np.all(np.isfinite(scaled.coef_))
    assert_array_equal(scaled.predict((factor * X_test).astype(np.float32)), ours)
    reference = NearestCentroid().fit(X, y).score(X_test, y_test)
    assert scaled.score((factor * X_test).astype(np.float32), y_test) > reference - 0.1


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's check
def test_ncm_overflowing_column_sum_is_not_a_silent_nan():
    X, y = long_tailed((60, 36, 20), 5, separation=3.0, centers="axes")
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


def test_lws_scales_the_whole_logit_of_the_base():
    X, y = long_tailed()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    clf = LWSClassifier(FrozenEstimator(base), n_epochs=3, random_state=0).fit(X, y)
    f = clf.scales_
    assert f.shape == (len(COUNTS),) and not np.allclose(f, 1.0)
    assert_allclose(clf.coef_, f[:, None] * base.coef_)
    assert_allclose(clf.intercept_, f * base.intercept_)
    assert_allclose(clf.decision_function(X), f * (X @ base.coef_.T + base.intercept_))
    # class-balanced training raises the tail scales relative to the head
    assert f[-1] > f[0]


def test_lws_precomputed_base_logits_give_the_same_scales(monkeypatch):
    # LWS trains on base logits computed once when they take at most half of X
    # (_keeps_base_logits), else recomputes them per batch: same scales either way.
    X, y = long_tailed()
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    once = LWSClassifier(base, n_epochs=4, random_state=0).fit(X, y)
    fits = {}
    for keep in (True, False):
        asked = []
        monkeypatch.setattr(
            _lws,
            "_keeps_base_logits",
            lambda n_features, n_classes, asked=asked, keep=keep: asked.append(1) or keep,
        )
        fits[keep] = LWSClassifier(base, n_epochs=4, random_state=0).fit(X, y)
        assert asked  # the rule decided the path
    precomputed, per_batch = fits[True], fits[False]
    assert not np.allclose(once.scales_, 1.0)
    assert_allclose(precomputed.scales_, per_batch.scales_, rtol=1e-6)
    assert_allclose(precomputed.loss_curve_, per_batch.loss_curve_, rtol=1e-6)
    assert_allclose(per_batch.decision_function(X), precomputed.decision_function(X), rtol=1e-6)


@pytest.mark.parametrize("delta", [0.0, 0.5, 0.9, 0.98])
def test_lort_loss_is_cross_entropy_on_smoothed_targets(delta):
    # LORT's retargeting (its eq. 3): targets (1 - delta) * onehot + delta / C.
    rng = np.random.RandomState(0)
    logits, y = 3 * rng.normal(size=(7, 5)), rng.randint(0, 5, 7)
    target = (1 - delta) * np.eye(5)[y] + delta / 5
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -(target * log_p).sum(1)  # one loss per sample
    got = cross_entropy(delta)(torch.from_numpy(logits), torch.from_numpy(y))
    assert got.shape == (7,)
    assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_lort_starts_from_the_base_and_smoothing_flattens_logits():
    X, y = long_tailed()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    before = base.coef_.copy()
    lort = LORTClassifier(FrozenEstimator(base), smoothing=0.98, n_epochs=20,
                          early_stopping=False, random_state=0).fit(X, y)
    plain = LORTClassifier(FrozenEstimator(base), smoothing=0.0, n_epochs=20,
                           early_stopping=False, random_state=0).fit(X, y)
    # near-uniform targets shrink the spread of the logits
    spread = lambda c: np.std(c.decision_function(X), axis=1).mean()  # noqa: E731
    assert spread(lort) < 0.5 * spread(plain)
    assert_array_equal(base.coef_, before)  # the frozen model is not trained in place
    # zero epochs' worth of learning rate leaves the base untouched
    frozen = LORTClassifier(FrozenEstimator(base), lr=1e-300, n_epochs=1).fit(X, y)
    assert_allclose(frozen.coef_, base.coef_)


def test_crt_reinitialises_and_balances():
    X, y = long_tailed()
    sb = SoftmaxClassifier(random_state=0).fit(X, y)
    crt = CRTClassifier(random_state=0).fit(X, y)
    assert type(crt.sampler_) is ClassBalancedSampler
    # class-balanced training gives the tail larger weight norms than IB training
    ratio = lambda c: np.linalg.norm(c.coef_[-1]) / np.linalg.norm(c.coef_[0])  # noqa: E731
    assert ratio(crt) > ratio(sb)
    sq = CRTClassifier(sampler=SquareRootSampler(), random_state=0).fit(X, y)
    assert type(sq.sampler_) is SquareRootSampler


def test_auto_smoothing_keeps_the_official_target_odds():
    def odds(delta, c):  # true-class target over another class's target
        return (1 - delta + delta / c) / (delta / c)

    assert_allclose(auto_smoothing(100), 0.98)
    for c in (2, 10, 1000):
        assert_allclose(odds(auto_smoothing(c), c), odds(0.98, 100))
    X, y = long_tailed()
    assert_allclose(LORTClassifier(smoothing="auto", n_epochs=1).fit(X, y).smoothing_,
                    auto_smoothing(5))
    assert LORTClassifier(smoothing=0.3, n_epochs=1).fit(X, y).smoothing_ == 0.3
