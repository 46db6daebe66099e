"""Drawing one epoch of row indices: the package samplers against one-line torch/numpy draws.

``ClassBalancedSampler`` / ``SquareRootSampler`` ``.sample_indices(y)`` (labels
in, indices out: label encoding, per-class rows and the draw) against
``torch.multinomial`` and ``np.random.choice`` with per-sample weights
``n_y**(q - 1)`` computed from the same labels (the ``WeightedRandomSampler``
recipe). The package's draw is stratified (exact class counts, every row of a
class before any row twice); the baselines are plain i.i.d. draws with the
same class probabilities. Also the trainer's per-epoch draw alone
(``draw_indices`` on precomputed per-class rows, what cRT/LWS pay every epoch)
against ``torch.multinomial`` on precomputed weights. No goal: a cost to know.
The package draws on the CPU (numpy); ``torch.multinomial`` runs on the
benchmark's device.
"""

import numpy as np
import torch

from benchmarks._common import compare, current_device, make_labels, row, size_label
from sklearn_lt import ClassBalancedSampler, SquareRootSampler
from sklearn_lt.sampling._probabilities import class_indices, draw_indices, target_counts

# (N, C, timed repeats)
GRID = [(1_000_000, 1000, 3), (20_000, 1000, 10)]
QUICK = [(100_000, 1000, 3)]


def _weights(y, q):
    """Per-sample weights giving class ``j`` a mass proportional to ``n_j**q``."""
    return (np.bincount(y).astype(np.float64) ** (q - 1.0))[y]


def _sampler_rows(sampler, y, repeat, device):
    n, q = len(y), sampler.q
    rng = np.random.RandomState(0)
    gen = torch.Generator(device=device).manual_seed(0)
    y_dev = torch.from_numpy(y).to(device)

    def ours():
        return sampler.sample_indices(y, random_state=rng)

    def torch_draw():
        w = (torch.bincount(y_dev).double() ** (q - 1.0))[y_dev]
        return torch.multinomial(w, n, replacement=True, generator=gen)

    def numpy_draw():
        w = _weights(y, q)
        return rng.choice(n, n, p=w / w.sum())

    rows = []
    for base_name, base in (
        ("torch.multinomial, weights from y", torch_draw),
        ("np.random.choice, weights from y", numpy_draw),
    ):
        t, t_base = compare(ours, base, repeat=repeat, warmup=1, device=device)
        rows.append(
            row(
                f"{type(sampler).__name__}.sample_indices",
                size_label(N=n, C=int(y.max()) + 1),
                t,
                base_name,
                t_base,
                device=device,
            )
        )
    return rows


def _trainer_draw_row(y, repeat, device):
    n, c = len(y), int(y.max()) + 1
    per_class = class_indices(y, c)
    counts = target_counts(np.full(c, 1.0 / c), n)
    rng = np.random.RandomState(0)
    w = torch.as_tensor(_weights(y, 0.0), device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    t, t_base = compare(
        lambda: draw_indices(per_class, counts, rng),
        lambda: torch.multinomial(w, n, replacement=True, generator=gen),
        repeat=repeat,
        warmup=1,
        device=device,
    )
    return row(
        "draw_indices class-balanced (trainer, per epoch)",
        size_label(N=n, C=c),
        t,
        "torch.multinomial, precomputed weights",
        t_base,
        device=device,
    )


def run(quick=False, device=None):
    device = torch.device(device) if device is not None else current_device()
    rows = []
    for n, c, repeat in QUICK if quick else GRID:
        y = make_labels(n, c)
        for sampler in (ClassBalancedSampler(), SquareRootSampler()):
            rows += _sampler_rows(sampler, y, repeat, device)
        rows.append(_trainer_draw_row(y, repeat, device))
    return rows
