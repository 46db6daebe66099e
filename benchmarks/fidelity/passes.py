"""Passes over the data of the default L-BFGS fits at a given shape (issue #22).

One pass is one evaluation of the full-batch loss and gradient (about ``4 N d C``
flops), the unit in which the official SGD recipes count too (an epoch: cRT 10,
LWS 5, LORT 20). Synthetic unit-norm class clusters (:func:`.data.make_many_class`'s
model) with power-law counts ``max(n_min, floor(n_max * r**-a))``, ``a`` solved so
that the counts sum to ``--rows``::

    python -m benchmarks.fidelity.passes --classes 1000 --rows 115846 --features 32

prints, per estimator: iterations, passes, CPU seconds (one thread), balanced
accuracy on a balanced test set, and agreement with
``LogisticRegression(class_weight="balanced")``.
"""

import argparse
import time

import numpy as np
import torch
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import CRTClassifier, SoftmaxClassifier

__all__ = ["power_counts", "main"]


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity.passes")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=115_846)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--n-max", type=int, default=1280)
    parser.add_argument("--n-min", type=int, default=5)
    parser.add_argument("--noise", type=float, default=2.0)
    parser.add_argument("--no-logreg", action="store_true")
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
    heads = {"cRT": CRTClassifier(random_state=0),
             "default base": SoftmaxClassifier(fit_intercept=False, random_state=0)}
    if not args.no_logreg:
        heads["LogReg (balanced)"] = LogisticRegression(class_weight="balanced", max_iter=10_000)
    predictions = {}
    for name, head in heads.items():
        start = time.process_time()
        head.fit(X, y)
        seconds = time.process_time() - start
        predictions[name] = np.asarray(head.predict(X_test))
        n_iter = int(np.max(head.n_iter_))
        passes = len(head.loss_curve_) if hasattr(head, "loss_curve_") else None
        score = balanced_accuracy_score(y_test, predictions[name])
        print(f"{name:18s} iterations {n_iter:4d}  passes {passes or '-':>4}  "
              f"CPU {seconds:7.1f} s  test {score:.4f}")
    if "LogReg (balanced)" in predictions:
        agree = (predictions["cRT"] == predictions["LogReg (balanced)"]).mean()
        print(f"cRT agrees with LogReg (balanced) on {agree:.4f} of the test rows")


if __name__ == "__main__":
    main()
