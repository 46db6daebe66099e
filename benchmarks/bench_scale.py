"""Paper-scale shapes: every estimator's fit + predict, its peak memory beyond X, its passes.

Synthetic long-tailed float32 features (``_harness.make_features``: imbalance
100, class means plus unit noise) at the shapes of the papers' benchmarks,
reduced where one CPU thread could not finish: iNaturalist 2018's 8,142
classes on 1e5 rows of 128-d features, and ImageNet-LT's 1,000 classes and
115,846 rows with 256-d features (2,048-d in the papers). Each case fits one
estimator and predicts its training rows. The bases are frozen (a random
linear layer): what is measured is the head's own work, not a base fit; the
iteration counts are capped (memory does not depend on them).

Baseline: one bare forward pass over the same rows, ``X @ W.T + b`` and its
argmax, 8,192 rows at a time (one chunk of logits: no ``N x C`` array), the
same dtype and device. The ratio is the cost of the fit + predict in such
passes; ``passes`` (in the row's ``note``) is how many passes over the rows
(a forward pass, or a forward + backward counted as one) the configuration
makes, so that ratio / passes is the cost of one of its passes against the
bare product.

Peak memory (``peak_mb``): the rise of the resident set during one fit +
predict in a fresh process (``run.py``'s memory run), X built beforehand,
i.e. the memory beyond X. ``max_peak_mb`` is the goal of issue #22: half of X
plus the model state, plus 256 MiB for the chunks themselves (64 MiB of
float32 logits each: at these reduced shapes the chunks, not X, dominate).

``--device cuda`` runs the same cases on a GPU (peak: CUDA memory allocated).

Outside pyperf (each case once, in a fresh one-thread process, CPU time):
``--inat-full`` runs the full iNaturalist 2018 shape (437,513 x 2,048, 8,142
classes) with each case's baseline pass in the same process, and
``--trade-offs`` times what the memory rules cost (LWS's base logits kept or
recomputed, L-BFGS's chunk size); see the end of this module.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from threadpoolctl import threadpool_limits

from benchmarks._harness import Case, PeakMemory, main, make_features, size_label
from benchmarks.fidelity.passes import power_counts
from sklearn_lt import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LogitAdjustedClassifierCV,
    LORTClassifier,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    RetrainedClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)

CHUNK_ROWS = 8192
CHUNK_MIB = 256


def _frozen(d, c, device, seed=0):
    """A frozen linear base of ``c`` classes: random weights of unit-scale logits."""
    gen = torch.Generator().manual_seed(seed)
    W = (torch.randn(c, d, generator=gen) / d**0.5).to(device)
    return FrozenEstimator(
        SoftmaxClassifier.from_weights(W, torch.zeros(c, device=device), classes=np.arange(c))
    )


# name -> (estimator factory(base), passes over the N rows, note). An SGD epoch or
# a scoring of rows counts their share of N.
HEADS = {
    "LWSClassifier (1 epoch)": (
        lambda base: LWSClassifier(base, n_epochs=1, random_state=0), 3,
        "base logits' scale 1, 1 epoch, predict 1",
    ),
    "TauNormClassifierCV (cv=2, 21 taus)": (
        lambda base: TauNormClassifierCV(base, cv=2), 2,
        "sweep of both folds 1 (21 taus from one product), predict 1",
    ),
    "LogitAdjustedClassifierCV (cv=2, 21 taus)": (
        lambda base: LogitAdjustedClassifierCV(base, cv=2), 2,
        "sweep of both folds 1 (21 taus from one product), predict 1",
    ),
    "LORTClassifierCV (cv=2, 1 epoch, 1 smoothing)": (
        lambda base: LORTClassifierCV(base, smoothings=[0.98], n_epochs=1, cv=2, random_state=0),
        5, "per fold: 1 epoch on half, 2 scorings of the other half; final epoch 1; predict 1",
    ),
    "SoftmaxClassifier sgd + early stopping (1 epoch)": (
        lambda base: SoftmaxClassifier(solver="sgd", n_epochs=1, random_state=0), 2.33,
        "1 epoch on 2/3 of the rows, 2 scorings of 1/3, predict 1",
    ),
    "NCMClassifier": (
        lambda base: NCMClassifier(), 1, "predict 1 (mean and centroids: 2 reads of X, no logits)",
    ),
}


def _one_pass(X, W, b):
    for start in range(0, len(X), CHUNK_ROWS):
        torch.addmm(b, X[start : start + CHUNK_ROWS], W.T).argmax(1)


def _setup(name, n, d, c, device):
    X, y = make_features(n, d, c, device=device)
    base = _frozen(d, c, device)
    W = torch.as_tensor(base.coef_, device=device)
    b = torch.zeros(c, device=device)
    X_in = X.numpy() if device.type == "cpu" else X  # numpy on the CPU: as users pass it
    head = HEADS[name][0](base)
    if "early stopping" in name:
        cut = 2 * n // 3
        fit = lambda: head.fit(X_in[:cut], y[:cut], X_in[cut:], y[cut:])  # noqa: E731
    else:
        fit = lambda: head.fit(X_in, y)  # noqa: E731
    return lambda: fit().predict(X_in), lambda: _one_pass(X, W, b)


def _max_peak_mb(n, d, c):
    x_mb = n * d * 4 / 2**20
    state_mb = 8 * c * d * 4 / 2**20  # weights, gradients, momentum, copies
    return 0.5 * x_mb + state_mb + CHUNK_MIB


def cases(quick, device):
    sizes = [(2_000, 16, 50)] if quick else [(100_000, 128, 8_142), (115_846, 256, 1_000)]
    return [
        Case(
            f"fit+predict {name}", {"N": n, "d": d, "C": c},
            f"one pass: X @ W.T + b, argmax ({CHUNK_ROWS} rows at a time)",
            lambda a=(name, n, d, c): _setup(*a, device),
            max_peak_mb=_max_peak_mb(n, d, c),
            extra={"note": f"passes {passes}: {note}"},
        )
        for n, d, c in sizes
        for name, (_, passes, note) in HEADS.items()
    ]


# ------------------------------------------------------ full iNaturalist 2018
# ``python -m benchmarks.bench_scale --inat-full --out inat.json``: the real
# shape, too large for pyperf's repeated workers (one L-BFGS evaluation is about
# 4 N d C = 29 TFLOP, 3 min on one thread). Each case runs once, in a fresh
# process (one thread), after its baseline in the same process.
INAT_SHAPE = (437_513, 2_048, 8_142)
INAT_COUNTS = (1_000, 2)  # iNaturalist 2018's largest and smallest class (train)
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576", "OMP_NUM_THREADS": "1"}  # as run.py's memory run

# name -> (estimator factory(frozen base), passes over X of fit + predict (None:
# its L-BFGS evaluations, len(loss_curve_)), note, baseline: "forward", or
# "forward+backward" for the L-BFGS fits). max_iter=1 is already 3 evaluations
# (the first, then a line search of up to 2: max_eval=2 * max_iter).
INAT_CASES = {
    "NCMClassifier fit+predict": (
        lambda base: NCMClassifier(), 1, "mean and centroids: 2 reads of X, no logits; predict 1",
        "forward",
    ),
    "TauNormClassifier (frozen base) fit+predict": (
        lambda base: TauNormClassifier(base), 1, "fit: C x d norms; predict 1", "forward",
    ),
    "LogitAdjustedClassifier (frozen base) fit+predict": (
        lambda base: LogitAdjustedClassifier(base), 1, "fit: counts; predict 1", "forward",
    ),
    "LWSClassifier (frozen base, 1 epoch) fit+predict": (
        lambda base: LWSClassifier(base, n_epochs=1, random_state=0), 3,
        "base logits' scale 1, 1 epoch (logits recomputed per batch), predict 1", "forward",
    ),
    "CRTClassifier (L-BFGS, max_iter=1) fit": (
        lambda base: CRTClassifier(max_iter=1, random_state=0), None,
        "one pass per loss + gradient evaluation (loss_curve_)", "forward+backward",
    ),
    "SoftmaxClassifier (L-BFGS, max_iter=1) fit": (
        lambda base: SoftmaxClassifier(max_iter=1, random_state=0), None,
        "one pass per loss + gradient evaluation (loss_curve_)", "forward+backward",
    ),
    "TauNormClassifierCV (frozen base, cv=2, 21 taus) fit+predict": (
        lambda base: TauNormClassifierCV(base, cv=2), 2,
        "sweep of both folds 1, predict 1", "forward",
    ),
    "LogitAdjustedClassifierCV (frozen base, cv=2) fit+predict": (
        lambda base: LogitAdjustedClassifierCV(base, cv=2), 2,
        "sweep of both folds 1, predict 1", "forward",
    ),
    "RetrainedClassifier (Balanced Softmax, L-BFGS, max_iter=1) fit": (
        lambda base: RetrainedClassifier(max_iter=1, random_state=0), None,
        "one pass per loss + gradient evaluation (loss_curve_)", "forward+backward",
    ),
    "LORTClassifier (frozen base, 1 epoch, early stopping) fit+predict": (
        lambda base: LORTClassifier(base, n_epochs=1, random_state=0), 3.2,
        "held-out run: 1 epoch on 80% of the rows (read in place) + scoring epochs 0-1 on"
        " the other 20% (0.4); refit: 1 epoch if the held-out rows chose it; predict 1",
        "forward",
    ),
    "LORTClassifierCV (frozen base, cv=2, 1 epoch, 1 smoothing) fit+predict": (
        lambda base: LORTClassifierCV(base, n_epochs=1, smoothings=[0.98], cv=2,
                                      random_state=0), 4,
        "paths: 1 epoch on each fold's training half (1) + scoring epochs 0-1 on the other"
        " half (2 x 0.5); refit: 1 epoch if chosen (1); predict 1", "forward",
    ),
    "TauNormClassifierCV (fitted bases: L-BFGS max_iter=1, cv=2, 21 taus) fit+predict": (
        lambda base: TauNormClassifierCV(SoftmaxClassifier(fit_intercept=False, max_iter=1),
                                         cv=2, random_state=0), 14,
        "a base per fold on its half, read in place (2 x 3 x 0.5 forward+backward), the"
        " final base on X (3): 6 forward+backward, 2 forward each; sweep of both folds 1,"
        " predict 1", "forward",
    ),
}


def inat_labels(n, c, n_max, n_min, seed=0):
    """Shuffled labels with :func:`power_counts`'s long tail, exactly ``n`` of them."""
    counts = power_counts(c, n, n_max, n_min)
    missing = n - int(counts.sum())  # floor() leaves a few rows out (or over)
    can = np.flatnonzero(counts < n_max) if missing > 0 else np.flatnonzero(counts > n_min)
    counts[can[: abs(missing)]] += np.sign(missing)
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(c), counts))


def _bare_passes(X, W, b, y, backward):
    """The baseline: ``addmm`` + argmax over chunks of 2**24 logits (the package's
    chunk); with ``backward``, also the softmax cross-entropy gradient of W and b."""
    rows = max(1, 2**24 // max(W.shape))
    grad_W, grad_b = torch.zeros_like(W), torch.zeros_like(b)
    for start in range(0, len(X), rows):
        block = X[start : start + rows]
        logits = torch.addmm(b, block, W.T)
        if not backward:
            logits.argmax(1)
            continue
        probs = logits.softmax(1)
        probs[torch.arange(len(block)), y[start : start + rows]] -= 1
        grad_W.addmm_(probs.T, block)
        grad_b += probs.sum(0)


def _measured(fn):
    """Run ``fn`` once: its result, CPU and wall seconds, peak RSS rise (MiB)."""
    peak = PeakMemory()
    with peak:
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return out, cpu, wall, peak.peaks.get("peak_rss_mb")


def inat_case(name, n, d, c, n_max, n_min):
    """One case in this process: the baseline pass, then the estimator; a dict."""
    factory, passes, note, baseline = INAT_CASES[name]
    torch.set_num_threads(1)
    threadpool_limits(1)
    y = inat_labels(n, c, n_max, n_min)
    X, _ = make_features(n, d, c, y=y)
    base = _frozen(d, c, torch.device("cpu"))
    W, b = torch.as_tensor(base.coef_), torch.zeros(c)
    y_t = torch.from_numpy(y)
    X_np = X.numpy()  # numpy: as users pass it
    row = {"benchmark": name, "size": size_label({"N": n, "d": d, "C": c}),
           "counts": f"{np.bincount(y).max()}..{np.bincount(y).min()}", "note": note,
           "x_mb": X.numel() * 4 / 2**20, "baseline": f"bare {baseline} pass, one chunk at a time"}
    _, row["baseline_cpu"], row["baseline_wall"], row["baseline_peak_mb"] = _measured(
        lambda: _bare_passes(X, W, b, y_t, baseline == "forward+backward"))
    head = factory(base)
    fitted, row["fit_cpu"], row["fit_wall"], fit_peak = _measured(lambda: head.fit(X_np, y))
    row["peak_mb"] = fit_peak
    if passes is None:  # L-BFGS: the passes are its evaluations
        row["passes"] = len(fitted.loss_curve_)
        row["n_iter"] = int(np.max(fitted.n_iter_))
        row["predict_cpu"] = row["predict_wall"] = None
    else:
        _, row["predict_cpu"], row["predict_wall"], predict_peak = _measured(
            lambda: fitted.predict(X_np))
        row["peak_mb"] = max(fit_peak, predict_peak)
        row["passes"] = passes
    row["state_mb"] = 8 * c * d * 4 / 2**20  # as _max_peak_mb: weights and optimiser copies
    row["max_peak_mb"] = 0.5 * row["x_mb"] + row["state_mb"]
    seconds = row["fit_cpu"] + (row["predict_cpu"] or 0.0)
    row["ratio"] = seconds / row["baseline_cpu"]
    row["per_pass"] = row["ratio"] / row["passes"]
    return row


# ``--trade-offs``: what the two memory rules cost in time, at ImageNet-LT's 115,846
# rows and 1,000 classes (one thread, a fresh process per setting).
# (what, d, setting): LWS's 5 default epochs with its base logits kept or recomputed
# per batch (the rule keeps them when C <= d / 2); one L-BFGS fit (max_iter=1, 3
# evaluations) with chunks of this many rows (None: the package's on CPU,
# ``_trainer._pass_rows``; 16,384 is the memory budget's, 2**24 // max(C, d)).
TRADE_OFFS = [("lws", d, keep) for d in (256, 512, 2048) for keep in (True, False)] + [
    ("lbfgs", 256, rows) for rows in (1024, 2048, None, 16_384, 65_536, 115_846)
]


def trade_off(index, n=115_846, c=1_000):
    """One :data:`TRADE_OFFS` setting in this process: a dict of seconds and peak."""
    from sklearn_lt.heads import _base, _lws, _trainer

    what, d, setting = TRADE_OFFS[index]
    torch.set_num_threads(1)
    threadpool_limits(1)
    X, y = make_features(n, d, c)
    X_np = X.numpy()
    if what == "lws":
        _lws._keeps_base_logits = lambda n_features, n_classes: setting
        head = LWSClassifier(_frozen(d, c, torch.device("cpu")), random_state=0)
        label = "base logits " + ("kept" if setting else "recomputed per batch")
    else:
        if setting is None:  # the package's rule
            setting, whose = _trainer._pass_rows(c), "the package's "
        else:
            _base._CHUNK_ELEMENTS = setting * max(c, d)  # chunks of `setting` rows
            _trainer._PASS_ELEMENTS, _trainer._PASS_MIN_ROWS, whose = 0, setting, ""
        head = SoftmaxClassifier(max_iter=1)
        head.fit(X_np[:4000], y[:4000])  # first-call allocations are not the fit's
        label = f"{whose}chunks of {setting} rows ({setting * c * 4 / 2**20:.0f} MiB of logits)"
    fitted, cpu, wall, peak = _measured(lambda: head.fit(X_np, y))
    return {"benchmark": ("LWSClassifier, 5 epochs" if what == "lws"
                          else "SoftmaxClassifier L-BFGS, max_iter=1"),
            "size": size_label({"N": n, "d": d, "C": c}), "setting": label, "fit_cpu": cpu,
            "fit_wall": wall, "evaluations": len(fitted.loss_curve_), "peak_mb": peak,
            "x_mb": X.numel() * 4 / 2**20}


def trade_off_table(rows):
    """The trade-off rows as a Markdown table (CPU seconds, MiB)."""
    lines = ["| fit | size | setting | CPU s | epochs or evaluations | CPU s per one "
             "| peak beyond X (MiB) |", "|" + "---|" * 7]
    lines += [f"| {r['benchmark']} | {r['size']} | {r['setting']} | {r['fit_cpu']:.2f} "
              f"| {r['evaluations']} | {r['fit_cpu'] / r['evaluations']:.2f} "
              f"| {r['peak_mb']:.0f} |" for r in rows]
    return "\n".join(lines)


def inat_table(rows):
    """The rows as a Markdown table (CPU seconds, MiB)."""
    lines = ["| estimator | size | baseline pass (s) | its peak (MiB) | fit (s) | predict (s) "
             "| peak beyond X (MiB) | goal (MiB) | passes | ratio | per pass |",
             "|" + "---|" * 11]
    for r in rows:
        predict = "" if r["predict_cpu"] is None else f"{r['predict_cpu']:.1f}"
        lines.append(
            f"| {r['benchmark']} | {r['size']} | {r['baseline_cpu']:.1f} "
            f"({r['baseline'].split(' pass')[0].removeprefix('bare ')}) "
            f"| {r['baseline_peak_mb']:.0f} | {r['fit_cpu']:.1f} | {predict} | {r['peak_mb']:.0f} "
            f"| {r['max_peak_mb']:.0f} | {r['passes']} | {r['ratio']:.2f}x | {r['per_pass']:.2f}x |"
        )
    return "\n".join(lines)


def inat_main(argv):
    """``--inat-full`` (:data:`INAT_CASES`) or ``--trade-offs`` (:data:`TRADE_OFFS`): each
    case in a fresh process, the rows to ``--out``, a Markdown table printed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale --inat-full")
    parser.add_argument("--inat-full", action="store_true")
    parser.add_argument("--trade-offs", action="store_true")
    parser.add_argument("--inat-case", help=argparse.SUPPRESS)  # the worker processes
    parser.add_argument("--trade-off", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", default=",".join(map(str, INAT_SHAPE + INAT_COUNTS)),
                        help="N,d,C,largest,smallest class (default: iNaturalist 2018's)")
    parser.add_argument("--only", action="append", help="cases whose name contains this")
    parser.add_argument("--out", help="JSON file of the rows, rewritten after each case")
    args = parser.parse_args(argv)
    size = [int(v) for v in args.size.split(",")]
    if args.inat_case or args.trade_off is not None:
        row = inat_case(args.inat_case, *size) if args.inat_case else trade_off(args.trade_off)
        print(json.dumps(row))
        return
    if args.trade_offs:
        workers = [(f"{what} d={d} {setting}", ["--trade-off", str(i)])
                   for i, (what, d, setting) in enumerate(TRADE_OFFS)]
        table = trade_off_table
    else:
        workers = [(name, ["--inat-case", name, "--size", args.size]) for name in INAT_CASES]
        table = inat_table
    workers = [w for w in workers if not args.only or any(o in w[0] for o in args.only)]
    from benchmarks.run import git_commit

    result = {"command": "python -m benchmarks.bench_scale " + " ".join(argv),
              "commit": git_commit(), "threads": 1, "clock": "process CPU time",
              "rows": [], "errors": []}
    for name, worker_args in workers:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_scale", *worker_args],
            env={**os.environ, **MEMORY_ENV}, capture_output=True, text=True,
        )
        if proc.returncode:
            result["errors"].append({"benchmark": name, "stderr": proc.stderr[-3000:]})
            print(f"{name}: FAILED\n{proc.stderr[-3000:]}", flush=True)
        else:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["process_wall"] = time.perf_counter() - start
            result["rows"].append(row)
            print(table([row]).splitlines()[-1], flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result["rows"]))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    if {"--inat-full", "--inat-case", "--trade-offs", "--trade-off"} & set(sys.argv):
        inat_main(sys.argv[1:])
    else:
        main(cases, processes=1, values=1, warmups=0, loops=1)
