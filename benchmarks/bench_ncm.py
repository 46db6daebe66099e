"""NCMClassifier fit + predict against scikit-learn's ``NearestCentroid``.

Same data for both: long-tailed features, L2-normalised row by row (float32),
predicted on the training rows. ``NCMClassifier(metric="euclidean",
center=False)`` then computes exactly what ``NearestCentroid()`` computes
(class means, nearest by Euclidean distance; normalising unit rows again
changes nothing); the default ``NCMClassifier()`` (rows centred on the
training mean before normalising: one more pass) is timed against the same
baseline at the smallest size.
Goal: faster than ``NearestCentroid`` (ratio at most 1).
"""

import torch
from sklearn.neighbors import NearestCentroid

from benchmarks._harness import Case, main, make_features
from sklearn_lt import NCMClassifier

EQUIVALENT = 'NCMClassifier(metric="euclidean", center=False)'
DEFAULT = "NCMClassifier() (centred, euclidean)"
HEADS = {EQUIVALENT: dict(metric="euclidean", center=False), DEFAULT: {}}


def _setup(n, d, c, params, device):
    X, y = make_features(n, d, c)
    X = torch.nn.functional.normalize(X, dim=1).numpy()
    # NCM on the benchmark's device: numpy on the CPU, tensors on a GPU
    X_in = X if device.type == "cpu" else torch.from_numpy(X).to(device)
    y_in = y if device.type == "cpu" else torch.from_numpy(y).to(device)
    head = NCMClassifier(**params)
    return (lambda: head.fit(X_in, y_in).predict(X_in),
            lambda: NearestCentroid().fit(X, y).predict(X))


def cases(quick, device):
    sizes = [(10_000, 512, 100, (EQUIVALENT, DEFAULT))]
    if not quick:
        sizes += [(100_000, 512, 100, (EQUIVALENT,)), (20_000, 512, 1000, (EQUIVALENT,))]
    return [
        Case(f"fit+predict {label}", {"N": n, "d": d, "C": c},
             "sklearn NearestCentroid fit+predict (CPU)",
             lambda n=n, d=d, c=c, label=label: _setup(n, d, c, HEADS[label], device), goal=1.0)
        for n, d, c, labels in sizes for label in labels
    ]


if __name__ == "__main__":
    main(cases)
