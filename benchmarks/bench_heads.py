"""Stage-two heads: predict speed, fit speed and predict memory, each against a baseline.

(a) ``predict`` / ``decision_function`` of every head against a bare
    ``torch.addmm(b, X, W.T)`` (+ ``argmax``) with the head's own weights, same
    device and dtype (float32). goal: within 1.2x. Every head at the small
    sizes; at the large ones the two distinct code paths: ``SoftmaxClassifier``
    (the shared linear path of tau-norm, cRT, LWS and LORT: same code) and
    ``NCMClassifier`` (which also divides each row's logits by its distance
    to the training mean: one more pass over the features). On the
    CPU the heads get numpy input (the usual case) and, where marked, torch
    tensors; on CUDA, tensors on the GPU.
(b) ``fit`` of cRT, LWS and LORT against a hand-written torch loop with the same
    epochs, batch size, optimizer (SGD, momentum, weight decay, per-epoch cosine
    learning rate), loss and sampling distribution (indices drawn per epoch with
    ``torch.multinomial`` over per-sample weights, or ``torch.randperm`` for
    instance-balanced LORT, as a hand-written loop does). goal: within 1.1x.
    Also against the arithmetic limit: the time of the loop's matrix products
    alone (forward ``B x d @ d x C``, and for cRT/LORT the weight gradient
    ``C x B @ B x d``, each timed at its exact shape), no goal.
(c) peak memory of ``predict`` on 1e6 rows (each case in a fresh process),
    beside the unblocked baseline's. goal: bounded by the predict block, not
    by N: at most 1.25x one block of logits and the labels twice (the
    returned labels themselves grow with N).
"""

import math
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.frozen import FrozenEstimator

from benchmarks._common import (
    compare,
    current_device,
    make_features,
    matmul_seconds,
    peak_memory_many,
    row,
    size_label,
)
from sklearn_lt import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
)

ALL_HEADS = (
    "SoftmaxClassifier",
    "TauNormClassifier",
    "CRTClassifier",
    "LWSClassifier",
    "LORTClassifier",
    "NCMClassifier",
)
PATHS = ("SoftmaxClassifier", "NCMClassifier")
BOTH = ("predict", "decision_function")

# (N, d, C, heads, methods, CPU input kinds, timed repeats). Small calls get
# more repeats: on a shared machine their best time needs more tries.
OTHERS = tuple(name for name in ALL_HEADS if name not in PATHS)
PREDICT_GRID = [
    (10_000, 512, 100, ALL_HEADS, BOTH, ("numpy", "torch"), 15),
    (100_000, 512, 100, PATHS, BOTH, ("numpy", "torch"), 5),
    (100_000, 512, 100, OTHERS, ("predict",), ("numpy",), 5),
    (100_000, 512, 1000, PATHS, ("predict",), ("numpy",), 2),
    (10_000, 2048, 1000, PATHS, ("predict",), ("numpy",), 2),
    (1_000_000, 512, 100, PATHS, ("predict",), ("numpy",), 2),
]
PREDICT_QUICK = [(10_000, 512, 100, PATHS, BOTH, ("numpy", "torch"), 3)]

# (N, d, C, epochs, timed repeats)
FIT_GRID = [(20_000, 512, 100, 2, 5), (10_000, 512, 1000, 2, 5)]
FIT_QUICK = [(5_000, 256, 100, 1, 2)]

# predict memory at N rows, d, C, for each (head, input kind); fresh process each
MEMORY_N, MEMORY_N_QUICK = (1_000_000,), (100_000,)
MEMORY_D, MEMORY_C = 256, 100
MEMORY_CASES = [
    ("SoftmaxClassifier", "numpy"),
    ("SoftmaxClassifier", "torch"),
    ("NCMClassifier", "numpy"),
]

PREDICT_GOAL, FIT_GOAL = 1.2, 1.1


# ----------------------------------------------------------------- helpers
def _fit_input(X, device):
    """numpy on the CPU (the usual user input), a tensor on the device otherwise."""
    return X.numpy() if device.type == "cpu" else X.to(device)


def fitted_heads(n_features, n_classes, names=ALL_HEADS, *, device):
    """Every head fitted on a small set with ``n_classes`` classes.

    Predict cost depends on the shapes only, not on how well the head fits.
    """
    gen = torch.Generator().manual_seed(0)
    y = np.tile(np.arange(n_classes), 4)
    means = 3 * torch.randn(n_classes, n_features, generator=gen)
    X = _fit_input(torch.randn(len(y), n_features, generator=gen) + means[y], device)
    base = SoftmaxClassifier(n_epochs=2, random_state=0).fit(X, y)
    frozen = FrozenEstimator(base)
    makers = {
        "SoftmaxClassifier": lambda: base,
        "TauNormClassifier": lambda: TauNormClassifier(frozen, tau=1.0),
        "CRTClassifier": lambda: CRTClassifier(n_epochs=1, random_state=0),
        "LWSClassifier": lambda: LWSClassifier(frozen, n_epochs=1, random_state=0),
        "LORTClassifier": lambda: LORTClassifier(frozen, n_epochs=1, random_state=0),
        "NCMClassifier": lambda: NCMClassifier(),
    }
    heads = {}
    for name in names:
        head = makers[name]()
        heads[name] = head if head is base else head.fit(X, y)
    return heads


def head_weights(head, device):
    """``coef_`` and ``intercept_`` as float32 tensors on ``device`` (the baseline's weights)."""
    W = torch.as_tensor(head.coef_).to(device=device, dtype=torch.float32).contiguous()
    b = torch.as_tensor(head.intercept_).to(device=device, dtype=torch.float32)
    return W, b


# --------------------------------------------------------- (a) predict speed
def _predict_case(head, X_in, X, method, repeat, device):
    """Time ``head.<method>(X_in)`` against the bare product on ``X`` (the same rows)."""
    W, b = head_weights(head, device)
    call = getattr(head, method)
    if method == "predict":

        def baseline():
            return torch.addmm(b, X, W.T).argmax(1)

    else:

        def baseline():
            return torch.addmm(b, X, W.T)

    return compare(lambda: call(X_in), baseline, repeat=repeat, warmup=1, device=device)


def bench_predict(grid, device):
    rows = []
    for n, d, c, names, methods, kinds, repeat in grid:
        X, _ = make_features(n, d, c, device=device)
        heads = fitted_heads(d, c, names, device=device)
        inputs = {"numpy": X.numpy()} if device.type == "cpu" and "numpy" in kinds else {}
        if device.type != "cpu" or "torch" in kinds:
            inputs["torch"] = X
        for name, head in heads.items():
            for kind, X_in in inputs.items():
                for method in methods:
                    t, t_base = _predict_case(head, X_in, X, method, repeat, device)
                    base_name = "X @ W.T + b" + (" + argmax" if method == "predict" else "")
                    rows.append(
                        row(
                            f"{method} {name} ({kind})",
                            size_label(N=n, d=d, C=c),
                            t,
                            base_name,
                            t_base,
                            goal=PREDICT_GOAL,
                            device=device,
                        )
                    )
        del X, inputs, heads
    return rows


# ------------------------------------------------------------ (b) fit speed
def _fit_heads(epochs, base):
    """The heads under test, with every training setting explicit (the loop copies them)."""
    frozen = FrozenEstimator(base)
    return {
        "CRTClassifier": (
            CRTClassifier(
                n_epochs=epochs,
                batch_size=512,
                lr=0.2,
                momentum=0.9,
                weight_decay=5e-4,
                random_state=0,
            ),
            dict(kind="crt", batch=512, lr=0.2, momentum=0.9, wd=5e-4, smoothing=0.0, q=0.0),
        ),
        "LWSClassifier": (
            LWSClassifier(
                frozen,
                n_epochs=epochs,
                batch_size=512,
                lr=0.2,
                momentum=0.9,
                weight_decay=0.0,
                random_state=0,
            ),
            dict(kind="lws", batch=512, lr=0.2, momentum=0.9, wd=0.0, smoothing=0.0, q=0.0),
        ),
        "LORTClassifier": (
            LORTClassifier(
                frozen,
                smoothing=0.98,
                n_epochs=epochs,
                batch_size=64,
                lr=2e-3,
                momentum=0.9,
                weight_decay=0.0,
                random_state=0,
            ),
            dict(kind="lort", batch=64, lr=2e-3, momentum=0.9, wd=0.0, smoothing=0.98, q=1.0),
        ),
    }


def torch_loop(
    X, y, base_W, base_b, *, kind, epochs, batch, lr, momentum, wd, smoothing, q, seed=0
):
    """The hand-written torch training loop a user would write for each head.

    ``q=0``: class-balanced draws (``torch.multinomial`` over per-sample weights
    ``1 / n_y``, as ``WeightedRandomSampler``); ``q=1``: a permutation per epoch.
    """
    X = torch.as_tensor(X)
    device = X.device
    y = torch.as_tensor(y, device=device)
    n, d = X.shape
    n_classes = base_W.shape[0]
    gen = torch.Generator(device=device).manual_seed(seed)
    if kind == "lws":
        W, b = base_W, base_b
        scales = torch.ones(n_classes, device=device, requires_grad=True)
        params = [scales]

        def forward(xb):
            return scales * F.linear(xb, W, b)
    else:
        linear = torch.nn.Linear(d, n_classes, device=device)
        if kind == "lort":  # LORT continues from the base classifier
            with torch.no_grad():
                linear.weight.copy_(base_W)
                linear.bias.copy_(base_b)
        params = list(linear.parameters())
        forward = linear
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if q == 0.0:
        weights = (1.0 / torch.bincount(y).to(X.dtype))[y]
    for _ in range(epochs):
        if q == 0.0:
            order = torch.multinomial(weights, n, replacement=True, generator=gen)
        else:
            order = torch.randperm(n, device=device, generator=gen)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            loss = F.cross_entropy(forward(X[rows]), y[rows], label_smoothing=smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        schedule.step()
    return params


def fit_limit(n, d, c, epochs, batch, kind, device):
    """Seconds of the training loop's matrix products alone, each timed at its exact shape."""
    per_step = matmul_seconds(batch, d, c, device=device)  # logits: B x d @ d x C
    if kind != "lws":  # weight gradient: C x B @ B x d (LWS trains C scales only)
        per_step += matmul_seconds(c, batch, d, device=device)
    return epochs * math.ceil(n / batch) * per_step


def _fit_rows(n, d, c, epochs, device, repeat):
    X, y = make_features(n, d, c, device=device)
    X_in = _fit_input(X, device)
    base = SoftmaxClassifier(n_epochs=1, random_state=0).fit(X_in, y)
    base_W, base_b = head_weights(base, device)
    size = size_label(N=n, d=d, C=c, epochs=epochs)
    rows = []
    for name, (head, cfg) in _fit_heads(epochs, base).items():
        t, t_base = compare(
            partial(head.fit, X_in, y),
            partial(torch_loop, X, y, base_W, base_b, epochs=epochs, **cfg),
            repeat=repeat,
            warmup=1,
            device=device,
        )
        limit = fit_limit(n, d, c, epochs, cfg["batch"], cfg["kind"], device)
        label = f"fit {name} (batch {cfg['batch']})"
        rows.append(
            row(
                label,
                size,
                t,
                "hand-written torch loop",
                t_base,
                goal=FIT_GOAL,
                device=device,
            )
        )
        rows.append(
            row(
                label,
                size,
                t,
                "matmul limit",
                limit,
                device=device,
                note=f"torch loop: {t_base['best'] / limit:.2f}x the limit",
            )
        )
    return rows


def bench_fit(grid, device):
    return [
        r for n, d, c, epochs, repeat in grid for r in _fit_rows(n, d, c, epochs, device, repeat)
    ]


# -------------------------------------------------------- (c) predict memory
def case_predict(name, n, d, c, kind, device="cpu"):
    """Peak-memory case: ``head.predict`` on ``n`` rows (numpy or torch input)."""
    device = torch.device(device)
    X, _ = make_features(n, d, c, device=device)
    head = fitted_heads(d, c, (name,), device=device)[name]
    X_in = X.numpy() if kind == "numpy" else X
    return lambda: head.predict(X_in)


def case_baseline(n, d, c, device="cpu"):
    """Peak-memory case: unblocked ``(X @ W.T + b).argmax(1)``."""
    device = torch.device(device)
    X, _ = make_features(n, d, c, device=device)
    W = torch.randn(c, d, device=device)
    b = torch.randn(c, device=device)
    return lambda: torch.addmm(b, X, W.T).argmax(1)


def bench_memory(sizes, device, cases):
    from sklearn_lt.heads._base import _PREDICT_BLOCK_ELEMENTS

    d, c = MEMORY_D, MEMORY_C
    if device.type != "cpu":  # tensors on the GPU only
        cases = sorted({(name, "torch") for name, _ in cases})
    calls = []
    for n in sizes:
        calls.append((case_baseline, (n, d, c)))
        calls += [(case_predict, (name, n, d, c, kind)) for name, kind in cases]
    peaks = iter(peak_memory_many(calls, device=device))
    rows = []
    for n in sizes:
        base_mb = next(peaks)
        block = min(n, max(1, _PREDICT_BLOCK_ELEMENTS // max(c, d)))
        # What predict needs at once: one block of logits and the n labels
        # twice (int64 indices, then the returned labels); 1.25x for small
        # temporaries (NCM's 1 MiB chunks of centred rows). A temporary the
        # size of X, or of one block of features, misses it.
        bound_mb = 1.25 * (block * c * 4 + 2 * n * 8) / 2**20
        for name, kind in cases:
            mb = next(peaks)
            rows.append(
                row(
                    f"predict peak memory {name} ({kind})",
                    size_label(N=n, d=d, C=c),
                    None,
                    "unblocked X @ W.T + b + argmax",
                    None,
                    peak_mb=mb,
                    baseline_peak_mb=base_mb,
                    device=device,
                    goal=f"<= {bound_mb:.0f} MiB",
                    met=bool(mb <= bound_mb),
                    input_mb=n * d * 4 / 2**20,
                    note=f"block of {block} rows; input {n * d * 4 / 2**20:.0f} MiB",
                )
            )
    return rows


def run(quick=False, device=None):
    device = torch.device(device) if device is not None else current_device()
    rows = bench_predict(PREDICT_QUICK if quick else PREDICT_GRID, device)
    rows += bench_fit(FIT_QUICK if quick else FIT_GRID, device)
    if quick:
        rows += bench_memory(MEMORY_N_QUICK, device, MEMORY_CASES[1:2])
    else:
        rows += bench_memory(MEMORY_N, device, MEMORY_CASES)
    return rows
