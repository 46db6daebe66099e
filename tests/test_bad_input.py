"""Bad input for what tests/test_reliability.py leaves out: a right answer or a clear error.

Covered here: ``TauNormClassifierCV``, ``BackboneEmbedder`` (and its
accelerate variant's pickling), ``EpochIndexSampler``, the functions and
scorers of :mod:`sklearn_lt.metrics`, :mod:`sklearn_lt.datasets` and the
plotting Displays' ``from_*`` constructors. Each gets NaN/inf, wrong
dimensionality, empty input, one class, a class missing from a fold, string
labels, mismatched lengths, float16/bfloat16 and non-contiguous tensors and
out-of-range parameters, and must answer right (checked against a reference)
or raise a clear error (type and message checked). Estimators are also
refitted for bit-for-bit determinism and saved and loaded.

Known bugs in modules owned elsewhere are ``xfail(strict=True)``: they turn
into failures the day they are fixed, so the marker gets removed.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier

from sklearn_lt import (
    BackboneEmbedder,
    ClassBalancedSampler,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.datasets import (
    load_digits_lt,
    log_thirds_thresholds,
    long_tailed_counts,
    make_long_tailed,
)
from sklearn_lt.metrics import (
    UndefinedSplitWarning,
    logits_magnitude,
    make_shot_scorer,
    regularized_std,
    shot_accuracy,
    shot_splits,
    training_class_counts,
    weight_norms,
)
from sklearn_lt.sampling import EpochIndexSampler

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")

@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def long_tailed(seed=0, n_features=5):
    """Classes of 40, 20, 10 and 6 rows, each shifted along its own axis."""
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], [40, 20, 10, 6])
    X = rng.normal(size=(len(y), n_features)) + 2 * np.eye(n_features)[y]
    return X.astype(np.float32), y


def wide_view(X):
    """A non-contiguous tensor view holding the values of ``X``."""
    wide = torch.from_numpy(np.repeat(X, 2, axis=1))
    view = wide[:, ::2]
    assert not view.is_contiguous()
    return view


# ============================================================ TauNormClassifierCV
def tau_cv(**params):
    return TauNormClassifierCV(
        **{"cv": 3, "taus": [0.0, 0.5, 1.0, 1.5], "random_state": 0, **params}
    )


def assert_same_tau_cv(a, b):
    assert a.tau_ == b.tau_
    assert_array_equal(np.asarray(a.coef_), np.asarray(b.coef_))
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert_array_equal(a.cv_results_[key], b.cv_results_[key])


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.tensor([[0.0, np.nan], [1.0, 2.0]]).repeat(38, 1), "NaN or infinity"),
        (torch.tensor([[0.0, np.inf], [1.0, 2.0]]).repeat(38, 1), "NaN or infinity"),
        (torch.zeros(76), "2-D"),
        (torch.zeros(1, 76, 2), "2-D"),
        (torch.zeros(76, 0), "one feature"),
        (torch.zeros(76, 2, dtype=torch.complex64), "Complex"),
    ],
    ids=["nan", "inf", "1d", "3d", "no-feature", "complex"],
)
def test_tau_cv_refuses_bad_tensors(bad, match):
    _, y = long_tailed()
    with pytest.raises(ValueError, match=match):
        tau_cv().fit(bad, y)


def test_tau_cv_predict_refuses_bad_tensors():
    X, y = long_tailed()
    clf = tau_cv().fit(torch.from_numpy(X), y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.predict(torch.full((2, 5), float("nan")))
    with pytest.raises(ValueError, match="5 features"):
        clf.predict(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="sample"):
        clf.predict(torch.zeros(0, 5))
    with pytest.raises(NotFittedError):
        tau_cv().predict(X)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_tau_cv_bad_labels():
    X, y = long_tailed()
    with pytest.raises(ValueError, match="2 or more classes"):
        tau_cv().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        tau_cv().fit(torch.from_numpy(X), y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        tau_cv().fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="NaN"):
        tau_cv().fit(X, np.where(y == 3, np.nan, y))


def test_tau_cv_string_labels_give_the_integer_model():
    X, y = long_tailed()
    names = np.array(["ant", "bee", "cat", "dog"])  # sorted like 0..3
    by_name = tau_cv().fit(X, names[y])
    by_int = tau_cv().fit(X, y)
    assert_array_equal(by_name.classes_, names)
    assert_same_tau_cv(by_name, by_int)
    assert_array_equal(by_name.predict(X), names[by_int.predict(X)])


def test_tau_cv_class_absent_from_training_folds_matches_grid_search():
    # Unshuffled KFold on labels sorted by class: the last fold's training part
    # has no sample of classes 2 and 3, the first fold's validation part only class 0.
    X, y = long_tailed()
    taus = [0.0, 0.5, 1.0, 2.0]
    clf = tau_cv(cv=KFold(3), taus=taus, scoring="all").fit(X, y)
    grid = GridSearchCV(
        TauNormClassifier(random_state=0), {"tau": taus}, cv=KFold(3),
        scoring=make_shot_scorer("all"),
    ).fit(X, y)
    for k in range(3):
        assert_allclose(clf.cv_results_[f"split{k}_test_score"],
                        grid.cv_results_[f"split{k}_test_score"], rtol=0, atol=1e-12)
    assert clf.tau_ == grid.best_params_["tau"]
    # the fold that never saw classes 2 and 3 cannot get them right
    assert np.all(clf.cv_results_["split2_test_score"] < 0.5)


def test_tau_cv_class_rarer_than_folds_warns_and_still_fits():
    X, y = long_tailed()
    keep = np.r_[np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:2]]  # 2 rows of class 3
    with pytest.warns(UserWarning, match="least populated class"):
        clf = tau_cv().fit(X[keep], y[keep])
    assert_array_equal(clf.classes_, [0, 1, 2, 3])
    assert np.all(np.isfinite(clf.cv_results_["mean_test_score"]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_tau_cv_low_precision_tensors_are_upcast(dtype):
    X, y = long_tailed()
    low = torch.from_numpy(X).to(dtype)
    clf = tau_cv().fit(low, y)
    assert clf.coef_.dtype == torch.float32
    assert_same_tau_cv(clf, tau_cv().fit(low.to(torch.float32), y))
    assert torch.equal(clf.predict(low), clf.predict(low.to(torch.float32)))


def test_tau_cv_non_contiguous_tensors():
    X, y = long_tailed()
    view = wide_view(X)
    clf = tau_cv().fit(view, y)
    assert_same_tau_cv(clf, tau_cv().fit(view.contiguous(), y))
    assert torch.equal(clf.decision_function(view), clf.decision_function(torch.from_numpy(X)))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"cv": 1}, ValueError, "cv"),
        ({"cv": 500}, ValueError, "n_splits=500"),
        ({"estimator": KNeighborsClassifier()}, ValueError, "coef_"),
        ({"estimator": NCMClassifier()}, ValueError, "maps the features"),
        ({"estimator": "logistic"}, ValueError, "estimator"),
        ({"taus": "0.5"}, ValueError, "taus"),
        ({"taus": [0.0, np.inf]}, ValueError, "taus"),
        ({"scoring": "few", "few_threshold": -1}, ValueError, "few_threshold"),
        ({"device": "no-such-device"}, RuntimeError, "device"),
    ],
)
def test_tau_cv_out_of_range_parameters(params, error, match):
    X, y = long_tailed()
    with pytest.raises(error, match=match):
        tau_cv(**params).fit(X, y)


@pytest.mark.parametrize("head", [TauNormClassifier, LWSClassifier, LORTClassifier])
@pytest.mark.parametrize("frozen", [False, True])
def test_rebalancing_heads_refuse_ncm_as_base(head, frozen):
    # NCM's coef_ acts on normalised features: rebalancing it as if it were a
    # linear layer on X would give silently wrong logits.
    X, y = long_tailed()
    base = FrozenEstimator(NCMClassifier().fit(X, y)) if frozen else NCMClassifier()
    with pytest.raises(ValueError, match="maps the features"):
        head(estimator=base).fit(X, y)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_tau_cv_bit_for_bit_determinism_and_pickle(as_tensor):
    X, y = long_tailed()
    data = torch.from_numpy(X) if as_tensor else X
    a, b = tau_cv().fit(data, y), tau_cv().fit(data, y)
    assert_same_tau_cv(a, b)
    for k in range(3):
        assert_array_equal(a.cv_results_[f"split{k}_test_score"],
                           b.cv_results_[f"split{k}_test_score"])
    loaded = pickle.loads(pickle.dumps(a))
    assert type(loaded.coef_) is type(a.coef_)
    assert_same_tau_cv(loaded, a)
    out, ref = loaded.decision_function(data), a.decision_function(data)
    assert type(out) is type(ref)
    assert_array_equal(np.asarray(out), np.asarray(ref))
    assert_array_equal(np.asarray(loaded.estimator_.coef_), np.asarray(a.estimator_.coef_))


@needs_cuda
def test_tau_cv_tensors_on_another_device_than_the_model():
    X, y = long_tailed()
    on_cpu = tau_cv().fit(torch.from_numpy(X), y)
    out = on_cpu.predict(torch.from_numpy(X).cuda())
    assert out.device.type == "cuda"
    assert torch.equal(out.cpu(), on_cpu.predict(torch.from_numpy(X)))
    on_gpu = tau_cv().fit(torch.from_numpy(X).cuda(), y)
    assert torch.equal(on_gpu.predict(X), on_gpu.predict(torch.from_numpy(X).cuda()).cpu())


# ================================================================= BackboneEmbedder
FAST = dict(input_shape=(1, 8, 8), module__width=4, max_epochs=1, verbose=0, random_state=0,
            batch_size=64)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:150] / 16).astype(np.float32), y[:150]


@pytest.fixture(scope="module")
def embedder(digits):
    return BackboneEmbedder(**FAST).fit(*digits)


def embed(X, y, **params):
    return BackboneEmbedder(**{**FAST, **params}).fit(X, y)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.uint8])
def test_embedder_low_precision_and_integer_tensors(digits, embedder, dtype):
    X, y = digits
    images = torch.from_numpy(X * 16).to(dtype)  # 0..16: exact in every dtype
    upcast = images.to(torch.float32)
    assert_array_equal(embed(images, y).transform(X), embed(upcast, y).transform(X))
    features = embedder.transform(images)
    assert features.dtype == torch.float32
    assert torch.equal(features, embedder.transform(upcast))


def test_embedder_non_contiguous_tensors(digits, embedder):
    X, y = digits
    view = wide_view(X)
    assert torch.equal(embedder.transform(view), embedder.transform(torch.from_numpy(X)))
    assert_array_equal(embed(view, y).transform(X), embedder.transform(X))
    images = torch.from_numpy(np.repeat(X.reshape(-1, 1, 8, 8), 2, axis=3))[..., ::2]
    assert not images.is_contiguous()  # a strided 4-D view
    assert torch.equal(embedder.transform(images), embedder.transform(torch.from_numpy(X)))


def test_embedder_labels_as_strings_tensors_and_bad_labels(digits, embedder):
    X, y = digits
    names = np.array(list("abcdefghij"))  # sorted like 0..9: the same encoding
    by_name = embed(X, names[y])
    assert_array_equal(by_name.transform(X), embedder.transform(X))
    assert_array_equal(by_name.predict(X), names[embedder.predict(X)])
    assert_array_equal(embed(X, torch.from_numpy(y)).transform(X), embedder.transform(X))
    with pytest.raises(ValueError, match="NaN"):
        embed(X, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="Unknown label type"):
        embed(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="1-D"):
        embed(X, np.c_[y, y])
    with pytest.raises(ValueError, match="not among the classes"):
        embed(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="at least two"):
        embed(X, y, classes=[0])


def test_embedder_bad_arrays(digits, embedder):
    X, y = digits
    with pytest.raises(ValueError, match="images"):
        embed(X[:, 0], y)
    with pytest.raises(ValueError, match="images"):
        embedder.transform(X[0])
    with pytest.raises(ValueError, match="0 sample"):
        embedder.transform(torch.zeros(0, 64))
    with pytest.raises(ValueError, match="numbers"):
        embedder.transform(np.full((2, 64), "a"))
    with pytest.raises(ValueError, match="Complex"):
        embedder.transform(torch.zeros(2, 64, dtype=torch.complex64))
    with pytest.raises(ValueError, match="NaN or infinity"):
        embedder.predict(torch.full((2, 64), float("inf")))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"lr": -0.1}, r"'lr' parameter of BackboneEmbedder must be a float in the range \(0"),
        ({"lr": float("nan")}, r"'lr' parameter .* must be a float in the range \(0.0, inf\)"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 1.5}, "max_epochs"),
        ({"augment": {"padding": -2}}, "padding"),
        ({"augment": {"padding": 1.5}}, "padding"),
        ({"augment": {"flip": "no"}}, "flip"),
        pytest.param(
            {"module__width": 0},
            "dry forward pass",
            # torch warns while building the zero-width layer this case exists to reject
            marks=pytest.mark.filterwarnings("ignore:Initializing zero-element:UserWarning"),
        ),
        ({"random_state": "seed"}, "random_state"),
        ({"sampler": ClassBalancedSampler}, "sampler"),
    ],
)
def test_embedder_out_of_range_parameters(digits, params, match):
    with pytest.raises(ValueError, match=match):
        embed(*digits, **params)


def test_embedder_bit_for_bit_determinism_with_a_sampler_and_tensors(digits):
    X, y = digits
    params = {"sampler": SquareRootSampler(), "max_epochs": 2}
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    a, b = embed(Xt, yt, **params), embed(Xt, yt, **params)
    for (name, p), (_, q) in zip(a.module_.state_dict().items(), b.module_.state_dict().items()):
        assert torch.equal(p, q), name
    assert torch.equal(a.transform(Xt), b.transform(Xt))
    assert_array_equal(a.classifier_.coef_, b.classifier_.coef_)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]


def test_embedder_round_trips_keep_string_labels_and_torch_output(digits, tmp_path):
    X, y = digits
    names = np.array(list("abcdefghij"))
    fitted = embed(X, names[y], output="torch")
    fitted.save_params(f_params=tmp_path / "params.pt")
    reloaded = BackboneEmbedder(
        input_shape=(1, 8, 8), module__width=4, classes=fitted.classes_, output="torch",
        verbose=0,
    ).initialize()
    reloaded.load_params(f_params=tmp_path / "params.pt")
    assert torch.equal(reloaded.transform(X), fitted.transform(X))
    assert_array_equal(reloaded.predict(X), fitted.predict(X))
    assert_array_equal(reloaded.class_counts_, fitted.class_counts_)
    unpickled = pickle.loads(pickle.dumps(fitted))
    assert torch.equal(unpickled.transform(X), fitted.transform(X))
    assert_array_equal(unpickled.predict(X), fitted.predict(X))


def test_accelerated_embedder_pickles_after_training(digits):
    accelerate = pytest.importorskip("accelerate")
    from sklearn_lt.backbone import AcceleratedBackboneEmbedder

    X, y = digits
    fitted = AcceleratedBackboneEmbedder(
        accelerator=accelerate.Accelerator(cpu=True), **FAST
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeviceWarning: device stays None
        loaded = pickle.loads(pickle.dumps(fitted))
    assert loaded.device is None
    assert_array_equal(loaded.transform(X), fitted.transform(X))
    # it trains on, as the original does
    loaded.partial_fit(X, y)
    fitted.partial_fit(X, y)
    assert_array_equal(loaded.transform(X), fitted.transform(X))


@needs_cuda
def test_embedder_tensors_on_another_device_than_the_model(digits):
    X, y = digits
    on_cpu = embed(X, y)
    features = on_cpu.transform(torch.from_numpy(X).cuda())
    assert features.device.type == "cpu"  # the network's device
    assert torch.equal(features, on_cpu.transform(torch.from_numpy(X)))


# ================================================================ EpochIndexSampler
Y_SAMPLER = np.repeat([0, 1, 2], [12, 4, 2])


@pytest.mark.parametrize(
    "labels, match",
    [
        ([], "2 or more classes"),
        ([0, 0, 0], "2 or more classes"),
        ([0.0, np.nan, 1.0], "NaN"),
        (np.linspace(0, 1, 6), "Unknown label type"),
        (Y_SAMPLER[None], "1-D"),
    ],
    ids=["empty", "one-class", "nan", "continuous", "2d"],
)
def test_epoch_index_sampler_bad_labels(labels, match):
    stream = EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)
    with pytest.raises(ValueError, match=match):
        list(stream)


def test_epoch_index_sampler_strings_and_tensors():
    y = Y_SAMPLER
    names = np.array(["x", "y", "z"])[y]
    ref = list(EpochIndexSampler(ClassBalancedSampler(), y, random_state=0))
    assert np.bincount(y[ref]).tolist() == [6, 6, 6]
    assert list(EpochIndexSampler(ClassBalancedSampler(), names, random_state=0)) == ref
    for labels in (torch.from_numpy(y), torch.from_numpy(y).half(),
                   torch.from_numpy(np.repeat(y, 2))[::2]):
        assert list(EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)) == ref


def test_epoch_index_sampler_bfloat16_labels():
    y = Y_SAMPLER
    ref = list(EpochIndexSampler(ClassBalancedSampler(), y, random_state=0))
    labels = torch.from_numpy(y).bfloat16()
    assert list(EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)) == ref


def test_epoch_index_sampler_out_of_range():
    stream = EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=3,
                               random_state=0)
    stream.set_epoch(-1)
    with pytest.raises(ValueError, match="epoch must be in"):
        list(stream)
    stream.set_epoch(7)  # past the end: the last (class-balanced) epoch
    assert_allclose(stream.class_probabilities(), [1 / 3] * 3)
    with pytest.raises(ValueError, match="n_epochs"):
        list(EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=0))
    with pytest.raises(ValueError, match="q"):
        list(EpochIndexSampler(PowerSampler(q=2.0), Y_SAMPLER, random_state=0))
    with pytest.raises(ValueError, match="n_samples"):
        list(EpochIndexSampler(PowerSampler(n_samples=0), Y_SAMPLER, random_state=0))
    with pytest.raises(ValueError, match="seed"):
        EpochIndexSampler(ClassBalancedSampler(), Y_SAMPLER, random_state="seed")
    sized = EpochIndexSampler(ClassBalancedSampler(n_samples=7), Y_SAMPLER, random_state=0)
    assert len(sized) == len(list(sized)) == 7


def test_epoch_index_sampler_non_integer_n_epochs_is_an_error():
    stream = EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=2.5,
                               random_state=0)
    stream.set_epoch(1)
    with pytest.raises(ValueError, match="n_epochs"):
        list(stream)


def test_epoch_index_sampler_determinism_and_pickle():
    def stream():
        return EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=3,
                                 random_state=0)

    state = np.random.get_state()[1].copy()  # noqa: NPY002
    a, b = stream(), stream()
    for epoch in range(3):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert list(a) == list(b)
    assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002 (untouched)
    a.set_epoch(1)
    loaded = pickle.loads(pickle.dumps(a))
    assert loaded.epoch == 1
    assert list(loaded) == list(a)  # the same position in the same stream


# ====================================================================== metrics
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 1, 0, 0, 0])
COUNTS = [500, 50, 5]


def test_shot_accuracy_low_precision_and_non_contiguous_tensors():
    ref = shot_accuracy(Y_TRUE, Y_PRED, COUNTS)
    assert (ref.many, ref.medium, ref.few, ref.all) == (1.0, 0.5, 0.0, 0.5)
    spread = torch.from_numpy(np.repeat(Y_TRUE, 2))[::2]
    for y_true, y_pred, counts in [
        (torch.from_numpy(Y_TRUE).half(), torch.from_numpy(Y_PRED).half(), COUNTS),
        (spread, torch.from_numpy(Y_PRED), torch.tensor(COUNTS).half()),
    ]:
        res = shot_accuracy(y_true, y_pred, counts)
        assert (res.many, res.medium, res.few, res.all) == (1.0, 0.5, 0.0, 0.5)
    assert_array_equal(shot_splits(torch.tensor(COUNTS, dtype=torch.float16)),
                       ["many", "medium", "few"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: shot_accuracy(Y_TRUE, torch.from_numpy(Y_PRED).bfloat16(), COUNTS).per_class,
        lambda: shot_splits(torch.tensor(COUNTS).bfloat16()) == ["many", "medium", "few"],
        lambda: logits_magnitude(torch.eye(3).bfloat16()[Y_TRUE], Y_TRUE),
        lambda: weight_norms(torch.eye(3).bfloat16()),
    ],
    ids=["shot_accuracy", "shot_splits", "logits_magnitude", "weight_norms"],
)
def test_metrics_take_bfloat16_tensors(call):
    assert np.all(np.isfinite(np.asarray(call(), dtype=float)))


def test_shot_accuracy_non_finite_and_odd_labels():
    with pytest.raises(ValueError, match=r"labels \[nan\] without a class count"):
        shot_accuracy(np.array([0, 0, 1, 1, 2, np.nan]), Y_PRED, COUNTS, classes=[0, 1, 2])
    # NaN or inf predictions are wrong answers, not errors, once classes are known
    for bad in (np.nan, np.inf):
        res = shot_accuracy(Y_TRUE, np.where(np.arange(6) == 0, bad, Y_PRED), COUNTS,
                            classes=[0, 1, 2])
        assert (res.many, res.medium, res.few) == (0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="finite and non-negative"):
        shot_accuracy(Y_TRUE, Y_PRED, [np.inf, 50, 5])
    with pytest.raises(TypeError, match="finite real number"):
        shot_accuracy(Y_TRUE, Y_PRED, COUNTS, many_threshold=np.inf)
    # one class: its split is defined, the other two are NaN with a warning each
    with pytest.warns(UndefinedSplitWarning) as caught:
        res = shot_accuracy([0, 0], [0, 1], [5], classes=[0])
    assert len(caught) == 2 and res.all == res.few == 0.5
    assert np.isnan(res.many) and np.isnan(res.medium)


def test_diagnostics_non_finite_logits_stay_in_their_class():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [6, 4, 3])
    logits = rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]
    clean_m, clean_s = logits_magnitude(logits, y), regularized_std(logits, y)
    for bad in (np.nan, np.inf):
        dirty = logits.copy()
        dirty[2, 0] = bad  # one logit of class 0's column
        with np.errstate(invalid="ignore"):
            magnitude, rsd = logits_magnitude(dirty, y), regularized_std(dirty, y)
        assert np.isnan(magnitude[0]) or np.isinf(magnitude[0])
        assert_array_equal(magnitude[1:], clean_m[1:])
        assert_array_equal(rsd[1:], clean_s[1:])


def test_diagnostics_edge_shapes_and_dtypes():
    logits = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    y = [0, 0, 1, 1]
    ref = logits_magnitude(logits, y)
    assert_array_equal(ref, [1.5, 2.5])
    assert_array_equal(logits_magnitude(torch.tensor(logits).half(), torch.tensor(y)), ref)
    assert_array_equal(logits_magnitude(torch.tensor(logits).T.contiguous().T, y), ref)
    # no sample at all, or no sample of another class: undefined, NaN
    assert np.isnan(logits_magnitude(np.zeros((0, 2)), [], classes=[0, 1])).all()
    assert np.isnan(logits_magnitude(np.zeros((2, 1)), [0, 0])).all()
    assert np.isnan(regularized_std(logits, y, ddof=2)).all()  # 2 samples per class
    with pytest.raises(ValueError, match="2-D"):
        regularized_std(np.zeros((4, 2, 1)), y)
    with pytest.raises(ValueError, match="1-D"):
        logits_magnitude(logits, [y])
    assert_array_equal(weight_norms(torch.tensor([[3.0, 4.0]]).half()), [5.0])
    assert_array_equal(weight_norms(np.zeros((0, 3))), np.zeros(0))
    assert np.isnan(weight_norms(np.array([[np.nan, 1.0], [3.0, 4.0]]))[0])
    with pytest.raises(ValueError, match="coef_"):
        weight_norms(TauNormClassifier())


@pytest.fixture(scope="module")
def ncm():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [30, 12, 4])
    X = rng.normal(size=(len(y), 3)) + 1.0 * np.eye(3)[y]
    return NCMClassifier().fit(X, y), X, y


def test_scorers_bad_input(ncm):
    head, X, y = ncm
    scorer = make_shot_scorer("all", many_threshold=20, few_threshold=5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        scorer(head, X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        scorer(head, X[:0], y[:0])
    with pytest.raises(ValueError, match="NaN"):
        scorer(head, np.where(np.arange(3) == 0, np.nan, X), y)
    with pytest.raises(ValueError, match="class_counts"):
        scorer(NCMClassifier(), X, y)
    with pytest.raises(ValueError, match="class_counts"):
        training_class_counts("passthrough")
    with pytest.raises(ValueError, match="finite and non-negative"):
        make_shot_scorer(class_counts=[30, np.nan, 4])(head, X, y)
    with pytest.raises(ValueError, match="3 labels but class_counts 2"):
        make_shot_scorer(class_counts=[30, 12])(head, X, y)
    with pytest.raises(TypeError, match="finite real number"):
        make_shot_scorer(many_threshold="20")
    # f16 and non-contiguous features score like float32
    Xt = torch.from_numpy(X.astype(np.float32))
    assert scorer(head, Xt.half(), y) == scorer(head, Xt.half().float(), y)
    assert scorer(head, wide_view(X.astype(np.float32)), y) == scorer(head, Xt, y)


def test_scorer_with_counts_missing_a_fitted_class_is_an_error(ncm):
    head, X, y = ncm
    scorer = make_shot_scorer("few", many_threshold=20, few_threshold=5,
                              class_counts={1: 12, 2: 4})  # class 0 (30 samples) forgotten
    with pytest.raises(ValueError, match="class_counts|count"):
        scorer(head, X, y)


# ===================================================================== datasets
@pytest.mark.parametrize("bad", [[np.nan, 5], [np.inf, 5], [500, -np.inf]])
def test_log_thirds_thresholds_non_finite(bad):
    with pytest.raises(ValueError, match="finite positive counts"):
        log_thirds_thresholds(bad)


def test_log_thirds_thresholds_tensors_and_one_class():
    assert log_thirds_thresholds(torch.tensor([500, 5])) == (108, 23)
    assert log_thirds_thresholds(torch.tensor([500.0, 5.0]).half()) == (108, 23)
    assert log_thirds_thresholds([7]) == (7, 7)


def test_make_long_tailed_rows_are_taken_as_they_are():
    X = np.arange(40.0).reshape(20, 2)
    X[0, 0] = np.nan  # rows are selected, never computed with
    y = np.repeat([0, 1, 2, 3], 5)
    lt = make_long_tailed(X, y, imbalance_ratio=5)
    assert_array_equal(lt.X, X[lt.indices])
    assert_array_equal(lt.class_counts, [5, 2, 1, 1])
    for tensor in (torch.from_numpy(X).half(), torch.from_numpy(X).bfloat16(),
                   torch.from_numpy(X).T.contiguous().T):
        out = make_long_tailed(tensor, torch.from_numpy(y), imbalance_ratio=5)
        assert out.X.dtype == tensor.dtype
        assert_array_equal(out.X.float().numpy(),  # NaN where NaN was
                           tensor[torch.from_numpy(lt.indices)].float().numpy())
        assert_array_equal(out.y.numpy(), y[lt.indices])


def test_make_long_tailed_bfloat16_labels():
    y = np.repeat([0, 1, 2, 3], 5)
    lt = make_long_tailed(None, torch.from_numpy(y).bfloat16(), imbalance_ratio=5)
    assert_array_equal(lt.class_counts, [5, 2, 1, 1])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((None, []), {}, "2 or more classes"),
        ((None, [0.0, np.nan, 1.0, 1.0]), {}, "NaN"),
        ((None, np.repeat([0, 1], 5)), {"imbalance_ratio": np.nan}, "imbalance_ratio"),
        ((None, np.repeat([0, 1], 5)), {"imbalance_ratio": np.inf}, "imbalance_ratio"),
        ((None, np.repeat([0, 1], 5)), {"n_max": 2.5}, "n_max"),
        ((np.float64(3.0), np.repeat([0, 1], 5)), {}, "'X' parameter"),
        ((None, np.repeat([0, 1], 5)), {"class_order": ["0", "1"]}, "class_order"),
    ],
)
def test_make_long_tailed_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_long_tailed(*args, **kwargs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: long_tailed_counts(10, 3, np.nan), "imbalance_ratio"),
        (lambda: long_tailed_counts(10, 3, 1e308), "without any sample"),
        (lambda: load_digits_lt(imbalance_ratio=np.inf), "imbalance_ratio"),
        (lambda: load_digits_lt(imbalance_ratio=1e4), "without any sample"),
        (lambda: load_digits_lt(n_val_per_class=-1), "n_val_per_class"),
        (lambda: load_digits_lt(n_test_per_class=100, n_val_per_class=100), "leave no training"),
        (lambda: load_digits_lt(class_order=[9, 8]), "class_order"),
    ],
)
def test_dataset_parameters_out_of_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ===================================================================== plotting
@pytest.fixture(scope="module")
def plotting():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_lt import plotting

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [30, 12, 4])
    X = (rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]).astype(np.float32)
    y_test = np.repeat([0, 1, 2], 10)
    X_test = (rng.normal(size=(30, 3)) + 3 * np.eye(3)[y_test]).astype(np.float32)
    head = TauNormClassifier(tau=1.0, random_state=0).fit(X, y)
    yield plotting, head, X_test, y_test
    plt.close("all")


THRESHOLDS = {"many_threshold": 20, "few_threshold": 5}


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_tau_sweep_refuses_non_finite_features(plotting, bad, kind):
    module, head, X, y = plotting
    dirty = X.copy()
    dirty[0, 0] = bad
    dirty = torch.from_numpy(dirty) if kind == "torch" else dirty
    with pytest.raises(ValueError, match="NaN or infinity"):
        module.TauSweepDisplay.from_estimator(head, dirty, y, taus=[0, 1], **THRESHOLDS)


def test_tau_sweep_bad_shapes_and_tensors(plotting):
    module, head, X, y = plotting
    sweep = module.TauSweepDisplay.from_estimator
    ref = sweep(head, X, y, taus=[0, 1], **THRESHOLDS).accuracies
    for tensor in (torch.from_numpy(X).half(), torch.from_numpy(X).bfloat16(), wide_view(X)):
        # every value is first rounded to the tensor's dtype, then computed in float64
        expected = sweep(head, tensor.to(torch.float64).numpy(), y, taus=[0, 1], **THRESHOLDS)
        got = sweep(head, tensor, y, taus=[0, 1], **THRESHOLDS).accuracies
        for split in ref:
            assert_array_equal(got[split], expected.accuracies[split])
    with pytest.raises(ValueError, match=r"X has shape \(1, 30, 3\)"):
        sweep(head, X[None], y, **THRESHOLDS)
    with pytest.raises(ValueError, match="expects 3 features"):
        sweep(head, X[:, 0], y, **THRESHOLDS)
    with pytest.raises(ValueError, match="empty"):
        sweep(head, X[:0], y[:0], **THRESHOLDS)
    with pytest.raises(ValueError, match=r"labels \[7\] without a class count"):
        sweep(head, X, np.where(y == 2, 7, y), **THRESHOLDS)
    with pytest.raises(ValueError, match="no classes_"):
        sweep(TauNormClassifier(), X, y)
    with pytest.raises(ValueError, match="maps the features"):
        sweep(NCMClassifier().fit(X, y), X, y, **THRESHOLDS)


def test_shot_accuracy_display_bad_input(plotting):
    module, head, X, y = plotting
    display = module.ShotAccuracyDisplay
    with pytest.raises(ValueError, match="NaN"):
        display.from_estimators({"a": head}, np.where(np.arange(3) == 0, np.nan, X), y,
                                **THRESHOLDS)
    with pytest.raises(ValueError, match="0 sample"):
        display.from_estimators({"a": head}, X[:0], y[:0], **THRESHOLDS)
    with pytest.raises(ValueError, match="must be 1-D"):
        display.from_predictions(y, np.eye(3)[y], [30, 12, 4], **THRESHOLDS)
    with pytest.raises(ValueError, match="y_pred is empty"):
        display.from_predictions(y, {}, [30, 12, 4], **THRESHOLDS)
    with pytest.raises(ValueError, match="finite and non-negative"):
        display.from_predictions(y, y, [30, -12, 4], **THRESHOLDS)
    ref = display.from_predictions(y, head.predict(X), [30, 12, 4], **THRESHOLDS)
    half = display.from_predictions(torch.from_numpy(y).half(),
                                    torch.from_numpy(head.predict(X)).half(), [30, 12, 4],
                                    **THRESHOLDS)
    assert half.accuracies == ref.accuracies
    with pytest.warns(UndefinedSplitWarning):
        one = display.from_predictions([0, 0], [0, 1], [30], classes=[0], **THRESHOLDS)
    assert one.accuracies["Classifier"]["many"] == 0.5
    assert np.isnan(one.accuracies["Classifier"]["few"])


def test_shot_accuracy_display_bfloat16_predictions(plotting):
    module, head, X, y = plotting
    module.ShotAccuracyDisplay.from_predictions(
        y, torch.from_numpy(head.predict(X)).bfloat16(), [30, 12, 4], **THRESHOLDS
    )


def test_logits_magnitude_display_bad_input(plotting):
    module, head, X, y = plotting
    display = module.LogitsMagnitudeDisplay
    logits = head.decision_function(X)
    ref = display.from_predictions(y, logits, [30, 12, 4], **THRESHOLDS).magnitudes
    half = display.from_predictions(y, torch.from_numpy(logits).half(), [30, 12, 4],
                                    **THRESHOLDS).magnitudes
    expected = logits_magnitude(torch.from_numpy(logits).half().double(), y)
    assert_array_equal(half["Classifier"], expected)
    assert_allclose(half["Classifier"], ref["Classifier"], rtol=1e-2)
    partial = display.from_predictions(y[y < 2], logits[y < 2], [30, 12, 4],
                                       classes=[0, 1, 2], **THRESHOLDS).magnitudes
    assert np.isnan(partial["Classifier"][2]) and np.all(np.isfinite(partial["Classifier"][:2]))
    with pytest.raises(ValueError, match="columns"):
        display.from_predictions(y, np.c_[logits, logits[:, :1]], [30, 12, 4], **THRESHOLDS)
    with pytest.raises(ValueError, match="rows for"):
        display.from_predictions(y, logits[None], [30, 12, 4], **THRESHOLDS)
    with pytest.raises(ValueError, match="NaN"):
        display.from_estimator(head, np.full_like(X, np.nan), y, **THRESHOLDS)
    with pytest.raises(ValueError, match="has no no_such_method"):
        display.from_estimator(head, X, y, response_method="no_such_method", **THRESHOLDS)


def test_weight_norm_display_bad_input(plotting):
    module, head, X, y = plotting
    display = module.WeightNormDisplay
    with pytest.raises(ValueError, match="no classes_"):
        display.from_estimator(TauNormClassifier())
    with pytest.raises(ValueError, match="finite and non-negative"):
        display.from_estimator(head, class_counts=[30, np.nan, 4])
    with pytest.raises(ValueError, match="1 entries but there are 3 classes"):
        display.from_estimator(head, class_counts=[30])
    with pytest.raises(ValueError, match="many_threshold"):
        display.from_estimator(head, many_threshold=-1)
    low = TauNormClassifier(tau=0.5, random_state=0).fit(torch.from_numpy(X).bfloat16(), y)
    norms = display.from_estimator(low, **THRESHOLDS).weight_norms["TauNormClassifier"]
    assert_allclose(norms, weight_norms(low), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epoch": 1.5}, ValueError, "epoch must be an int"),
        ({"epoch": "1"}, ValueError, "epoch must be an int"),
        ({"epoch": [0, 5]}, ValueError, "epoch must be in"),
        ({"epoch": -1}, ValueError, "epoch must be in"),
        ({"n_epochs": 0}, ValueError, "n_epochs"),
        ({"class_counts": [30, 0, 4]}, ValueError, "zero samples"),
        ({"class_counts": [30, np.nan, 4]}, ValueError, "finite"),
        ({"class_counts": []}, ValueError, "non-empty"),
        ({"class_counts": [[30, 4]]}, ValueError, "1-D"),
    ],
)
def test_sampling_probability_display_bad_input(plotting, kwargs, error, match):
    module = plotting[0]
    kwargs = {"class_counts": [30, 12, 4], **kwargs}
    with pytest.raises(error, match=match):
        module.SamplingProbabilityDisplay.from_samplers(
            {"PB": ProgressivelyBalancedSampler(n_epochs=3)}, **kwargs, **THRESHOLDS
        )


def test_sampling_probability_display_one_class_and_tensor_counts(plotting):
    module = plotting[0]
    show = module.SamplingProbabilityDisplay.from_samplers
    one = show({"CB": ClassBalancedSampler()}, [30], **THRESHOLDS)
    assert_array_equal(one.probabilities["CB"], [1.0])
    half = show({"SQRT": SquareRootSampler()}, torch.tensor([36.0, 9.0, 1.0]).half())
    assert_allclose(half.probabilities["SQRT"], np.array([6, 3, 1]) / 10)


# ============================================================= sampler round trips
@pytest.mark.parametrize(
    "sampler",
    [PowerSampler(q=0.3, random_state=0), ClassBalancedSampler(n_samples=50, random_state=0),
     ProgressivelyBalancedSampler(epoch=2, n_epochs=4, random_state=0)],
    ids=lambda s: type(s).__name__,
)
def test_fitted_samplers_pickle(sampler):
    X, y = long_tailed()
    fitted = clone(sampler)
    X_res, y_res = fitted.fit_resample(torch.from_numpy(X), y)
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(loaded.sample_indices_, fitted.sample_indices_)
    assert_array_equal(loaded.class_counts_, fitted.class_counts_)
    assert loaded.sampling_strategy_ == fitted.sampling_strategy_
    # the unpickled sampler draws the same rows again
    X_again, y_again = loaded.fit_resample(torch.from_numpy(X), y)
    assert torch.equal(X_again, X_res)
    assert_array_equal(y_again, y_res)


def test_logistic_regression_base_for_tau_cv_round_trip():
    """A scikit-learn base estimator inside TauNormClassifierCV survives pickling too."""
    X, y = long_tailed()
    clf = tau_cv(estimator=LogisticRegression(max_iter=500)).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_array_equal(loaded.estimator_.coef_, clf.estimator_.coef_)


# ======================================================================== study
def test_study_data_and_seeds_out_of_range(tmp_path):
    from sklearn_lt.study import load_study_data, run_study

    d = load_study_data("digits", seed=0)
    common = dict(X_train=d.X_train, y_train=d.y_train, input_shape=np.array([1, 8, 8]))
    half_val = tmp_path / "half_val.npz"
    np.savez(half_val, X_test=d.X_test, y_test=d.y_test, X_val=d.X_val, **common)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        load_study_data(half_val)
    small = np.concatenate([np.flatnonzero(d.y_test == c)[:15] for c in range(10)])
    few_test = tmp_path / "few_test.npz"
    np.savez(few_test, X_test=d.X_test[small], y_test=d.y_test[small], **common)
    with pytest.raises(ValueError, match="class 0 has 15 test images"):
        load_study_data(few_test)
    for seeds in (0, []):
        with pytest.raises(ValueError, match="seeds"):
            run_study(seeds=seeds, out=None, verbose=0)
