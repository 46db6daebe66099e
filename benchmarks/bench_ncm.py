"""NCMClassifier fit + predict against scikit-learn's ``NearestCentroid``.

Same data for both: long-tailed features, L2-normalised row by row (float32),
predicted on the training rows. ``NCMClassifier(metric="euclidean",
center=False)`` then computes exactly what ``NearestCentroid()`` computes (class
means, nearest by Euclidean distance; normalising unit rows again changes
nothing), and the rows record how often the predictions agree. The default
``NCMClassifier()`` (centring, cosine; same cost) is timed against the same
baseline at the smallest size.
goal: faster than ``NearestCentroid`` (ratio at most 1).
"""

import numpy as np
import torch
from sklearn.neighbors import NearestCentroid

from benchmarks._common import compare, current_device, make_features, row, size_label
from sklearn_lt import NCMClassifier

# (N, d, C, timed repeats, heads)
EQUIVALENT = 'NCMClassifier(metric="euclidean", center=False)'
DEFAULT = "NCMClassifier() (cosine, centred)"
GRID = [
    (10_000, 512, 100, 5, (EQUIVALENT, DEFAULT)),
    (100_000, 512, 100, 3, (EQUIVALENT,)),
    (20_000, 512, 1000, 3, (EQUIVALENT,)),
]
QUICK = [(10_000, 512, 100, 3, (EQUIVALENT, DEFAULT))]
GOAL = 1.0

HEADS = {EQUIVALENT: dict(metric="euclidean", center=False), DEFAULT: {}}


def _rows(n, d, c, repeat, labels, device):
    X, y = make_features(n, d, c)
    X = torch.nn.functional.normalize(X, dim=1).numpy()
    # NCM on the benchmark's device: numpy on the CPU, tensors on a GPU
    X_in = X if device.type == "cpu" else torch.from_numpy(X).to(device)
    y_in = y if device.type == "cpu" else torch.from_numpy(y).to(device)

    def baseline():
        return NearestCentroid().fit(X, y).predict(X)

    expected = baseline()
    rows = []
    for label in labels:
        head = NCMClassifier(**HEADS[label])

        def fit_predict(head=head):
            return head.fit(X_in, y_in).predict(X_in)

        agreement = float(np.mean(np.asarray(torch.as_tensor(fit_predict()).cpu()) == expected))
        t, t_base = compare(fit_predict, baseline, repeat=repeat, warmup=1, device=device)
        rows.append(
            row(
                f"fit+predict {label}",
                size_label(N=n, d=d, C=c),
                t,
                "sklearn NearestCentroid fit+predict (CPU)",
                t_base,
                goal=GOAL,
                device=device,
                agreement=agreement,
            )
        )
    return rows


def run(quick=False, device=None):
    device = torch.device(device) if device is not None else current_device()
    grid = QUICK if quick else GRID
    return [r for n, d, c, repeat, labels in grid for r in _rows(n, d, c, repeat, labels, device)]
