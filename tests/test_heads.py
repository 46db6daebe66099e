"""Stage-two heads: formulas against numpy, tensors, determinism, errors."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
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

COUNTS = [300, 120, 50, 20, 8]


def long_tailed(seed=0, n_features=6, dtype=np.float64):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(COUNTS)), COUNTS)
    centers = 2.0 * rng.normal(size=(len(COUNTS), n_features))
    X = centers[y] + rng.normal(size=(len(y), n_features))
    return X.astype(dtype), y


TRAINED = [
    SoftmaxClassifier(n_epochs=5, random_state=0),
    CRTClassifier(n_epochs=5, random_state=0),
    LWSClassifier(n_epochs=5, random_state=0),
    LORTClassifier(n_epochs=5, random_state=0),
]
ALL_HEADS = TRAINED + [TauNormClassifier(tau=0.5, random_state=0), NCMClassifier(),
                       NCMClassifier(metric="cosine"), NCMClassifier(metric="dot")]
ids = lambda h: f"{type(h).__name__}"  # noqa: E731


# --------------------------------------------------------------- formulas
@pytest.mark.parametrize("tau", [0.0, 0.3, 0.7, 1.0, 2.0])
def test_tau_norm_on_frozen_logistic_regression_matches_numpy(tau):
    X, y = long_tailed(dtype=np.float32)
    base = LogisticRegression(max_iter=1000).fit(X, y)
    clf = TauNormClassifier(FrozenEstimator(base), tau=tau).fit(X, y)
    W = base.coef_.astype(np.float32).astype(np.float64)
    expected = (W / np.linalg.norm(W, axis=1, keepdims=True) ** tau).astype(np.float32)
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


def test_lws_precomputed_base_logits_give_the_same_scales():
    # LWS trains on base logits computed once when they fit in
    # working_memory, else recomputes them per batch: same scales either way.
    X, y = long_tailed()
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    once = LWSClassifier(base, n_epochs=4, random_state=0).fit(X, y)
    X_narrow = X[:, :3]  # 5 classes > 3 features and no memory budget
    base_narrow = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X_narrow, y))
    with config_context(working_memory=0):
        per_batch = LWSClassifier(base_narrow, n_epochs=4, random_state=0).fit(X_narrow, y)
    precomputed = LWSClassifier(base_narrow, n_epochs=4, random_state=0).fit(X_narrow, y)
    assert not np.allclose(once.scales_, 1.0)
    assert_allclose(precomputed.scales_, per_batch.scales_, rtol=1e-6)
    assert_allclose(precomputed.loss_curve_, per_batch.loss_curve_, rtol=1e-6)
    assert_allclose(
        per_batch.decision_function(X_narrow),
        precomputed.decision_function(X_narrow),
        rtol=1e-6,
    )


def test_lort_loss_is_cross_entropy_on_smoothed_targets():
    rng = np.random.RandomState(0)
    logits, y, delta = rng.normal(size=(7, 5)), rng.randint(0, 5, 7), 0.9
    target = (1 - delta) * np.eye(5)[y] + delta / 5
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -(target * log_p).sum(1).mean()
    got = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y), label_smoothing=delta)
    assert_allclose(float(got), expected, rtol=1e-12)


def test_lort_starts_from_the_base_and_smoothing_flattens_logits():
    X, y = long_tailed()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    before = base.coef_.copy()
    lort = LORTClassifier(FrozenEstimator(base), smoothing=0.98, n_epochs=20,
                          random_state=0).fit(X, y)
    plain = LORTClassifier(FrozenEstimator(base), smoothing=0.0, n_epochs=20,
                           random_state=0).fit(X, y)
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


# ----------------------------------------------------------- tensors, dtypes
@pytest.mark.parametrize("head", ALL_HEADS, ids=ids)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_in_torch_out(head, dtype):
    X, y = long_tailed()
    Xt, yt = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
    head = head.fit(Xt, yt)
    assert isinstance(head.coef_, torch.Tensor) and head.coef_.dtype == dtype
    for method, shape in [("decision_function", (len(y), 5)), ("predict_proba", (len(y), 5)),
                          ("predict", (len(y),))]:
        out = getattr(head, method)(Xt)
        assert isinstance(out, torch.Tensor) and out.device == Xt.device
        assert tuple(out.shape) == shape
    assert head.predict_proba(Xt).dtype == dtype
    # the same fitted head answers numpy with numpy, identically
    assert_array_equal(head.predict(X.astype(np.float32 if dtype == torch.float32 else X.dtype)),
                       head.predict(Xt).numpy())
    assert 0.0 <= head.score(Xt, yt) <= 1.0


@pytest.mark.parametrize("head", ALL_HEADS, ids=ids)
def test_numpy_in_numpy_out_and_dtype(head):
    X, y = long_tailed(dtype=np.float32)
    head = head.fit(X, y)
    assert isinstance(head.coef_, np.ndarray) and head.coef_.dtype == np.float32
    proba = head.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float32
    assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_string_labels_come_back_as_numpy_for_tensors():
    X, y = long_tailed()
    labels = np.array(["a", "b", "c", "d", "e"])[y]
    clf = NCMClassifier().fit(torch.from_numpy(X), labels)
    pred = clf.predict(torch.from_numpy(X))
    assert isinstance(pred, np.ndarray) and set(pred) <= set(labels)


@pytest.mark.parametrize("head", TRAINED + [TauNormClassifier(random_state=0)], ids=ids)
def test_determinism_under_random_state(head):
    X, y = long_tailed()
    a = head.fit(X, y).coef_.copy()
    b = head.fit(X, y).coef_.copy()
    c = head.set_params(random_state=1).fit(X, y).coef_
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("head", ALL_HEADS, ids=ids)
def test_pickle_round_trip(head):
    X, y = long_tailed()
    for data in (X, torch.from_numpy(X)):
        fitted = head.fit(data, y)
        loaded = pickle.loads(pickle.dumps(fitted))
        out, ref = loaded.decision_function(data), fitted.decision_function(data)
        assert type(out) is type(ref)
        assert_array_equal(np.asarray(out), np.asarray(ref))


def test_device_parameter_trains_there_and_answers_numpy():
    X, y = long_tailed()
    clf = CRTClassifier(device="cpu", n_epochs=2, random_state=0).fit(X, y)
    assert isinstance(clf.coef_, np.ndarray)
    assert isinstance(clf.predict(X), np.ndarray)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("head", ALL_HEADS, ids=ids)
def test_cuda_matches_cpu(head):
    X, y = long_tailed(dtype=np.float32)
    Xc = torch.from_numpy(X).cuda()
    gpu = head.fit(Xc, torch.from_numpy(y).cuda())
    assert gpu.coef_.is_cuda and gpu.predict(Xc).is_cuda
    cpu = pickle.loads(pickle.dumps(gpu))  # pickles on the CPU
    assert not cpu.coef_.is_cuda
    ref = head.fit(torch.from_numpy(X), y)
    assert_allclose(gpu.coef_.cpu().numpy(), ref.coef_.numpy(), rtol=1e-3, atol=1e-4)


# ------------------------------------------------------ model selection
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pipeline_grid_search_over_tau(as_tensor):
    X, y = long_tailed()
    y_in = y
    if as_tensor:
        X, y_in = torch.from_numpy(X), torch.from_numpy(y)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", TauNormClassifier(random_state=0))])
    search = GridSearchCV(pipe, {"clf__tau": [0.0, 0.5, 1.0]}, cv=3,
                          scoring="balanced_accuracy").fit(X, y)
    assert search.best_params_["clf__tau"] in (0.0, 0.5, 1.0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.score(X, y_in) > 0.5


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("head", ALL_HEADS, ids=ids)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_bad_input_raises_value_error(head, as_tensor):
    X, y = long_tailed()
    conv = torch.from_numpy if as_tensor else (lambda a: a)
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[3, 1], X_inf[5, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match="NaN|infinity"):
        head.fit(conv(X_nan), y)
    with pytest.raises(ValueError, match="infinity|NaN"):
        head.fit(conv(X_inf), y)
    with pytest.raises(ValueError, match="2-D|2D"):
        head.fit(conv(X[:, 0]), y)
    with pytest.raises(ValueError, match="class"):
        head.fit(conv(X), np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent"):
        head.fit(conv(X), y[:-3])
    head.fit(conv(X), y)
    with pytest.raises(ValueError, match="features"):
        head.predict(conv(X[:, :3]))
    with pytest.raises(ValueError, match="NaN|infinity"):
        head.predict(conv(X_nan))


@pytest.mark.parametrize(
    "head", [TauNormClassifier(tau=-0.1), LORTClassifier(smoothing=1.0),
             LORTClassifier(smoothing=-0.2), CRTClassifier(lr=0), NCMClassifier(metric="l1")],
    ids=ids,
)
def test_out_of_range_parameters(head):
    X, y = long_tailed()
    with pytest.raises(ValueError, match="parameter"):
        head.fit(X, y)


def test_estimator_without_coef_is_rejected():
    from sklearn.tree import DecisionTreeClassifier

    X, y = long_tailed()
    with pytest.raises(ValueError, match="coef_"):
        TauNormClassifier(DecisionTreeClassifier()).fit(X, y)


def test_frozen_estimator_with_fewer_labels_in_y():
    X, y = long_tailed()
    base = LogisticRegression(max_iter=500).fit(X, y)
    mask = y != 2
    clf = LWSClassifier(FrozenEstimator(base), n_epochs=2, random_state=0).fit(X[mask], y[mask])
    assert_array_equal(clf.classes_, np.arange(5))
    assert clf.class_counts_[2] == 0
    with pytest.raises(ValueError, match="does not know"):
        TauNormClassifier(FrozenEstimator(LogisticRegression().fit(X[mask], y[mask]))).fit(X, y)


def test_auto_smoothing_keeps_the_official_target_odds():
    from sklearn_lt.heads import auto_smoothing

    def odds(delta, c):  # true-class target over another class's target
        return (1 - delta + delta / c) / (delta / c)

    assert_allclose(auto_smoothing(100), 0.98)
    for c in (2, 10, 1000):
        assert_allclose(odds(auto_smoothing(c), c), odds(0.98, 100))
    X, y = long_tailed()
    assert_allclose(LORTClassifier(smoothing="auto", n_epochs=1).fit(X, y).smoothing_,
                    auto_smoothing(5))
    assert LORTClassifier(smoothing=0.3, n_epochs=1).fit(X, y).smoothing_ == 0.3
