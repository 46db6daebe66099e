"""Feature sources: frozen features of a long-tailed training set and its joint classifier.

A source is a function ``source(seed) -> Bunch`` with

- ``F_train, y_train``: long-tailed training features (float32) and labels;
- ``F_val, y_val``: a small balanced validation set drawn from the rows
  left out of training, for models that need held-out data (never the test
  set);
- ``F_test, y_test``: the balanced test set;
- ``joint``: the *joint* classifier of the source (stage one's own
  instance-balanced linear layer, or a plain ``LogisticRegression()`` where
  no network made the features), fitted, with ``predict`` on ``F``;
- ``name``, ``description``, ``classes``, ``class_counts`` (aligned with
  ``classes``), ``shot_thresholds`` ``(many, few)``.

The features (and a network's joint weights) are cached on disk, in
``<cache>/features`` (see :func:`.data.cache_dir`), under a key made of the
source, the seed, this module's code, the package code the source depends on
and the library versions, so a rerun skips the extraction and any change to
the extraction recomputes it. :func:`get_source` also accepts ``"NAME*FACTOR"``:
the source's features multiplied by ``FACTOR`` (see :func:`scaled`).
"""

import hashlib
import inspect
import json
import os
import tempfile
from functools import wraps
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.preprocessing import StandardScaler

import sklearn_lt
from sklearn_lt import BackboneEmbedder, SoftmaxClassifier
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.study import run_study

from . import data
from .data import logistic_joint, source_bunch
from .pretrained import pretrained_digits

__all__ = ["EXTRA_SOURCES", "SOURCES", "get_source", "scaled"]

PACKAGE_ROOT = Path(sklearn_lt.__file__).resolve().parent
HERE = Path(__file__).resolve().parent
# Stage one as the study trains it (run_study's defaults).
_STUDY_DEFAULTS = {k: p.default for k, p in inspect.signature(run_study).parameters.items()}


# ------------------------------------------------------------------ caching
def _code_hash(depends):
    """Hash of this suite's source code and of the package folders a source depends on."""
    digest = hashlib.sha256()
    files = [HERE / "sources.py", HERE / "data.py"]
    for folder in depends:
        files += sorted((PACKAGE_ROOT / folder).rglob("*.py"))
    for file in files:
        digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()


def cached(*depends):
    """Cache ``features(seed) -> dict of arrays`` on disk, keyed as the module says."""

    def decorate(features):
        @wraps(features)
        def load(seed):
            key = json.dumps([
                features.__name__, int(seed), _code_hash(depends),
                np.__version__, sklearn.__version__, torch.__version__,
            ])
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            path = data.cache_dir() / "features" / f"{features.__name__}-{seed}-{digest}.npz"
            if path.is_file():
                with np.load(path, allow_pickle=False) as f:
                    return {k: f[k] for k in f.files}
            arrays = features(seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a concurrent reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
            return arrays

        return load

    return decorate


def _fc_joint(arrays):
    """A network's own last layer (cached weights) as a fitted linear head."""
    classes, counts = np.unique(arrays["y_train"], return_counts=True)
    return SoftmaxClassifier.from_weights(
        arrays["joint_coef"], arrays["joint_intercept"], classes=classes, class_counts=counts
    )


def _standardised(X, split):
    """Rows of ``split`` standardised by the training rows' statistics, as float32."""
    scaler = StandardScaler().fit(X[split.train])
    return {
        name: scaler.transform(X[rows]).astype(np.float32)
        for name, rows in (("F_train", split.train), ("F_val", split.val), ("F_test", split.test))
    }


def _split_arrays(F, y, split):
    return {
        **F, "y_train": y[split.train], "y_val": y[split.val], "y_test": y[split.test],
        "shot_thresholds": np.asarray(split.shot_thresholds),
    }


# -------------------------------------------------------------- digits-LT
def _digits_lt(seed):
    """digits-LT as the study loads it: IR 50, 50 test and 20 validation images per class."""
    return load_digits_lt(imbalance_ratio=50, n_val_per_class=20, random_state=seed)


def _digits_arrays(d, transform):
    return {
        "F_train": transform(d.X_train), "y_train": d.y_train, "F_val": transform(d.X_val),
        "y_val": d.y_val, "F_test": transform(d.X_test), "y_test": d.y_test,
        "shot_thresholds": np.asarray(d.shot_thresholds),
    }


@cached("backbone", "datasets")
def _backbone_features(seed):
    d = _digits_lt(seed)
    embedder = BackboneEmbedder(
        _STUDY_DEFAULTS["module"], input_shape=d.images_shape,
        max_epochs=_STUDY_DEFAULTS["max_epochs"], device="cpu", random_state=seed, verbose=0,
        output="numpy",
    ).fit(d.X_train, d.y_train)
    arrays = _digits_arrays(d, lambda X: np.asarray(embedder.transform(X), dtype=np.float32))
    joint = embedder.classifier_
    arrays["joint_coef"], arrays["joint_intercept"] = joint.coef_, joint.intercept_
    return arrays


def backbone(seed):
    """``BackboneEmbedder`` (the study's stage one) on digits-LT; joint: its ``classifier_``."""
    arrays = _backbone_features(seed)
    return source_bunch(
        arrays, _fc_joint(arrays), "backbone",
        f"digits-LT (IR 50), BackboneEmbedder({_STUDY_DEFAULTS['module']!r}, "
        f"max_epochs={_STUDY_DEFAULTS['max_epochs']}) features",
    )


class SmallCNN(torch.nn.Module):
    """Two 3x3 convolutions with ReLU, a 64-unit linear layer with ReLU, and the fc layer."""

    def __init__(self, n_classes):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
        )
        self.fc = nn.Linear(64, n_classes)

    def forward(self, x):
        return self.fc(self.features(x))


CNN_TRAINING = {"epochs": 60, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}


@cached("datasets")
def _torch_cnn_features(seed):
    """A plain torch loop, written here on purpose: not the package's networks or trainer."""
    d = _digits_lt(seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images = lambda X: torch.as_tensor(X, dtype=torch.float32).reshape(-1, *d.images_shape)  # noqa: E731
    X, y = images(d.X_train), torch.as_tensor(d.y_train)
    net = SmallCNN(len(d.class_order))
    optimizer = torch.optim.SGD(
        net.parameters(), lr=CNN_TRAINING["lr"], momentum=CNN_TRAINING["momentum"],
        weight_decay=CNN_TRAINING["weight_decay"],
    )
    net.train()
    for _ in range(CNN_TRAINING["epochs"]):
        # Instance-balanced: every image once per epoch, in random order.
        for batch in torch.randperm(len(y), generator=generator).split(CNN_TRAINING["batch_size"]):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(X[batch]), y[batch]).backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        arrays = _digits_arrays(d, lambda X: net.features(images(X)).numpy())
        arrays["joint_coef"] = net.fc.weight.numpy().copy()
        arrays["joint_intercept"] = net.fc.bias.numpy().copy()
    return arrays


def torch_cnn(seed):
    """A small plain-torch CNN's frozen 64-d post-ReLU features on digits-LT; joint: its fc."""
    arrays = _torch_cnn_features(seed)
    return source_bunch(
        arrays, _fc_joint(arrays), "torch_cnn",
        "digits-LT (IR 50), plain-torch CNN (2 conv + ReLU + linear 64, SGD, "
        f"{CNN_TRAINING['epochs']} epochs, instance-balanced), 64-d post-ReLU features",
    )


@cached("datasets")
def _pixel_features(seed):
    d = _digits_lt(seed)
    scaler = StandardScaler().fit(d.X_train)
    return _digits_arrays(d, lambda X: scaler.transform(X).astype(np.float32))


def pixels(seed):
    """Standardised pixels of digits-LT (no network); joint: ``LogisticRegression()``."""
    arrays = _pixel_features(seed)
    return source_bunch(
        arrays, logistic_joint(arrays), "pixels",
        "digits-LT (IR 50), standardised pixels (64-d)",
    )


# ------------------------------------------------------------ OpenCV data
@cached("datasets")
def _letter_features(seed):
    X, y = data.load_letter()
    split = data.long_tailed_split(X, y, n_test=200, n_val=20, imbalance_ratio=100, seed=seed)
    return _split_arrays(_standardised(X, split), y, split)


def letter(seed):
    """UCI letter recognition, long-tailed at IR 100, standardised; joint: LogisticRegression."""
    arrays = _letter_features(seed)
    return source_bunch(
        arrays, logistic_joint(arrays), "letter",
        "UCI letter (26 classes, IR 100; 200 test, 20 validation per class), standardised 16-d",
    )


def letter_unit(seed):
    """``letter``'s standardised features L2-normalised per row (the unit-norm regime)."""
    arrays = dict(_letter_features(seed))
    for name in ("F_train", "F_val", "F_test"):
        F = arrays[name]
        arrays[name] = F / np.linalg.norm(F, axis=1, keepdims=True).clip(1e-12)
    return source_bunch(
        arrays, logistic_joint(arrays), "letter_unit",
        "UCI letter (IR 100), standardised then L2-normalised per row",
    )


def hog(images, n_bins=16, n_cells=2):
    """HOG-like features: gradient-orientation histograms of ``n_cells`` x ``n_cells`` cells.

    Per cell, a histogram of the gradient direction (``n_bins`` over 0..2 pi)
    weighted by the gradient magnitude; the concatenation is normalised to
    sum 1 and square-rooted (the Hellinger mapping). The recipe of OpenCV's
    ``samples/python/digits.py`` (16 bins, 2x2 cells, without its deskewing).
    """
    n, height, width = images.shape
    gy, gx = np.gradient(images, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    angle = np.arctan2(gy, gx) % (2 * np.pi)
    bins = np.minimum((angle * n_bins / (2 * np.pi)).astype(np.int64), n_bins - 1)
    cell = (np.arange(height)[:, None] * n_cells // height) * n_cells + (
        np.arange(width)[None, :] * n_cells // width
    )
    index = (np.arange(n)[:, None, None] * n_cells**2 + cell) * n_bins + bins
    hist = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=n * n_cells**2 * n_bins)
    hist = hist.reshape(n, -1)
    return np.sqrt(hist / np.maximum(hist.sum(axis=1, keepdims=True), 1e-12))


@cached("datasets")
def _digits_png_features(seed):
    images, y = data.load_digits_png()
    split = data.long_tailed_split(
        images, y, n_test=100, n_val=20, imbalance_ratio=50, seed=seed
    )
    return _split_arrays(_standardised(hog(images), split), y, split)


def digits_png(seed):
    """OpenCV's digits.png, long-tailed at IR 50, standardised HOG-like features."""
    arrays = _digits_png_features(seed)
    return source_bunch(
        arrays, logistic_joint(arrays), "digits_png",
        "OpenCV digits.png (IR 50; 100 test, 20 validation per class), standardised 64-d HOG",
    )


# -------------------------------------------------------------- many classes
MANY_CLASS = {"n_classes": 300, "n_features": 128}


# Random over-sampling makes every class 1,000 rows: 300,000 rows, 650 s a seed.
MANY_CLASS_SKIP = ("ROS + LogReg",)


def _many_class(name, n_classes, seed):
    arrays = data.make_many_class(**{**MANY_CLASS, "n_classes": n_classes}, seed=seed)
    d = source_bunch(
        arrays, logistic_joint(arrays), name,
        f"synthetic {n_classes} classes, Zipf counts 1000..5, unit-norm "
        f"{MANY_CLASS['n_features']}-d clusters in a class hierarchy (20 test, 10 validation "
        "per class)",
    )
    d.skip = MANY_CLASS_SKIP
    return d


def many_class(seed):
    """Synthetic: 300 unit-norm 128-d class clusters, Zipf counts 1000..5; joint: LogReg."""
    return _many_class("many_class", MANY_CLASS["n_classes"], seed)


def many_class_1000(seed):
    """``many_class`` at ImageNet-LT's 1,000 classes (not in the default run: minutes a seed)."""
    return _many_class("many_class_1000", 1000, seed)


# ------------------------------------------------------------------ scaled
def scaled(source, factor):
    """``source`` with every feature multiplied by ``factor``; the joint sees the same logits.

    The joint classifier becomes a ``SoftmaxClassifier`` holding ``coef_ /
    factor`` and the same intercept, so it predicts exactly what it did.
    Everything else is refitted on the scaled features: a scale-invariant
    head scores the same as on ``source``.
    """
    factor = float(factor)

    def load(seed):
        d = source(seed)
        dtype = d.F_train.dtype
        for name in ("F_train", "F_val", "F_test"):
            d[name] = (d[name] * factor).astype(dtype)
        d.joint = SoftmaxClassifier.from_weights(
            (np.asarray(d.joint.coef_) / factor).astype(dtype),
            np.asarray(d.joint.intercept_).astype(dtype),
            classes=d.joint.classes_, class_counts=d.class_counts,
        )
        d.name = f"{d.name}*{factor:g}"
        d.description = f"{d.description}, multiplied by {factor:g}"
        return d

    load.__name__ = f"{source.__name__}*{factor:g}"
    load.__doc__ = f"{source.__name__} multiplied by {factor:g} (see scaled)."
    return load


SOURCES = {
    source.__name__: source
    for source in (
        backbone, torch_cnn, pixels, letter, letter_unit, digits_png, pretrained_digits,
        scaled(torch_cnn, 0.1), scaled(torch_cnn, 10), scaled(letter, 0.1), scaled(letter, 10),
        many_class,
    )
}
# Named on the command line only (``--sources many_class_1000``).
EXTRA_SOURCES = {many_class_1000.__name__: many_class_1000}


def get_source(name):
    """A source of :data:`SOURCES` by name, or ``"NAME*FACTOR"`` for any of them scaled."""
    known = {**SOURCES, **EXTRA_SOURCES}
    if name in known:
        return known[name]
    base, star, factor = name.partition("*")
    if star and base in known:
        try:
            return scaled(known[base], float(factor))
        except ValueError:
            pass
    raise KeyError(
        f"Unknown source {name!r}: choose among {', '.join(known)} or 'NAME*FACTOR'."
    )
