"""Stage-two heads: predict and fit, each against a hand-written torch baseline.

(a) ``predict`` / ``decision_function`` against a bare ``torch.addmm(b, X, W.T)``
    (+ ``argmax``) with the head's own weights, same device, float32.
    Goal: within 1.2x. Every head at N=1e4; beyond that the two distinct code
    paths: ``SoftmaxClassifier`` (the linear path shared by tau-norm, cRT,
    LWS and LORT) and ``NCMClassifier`` (which also divides each row's
    logits by its distance to the training mean). On the CPU the heads get
    numpy input (the usual case) or, where marked, tensors. From N=1e5 the
    candidate's peak memory must be bounded by its predict block, not by N:
    at most 1.25x one block of logits plus the labels twice (the returned
    labels themselves grow with N); the unblocked baseline holds N x C logits.
(b) ``fit`` of cRT, LWS and LORT with ``solver="sgd"`` against the loop one
    writes by hand for the same training: the features divided by their RMS
    row norm (the package's normalised units), the same epochs, batch size,
    optimizer (SGD, momentum, weight decay, per-epoch cosine), loss and
    sampling distribution (``torch.multinomial`` over per-sample weights
    ``1 / n_y`` for class-balanced draws, ``torch.randperm`` for LORT's
    instance-balanced epochs). LWS's loop multiplies its scales into
    ``F.linear(x, W, b)`` at every step, as the official code does. Goal: within 1.1x.
(c) ``fit`` of cRT with its default ``solver="lbfgs"`` against a hand-written
    ``torch.optim.LBFGS`` on the same loss: full batch, class-balanced
    cross-entropy (each class weighted by ``(1 / C) / (n_j / N)``), the same
    L2 penalty on the normalised weights and L-BFGS settings (strong Wolfe,
    history 20). Both run the same number of iterations (``max_iter``,
    ``tol=0``): equal work. Goal: within 1.1x.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.frozen import FrozenEstimator

from benchmarks._harness import Case, main, make_features
from sklearn_lt import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
)

ALL_HEADS = ("SoftmaxClassifier", "TauNormClassifier", "CRTClassifier", "LWSClassifier",
             "LORTClassifier", "NCMClassifier")
PATHS = ("SoftmaxClassifier", "NCMClassifier")
PREDICT_GOAL, FIT_GOAL = 1.2, 1.1

# (N, d, C, heads, methods, CPU input kinds)
PREDICT = [
    (10_000, 512, 100, ALL_HEADS, ("predict",), ("numpy",)),
    (10_000, 512, 100, PATHS, ("decision_function",), ("numpy",)),
    (10_000, 512, 100, PATHS, ("predict",), ("torch",)),
    (100_000, 512, 100, PATHS, ("predict",), ("numpy",)),
    (100_000, 512, 1000, PATHS, ("predict",), ("numpy",)),
    (10_000, 2048, 1000, PATHS, ("predict",), ("numpy",)),
    (1_000_000, 256, 100, PATHS, ("predict",), ("numpy",)),
    (1_000_000, 256, 100, PATHS[:1], ("predict",), ("torch",)),
]
PREDICT_QUICK = [
    (5_000, 128, 20, PATHS, ("predict", "decision_function"), ("numpy",)),
    (100_000, 128, 20, PATHS[:1], ("predict",), ("torch",)),
]
# (N, d, C, epochs)
FIT = [(20_000, 512, 100, 2), (10_000, 512, 1000, 2)]
FIT_QUICK = [(2_000, 64, 10, 1)]
LBFGS_ITER = 10  # both run all 10 iterations (function evaluations 19 vs 20 at N=2e4)


def _as_input(X, kind, device):
    """numpy on the CPU (the usual user input) or a tensor on the device."""
    return X.numpy() if kind == "numpy" and device.type == "cpu" else X.to(device)


def fitted_head(name, d, c, device):
    """``name`` fitted on a small set of ``c`` classes: predict costs depend on the shapes only."""
    gen = torch.Generator().manual_seed(0)
    y = np.tile(np.arange(c), 4)
    X = _as_input(torch.randn(len(y), d, generator=gen) + 3 * torch.randn(c, d)[y], "numpy",
                  device)
    base = FrozenEstimator(SoftmaxClassifier(max_iter=5, random_state=0).fit(X, y))
    head = {
        "SoftmaxClassifier": lambda: SoftmaxClassifier(max_iter=5, random_state=0),
        "TauNormClassifier": lambda: TauNormClassifier(base),
        "CRTClassifier": lambda: CRTClassifier(max_iter=5, random_state=0),
        "LWSClassifier": lambda: LWSClassifier(base, n_epochs=1, random_state=0),
        "LORTClassifier": lambda: LORTClassifier(base, n_epochs=1, early_stopping=False,
                                                 random_state=0),
        "NCMClassifier": NCMClassifier,
    }[name]()
    return head.fit(X, y)


def head_weights(head, device):
    """``coef_`` and ``intercept_`` as float32 tensors on ``device`` (the baseline's weights)."""
    W = torch.as_tensor(head.coef_).to(device=device, dtype=torch.float32).contiguous()
    return W, torch.as_tensor(head.intercept_).to(device=device, dtype=torch.float32)


# --------------------------------------------------------------- (a) predict
def _predict_setup(name, method, kind, n, d, c, device):
    X, _ = make_features(n, d, c, device=device)
    head = fitted_head(name, d, c, device)
    W, b = head_weights(head, device)
    X_in, call = _as_input(X, kind, device), getattr(head, method)
    if method == "predict":
        return lambda: call(X_in), lambda: torch.addmm(b, X, W.T).argmax(1)
    return lambda: call(X_in), lambda: torch.addmm(b, X, W.T)


def _predict_bound_mb(n, d, c):
    """What predict needs at once: a block of logits, the labels twice (indices, then the
    returned labels), 1.25x for small temporaries (NCM's chunks of centred rows)."""
    from sklearn_lt.heads._base import _PREDICT_BLOCK_ELEMENTS

    block = min(n, max(1, _PREDICT_BLOCK_ELEMENTS // max(c, d)))
    return 1.25 * (block * c * 4 + 2 * n * 8) / 2**20


def predict_cases(grid, device):
    cases = {}
    for n, d, c, names, methods, kinds in grid:
        for name in names:
            for kind in kinds if device.type == "cpu" else ("torch",):  # a GPU takes tensors
                for method in methods:
                    case = Case(
                        f"{method} {name} ({kind})", {"N": n, "d": d, "C": c},
                        "X @ W.T + b" + (" + argmax" if method == "predict" else ""),
                        lambda a=(name, method, kind, n, d, c): _predict_setup(*a, device),
                        goal=PREDICT_GOAL,
                        max_peak_mb=_predict_bound_mb(n, d, c) if n >= 100_000 else None,
                    )
                    cases[case.label] = case
    return list(cases.values())


# ------------------------------------------------------------------- (b) fit
def sgd_loop(X, y, *, kind, base, epochs, batch, lr, momentum, weight_decay, smoothing,
             balanced, seed=0):
    """The hand-written SGD loop for each head (see the module docstring)."""
    y = torch.as_tensor(y, device=X.device)
    gen = torch.Generator(device=X.device).manual_seed(seed)
    n, d = X.shape
    c = int(y.max()) + 1
    if kind == "lws":  # scales of the frozen base logits, recomputed at each step
        W, b = base
        scales = torch.ones(c, device=X.device, requires_grad=True)
        params = [scales]

        def forward(rows):
            return scales * F.linear(X[rows], W, b)
    else:
        scale = torch.linalg.vector_norm(X, dim=1).square().mean().sqrt()
        Xn = X / scale  # the package's normalised units
        linear = torch.nn.Linear(d, c, device=X.device)
        if base is not None:  # LORT continues from the base classifier
            with torch.no_grad():
                linear.weight.copy_(base[0] * scale)
                linear.bias.copy_(base[1])
        params = list(linear.parameters())

        def forward(rows):
            return linear(Xn[rows])

    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    weights = (1.0 / torch.bincount(y).float())[y]
    for _ in range(epochs):
        if balanced:
            order = torch.multinomial(weights, n, replacement=True, generator=gen)
        else:
            order = torch.randperm(n, device=X.device, generator=gen)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            loss = F.cross_entropy(forward(rows), y[rows], label_smoothing=smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        schedule.step()
    return params


def lbfgs_loop(X, y, *, weight_decay, max_iter, seed=0):
    """Hand-written full-batch L-BFGS on the class-balanced cross-entropy (see the docstring)."""
    torch.manual_seed(seed)
    y = torch.as_tensor(y, device=X.device)
    counts = torch.bincount(y).to(X.dtype)
    sample_weight = ((1 / len(counts)) / (counts / len(y)))[y]
    Xn = X / torch.linalg.vector_norm(X, dim=1).square().mean().sqrt()
    linear = torch.nn.Linear(X.shape[1], len(counts), device=X.device)
    optimizer = torch.optim.LBFGS(
        linear.parameters(), lr=1, max_iter=max_iter, max_eval=2 * max_iter, tolerance_grad=0,
        tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        losses = F.cross_entropy(linear(Xn), y, reduction="none")
        penalty = sum((p**2).sum() for p in linear.parameters())
        loss = (losses * sample_weight).sum() / sample_weight.sum() + 0.5 * weight_decay * penalty
        loss.backward()
        return loss

    optimizer.step(closure)
    return linear


def _fit_setup(name, n, d, c, epochs, device):
    X, y = make_features(n, d, c, device=device)
    X_in = _as_input(X, "numpy", device)
    base = SoftmaxClassifier(max_iter=20, random_state=0).fit(X_in, y)
    frozen, weights = FrozenEstimator(base), head_weights(base, device)
    sgd = dict(solver="sgd", n_epochs=epochs, momentum=0.9, random_state=0)
    head, loop = {
        "CRTClassifier": (
            CRTClassifier(batch_size=512, lr=2.0, weight_decay=5e-4, **sgd),
            dict(kind="crt", base=None, batch=512, lr=2.0, weight_decay=5e-4, smoothing=0.0,
                 balanced=True)),
        "LWSClassifier": (
            LWSClassifier(frozen, batch_size=512, lr=1.0, weight_decay=5e-4, **sgd),
            dict(kind="lws", base=weights, batch=512, lr=1.0, weight_decay=5e-4, smoothing=0.0,
                 balanced=True)),
        "LORTClassifier": (
            LORTClassifier(frozen, smoothing=0.98, batch_size=64, lr=0.1, weight_decay=0.0,
                           early_stopping=False, **sgd),
            dict(kind="lort", base=weights, batch=64, lr=0.1, weight_decay=0.0, smoothing=0.98,
                 balanced=False)),
    }.get(name, (None, None))
    if name == "CRTClassifier(solver='lbfgs')":
        head = CRTClassifier(max_iter=LBFGS_ITER, tol=0.0, weight_decay=1e-4, random_state=0)
        return (lambda: head.fit(X_in, y),
                lambda: lbfgs_loop(X, y, weight_decay=1e-4, max_iter=LBFGS_ITER))
    return (lambda: head.fit(X_in, y),
            lambda: sgd_loop(X, y, epochs=epochs, momentum=0.9, **loop))


FIT_HEADS = {
    "CRTClassifier": "batch 512",
    "LWSClassifier": "batch 512",
    "LORTClassifier": "batch 64",
    "CRTClassifier(solver='lbfgs')": f"{LBFGS_ITER} iterations",
}


def fit_cases(grid, device):
    return [
        Case(f"fit {name} ({detail})",
             {"N": n, "d": d, "C": c, **({} if "lbfgs" in name else {"epochs": epochs})},
             "hand-written torch " + ("L-BFGS" if "lbfgs" in name else "SGD loop"),
             lambda a=(name, n, d, c, epochs): _fit_setup(*a, device), goal=FIT_GOAL)
        for n, d, c, epochs in grid for name, detail in FIT_HEADS.items()
    ]


def cases(quick, device):
    if quick:
        return predict_cases(PREDICT_QUICK, device) + fit_cases(FIT_QUICK, device)
    return predict_cases(PREDICT, device) + fit_cases(FIT, device)


if __name__ == "__main__":
    main(cases, loops=1)  # calls of 5 ms and more: no calibration process
