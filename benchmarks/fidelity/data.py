"""The fidelity suite's data: where files live, the two OpenCV data sets, the splits,
and the Bunch every source returns (with its joint classifier where no network made one).

Every source splits a (roughly) balanced labelled set the way CIFAR-LT and
digits-LT are made: per class, a balanced test set and a small balanced
validation set are drawn first, and :func:`sklearn_lt.datasets.make_long_tailed`
draws the long-tailed training set from the rest.
"""

import os
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from sklearn_lt.datasets import log_thirds_thresholds, make_long_tailed

__all__ = [
    "ARRAYS",
    "LOGISTIC_MAX_ITER",
    "cache_dir",
    "load_digits_png",
    "load_letter",
    "logistic_joint",
    "long_tailed_split",
    "make_many_class",
    "opencv_data_file",
    "source_bunch",
]

FETCH_SCRIPT = "benchmarks/fidelity/fetch_data.sh"
DEBIAN_OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# Large enough for lbfgs to converge on every source (it stops far earlier).
LOGISTIC_MAX_ITER = 10_000
ARRAYS = ("F_train", "y_train", "F_val", "y_val", "F_test", "y_test")


def cache_dir():
    """``$SKLEARN_LT_FIDELITY_CACHE``, or ``~/.cache/sklearn-lt-fidelity``."""
    folder = os.environ.get("SKLEARN_LT_FIDELITY_CACHE")
    if folder:
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sklearn-lt-fidelity"


def opencv_data_file(filename):
    """Path of one file of Debian's ``opencv-doc`` examples data.

    Looked up in ``$SKLEARN_LT_OPENCV_DATA``, the Debian install path and
    ``<cache>/opencv-data`` (where ``fetch_data.sh`` puts it), in this order.
    """
    folders = [DEBIAN_OPENCV_DATA, cache_dir() / "opencv-data"]
    if os.environ.get("SKLEARN_LT_OPENCV_DATA"):
        folders.insert(0, Path(os.environ["SKLEARN_LT_OPENCV_DATA"]))
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    raise FileNotFoundError(
        f"{filename} not found in {', '.join(str(f) for f in folders)}. It ships in "
        f"Debian's opencv-doc package: run `bash {FETCH_SCRIPT}` (no root needed), or "
        "point SKLEARN_LT_OPENCV_DATA at a folder holding it."
    )


def load_letter():
    """UCI letter recognition: 20,000 rows, 16 integer features, 26 letters.

    Returns ``(X, y)``: ``X`` float64 of shape (20000, 16), ``y`` int64 in
    0..25 (A..Z).
    """
    path = opencv_data_file("letter-recognition.data")
    rows = np.loadtxt(path, delimiter=",", dtype=str)
    if rows.shape != (20000, 17):
        raise ValueError(f"{path}: expected 20000 rows of 17 fields, got {rows.shape}.")
    y = np.frombuffer("".join(rows[:, 0]).encode("ascii"), dtype=np.uint8) - ord("A")
    return rows[:, 1:].astype(np.float64), y.astype(np.int64)


def load_digits_png():
    """OpenCV's ``digits.png``: 5,000 handwritten digits of 20x20 pixels, 500 per digit.

    The 2000x1000 image holds 50 rows of 100 cells; every 5 rows are one
    digit, 0 first (as OpenCV's ``samples/python/digits.py`` reads it).
    Returns ``(images, y)``: float64 of shape (5000, 20, 20) in [0, 1], int64.
    """
    path = opencv_data_file("digits.png")
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is in the "images" extra
        raise ImportError("digits_png needs Pillow: pip install 'sklearn-lt[images]'.") from exc
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    if pixels.shape != (1000, 2000):
        raise ValueError(f"{path}: expected a 2000x1000 image, got {pixels.shape[::-1]}.")
    cells = pixels.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    return cells, np.repeat(np.arange(10), 500)


def long_tailed_split(X, y, *, n_test, n_val, imbalance_ratio, seed):
    """Balanced test and validation sets per class, then a long-tailed training set.

    Per class (in one random stream seeded by ``seed``): ``n_test`` rows for
    the test set, the next ``n_val`` for the validation set; the training set
    is drawn from the rest by ``make_long_tailed`` (exponential profile, class
    0 the head, ``n_max`` the smallest remaining class).
    """
    rng = np.random.RandomState(seed)
    test, val, rest = [], [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        test.append(rows[:n_test])
        val.append(rows[n_test : n_test + n_val])
        rest.append(rows[n_test + n_val :])
    test, val, rest = (np.concatenate(parts) for parts in (test, val, rest))
    lt = make_long_tailed(None, y[rest], imbalance_ratio=imbalance_ratio, random_state=rng)
    train = rest[lt.indices]
    return Bunch(
        train=train, val=val, test=test, classes=lt.class_order, class_counts=lt.class_counts,
        shot_thresholds=log_thirds_thresholds(lt.class_counts),
    )


def make_many_class(
    n_classes=300, n_features=128, *, n_max=1000, n_min=5, n_test=20, n_val=10, noise=2.0,
    spread=0.6, seed=0,
):
    """Synthetic many-class features: unit-norm class clusters in a hierarchy, a Zipf tail.

    Stands in for sentence embeddings of a many-class text set (unit norm,
    ImageNet-LT's count range), none of which installs offline with its
    labels. Per seed:

    - ``sqrt(n_classes)`` super-class directions ``s_k`` on the unit sphere;
      class ``j`` of a random super-class ``k`` has mean
      ``mu_j = normalize(s_k + spread * g_j / sqrt(d))`` (``g_j`` standard
      normal), so siblings overlap more than strangers, as in real label sets;
    - a row of class ``j`` is ``normalize(mu_j + noise * g / sqrt(d))``;
    - training counts follow Zipf's law from ``n_max`` down to ``n_min``:
      ``n_(r) = max(n_min, floor(n_max * r**-a))`` for rank ``r = 1..C`` with
      ``a = log(n_max / n_min) / log(C)``, ranks shuffled over the classes;
    - balanced validation (``n_val`` per class) and test (``n_test``) sets.

    Returns a dict of the fidelity arrays (float32 features, int64 labels)
    and ``shot_thresholds`` (100, 20), ImageNet-LT's.
    """
    rng = np.random.RandomState(seed)
    d = n_features
    n_super = max(2, int(np.sqrt(n_classes)))
    unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)  # noqa: E731
    supers = unit(rng.normal(size=(n_super, d)))
    means = unit(
        supers[rng.randint(n_super, size=n_classes)]
        + spread * rng.normal(size=(n_classes, d)) / np.sqrt(d)
    )
    exponent = np.log(n_max / n_min) / np.log(n_classes)
    ranks = np.arange(1, n_classes + 1)
    counts = np.maximum(n_min, np.floor(n_max * ranks**-exponent)).astype(np.int64)
    counts = counts[rng.permutation(n_classes)]

    def draw(per_class):
        y = np.repeat(np.arange(n_classes), per_class)
        X = unit(means[y] + noise * rng.normal(size=(len(y), d)) / np.sqrt(d))
        return X.astype(np.float32), y

    arrays = {}
    for split, per_class in (("train", counts), ("val", n_val), ("test", n_test)):
        arrays[f"F_{split}"], arrays[f"y_{split}"] = draw(np.broadcast_to(per_class, n_classes))
    arrays["shot_thresholds"] = np.asarray([100, 20])
    return arrays


def source_bunch(arrays, joint, name, description):
    """The source's Bunch from its (cached) arrays and its joint classifier."""
    classes, counts = np.unique(arrays["y_train"], return_counts=True)
    return Bunch(
        **{k: arrays[k] for k in ARRAYS}, joint=joint, name=name, description=description,
        classes=classes, class_counts=counts,
        shot_thresholds=tuple(int(t) for t in arrays["shot_thresholds"]),
    )


def logistic_joint(arrays):
    """The joint classifier where no network made the features: plain LogisticRegression."""
    return LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(arrays["F_train"], arrays["y_train"])
