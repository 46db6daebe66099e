"""Stage one: BackboneEmbedder (skorch) against hand-written torch loops.

* ``fit one epoch``: ``BackboneEmbedder(max_epochs=1).fit(X, y)`` against a
  hand-written loop with the same network (built by the same function, same
  seed), the same data, batch size, optimizer (SGD, momentum 0.9, weight
  decay 5e-4) and sampler (an ``EpochIndexSampler`` over instance-balanced
  sampling). Both include building the network and the optimizer; the loop
  gathers each batch from the in-memory tensor. The ratio is skorch's
  overhead (callbacks, history, DataLoader). Goal: within 1.1x.
* ``transform``: features of many rows in batches against a bare
  ``torch.no_grad()`` loop of ``module_.features`` over slices of the tensor
  (which concatenates its batches; the embedder fills one preallocated
  output). Goal: within 1.1x, and a peak memory of at most the returned
  features plus 32 MiB at both sizes: it must not grow with N beyond them.
* ``fit ... n_threads=1``: the default ``n_threads=1`` against torch's own
  default (``n_threads=None``: one thread per core), wall time, the same fit
  otherwise; on the ConvNet (digits-sized images) and ResNet-32 (CIFAR-sized).
  What ``BackboneEmbedder``'s default was chosen from. Goal: not slower (1.0x).
"""

import torch

from benchmarks._harness import Case, main, make_labels
from sklearn_lt.backbone import BackboneEmbedder, JointNet, build_network
from sklearn_lt.sampling import EpochIndexSampler, InstanceBalancedSampler

N_CLASSES = 10
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def _images(n_rows, shape, seed=0):
    """Long-tailed labels and random images (speed does not depend on the values)."""
    y = make_labels(n_rows, N_CLASSES, imbalance=50, seed=seed)
    X = torch.rand((n_rows, *shape), generator=torch.Generator().manual_seed(seed))
    return X.numpy(), y


def _embedder(network, batch_size, device, n_threads=None):
    # n_threads=None: the process's setting (--threads), as the hand-written loops have it
    return BackboneEmbedder(network, max_epochs=1, batch_size=batch_size, lr=LR,
                            device=str(device), verbose=0, random_state=0, n_threads=n_threads)


def hand_written_epoch(network, X, y, batch_size, device, seed=0):
    """One epoch the way one writes it by hand: same network, sampler, optimizer."""
    torch.manual_seed(seed)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y, device=device)
    backbone = build_network(network, X_t.shape[1])
    net = JointNet(backbone, backbone.feature_dim, N_CLASSES).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY)
    sampler = EpochIndexSampler(InstanceBalancedSampler(), y, n_epochs=1, random_state=seed)
    order = torch.as_tensor(list(sampler), device=device)
    net.train()
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss = torch.nn.functional.cross_entropy(net(X_t[rows]), y_t[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net


@torch.no_grad()
def bare_features(net, X, batch_size, device):
    """Features by a plain no_grad loop over slices of the tensor."""
    net.eval()
    X_t = torch.as_tensor(X, device=device)
    parts = [net.features(X_t[i : i + batch_size]) for i in range(0, len(X_t), batch_size)]
    return torch.cat(parts).cpu().numpy()


def _fit_setup(network, shape, n_rows, batch_size, device):
    X, y = _images(n_rows, shape)
    # On a GPU both get the images already there (the loop moves them once).
    X_in = X if device.type == "cpu" else torch.as_tensor(X, device=device)
    return (lambda: _embedder(network, batch_size, device).fit(X_in, y),
            lambda: hand_written_epoch(network, X_in, y, batch_size, device))


def _threads_setup(network, shape, n_rows, batch_size, device):
    X, y = _images(n_rows, shape)
    return (lambda: _embedder(network, batch_size, device, n_threads=1).fit(X, y),
            lambda: _embedder(network, batch_size, device).fit(X, y))


def _transform_setup(n_rows, batch_size, device):
    embedder = _embedder("convnet", batch_size, device).fit(*_images(4 * batch_size, (1, 8, 8), 1))
    X, _ = _images(n_rows, (1, 8, 8))
    return (lambda: embedder.transform(X),
            lambda: bare_features(embedder.module_, X, batch_size, device))


def cases(quick, device):
    fits = [("convnet", (1, 8, 8), 2048 if quick else 8192, 32)]
    if not quick:
        fits.append(("resnet32", (3, 32, 32), 512 if device.type == "cpu" else 8192, 128))
    out = [
        Case(f"fit one epoch ({network})",
             {"N": n, "image": "x".join(map(str, shape)), "batch": batch},
             "hand-written torch loop",
             lambda a=(network, shape, n, batch): _fit_setup(*a, device), goal=1.1)
        for network, shape, n, batch in fits
    ]
    if device.type == "cpu":
        out += [
            Case(f"fit one epoch ({network}) n_threads=1",
                 {"N": n, "image": "x".join(map(str, shape)), "batch": batch},
                 f"torch's default threads ({torch.get_num_threads()})",
                 lambda a=(network, shape, n, batch): _threads_setup(*a, device), goal=1.0)
            for network, shape, n, batch in fits
        ]
    feature_dim = build_network("convnet", 1).feature_dim
    for n in (20_000,) if quick else (100_000, 500_000):
        output_mb = n * feature_dim * 4 / 2**20
        out.append(Case("transform (convnet features)", {"N": n, "image": "1x8x8", "batch": 256},
                        "no_grad loop over slices",
                        lambda n=n: _transform_setup(n, 256, device), goal=1.1,
                        max_peak_mb=output_mb + 32, extra={"output_mb": output_mb}))
    return out


if __name__ == "__main__":
    main(cases, processes=1, values=3, warmups=1, loops=1)
