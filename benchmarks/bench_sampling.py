"""Drawing one epoch of row indices: the package samplers against one-line torch/numpy draws.

``ClassBalancedSampler`` / ``SquareRootSampler`` ``.sample_indices(y)`` (labels
in, indices out: label encoding, per-class rows and the draw) against
``torch.multinomial`` and ``np.random.choice`` with per-sample weights
``n_y**(q - 1)`` computed from the same labels (the ``WeightedRandomSampler``
recipe). The package's draw is stratified (exact class counts, every row of a
class before any row twice); the baselines are plain i.i.d. draws with the
same class probabilities. Also the trainer's per-epoch draw alone
(``draw_indices`` on precomputed per-class rows, what the SGD heads pay every
epoch) against ``torch.multinomial`` on precomputed weights. No goal: a cost
to know. The package draws on the CPU (numpy); ``torch.multinomial`` runs on
the benchmark's device.
"""

import numpy as np
import torch

from benchmarks._harness import Case, main, make_labels
from sklearn_lt import ClassBalancedSampler, SquareRootSampler
from sklearn_lt.sampling._probabilities import class_indices, draw_indices, target_counts

SAMPLERS = {"ClassBalancedSampler": ClassBalancedSampler, "SquareRootSampler": SquareRootSampler}


def _sampler_setup(name, baseline, n, c, device):
    y, sampler, rng = make_labels(n, c), SAMPLERS[name](), np.random.RandomState(0)
    q = sampler.q
    if baseline == "torch":
        y_dev, gen = torch.from_numpy(y).to(device), torch.Generator(device=device).manual_seed(0)

        def draw():
            w = (torch.bincount(y_dev).double() ** (q - 1.0))[y_dev]
            return torch.multinomial(w, n, replacement=True, generator=gen)
    else:

        def draw():
            w = (np.bincount(y).astype(np.float64) ** (q - 1.0))[y]
            return rng.choice(n, n, p=w / w.sum())

    return lambda: sampler.sample_indices(y, random_state=rng), draw


def _draw_setup(n, c, device):
    y, rng = make_labels(n, c), np.random.RandomState(0)
    per_class, counts = class_indices(y, c), target_counts(np.full(c, 1.0 / c), n)
    y_dev, gen = torch.from_numpy(y).to(device), torch.Generator(device=device).manual_seed(0)
    w = (1.0 / torch.bincount(y_dev).double())[y_dev]
    return (lambda: draw_indices(per_class, counts, rng),
            lambda: torch.multinomial(w, n, replacement=True, generator=gen))


def cases(quick, device):
    out = []
    for n, c in [(100_000, 1000)] if quick else [(1_000_000, 1000), (20_000, 1000)]:
        size = {"N": n, "C": c}
        for name in SAMPLERS:
            out.append(Case(f"{name}.sample_indices", size, "torch.multinomial, weights from y",
                            lambda a=(name, "torch", n, c): _sampler_setup(*a, device)))
            out.append(Case(f"{name}.sample_indices", size, "np.random.choice, weights from y",
                            lambda a=(name, "numpy", n, c): _sampler_setup(*a, device)))
        out.append(Case("draw_indices class-balanced (trainer, per epoch)", size,
                        "torch.multinomial, precomputed weights",
                        lambda n=n, c=c: _draw_setup(n, c, device)))
    return out


if __name__ == "__main__":
    main(cases)
