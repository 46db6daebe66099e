"""Passes over the data of the default L-BFGS fits at a given shape (issue #22).

One pass is one evaluation of the full-batch loss and gradient (about ``4 N d C``
flops), the unit in which the official SGD recipes count too (an epoch: cRT 10,
LWS 5, LORT 20). Synthetic unit-norm class clusters (:func:`.data.make_many_class`'s
model) with power-law counts ``max(n_min, floor(n_max * r**-a))``, ``a`` solved so
that the counts sum to ``--rows``::

    python -m benchmarks.fidelity.passes --classes 1000 --rows 115846 --features 32

prints the CPU seconds of a bare pass (a hand-written torch loss and gradient)
and of its two products alone, then per default L-BFGS fit
(:data:`.stopping.HEADS`, run to the tight :data:`.stopping.RECORD_TOL`):
iterations, passes, CPU seconds (one thread) and per pass against both (the
recording's own time left out), balanced accuracy on a balanced held-out set;
``LogisticRegression``'s iterations, on cRT's problem (``class_weight="balanced"``)
and on logit adjustment's base's (instance-weighted, penalty 1e-5); then the
passes at which each candidate stopping rule (:data:`.stopping.RULES`) leaves the
same paths, and the official SGD recipes run through our trainer
(:data:`RECIPES`). A recipe's epoch is its sampler's: Kang et al.'s cRT and LWS
configs draw with their class-aware sampler, whose epoch is ``max_j n_j * C``
rows (11 passes over ImageNet-LT's 115,846 rows), so their passes are the rows
they visit over ``N``. Rules are chosen on the fidelity sources' validation sets
(``python -m benchmarks.fidelity.stopping``), not here.
"""

import argparse
import time

import numpy as np
import torch
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import CRTClassifier, LWSClassifier, SoftmaxClassifier
from sklearn_lt.sampling import ClassAwareSampler

from .stopping import HEADS, RECORD_TOL, RULES, record_path, stop

__all__ = ["RECIPES", "bare_pass_seconds", "main", "power_counts"]

# The official recipes of Kang et al.'s ImageNet-LT configs (cls_crt.yaml: 10 epochs,
# cls_lws.yaml: 5, both ClassAwareSampler with num_samples_cls 4), through our SGD;
# and our SGD defaults. name -> (head, its sampler's rows per epoch given the counts).
RECIPES = {
    "cRT recipe: SGD, class-aware, 10 epochs": (
        lambda: CRTClassifier(solver="sgd", sampler=ClassAwareSampler(), n_epochs=10,
                              random_state=0),
        lambda counts: counts.max() * len(counts)),
    "cRT, solver='sgd' (10 epochs)": (
        lambda: CRTClassifier(solver="sgd", random_state=0), lambda counts: counts.sum()),
    "LWS recipe: class-aware, 5 epochs": (
        lambda: LWSClassifier(sampler=ClassAwareSampler(), random_state=0),
        lambda counts: counts.max() * len(counts)),
    "LWS default (5 epochs)": (
        lambda: LWSClassifier(random_state=0), lambda counts: counts.sum()),
}


def power_counts(n_classes, n_rows, n_max, n_min):
    """Counts ``max(n_min, floor(n_max * r**-a))`` for ranks ``r``, summing to about ``n_rows``."""
    ranks = np.arange(1, n_classes + 1)

    def total(a):
        return np.maximum(n_min, np.floor(n_max * ranks**-a)).sum() - n_rows

    a = brentq(total, 1e-6, 20)
    return np.maximum(n_min, np.floor(n_max * ranks**-a)).astype(np.int64)


def _draw(counts, means, noise, rng):
    y = np.repeat(np.arange(len(counts)), counts)
    X = means[y] + noise * rng.normal(size=(len(y), means.shape[1])) / np.sqrt(means.shape[1])
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def bare_pass_seconds(X, y, n_classes, repeats=3, loss=True):
    """CPU seconds of one hand-written full-batch loss and gradient: ``X W^T``, the
    softmax cross-entropy (torch's, through autograd) and ``G^T X`` in torch on the
    whole array, the best of ``repeats``; ``loss=False``: the two products alone
    (``X W^T`` and ``G^T X``, the least an evaluation can cost)."""
    inputs, target = torch.as_tensor(X), torch.as_tensor(y)
    weight = torch.zeros(n_classes, X.shape[1], dtype=inputs.dtype, requires_grad=True)
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        if loss:
            torch.nn.functional.cross_entropy(inputs @ weight.T, target).backward()
        else:
            with torch.no_grad():
                (inputs @ weight.T).T @ inputs
        best = min(best, time.process_time() - start)
        weight.grad = None
    return best


def recipes(X, y, counts, X_test, y_test):
    """Print each of :data:`RECIPES`: passes (rows visited / N; LWS after its default
    base's L-BFGS passes), CPU seconds and held-out balanced accuracy."""
    print("\nSGD recipes: passes (rows visited / N), CPU, held-out balanced accuracy")
    for name, (make, epoch_rows) in RECIPES.items():
        head, start = make(), time.process_time()
        with record_path(X_test) as base_path:  # LWS's default base, by L-BFGS
            head.fit(X, y)
        seconds = time.process_time() - start - sum(it["seconds"] for it in base_path)
        passes = len(head.loss_curve_) * epoch_rows(counts) / len(y)
        base = f" + the base's {base_path[-1]['passes']} L-BFGS passes" if base_path else ""
        score = balanced_accuracy_score(y_test, head.predict(X_test))
        print(f"{name:42s} passes {passes:6.1f}{base}  CPU {seconds:7.1f} s  held-out {score:.4f}",
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity.passes")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=115_846)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--n-max", type=int, default=1280)
    parser.add_argument("--n-min", type=int, default=5)
    parser.add_argument("--noise", type=float, default=2.0)
    parser.add_argument("--no-logreg", action="store_true")
    parser.add_argument("--no-recipes", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    counts = power_counts(args.classes, args.rows, args.n_max, args.n_min)
    d = args.features
    supers = rng.normal(size=(max(2, int(np.sqrt(args.classes))), d))
    supers /= np.linalg.norm(supers, axis=1, keepdims=True)
    means = supers[rng.randint(len(supers), size=args.classes)]
    means = means + 0.6 * rng.normal(size=means.shape) / np.sqrt(d)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    X, y = _draw(counts, means, args.noise, rng)
    X_test, y_test = _draw(np.full(args.classes, 20), means, args.noise, rng)
    print(f"{len(y)} rows x {d} features, {args.classes} classes, counts {counts.max()}.."
          f"{counts.min()}; one thread")
    bare = bare_pass_seconds(X, y, args.classes)
    products = bare_pass_seconds(X, y, args.classes, loss=False)
    print(f"bare pass (X W^T, cross-entropy, G^T X in torch): {bare:.3f} s CPU; "
          f"the products alone (X W^T, G^T X): {products:.3f} s")
    heads = {name: make(0, RECORD_TOL) for name, make in HEADS.items()}
    for make in HEADS.values():  # warm torch up: the first fit's seconds are the fit's
        make(0, 1e-3).fit(X_test[:2000], y_test[:2000])
    if not args.no_logreg:
        heads["LogReg (balanced)"] = LogisticRegression(class_weight="balanced", max_iter=10_000)
        # The problem of logit adjustment's base and of Balanced Softmax: the instance-
        # weighted loss under their penalty of 1e-5 (scikit-learn's is 1 / (C N)).
        heads["LogReg (LA's base problem)"] = LogisticRegression(
            C=1 / (len(y) * SoftmaxClassifier().weight_decay), max_iter=10_000)
    predictions, paths = {}, {}
    for name, head in heads.items():
        start = time.process_time()
        with record_path(X_test) as path:
            head.fit(X, y)
        seconds = time.process_time() - start - sum(it["seconds"] for it in path)
        predictions[name] = np.asarray(head.predict(X_test))
        n_iter = int(np.max(head.n_iter_))
        score = balanced_accuracy_score(y_test, predictions[name])
        if not path:  # scikit-learn's own L-BFGS
            print(f"{name:18s} iterations {n_iter:4d}  CPU {seconds:7.1f} s  "
                  f"held-out {score:.4f}")
            continue
        paths[name] = (path, head.classes_)
        passes = len(head.loss_curve_)
        print(f"{name:18s} to tol {RECORD_TOL:g}: iterations {n_iter:4d}  passes {passes:4d}  "
              f"CPU {seconds:7.1f} s "
              f"(per pass {seconds / passes / bare:.2f}x the bare pass, "
              f"{seconds / passes / products:.2f}x the products)  held-out {score:.4f}")
    # Where each candidate rule leaves the same paths (benchmarks.fidelity.stopping).
    print("\nrule: passes (held-out balanced accuracy) per head")
    for rule, tol, change, floor in RULES:
        cells = []
        for name, (path, classes) in paths.items():
            k = stop(path, tol, change, floor)
            score = balanced_accuracy_score(y_test, classes[path[k]["predicted"]])
            cells.append(f"{name} {path[k]['passes']} ({score:.4f})")
        print(f"{rule:20s} " + "; ".join(cells))
    if not args.no_recipes:
        recipes(X, y, counts, X_test, y_test)
    if "LogReg (balanced)" in predictions:
        agree = (predictions["cRT"] == predictions["LogReg (balanced)"]).mean()
        print(f"cRT (tol {RECORD_TOL:g}) agrees with LogReg (balanced) on {agree:.4f} "
              "of the held-out rows")


if __name__ == "__main__":
    main()
