"""Stage one: BackboneEmbedder (skorch) against hand-written torch loops.

Two measurements, each against its baseline in the same run:

* ``fit one epoch``: ``BackboneEmbedder(max_epochs=1).fit(X, y)`` against a
  hand-written loop with the same network (built by the same function, same
  seed), the same data, batch size, optimizer (SGD, momentum 0.9, weight
  decay 5e-4) and sampler (an ``EpochIndexSampler`` over instance-balanced
  sampling). Both include building the network and the optimizer; the loop
  gathers each batch from the in-memory tensor. The ratio is skorch's
  overhead (callbacks, history, DataLoader). Goal: at most 1.1x.
* ``transform``: features of many rows in batches against a bare
  ``torch.no_grad()`` loop of ``module_.features`` over slices of the tensor,
  with peak memory of both (the embedder fills one preallocated output; the
  loop concatenates its batches), and the embedder's peak at 10x the rows:
  beyond its output it must not grow with N.

``run(quick=False)`` returns the rows; ``python benchmarks/bench_backbone.py``
prints them.
"""

import sys
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    compare,
    current_device,
    format_table,
    make_labels,
    peak_memory_mb,
    row,
    sync,
)
from sklearn_lt.backbone import BackboneEmbedder, JointNet, build_network
from sklearn_lt.sampling import EpochIndexSampler, InstanceBalancedSampler

GOAL = 1.1
N_CLASSES = 10
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def _images(n_rows, shape, seed=0):
    """Long-tailed labels and random images (speed does not depend on the values)."""
    y = make_labels(n_rows, N_CLASSES, imbalance=50, seed=seed)
    X = torch.rand((n_rows, *shape), generator=torch.Generator().manual_seed(seed))
    return X.numpy(), y


def _embedder(network, batch_size, device, max_epochs=1, **kwargs):
    return BackboneEmbedder(
        network,
        max_epochs=max_epochs,
        batch_size=batch_size,
        lr=LR,
        device=device,
        verbose=0,
        random_state=0,
        **kwargs,
    )


def hand_written_epoch(network, X, y, batch_size, device, seed=0):
    """One epoch the way one writes it by hand: same network, sampler, optimizer."""
    torch.manual_seed(seed)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y, device=device)
    backbone = build_network(network, X_t.shape[1])
    net = JointNet(backbone, backbone.feature_dim, N_CLASSES).to(device)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    sampler = EpochIndexSampler(InstanceBalancedSampler(), y, n_epochs=1, random_state=seed)
    order = torch.as_tensor(list(sampler), device=device)
    net.train()
    total = torch.zeros((), device=device)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss = torch.nn.functional.cross_entropy(net(X_t[rows]), y_t[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(rows)
    return float(total) / len(order)


@torch.no_grad()
def bare_features(net, X, batch_size, device):
    """Features by a plain no_grad loop over slices of the tensor."""
    net.eval()
    X_t = torch.as_tensor(X, device=device)
    parts = [net.features(X_t[i : i + batch_size]) for i in range(0, len(X_t), batch_size)]
    return torch.cat(parts).cpu().numpy()


# ------------------------------------------------------------ memory cases
def _fitted_for_transform(network, shape, batch_size, device):
    X_small, y_small = _images(4 * batch_size, shape, seed=1)
    return _embedder(network, batch_size, device).fit(X_small, y_small)


def transform_case(network, shape, n_rows, batch_size, which, device="cpu"):
    """Peak-memory case: returns the call to measure (see ``_common.peak_memory_mb``)."""
    embedder = _fitted_for_transform(network, tuple(shape), batch_size, device)
    X, _ = _images(n_rows, tuple(shape))
    if which == "embedder":
        return lambda: embedder.transform(X)
    net = embedder.module_
    return lambda: bare_features(net, X, batch_size, device)


# -------------------------------------------------------------------- run
# Best of 3 alternated repeats: a resnet32 epoch on one CPU thread takes ~4 s.
REPEAT = 3


def _fit_rows(device, quick):
    cases = [("convnet", (1, 8, 8), 2048 if quick else 8192, 32)]
    if not quick:
        cases.append(("resnet32", (3, 32, 32), 512 if device.type == "cpu" else 8192, 128))
    rows = []
    for network, shape, n_rows, batch_size in cases:
        X, y = _images(n_rows, shape)
        # On a GPU both get the images already there (the loop moves them once).
        X_in = X if device.type == "cpu" else torch.as_tensor(X, device=device)

        def ours(network=network, X=X_in, y=y, batch_size=batch_size):
            _embedder(network, batch_size, str(device)).fit(X, y)

        def baseline(network=network, X=X_in, y=y, batch_size=batch_size):
            hand_written_epoch(network, X, y, batch_size, device)

        ours_t, base_t = compare(ours, baseline, repeat=REPEAT, device=device)
        rows.append(
            row(
                f"fit one epoch ({network})",
                {"N": n_rows, "image": "x".join(map(str, shape)), "batch": batch_size},
                ours_t,
                "hand-written torch loop",
                base_t,
                goal=GOAL,
                device=str(device),
            )
        )
    return rows


def _transform_rows(device, quick):
    network, shape, batch_size = "convnet", (1, 8, 8), 256
    n_rows = 20_000 if quick else 100_000
    embedder = _fitted_for_transform(network, shape, batch_size, str(device))
    X, _ = _images(n_rows, shape)
    net = embedder.module_

    def ours():
        embedder.transform(X)

    def baseline():
        bare_features(net, X, batch_size, device)

    ours_t, base_t = compare(ours, baseline, repeat=REPEAT, device=device)
    sync(device)
    args = (network, list(shape), n_rows, batch_size)
    peak = peak_memory_mb(transform_case, *args, "embedder", device=device)
    base_peak = peak_memory_mb(transform_case, *args, "baseline", device=device)
    output_mb = n_rows * embedder.feature_dim_ * 4 / 2**20
    rows = [
        row(
            "transform (convnet features)",
            {"N": n_rows, "image": "1x8x8", "batch": batch_size},
            ours_t,
            "no_grad loop over slices",
            base_t,
            peak_mb=peak,
            goal=GOAL,
            device=str(device),
            baseline_peak_mb=base_peak,
            output_mb=output_mb,
        )
    ]
    if not quick:
        # Peak at 10x the rows: beyond the returned features, memory must not
        # grow with N (goal: what the 1e5-row call used beyond its output,
        # plus 16 MiB of allocator slack).
        big = 10 * n_rows
        big_output_mb = big * embedder.feature_dim_ * 4 / 2**20
        big_peak = peak_memory_mb(
            transform_case, network, list(shape), big, batch_size, "embedder", device=device
        )
        bound_mb = big_output_mb + max(peak - output_mb, 0) + 16
        rows.append(
            row(
                "transform peak memory (convnet features)",
                {"N": big, "image": "1x8x8", "batch": batch_size},
                None,
                f"the same at N={n_rows:.0e} beyond its output",
                None,
                peak_mb=big_peak,
                baseline_peak_mb=peak,
                device=str(device),
                goal=f"<= {bound_mb:.0f} MiB",
                met=bool(big_peak <= bound_mb),
                output_mb=big_output_mb,
            )
        )
    return rows


def run(quick=False, device=None):
    """Benchmark rows (``benchmark, size, seconds, baseline, baseline_seconds, ratio, peak_mb``).

    ``device`` defaults to ``_common.current_device()`` (``run.py --device``).
    """
    device = torch.device(device) if device is not None else current_device()
    return _fit_rows(device, quick) + _transform_rows(device, quick)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    device = "cuda" if "--cuda" in sys.argv else None
    results = run(quick=quick, device=device)
    print(format_table(results))
