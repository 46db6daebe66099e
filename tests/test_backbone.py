"""Stage one: BackboneEmbedder on real long-tailed digits, its networks, samplers, I/O."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _support import wide_view
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from torch import nn

from sklearn_lt import (
    ClassBalancedSampler,
    LORTClassifier,
    LWSClassifier,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
    TauNormClassifier,
)
from sklearn_lt.backbone import (
    BackboneEmbedder,
    CifarResNet,
    ConvNet,
    augment_batch,
    build_network,
)
from sklearn_lt.metrics import training_class_counts
from sklearn_lt.sampling import power_probabilities, progressive_probabilities, target_counts

# Small and fast: the tests check plumbing; the accuracy test uses the defaults.
FAST = dict(module__width=8, max_epochs=2, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def data(digits_lt):
    """digits-LT: 124 down to 2 training images per class, 50 test images of each."""
    return digits_lt


@pytest.fixture(scope="module")
def fitted(data):
    """The default BackboneEmbedder fitted on digits-LT, on one torch thread.

    One thread makes the fit the same on any machine (the accuracy below was
    measured so); the caller's thread count is restored.
    """
    X, y, _, _ = data
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return BackboneEmbedder(input_shape=(1, 8, 8), random_state=0).fit(X, y)
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------- accuracy
def test_default_fit_on_long_tailed_digits(data, fitted):
    X, y, X_test, y_test = data
    embedder = fitted
    assert_array_equal(np.bincount(y), [124, 80, 51, 33, 21, 14, 9, 5, 3, 2])
    score = balanced_accuracy_score(y_test, embedder.predict(X_test))
    # measured 0.77 (random_state 0; 0.77-0.84 over seeds 0-2) against 0.1 for chance
    assert score > 0.7, score
    assert_array_equal(embedder.classes_, np.arange(10))
    assert_array_equal(embedder.class_counts_, np.bincount(y))
    assert embedder.feature_dim_ == 64
    assert embedder.input_shape_ == (1, 8, 8)
    assert embedder.n_features_in_ == 64
    assert len(embedder.history) == 30
    lrs = embedder.history[:, "event_lr"]
    assert lrs[0] == pytest.approx(0.05) and lrs[-1] < 1e-3  # cosine to zero


def test_transform_predict_and_classifier_agree(data, fitted):
    _, _, X_test, _ = data
    embedder = fitted
    features = embedder.transform(X_test)
    assert features.shape == (len(X_test), 64) and features.dtype == np.float32
    proba = embedder.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    head = embedder.classifier_
    assert embedder.classifier_ is head  # built once, at the end of training
    assert_array_equal(head.classes_, embedder.classes_)
    assert_array_equal(head.predict(features), embedder.predict(X_test))
    assert_allclose(head.predict_proba(features), proba, rtol=1e-4, atol=1e-6)
    assert_array_equal(head.class_counts_, embedder.class_counts_)
    assert head.coef_.shape == (10, 64) and head.intercept_.shape == (10,)
    assert list(embedder.get_feature_names_out()[:2]) == [
        "backboneembedder0",
        "backboneembedder1",
    ]


@pytest.mark.parametrize("tau", [0.0, 0.7, 1.0])
def test_tau_norm_of_joint_classifier_matches_numpy(data, fitted, tau):
    X, y, X_test, _ = data
    embedder = fitted
    W = embedder.module_.fc.weight.detach().numpy().astype(np.float64)
    clf = TauNormClassifier(FrozenEstimator(embedder.classifier_), tau=tau)
    clf.fit(embedder.transform(X), y)
    # Normalised in the units of the features over their RMS row norm s (tau_normalize).
    s = clf.feature_scale_
    expected = W / (s * np.linalg.norm(W, axis=1, keepdims=True)) ** tau
    assert_allclose(clf.coef_, expected, rtol=1e-6, atol=1e-7)
    assert_array_equal(clf.intercept_, 0)
    F_test = embedder.transform(X_test)
    assert_allclose(clf.decision_function(F_test), F_test @ expected.T, rtol=1e-4, atol=1e-4)


def test_lws_and_lort_rebalance_the_joint_classifier(data, fitted):
    X, y, _, _ = data
    embedder = fitted
    features = embedder.transform(X)
    W = embedder.module_.fc.weight.detach().numpy()
    lws = LWSClassifier(FrozenEstimator(embedder.classifier_), random_state=0).fit(features, y)
    assert_allclose(lws.coef_, lws.scales_[:, None] * W, rtol=1e-5, atol=1e-6)
    lort = LORTClassifier(FrozenEstimator(embedder.classifier_), random_state=0)
    assert lort.fit(features, y).coef_.shape == W.shape
    # the frozen joint classifier is untouched
    assert_array_equal(embedder.classifier_.coef_, W)


class _CountRuns(Callback):
    """Counts training runs in a class attribute (a search clones the callbacks)."""

    runs = 0

    def on_train_begin(self, net, **kwargs):
        type(self).runs += 1


def test_search_over_tau_trains_stage_one_once_per_fold(data, tmp_path):
    """Pipeline(memory=...) caches each fold's embedder for every tau (issue #19)."""
    X, y, X_test, y_test = data
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), callbacks=[_CountRuns()], **FAST)
    head = TauNormClassifier(tau=0.7, random_state=0)
    pipe = Pipeline([("feat", embedder), ("clf", head)], memory=str(tmp_path))
    grid = {"clf__tau": [0.0, 0.5, 1.0]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    _CountRuns.runs = 0
    search = GridSearchCV(pipe, grid, cv=cv, scoring="balanced_accuracy").fit(X, y)
    assert _CountRuns.runs == 2 + 1  # one per fold and the refit, not 3 x 2 + 1
    # the cached embedders answer exactly as embedders trained for each tau
    _CountRuns.runs = 0
    uncached = GridSearchCV(clone(pipe).set_params(memory=None), grid, cv=cv,
                            scoring="balanced_accuracy").fit(X, y)
    assert _CountRuns.runs == 3 * 2 + 1
    assert_array_equal(
        search.cv_results_["mean_test_score"], uncached.cv_results_["mean_test_score"]
    )
    assert_array_equal(search.predict(X_test), uncached.predict(X_test))
    # the shot scorers read the training counts from the embedder, the first step
    classes, counts = training_class_counts(search.best_estimator_)
    assert_array_equal(counts, np.bincount(y))
    # the search cloned the embedder: the one in the grid is unfitted
    assert not hasattr(pipe.named_steps["feat"], "module_")


# ------------------------------------------------------------ persistence
def test_save_params_and_pickle_round_trip(data, fitted, tmp_path):
    _, _, X_test, _ = data
    embedder = fitted
    features = embedder.transform(X_test)
    embedder.save_params(f_params=tmp_path / "params.pt", f_history=tmp_path / "h.json")
    reloaded = BackboneEmbedder(
        input_shape=(1, 8, 8), classes=embedder.classes_, verbose=0
    ).initialize()
    reloaded.load_params(f_params=tmp_path / "params.pt", f_history=tmp_path / "h.json")
    assert_array_equal(reloaded.transform(X_test), features)
    assert_array_equal(reloaded.class_counts_, embedder.class_counts_)
    assert_array_equal(reloaded.predict(X_test), embedder.predict(X_test))
    assert len(reloaded.history) == len(embedder.history)
    # load_params builds the joint classifier from the loaded weights
    assert_array_equal(reloaded.classifier_.coef_, embedder.classifier_.coef_)
    assert_array_equal(reloaded.classifier_.class_counts_, embedder.class_counts_)

    unpickled = pickle.loads(pickle.dumps(embedder))
    assert_array_equal(unpickled.transform(X_test), features)
    assert_array_equal(unpickled.classifier_.coef_, embedder.classifier_.coef_)


def test_initialize_without_data_needs_shape_and_classes():
    with pytest.raises(ValueError, match="input_shape=.*classes="):
        BackboneEmbedder(verbose=0).initialize()


def test_same_random_state_same_features(data):
    X, y, X_test, _ = data
    one = BackboneEmbedder(input_shape=(1, 8, 8), augment=True, **FAST).fit(X, y)
    two = BackboneEmbedder(input_shape=(1, 8, 8), augment=True, **FAST).fit(X, y)
    assert_array_equal(one.transform(X_test), two.transform(X_test))
    other = BackboneEmbedder(input_shape=(1, 8, 8), **{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(one.transform(X_test), other.transform(X_test))
    # fitting restores torch's global random state
    state = torch.random.get_rng_state()
    clone(one).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_clone_and_params():
    embedder = BackboneEmbedder(
        input_shape=(1, 8, 8), sampler=SquareRootSampler(), module__width=8, lr=0.1
    )
    params = clone(embedder).get_params()
    assert params["module__width"] == 8 and params["lr"] == 0.1
    assert isinstance(params["sampler"], SquareRootSampler)
    assert params["optimizer__momentum"] == 0.9
    # skorch's bookkeeping is no parameter: reprs show what the user changed
    assert "_params_to_validate" not in params
    pipe = Pipeline([("feat", BackboneEmbedder(max_epochs=3)), ("clf", TauNormClassifier())])
    assert "('feat', BackboneEmbedder(max_epochs=3))" in repr(pipe)
    assert params["criterion"] is nn.CrossEntropyLoss
    assert clone(embedder).set_params(max_epochs=3).max_epochs == 3


# --------------------------------------------------------------- samplers
class _RecordBatches(Callback):
    """Records the rows (first pixel encodes the row) and labels of training batches."""

    def initialize(self):
        self.rows_, self.labels_ = [], []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.rows_.append([])
        self.labels_.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            X, y = batch
            self.rows_[-1].extend(X[:, 0, 0, 0].round().long().tolist())
            self.labels_[-1].extend(y.tolist())


def _row_coded(X, y):
    """Images whose first pixel is the row number."""
    X = X.reshape(-1, 1, 8, 8).copy()
    X[:, 0, 0, 0] = np.arange(len(X))
    return X


def test_progressively_balanced_sampling_moves_per_epoch(data):
    X, y, _, _ = data
    recorder = _RecordBatches()
    embedder = BackboneEmbedder(
        sampler=ProgressivelyBalancedSampler(), callbacks=[recorder], **{**FAST, "max_epochs": 4}
    ).fit(_row_coded(X, y), y)
    probabilities = np.array(embedder.history[:, "class_probabilities"])
    counts = np.bincount(y)
    for t in range(4):
        expected = progressive_probabilities(counts, t, 4)
        assert_allclose(probabilities[t], expected)
        # the batches of epoch t follow p(t) exactly (largest-remainder counts)
        seen = np.bincount(recorder.labels_[t], minlength=10)
        assert_array_equal(seen, target_counts(expected, len(y)))
    assert_allclose(probabilities[0], counts / counts.sum())  # instance-balanced
    assert_allclose(probabilities[-1], 0.1)  # class-balanced
    assert np.all(np.diff(probabilities[:, -1]) > 0)  # the tail's share grows
    assert isinstance(embedder.sampler_, ProgressivelyBalancedSampler)


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_sampler_sees_only_the_training_split(data):
    X, y, _, _ = data
    X = _row_coded(X, y)
    split = ValidSplit(4, stratified=True)
    train_part, valid_part = split(np.arange(len(y)), y)
    train_rows, valid_rows = np.asarray(train_part.indices), np.asarray(valid_part.indices)
    recorder = _RecordBatches()
    embedder = BackboneEmbedder(
        sampler=SquareRootSampler(),
        train_split=split,
        callbacks=[recorder],
        **{**FAST, "max_epochs": 3},
    ).fit(X, y)
    seen = np.unique(np.concatenate(recorder.rows_))
    assert np.isin(seen, train_rows).all()
    assert not np.isin(valid_rows, seen).any()
    train_counts = np.bincount(y[train_rows], minlength=10)
    for p in embedder.history[:, "class_probabilities"]:
        assert_allclose(p, power_probabilities(train_counts, 0.5))
    # skorch's validation columns are there and the labels match the encoding
    assert 0 <= embedder.history[-1, "valid_acc"] <= 1
    assert "valid_loss" in embedder.history[-1]
    # counts recorded for the scorers: all the data given to fit
    assert_array_equal(embedder.class_counts_, np.bincount(y))


def test_explicit_iterator_sampler_wins(data):
    X, y, _, _ = data
    recorder = _RecordBatches()
    order = torch.utils.data.SequentialSampler(range(len(y)))
    BackboneEmbedder(
        input_shape=(1, 8, 8), iterator_train__sampler=order, callbacks=[recorder], **FAST
    ).fit(_row_coded(X, y), y)
    assert recorder.rows_[0] == list(range(len(y)))


# ---------------------------------------------------------------- inputs
class _NpyFolder(torch.utils.data.Dataset):
    """Images stored one per .npy file, labels in ``targets`` (like torchvision)."""

    def __init__(self, folder, y):
        self.paths = sorted(folder.glob("*.npy"))
        self.targets = list(y)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return torch.from_numpy(np.load(self.paths[i])), self.targets[i]


def test_input_forms_give_the_same_features(data, tmp_path):
    X, y, X_test, _ = data
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y)
    expected = embedder.transform(X_test)
    images = X_test.reshape(-1, 1, 8, 8)
    assert_array_equal(embedder.transform(images), expected)
    assert_array_equal(embedder.transform(images[:, 0].astype(np.float64)), expected)
    as_tensor = embedder.transform(torch.from_numpy(images))
    assert isinstance(as_tensor, torch.Tensor)
    assert_array_equal(as_tensor.numpy(), expected)
    for i, image in enumerate(images[:40]):
        np.save(tmp_path / f"{i:03d}.npy", image)
    folder = _NpyFolder(tmp_path, np.zeros(40, dtype=int))
    assert_array_equal(embedder.transform(folder), expected[:40])

    # fitting on images (no input_shape) and on a Dataset of files
    by_images = BackboneEmbedder(**FAST).fit(X.reshape(-1, 1, 8, 8), y)
    assert_array_equal(by_images.transform(X_test), expected)
    train_folder = tmp_path / "train"
    train_folder.mkdir()
    for i, image in enumerate(X.reshape(-1, 1, 8, 8)):
        np.save(train_folder / f"{i:03d}.npy", image)
    from_disk = BackboneEmbedder(**FAST).fit(_NpyFolder(train_folder, y))  # y from targets
    assert_array_equal(from_disk.class_counts_, np.bincount(y))
    assert from_disk.transform(images[:5]).shape == (5, 16)


class _FlippedImages(torch.utils.data.Dataset):
    """Items as numpy views flipped left-right (a common augmentation): negative strides."""

    def __init__(self, images, y):
        self.images, self.targets = images, list(y)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return np.flip(self.images[i], axis=-1), self.targets[i]


def test_dataset_of_flipped_numpy_views(data):
    X, y, X_test, _ = data
    images = X_test.reshape(-1, 1, 8, 8)
    embedder = BackboneEmbedder(**FAST).fit(_FlippedImages(X.reshape(-1, 1, 8, 8), y))
    flipped = embedder.transform(_FlippedImages(images, np.zeros(len(images), dtype=int)))
    assert_array_equal(flipped, embedder.transform(np.ascontiguousarray(images[..., ::-1])))


def test_string_labels_and_absent_classes(data):
    X, y, X_test, _ = data
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, names[y])
    assert set(embedder.predict(X_test)) <= set(names)
    assert_array_equal(embedder.classifier_.classes_, np.sort(names))
    keep = y < 9
    with_classes = BackboneEmbedder(input_shape=(1, 8, 8), classes=np.arange(10), **FAST)
    with_classes.fit(X[keep], y[keep])
    assert with_classes.class_counts_[9] == 0
    assert with_classes.predict_proba(X_test).shape == (len(X_test), 10)


def test_torch_output_stays_a_tensor(data):
    X, y, X_test, y_test = data
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), output="torch", **FAST).fit(X, y)
    features = embedder.transform(X_test)
    assert isinstance(features, torch.Tensor) and features.device.type == "cpu"
    predicted = embedder.predict(X_test)
    assert isinstance(predicted, torch.Tensor)
    assert 0 <= embedder.score(X_test, torch.from_numpy(y_test)) <= 1
    head = TauNormClassifier(FrozenEstimator(embedder.classifier_), tau=1.0).fit(
        embedder.transform(X), torch.from_numpy(y)
    )
    assert isinstance(head.predict(features), torch.Tensor)
    numpy_out = clone(embedder).set_params(output="numpy").fit(X, y)
    assert isinstance(numpy_out.transform(torch.from_numpy(X_test)), np.ndarray)


def test_quiet_by_default_and_the_epoch_table_with_verbose(data, capsys):
    X, y, _, _ = data
    params = {k: v for k, v in FAST.items() if k != "verbose"}
    BackboneEmbedder(input_shape=(1, 8, 8), **params).fit(X, y)  # e.g. in a search
    assert capsys.readouterr().out == ""
    BackboneEmbedder(input_shape=(1, 8, 8), verbose=1, **params).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "lr" in out and "class_probabilities" not in out
    assert len(out.strip().splitlines()) == 2 + 2  # header, rule, one line per epoch


def test_partial_fit_and_warm_start_continue(data):
    X, y, _, _ = data
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y)
    weights = embedder.module_.fc.weight.detach().clone()
    embedder.partial_fit(X, y)
    assert len(embedder.history) == 4
    assert not torch.equal(weights, embedder.module_.fc.weight)
    assert_array_equal(embedder.classifier_.coef_, embedder.module_.fc.weight.detach())
    warm = BackboneEmbedder(input_shape=(1, 8, 8), warm_start=True, **FAST).fit(X, y).fit(X, y)
    assert len(warm.history) == 4
    with pytest.raises(ValueError, match="not among the classes"):
        warm.fit(X, y + 1)


# -------------------------------------------------------------- networks
def test_custom_module_feature_dim_by_dry_forward(data):
    X, y, X_test, _ = data
    trunk = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2)
    )  # returns (N, 6, 2, 2): flattened to 24 features
    before = [p.detach().clone() for p in trunk.parameters()]
    params = {k: v for k, v in FAST.items() if k != "module__width"}
    embedder = BackboneEmbedder(trunk, input_shape=(1, 8, 8), **params).fit(X, y)
    assert embedder.feature_dim_ == 24
    assert embedder.transform(X_test).shape == (len(X_test), 24)
    # the module passed is copied, never trained in place
    assert all(torch.equal(a, b) for a, b in zip(before, trunk.parameters()))


def test_resnet32_is_the_cifar_network():
    net = CifarResNet(depth=32)
    blocks = [m for m in net.modules() if type(m).__name__ == "_BasicBlock"]
    assert len(blocks) == 15
    assert [b.conv1.out_channels for b in blocks[::5]] == [16, 32, 64]
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params + 64 * 10 + 10 == pytest.approx(0.46e6, rel=0.02)  # with a 10-way fc
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 64)
    # option-A shortcuts have no parameters
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in net.modules())
    assert build_network("resnet32", 1)(torch.zeros(1, 1, 32, 32)).shape == (1, 64)
    assert isinstance(build_network("convnet", 3), ConvNet)


def test_resnet32_trains_with_augmentation():
    rng = np.random.RandomState(0)
    X = rng.rand(24, 3, 32, 32).astype(np.float32)
    y = np.repeat([0, 1, 2], [12, 8, 4])
    embedder = BackboneEmbedder(
        "resnet32", augment=True, max_epochs=1, batch_size=12, verbose=0, random_state=0
    ).fit(X, y)
    assert embedder.transform(X[:3]).shape == (3, 64)
    assert np.isfinite(embedder.history[-1, "train_loss"])


def test_torchvision_network_by_name():
    pytest.importorskip("torchvision")
    net = build_network("resnet18", 1)
    assert net.feature_dim == 512
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 512)


def test_augment_batch_crops_and_flips():
    torch.manual_seed(0)
    X = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5) + 1
    flipped = augment_batch(X, padding=0, flip=True)
    for i in range(2):
        assert torch.equal(flipped[i], X[i]) or torch.equal(flipped[i], X[i].flip(-1))
    cropped = augment_batch(X, padding=2, flip=False)
    padded = torch.nn.functional.pad(X, (2, 2, 2, 2))
    for i in range(2):
        windows = [
            padded[i, :, r : r + 5, c : c + 5] for r in range(5) for c in range(5)
        ]
        assert any(torch.equal(cropped[i], w) for w in windows)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, match",
    [
        ({"output": "pandas"}, "output"),
        ({"sampler": "balanced"}, "sampler"),
        ({"augment": "yes"}, "augment"),
        ({"augment": {"pad": 2}}, "padding"),
        ({"input_shape": (0, 8, 8)}, "input_shape"),
        ({"input_shape": (1, 8, 8, 8)}, "input_shape"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"module": "resnet9000"}, "Unknown network"),
    ],
)
def test_bad_parameters(data, params, match):
    X, y, _, _ = data
    embedder = BackboneEmbedder(**{**FAST, "input_shape": (1, 8, 8), **params})
    with pytest.raises((ValueError, TypeError), match=match):
        embedder.fit(X, y)


def test_bad_input(data):
    X, y, X_test, _ = data
    with pytest.raises(ValueError, match="input_shape"):
        BackboneEmbedder(**FAST).fit(X, y)  # flat rows, no image shape
    with pytest.raises(ValueError, match="cannot be reshaped"):
        BackboneEmbedder(input_shape=(1, 8, 9), **FAST).fit(X, y)
    bad = X.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(bad, y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(torch.from_numpy(bad) / 0, y)
    with pytest.raises(ValueError, match="0 sample"):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y[:-1])
    with pytest.raises(ValueError, match="2 or more classes"):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="shape"):
        BackboneEmbedder(**FAST).fit(X.reshape(1, -1, 1, 8, 8), y)
    with pytest.raises(NotFittedError):
        BackboneEmbedder(input_shape=(1, 8, 8), **FAST).transform(X_test)

    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"fitted on \(1, 8, 8\)"):
        embedder.transform(np.zeros((3, 1, 8, 9), np.float32))
    with pytest.raises(ValueError, match="63 values per row"):
        embedder.transform(X_test[:, :63])
    with pytest.raises(ValueError, match="NaN"):
        embedder.transform(np.full((2, 64), np.inf))
    with pytest.raises(TypeError, match="Sparse"):
        import scipy.sparse

        embedder.transform(scipy.sparse.csr_matrix(X_test))


def test_feature_names_are_recorded_and_checked(data):
    """A DataFrame with other columns, or the same in another order, is refused (#18 item 4)."""
    pd = pytest.importorskip("pandas")
    X, y, X_test, y_test = data
    columns = [f"pixel_{i}" for i in range(64)]
    frame, test = pd.DataFrame(X, columns=columns), pd.DataFrame(X_test, columns=columns)
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(frame, y)
    assert_array_equal(embedder.feature_names_in_, columns)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_array_equal(embedder.transform(test), embedder.transform(X_test))
    reordered = test[columns[::-1]]
    for answer in (embedder.transform, embedder.predict, embedder.predict_proba):
        with pytest.raises(ValueError, match="Feature names must be in the same order"):
            answer(reordered)
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        embedder.transform(test.rename(columns={"pixel_0": "other"}))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        embedder.partial_fit(frame[columns[::-1]], y)
    pipe = Pipeline([("feat", clone(embedder)), ("clf", TauNormClassifier(tau=1.0))])
    pipe.fit(frame, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        pipe.score(reordered, y_test)
    # fitted on an array: no names recorded, none checked
    assert not hasattr(embedder.fit(X, y), "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        assert embedder.transform(reordered).shape == (len(X_test), 16)


def test_fit_leaves_the_callers_autograd_state_alone(data):
    """Training needs autograd; the caller's mode and tensors are not touched (#18 item 5)."""
    X, y, X_test, _ = data
    expected = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y).transform(X_test)
    with torch.inference_mode():
        in_inference_mode = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X, y)
        assert torch.is_inference_mode_enabled()
    X_grad = torch.from_numpy(X).requires_grad_()
    with torch.no_grad():
        without_grad = BackboneEmbedder(input_shape=(1, 8, 8), **FAST).fit(X_grad, y)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert X_grad.requires_grad and X_grad.grad is None
    assert_array_equal(in_inference_mode.transform(X_test), expected)
    assert_array_equal(without_grad.transform(X_test), expected)
    assert not without_grad.transform(X_grad).requires_grad


def test_meta_tensors_are_refused(data):
    """Tensors on the 'meta' device have no values: a clear error (#18 item 13)."""
    X, y, X_test, _ = data
    embedder = BackboneEmbedder(input_shape=(1, 8, 8), **FAST)
    with pytest.raises(ValueError, match="X is a tensor on the 'meta' device"):
        embedder.fit(torch.from_numpy(X).to("meta"), y)
    with pytest.raises(ValueError, match="y is a tensor on the 'meta' device"):
        embedder.fit(X, torch.from_numpy(y).to("meta"))
    embedder.fit(X, y)
    with pytest.raises(ValueError, match="X is a tensor on the 'meta' device"):
        embedder.transform(torch.from_numpy(X_test).to("meta"))


def test_joint_classifier_of_unsorted_classes_is_rebalanced_in_sorted_order(digits_images):
    """Issue #18.2: classes=[1, 0, 2] give a classifier_ in sorted order, counts aligned."""
    X, y = digits_images
    keep = y < 3
    X, y = X[keep], y[keep]
    embedder = BackboneEmbedder(classes=[1, 0, 2], input_shape=(1, 8, 8), max_epochs=3,
                                random_state=0, verbose=0).fit(X, y)
    joint = embedder.classifier_
    assert_array_equal(joint.classes_, [0, 1, 2])
    assert_array_equal(joint.class_counts_, np.bincount(y))
    features = embedder.transform(X)
    assert_array_equal(joint.predict(features), embedder.predict(X))
    lws = LWSClassifier(FrozenEstimator(joint), random_state=0).fit(features, y)
    assert_array_equal(lws.class_counts_, np.bincount(y))
    assert lws.score(features, y) >= embedder.score(X, y) - 0.05


# ------------------------------------------------ bad and unusual input (a tiny network)
TINY = dict(input_shape=(1, 8, 8), module__width=4, max_epochs=1, verbose=0, random_state=0,
            batch_size=64)


@pytest.fixture(scope="module")
def embedder(digits_images):
    """A tiny embedder fitted on 150 digits_images."""
    return BackboneEmbedder(**TINY).fit(*digits_images)


def embed(X, y, **params):
    return BackboneEmbedder(**{**TINY, **params}).fit(X, y)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.uint8])
def test_embedder_low_precision_and_integer_tensors(digits_images, embedder, dtype):
    X, y = digits_images
    images = torch.from_numpy(X * 16).to(dtype)  # 0..16: exact in every dtype
    upcast = images.to(torch.float32)
    assert_array_equal(embed(images, y).transform(X), embed(upcast, y).transform(X))
    features = embedder.transform(images)
    assert features.dtype == torch.float32
    assert torch.equal(features, embedder.transform(upcast))


def test_embedder_non_contiguous_tensors(digits_images, embedder):
    X, y = digits_images
    view = wide_view(X)
    assert torch.equal(embedder.transform(view), embedder.transform(torch.from_numpy(X)))
    assert_array_equal(embed(view, y).transform(X), embedder.transform(X))
    images = torch.from_numpy(np.repeat(X.reshape(-1, 1, 8, 8), 2, axis=3))[..., ::2]
    assert not images.is_contiguous()  # a strided 4-D view
    assert torch.equal(embedder.transform(images), embedder.transform(torch.from_numpy(X)))


def test_embedder_labels_as_strings_tensors_and_bad_labels(digits_images, embedder):
    X, y = digits_images
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


def test_embedder_bad_arrays(digits_images, embedder):
    X, y = digits_images
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
def test_embedder_out_of_range_parameters(digits_images, params, match):
    with pytest.raises(ValueError, match=match):
        embed(*digits_images, **params)


def test_embedder_bit_for_bit_determinism_with_a_sampler_and_tensors(digits_images):
    X, y = digits_images
    params = {"sampler": SquareRootSampler(), "max_epochs": 2}
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    a, b = embed(Xt, yt, **params), embed(Xt, yt, **params)
    for (name, p), (_, q) in zip(a.module_.state_dict().items(), b.module_.state_dict().items()):
        assert torch.equal(p, q), name
    assert torch.equal(a.transform(Xt), b.transform(Xt))
    assert_array_equal(a.classifier_.coef_, b.classifier_.coef_)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]


def test_embedder_round_trips_keep_string_labels_and_torch_output(digits_images, tmp_path):
    X, y = digits_images
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


def test_accelerated_embedder_pickles_after_training(digits_images):
    accelerate = pytest.importorskip("accelerate")
    from sklearn_lt.backbone import AcceleratedBackboneEmbedder

    X, y = digits_images
    fitted = AcceleratedBackboneEmbedder(
        accelerator=accelerate.Accelerator(cpu=True), **TINY
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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_embedder_tensors_on_another_device_than_the_model(digits_images):
    X, y = digits_images
    on_cpu = embed(X, y)
    features = on_cpu.transform(torch.from_numpy(X).cuda())
    assert features.device.type == "cpu"  # the network's device
    assert torch.equal(features, on_cpu.transform(torch.from_numpy(X)))


# ------------------------------------------------------------- accelerate
def test_accelerated_embedder_single_process_cpu(data, tmp_path, capsys):
    accelerate = pytest.importorskip("accelerate")
    from sklearn_lt.backbone import AcceleratedBackboneEmbedder

    X, y, X_test, _ = data
    params = {**FAST, "input_shape": (1, 8, 8), "sampler": SquareRootSampler()}
    accelerated = AcceleratedBackboneEmbedder(
        accelerator=accelerate.Accelerator(cpu=True), **params
    ).fit(X, y)
    assert accelerated.device is None
    assert capsys.readouterr().out == ""  # verbose=0 silences accelerator.print too
    features = accelerated.transform(X_test)
    assert features.shape == (len(X_test), 16)
    # one CPU process: the same run as without accelerate
    plain = BackboneEmbedder(**params).fit(X, y)
    assert_allclose(features, plain.transform(X_test), rtol=1e-5, atol=1e-6)
    assert_array_equal(accelerated.predict(X_test), plain.predict(X_test))
    assert_allclose(
        accelerated.history[:, "class_probabilities"], plain.history[:, "class_probabilities"]
    )
    accelerated.save_params(f_params=tmp_path / "params.pt")
    reloaded = BackboneEmbedder(
        input_shape=(1, 8, 8), classes=np.arange(10), module__width=8, verbose=0
    ).initialize()
    reloaded.load_params(f_params=tmp_path / "params.pt")
    assert_array_equal(reloaded.transform(X_test), features)


# ------------------------------------------------------------------- cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_and_features_on_the_device(data):
    X, y, X_test, _ = data
    params = {**FAST, "input_shape": (1, 8, 8), "augment": True}
    gpu = BackboneEmbedder(device="cuda", output="torch", **params).fit(X, y)
    features = gpu.transform(X_test)
    assert features.is_cuda and features.shape == (len(X_test), 16)
    head = TauNormClassifier(FrozenEstimator(gpu.classifier_), tau=1.0).fit(
        gpu.transform(X), torch.as_tensor(y, device="cuda")
    )
    assert head.predict(features).is_cuda
    # CUDA tensors in: the data stays on the device
    on_device = BackboneEmbedder(device="cuda", **params).fit(
        torch.as_tensor(X, device="cuda"), y
    )
    assert on_device.transform(torch.as_tensor(X_test, device="cuda")).is_cuda
    # a GPU-fitted embedder pickles and predicts on the CPU
    cpu_copy = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu", output="numpy")
    cpu_copy.module_.to("cpu")
    assert_allclose(cpu_copy.transform(X_test), features.cpu().numpy(), rtol=1e-4, atol=1e-4)
