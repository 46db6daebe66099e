"""What the tests share: the one list of head configurations and the data they run on.

Imported as a plain module (``from _support import ...``): pytest puts this
folder on ``sys.path``. Fixtures built on these helpers live in ``conftest.py``.
"""

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_lt import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LogitAdjustedClassifierCV,
    LORTClassifier,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    RetrainedClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.datasets import load_digits_lt

# ------------------------------------------------------------------- the heads
# Every head class of the package, with the variants that take another code
# path (solver, metric, loss, base), each small enough for a unit test. Every
# test of shared head behaviour parametrises over this one list (by
# ``HEAD_IDS``); estimator and array-API checks run on it too.
HEADS = [
    SoftmaxClassifier(random_state=0),
    SoftmaxClassifier(fit_intercept=False, random_state=0),
    SoftmaxClassifier(solver="sgd", random_state=0),
    CRTClassifier(random_state=0),
    CRTClassifier(solver="sgd", random_state=0),
    TauNormClassifier(tau=0.5, random_state=0),
    TauNormClassifier(LogisticRegression(), tau=0.5),
    LWSClassifier(random_state=0),
    LORTClassifier(n_epochs=5, random_state=0),
    NCMClassifier(),
    NCMClassifier(metric="cosine"),
    NCMClassifier(metric="cosine", center=False),
    NCMClassifier(metric="dot"),
    TauNormClassifierCV(cv=3, random_state=0),
    LORTClassifierCV(n_epochs=3, cv=3, random_state=0),
    RetrainedClassifier(random_state=0),
    RetrainedClassifier(logits="cosine", loss="ldam", random_state=0),
    RetrainedClassifier(loss="focal", reweight="class_balanced", reweight_from_epoch=2,
                        n_epochs=3, random_state=0),
    RetrainedClassifier(init="base", max_norm=0.1, reweight="class_balanced", random_state=0),
    LogitAdjustedClassifier(random_state=0),
    LogitAdjustedClassifier(LogisticRegression(), adjustment=0.5),
    LogitAdjustedClassifierCV(cv=3, random_state=0),
]


def head_id(head):
    """A short, unique test id: the constructor call without ``random_state=0``."""
    text = " ".join(repr(head).split()).replace("random_state=0", "")
    return text.replace("(, ", "(").replace(", )", ")").replace(", ,", ",")


HEAD_IDS = [head_id(head) for head in HEADS]
assert len(set(HEAD_IDS)) == len(HEADS), "two head configurations share an id"


def has_param(head, name):
    return name in head.get_params(deep=False)


# ------------------------------------------------------------------ toy data
COUNTS = (300, 120, 50, 20, 8)


def long_tailed(counts=COUNTS, n_features=6, *, separation=2.0, centers="random", seed=0,
                dtype=np.float64):
    """Gaussian classes of ``counts[j]`` rows each, labels ``0..C-1`` grouped by class.

    ``centers="random"``: class ``j`` around ``separation * N(0, I)``;
    ``centers="axes"``: class ``j`` shifted by ``separation`` along axis ``j``
    (the first ``n_features`` classes; further classes sit at the origin).
    """
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    if centers == "random":
        means = separation * rng.normal(size=(len(counts), n_features))
        X = means[y] + rng.normal(size=(len(y), n_features))
    elif centers == "axes":
        X = rng.normal(size=(len(y), n_features)) + separation * np.eye(len(counts), n_features)[y]
    else:
        raise ValueError(f"centers must be 'random' or 'axes', got {centers!r}")
    return X.astype(dtype), y


def small_long_tailed(seed=0, n_features=5):
    """Four classes of 60, 25, 10 and 4 rows along their own axes (float32): quick fits."""
    return long_tailed((60, 25, 10, 4), n_features, centers="axes", seed=seed,
                       dtype=np.float32)


def wide_view(X):
    """A non-contiguous tensor view holding the values of ``X``."""
    wide = torch.from_numpy(np.repeat(np.asarray(X), 2, axis=1))
    view = wide[:, ::2]
    assert not view.is_contiguous()
    return view


# ---------------------------------------------------------------- digits-LT
def digits_lt():
    """digits-LT as :func:`load_digits_lt` makes it by default: ``(X_train, y_train,
    X_test, y_test)``, pixels in [0, 1], training counts 124 down to 2 (IR 50), a
    balanced test set of 50 images per class."""
    return load_digits_lt(return_X_y=True)


def digits_lt_features():
    """digits-LT with every pixel standardised on the training set: a real source of
    frozen features, ``(X_train, y_train, X_test, y_test)`` in float64."""
    X, y, X_test, y_test = digits_lt()
    scaler = StandardScaler().fit(X.astype(np.float64))
    # X_test in float64 too (a float32 one overflowed or vanished at 1e+-200).
    X_test = scaler.transform(X_test.astype(np.float64))
    return scaler.transform(X.astype(np.float64)), y, X_test, y_test


def digits_images(n=150):
    """The first ``n`` digits as float32 rows of 64 pixels in [0, 1] and their labels."""
    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16).astype(np.float32), y[:n]
