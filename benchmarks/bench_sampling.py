"""Drawing one epoch of row indices: the package samplers against one-line torch/numpy draws.

``ClassBalancedSampler`` / ``SquareRootSampler`` ``.sample_indices(y)`` (labels
in, indices out: label encoding, per-class rows and the draw) against three
one-liners that compute everything from the same labels on every call:
``torch.multinomial`` and ``np.random.choice`` with per-sample weights
``n_y**(q - 1)`` (the ``WeightedRandomSampler`` recipe), and a class drawn
with ``np.random.choice(C, p=p_class)`` then a row at a uniform offset within
it (rows grouped by a stable argsort of ``y``). The package's draw is
stratified (exact class counts, every row of a class before any row twice);
the baselines are plain i.i.d. draws with the same class probabilities.

``EpochIndexSampler`` feeding a ``DataLoader`` (``list(sampler)``, and
``list(BatchSampler(sampler, 512))``, what a loader iterates) against torch's
``WeightedRandomSampler`` with the same per-sample weights, consumed the same
way. Also the trainer's per-epoch draw alone (``draw_indices`` on precomputed
per-class rows, what the SGD heads pay every epoch) against
``torch.multinomial`` on precomputed weights.

Sizes: 1e6 labels of 1,000 classes, iNaturalist 2018's 437,513 labels of
8,142 classes (issue #22, goal: within 2x of every one-liner), and 2e4 of
1,000. The package draws on the CPU (numpy); the torch baselines run on the
benchmark's device (``WeightedRandomSampler`` on the CPU, as in a loader).
"""

import numpy as np
import torch
from torch.utils.data import BatchSampler, WeightedRandomSampler

from benchmarks._harness import Case, main, make_labels
from sklearn_lt import ClassBalancedSampler, SquareRootSampler
from sklearn_lt.sampling import EpochIndexSampler
from sklearn_lt.sampling._probabilities import class_indices, draw_indices, target_counts

SAMPLERS = {"ClassBalancedSampler": ClassBalancedSampler, "SquareRootSampler": SquareRootSampler}
BASELINES = {
    "torch": "torch.multinomial, weights from y",
    "numpy": "np.random.choice, weights from y",
    "class-offset": "np.random.choice of a class, then an offset in it, from y",
}
INAT = (437_513, 8_142)


def _sampler_setup(name, baseline, n, c, device):
    y, sampler, rng = make_labels(n, c), SAMPLERS[name](), np.random.RandomState(0)
    q = sampler.q
    if baseline == "torch":
        y_dev, gen = torch.from_numpy(y).to(device), torch.Generator(device=device).manual_seed(0)

        def draw():
            w = (torch.bincount(y_dev).double() ** (q - 1.0))[y_dev]
            return torch.multinomial(w, n, replacement=True, generator=gen)
    elif baseline == "numpy":

        def draw():
            w = (np.bincount(y).astype(np.float64) ** (q - 1.0))[y]
            return rng.choice(n, n, p=w / w.sum())
    else:

        def draw():
            counts = np.bincount(y)
            p = counts.astype(np.float64) ** q
            rows, starts = np.argsort(y, kind="stable"), np.cumsum(counts) - counts
            cls = rng.choice(len(counts), n, p=p / p.sum())
            return rows[starts[cls] + (rng.random_sample(n) * counts[cls]).astype(np.int64)]

    return lambda: sampler.sample_indices(y, random_state=rng), draw


def _loader_setup(batch_size, n, c):
    y = make_labels(n, c)
    ours = EpochIndexSampler(ClassBalancedSampler(), y, random_state=0)
    weights = torch.from_numpy(1.0 / np.bincount(y))[torch.from_numpy(y)]
    theirs = WeightedRandomSampler(weights, n, generator=torch.Generator().manual_seed(0))
    if batch_size:
        ours = BatchSampler(ours, batch_size, drop_last=False)
        theirs = BatchSampler(theirs, batch_size, drop_last=False)
    return lambda: list(ours), lambda: list(theirs)


def _draw_setup(n, c, device):
    y, rng = make_labels(n, c), np.random.RandomState(0)
    per_class, counts = class_indices(y, c), target_counts(np.full(c, 1.0 / c), n)
    y_dev, gen = torch.from_numpy(y).to(device), torch.Generator(device=device).manual_seed(0)
    w = (1.0 / torch.bincount(y_dev).double())[y_dev]
    return (lambda: draw_indices(per_class, counts, rng),
            lambda: torch.multinomial(w, n, replacement=True, generator=gen))


def cases(quick, device):
    out = []
    sizes = [(100_000, 1000)] if quick else [(1_000_000, 1000), INAT, (20_000, 1000)]
    for n, c in sizes:
        size = {"N": n, "C": c}
        goal = 2.0 if (n, c) == INAT else None
        for name in SAMPLERS:
            for baseline, label in BASELINES.items():
                out.append(Case(f"{name}.sample_indices", size, label,
                                lambda a=(name, baseline, n, c): _sampler_setup(*a, device),
                                goal=goal))
        for batch_size in (None, 512):
            what = "list(EpochIndexSampler(ClassBalancedSampler()))"
            base = "list(WeightedRandomSampler), weights from y"
            if batch_size:
                what = f"list(BatchSampler(EpochIndexSampler(...), {batch_size}))"
                base = f"list(BatchSampler(WeightedRandomSampler(...), {batch_size}))"
            out.append(Case(what, size, base, lambda b=batch_size, n=n, c=c: _loader_setup(b, n, c),
                            goal=goal))
        out.append(Case("draw_indices class-balanced (trainer, per epoch)", size,
                        "torch.multinomial, precomputed weights",
                        lambda n=n, c=c: _draw_setup(n, c, device)))
    return out


if __name__ == "__main__":
    main(cases)
