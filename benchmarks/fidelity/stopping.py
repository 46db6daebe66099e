"""L-BFGS stopping rules: passes over the data against validation accuracy (issue #22).

A stopping rule only decides *where* L-BFGS leaves its path, never the path
itself (the history, the steps and the line searches do not depend on it).
So each default L-BFGS fit runs once, with a tight tolerance, while
:func:`record_path` records after every iteration the passes made so far (one
pass: one full-batch loss and gradient evaluation), the loss, the largest
gradient entry and the predictions on the source's balanced *validation* set
(never the test set). Every candidate rule is then the first iteration that
meets it, on the same path::

    OMP_NUM_THREADS=1 python -m benchmarks.fidelity.stopping
    python -m benchmarks.fidelity.stopping --sources letter pixels --seeds 0

prints, per head and rule, the passes (mean over sources and seeds, and the
most) and the validation balanced accuracy against the tight fit's.
"""

import argparse
import contextlib
import json
import time
import warnings

import numpy as np
import torch
import torch.optim.lbfgs as torch_lbfgs
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import CRTClassifier, RetrainedClassifier, SoftmaxClassifier
from sklearn_lt.heads import _trainer

from .sources import SOURCES, get_source

__all__ = ["HEADS", "RULES", "main", "record_path", "stop"]

# The default L-BFGS fits: the default base, logit adjustment's base (with an
# intercept), cRT, Balanced Softmax retraining.
HEADS = {
    "default base": lambda seed, tol: SoftmaxClassifier(
        fit_intercept=False, tol=tol, random_state=seed),
    "Softmax (LA's base)": lambda seed, tol: SoftmaxClassifier(tol=tol, random_state=seed),
    "cRT": lambda seed, tol: CRTClassifier(tol=tol, random_state=seed),
    "Balanced Softmax": lambda seed, tol: RetrainedClassifier(tol=tol, random_state=seed),
}

# Candidate rules: (name, tol, change). torch's L-BFGS stops after the first
# iteration whose new gradient has no entry above ``tol`` (its tolerance_grad;
# scikit-learn 1.9's LogisticRegression has the same rule, gtol=tol, on its
# weighted mean loss), or whose loss moved by less than ``change``, or whose step
# has no entry above ``change``, or when the next direction's slope is above
# ``-change`` (its tolerance_change, all three). The heads pass ``min(tol, a tenth
# of the starting gradient's largest entry)`` as tolerance_grad (``tol`` 1e-6, the
# default base's 1e-4; without the tenth, cRT at 1e-4 stopped at iteration 0 at
# 8,142 classes) and 1e-12 as tolerance_change.
ABSOLUTE_RULES = [
    ("tol 1e-7, change 1e-12", 1e-7, 1e-12),
    ("tol 1e-6, change 1e-12 (default)", 1e-6, 1e-12),  # every head's default
    ("tol 3e-6, change 1e-12", 3e-6, 1e-12),
    ("tol 1e-5, change 1e-12", 1e-5, 1e-12),
    ("tol 3e-5, change 1e-12", 3e-5, 1e-12),
    ("tol 1e-4 (sklearn's)", 1e-4, 1e-12),
    ("tol 1e-6, change 1e-8", 1e-6, 1e-8),
    ("tol 1e-6, change 1e-7", 1e-6, 1e-7),
    ("tol = change = 1e-6", 1e-6, 1e-6),
    ("tol 1e-6, change 3e-6", 1e-6, 3e-6),
    ("tol 1e-6, change 1e-5", 1e-6, 1e-5),
    ("tol 1e-5, change 1e-6", 1e-5, 1e-6),
    ("tol = change = 3e-6", 3e-6, 3e-6),
    ("tol = change = 1e-5", 1e-5, 1e-5),
]
# Rules relative to the start: the gradient test is against ``min(tol, floor *
# grad0)``, ``grad0`` the largest gradient entry where the fit starts (MATLAB's
# fminunc measures first-order optimality against it). ``tol`` inf: purely relative;
# the heads' rule is ``floor`` 0.1 under their absolute ``tol``, so that a fit
# whose gradient starts below ``tol`` (8,142 classes) still trains.
RELATIVE_RULES = [
    ("rtol 1e-2", np.inf, 1e-12, 1e-2),
    ("rtol 1e-3", np.inf, 1e-12, 1e-3),
    ("rtol 1e-4", np.inf, 1e-12, 1e-4),
    ("tol 1e-4, floor 0.1 grad0", 1e-4, 1e-12, 0.1),
    ("tol 1e-4, floor 0.01 grad0", 1e-4, 1e-12, 0.01),
    ("tol 1e-6, floor 0.1 grad0", 1e-6, 1e-12, 0.1),
]
# Every rule as (name, tol, change, floor).
RULES = [(*r, np.inf) for r in ABSOLUTE_RULES] + RELATIVE_RULES
# The recorded path runs to tol RECORD_TOL (change 1e-12), past every rule above.
RECORD_TOL = 1e-12


@contextlib.contextmanager
def record_path(X_val):
    """Record each L-BFGS iteration of the fits run inside: a list of dicts.

    Each dict: ``passes`` (evaluations so far, the first one included),
    ``loss``, ``loss_change`` (from the iteration before), ``grad`` (largest
    gradient entry at the new point), ``step`` (largest entry of the step),
    ``slope`` (the directional derivative the line search started from),
    ``predicted`` (argmax of the module's logits on ``X_val``; their class
    indices) and ``seconds`` (CPU time of that recording, not the fit's).
    Patches, for the duration only, the trainer's ``_fit_lbfgs`` (to see the
    module) and ``_l2_penalty`` (called once per evaluation: the
    passes), torch's strong-Wolfe line search (its result) and
    ``LBFGS._add_grad`` (the step taken, after the line search returned).
    """
    path, state = [], {}
    fit_lbfgs, strong_wolfe = _trainer._fit_lbfgs, torch_lbfgs._strong_wolfe
    l2_penalty = _trainer._l2_penalty
    add_grad = torch.optim.LBFGS._add_grad

    def fit_watched(module, *args, **kwargs):
        state.update(module=module, passes=0, grad0=None)
        return fit_lbfgs(module, *args, **kwargs)

    def penalty_counted(*args, **kwargs):  # called once by each evaluation
        state["passes"] += 1
        return l2_penalty(*args, **kwargs)

    def line_search(obj_func, x, t, d, f, g, gtd, **kwargs):
        loss, flat_grad, t, evals = strong_wolfe(obj_func, x, t, d, f, g, gtd, **kwargs)
        if state["grad0"] is None:  # the first line search starts where the fit does
            state["grad0"] = float(g.abs().max())
        state["last"] = {
            "grad0": state["grad0"],
            "loss": float(loss), "loss_change": abs(float(loss) - float(f)),
            "grad": float(flat_grad.abs().max()), "step": float((d * t).abs().max()),
            "slope": float(gtd),
        }
        return loss, flat_grad, t, evals

    def step_taken(self, step_size, update):
        add_grad(self, step_size, update)
        if "last" not in state:  # a trial point inside the line search
            return
        module, start = state["module"], time.process_time()
        with torch.no_grad():
            inputs = torch.as_tensor(X_val, dtype=module.weight.dtype)
            predicted = module(inputs).argmax(1).numpy()
        path.append({**state.pop("last"), "passes": state["passes"], "predicted": predicted,
                     "seconds": time.process_time() - start})

    _trainer._fit_lbfgs, _trainer._l2_penalty = fit_watched, penalty_counted
    torch_lbfgs._strong_wolfe = line_search
    torch.optim.LBFGS._add_grad = step_taken
    try:
        yield path
    finally:
        _trainer._fit_lbfgs, _trainer._l2_penalty = fit_lbfgs, l2_penalty
        torch_lbfgs._strong_wolfe = strong_wolfe
        torch.optim.LBFGS._add_grad = add_grad


def stop(path, tol, change, floor=np.inf):
    """Index of the iteration of ``path`` after which torch's L-BFGS stops (the last if none).

    The gradient test is against ``min(tol, floor * grad0)``, ``grad0`` the starting
    gradient's largest entry.
    """
    for k, it in enumerate(path):
        gradient_met = it["grad"] <= min(tol, floor * it["grad0"])
        if gradient_met or it["step"] <= change or it["loss_change"] < change:
            return k
        if k + 1 < len(path) and path[k + 1]["slope"] > -change:
            return k
    return len(path) - 1


def _one_fit(make, d, seed):
    """The recorded path of one fit and its classes, checked against ``predict``."""
    with warnings.catch_warnings(), record_path(d.F_val) as path:
        warnings.simplefilter("ignore")
        head = make(seed, RECORD_TOL).fit(d.F_train, d.y_train)
    assert path[-1]["passes"] == len(head.loss_curve_), (path[-1]["passes"], head.loss_curve_)
    final = np.asarray(head.predict(d.F_val))
    assert (head.classes_[path[-1]["predicted"]] == final).all()
    return path, head.classes_


def run(sources, seeds, heads=tuple(HEADS)):
    """``{head: {rule: {source: [(passes, validation accuracy) per seed]}}}``."""
    results = {h: {rule: {} for rule, *_ in RULES} for h in heads}
    for name in sources:
        start = time.perf_counter()
        for seed in seeds:
            d = get_source(name)(seed)
            for h in heads:
                path, classes = _one_fit(HEADS[h], d, seed)
                for rule, tol, change, floor in RULES:
                    k = stop(path, tol, change, floor)
                    score = balanced_accuracy_score(d.y_val, classes[path[k]["predicted"]])
                    results[h][rule].setdefault(name, []).append((path[k]["passes"], score))
        print(f"# {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return results


def format_results(results, reference="tol 1e-6, change 1e-12 (default)"):
    """Per head: one row per rule, passes and accuracy against ``reference``'s."""
    lines = []
    for h, by_rule in results.items():
        lines += [f"\n{h}", "| rule | passes mean | passes max | val. acc. mean "
                  "| mean - before | worst source - before |", "|" + " --- |" * 6]
        ref = {s: np.mean([a for _, a in v], axis=0) for s, v in by_rule[reference].items()}
        for rule, by_source in by_rule.items():
            passes = [p for v in by_source.values() for p, _ in v]
            acc = {s: np.mean([a for _, a in v]) for s, v in by_source.items()}
            diff = {s: acc[s] - ref[s] for s in acc}
            worst = min(diff, key=diff.get)
            lines.append(
                f"| {rule} | {np.mean(passes):.1f} | {max(passes)} | "
                f"{np.mean(list(acc.values())):.4f} | {np.mean(list(diff.values())):+.4f} | "
                f"{diff[worst]:+.4f} ({worst}) |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity.stopping")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--heads", nargs="+", default=list(HEADS))
    parser.add_argument("--save", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = run(args.sources, args.seeds, args.heads)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(results, f)
    print(f"Validation balanced accuracy (mean over seeds {', '.join(map(str, args.seeds))}, "
          "then over sources) and passes, each rule on the same recorded L-BFGS path")
    print(format_results(results))


if __name__ == "__main__":
    main()
