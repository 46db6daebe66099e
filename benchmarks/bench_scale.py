"""Paper-scale shapes: every estimator's fit + predict, its peak memory beyond X, its passes.

Synthetic long-tailed float32 features (``_harness.make_features``: imbalance
100, class means plus unit noise) at the shapes of the papers' benchmarks,
reduced where one CPU thread could not finish: iNaturalist 2018's 8,142
classes on 1e5 rows of 128-d features, and ImageNet-LT's 1,000 classes and
115,846 rows with 256-d features (2,048-d in the papers). Each case fits one
estimator and predicts its training rows. The bases are frozen (a random
linear layer): what is measured is the head's own work, not a base fit; the
iteration counts are capped (memory does not depend on them).

Baseline: one bare forward pass over the same rows, ``X @ W.T + b`` and its
argmax, 8,192 rows at a time (one chunk of logits: no ``N x C`` array), the
same dtype and device. The ratio is the cost of the fit + predict in such
passes; ``passes`` (in the row's ``note``) is how many passes over the rows
(a forward pass, or a forward + backward counted as one) the configuration
makes, so that ratio / passes is the cost of one of its passes against the
bare product.

Peak memory (``peak_mb``): the rise of the resident set during one fit +
predict in a fresh process (``run.py``'s memory run), X built beforehand,
i.e. the memory beyond X. ``max_peak_mb`` is the goal of issue #22: half of X
plus the model state, plus 256 MiB for the chunks themselves (64 MiB of
float32 logits each: at these reduced shapes the chunks, not X, dominate).

``--device cuda`` runs the same cases on a GPU (peak: CUDA memory allocated).
"""

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from benchmarks._harness import Case, main, make_features
from sklearn_lt import (
    LogitAdjustedClassifierCV,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
    TauNormClassifierCV,
)

CHUNK_ROWS = 8192
CHUNK_MIB = 256


def _frozen(d, c, device, seed=0):
    """A frozen linear base of ``c`` classes: random weights of unit-scale logits."""
    gen = torch.Generator().manual_seed(seed)
    W = (torch.randn(c, d, generator=gen) / d**0.5).to(device)
    return FrozenEstimator(
        SoftmaxClassifier.from_weights(W, torch.zeros(c, device=device), classes=np.arange(c))
    )


# name -> (estimator factory(base), passes over the N rows, note). An SGD epoch or
# a scoring of rows counts their share of N.
HEADS = {
    "LWSClassifier (1 epoch)": (
        lambda base: LWSClassifier(base, n_epochs=1, random_state=0), 3,
        "base logits' scale 1, 1 epoch, predict 1",
    ),
    "TauNormClassifierCV (cv=2, 21 taus)": (
        lambda base: TauNormClassifierCV(base, cv=2), 2,
        "sweep of both folds 1 (21 taus from one product), predict 1",
    ),
    "LogitAdjustedClassifierCV (cv=2, 21 taus)": (
        lambda base: LogitAdjustedClassifierCV(base, cv=2), 2,
        "sweep of both folds 1 (21 taus from one product), predict 1",
    ),
    "LORTClassifierCV (cv=2, 1 epoch, 1 smoothing)": (
        lambda base: LORTClassifierCV(base, smoothings=[0.98], n_epochs=1, cv=2, random_state=0),
        5, "per fold: 1 epoch on half, 2 scorings of the other half; final epoch 1; predict 1",
    ),
    "SoftmaxClassifier sgd + early stopping (1 epoch)": (
        lambda base: SoftmaxClassifier(solver="sgd", n_epochs=1, random_state=0), 2.33,
        "1 epoch on 2/3 of the rows, 2 scorings of 1/3, predict 1",
    ),
    "NCMClassifier": (
        lambda base: NCMClassifier(), 1, "predict 1 (mean and centroids: 2 reads of X, no logits)",
    ),
}


def _one_pass(X, W, b):
    for start in range(0, len(X), CHUNK_ROWS):
        torch.addmm(b, X[start : start + CHUNK_ROWS], W.T).argmax(1)


def _setup(name, n, d, c, device):
    X, y = make_features(n, d, c, device=device)
    base = _frozen(d, c, device)
    W = torch.as_tensor(base.coef_, device=device)
    b = torch.zeros(c, device=device)
    X_in = X.numpy() if device.type == "cpu" else X  # numpy on the CPU: as users pass it
    head = HEADS[name][0](base)
    if "early stopping" in name:
        cut = 2 * n // 3
        fit = lambda: head.fit(X_in[:cut], y[:cut], X_in[cut:], y[cut:])  # noqa: E731
    else:
        fit = lambda: head.fit(X_in, y)  # noqa: E731
    return lambda: fit().predict(X_in), lambda: _one_pass(X, W, b)


def _max_peak_mb(n, d, c):
    x_mb = n * d * 4 / 2**20
    state_mb = 8 * c * d * 4 / 2**20  # weights, gradients, momentum, copies
    return 0.5 * x_mb + state_mb + CHUNK_MIB


def cases(quick, device):
    sizes = [(2_000, 16, 50)] if quick else [(100_000, 128, 8_142), (115_846, 256, 1_000)]
    return [
        Case(
            f"fit+predict {name}", {"N": n, "d": d, "C": c},
            f"one pass: X @ W.T + b, argmax ({CHUNK_ROWS} rows at a time)",
            lambda a=(name, n, d, c): _setup(*a, device),
            max_peak_mb=_max_peak_mb(n, d, c),
            extra={"note": f"passes {passes}: {note}"},
        )
        for n, d, c in sizes
        for name, (_, passes, note) in HEADS.items()
    ]


if __name__ == "__main__":
    main(cases, processes=1, values=1, warmups=0, loops=1)
