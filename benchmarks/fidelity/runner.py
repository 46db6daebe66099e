"""Fit every model on every source and seed; score on the balanced test set.

``MODELS`` below is the list of what runs: add a head there (see
:func:`.models.head`; a model is built and fitted as a row of the decoupling
study). Every head is built at its defaults, with only ``random_state=seed``;
the rebalancing heads run twice, on the source's joint classifier
(``FrozenEstimator(joint)``, the papers' protocol) and on their default base
(no estimator, what a new user gets).
"""

import argparse
import json
import math
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

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
from sklearn_lt.heads._linear_base import default_base
from sklearn_lt.metrics import shot_accuracy
from sklearn_lt.study import fit_with_validation_fold
from sklearn_lt.utils import to_numpy

from .data import LOGISTIC_MAX_ITER, cache_dir
from .models import Model, fit_model, head
from .sources import SOURCES, get_source

# default_base()'s parameters where they differ from SoftmaxClassifier's defaults.
DEFAULT_BASE = {
    name: value for name, value in default_base().get_params().items()
    if value != SoftmaxClassifier().get_params()[name]
}

MODELS = {model.name: model for model in (
    Model("joint", lambda stage: FrozenEstimator(stage.joint), kind="joint", needs_joint=True),
    # The base the rebalancing heads fit when given no estimator (no intercept),
    # and the plain retrained softmax classifier (with one).
    head("default base", SoftmaxClassifier, kind="base", **DEFAULT_BASE),
    head("Softmax", SoftmaxClassifier, kind="base"),
    head("NCM", NCMClassifier),
    head("cRT", CRTClassifier),
    head("tau-norm", TauNormClassifier),
    head("tau-norm (joint)", TauNormClassifier, base="joint"),
    head("tau-norm CV", TauNormClassifierCV),
    head("tau-norm CV (joint)", TauNormClassifierCV, base="joint"),
    # tau chosen on the balanced validation set, as Kang et al. do (never on test).
    head("tau-norm val (joint)", TauNormClassifierCV, base="joint", fit=fit_with_validation_fold),
    head("LWS", LWSClassifier),
    head("LWS (joint)", LWSClassifier, base="joint"),
    head("LORT", LORTClassifier),
    head("LORT (joint)", LORTClassifier, base="joint"),
    head("LORT CV", LORTClassifierCV),
    head("LORT CV (joint)", LORTClassifierCV, base="joint"),
    # LORT's Table 1 (issue #15); the logit-adjusted loss at tau=1 is Balanced Softmax.
    head("Cosine", RetrainedClassifier, logits="cosine", loss="cross_entropy"),
    head("CB loss", RetrainedClassifier, loss="cross_entropy", reweight="class_balanced"),
    head("Focal", RetrainedClassifier, loss="focal"),
    # RetrainedClassifier()'s default loss (issue #23).
    head("Balanced Softmax", RetrainedClassifier, loss="balanced_softmax"),
    head("LDAM-DRW", RetrainedClassifier, init="base", logits="cosine", loss="ldam",
         reweight="class_balanced", reweight_from_epoch=5),
    head("LDAM-DRW (joint)", RetrainedClassifier, base="joint", init="base", logits="cosine",
         loss="ldam", reweight="class_balanced", reweight_from_epoch=5),
    head("MaxNorm", RetrainedClassifier, init="base", max_norm=0.1, loss="cross_entropy",
         reweight="class_balanced"),
    head("MaxNorm (joint)", RetrainedClassifier, base="joint", init="base", max_norm=0.1,
         loss="cross_entropy", reweight="class_balanced"),
    head("post-hoc LA", LogitAdjustedClassifier),
    head("post-hoc LA (joint)", LogitAdjustedClassifier, base="joint"),
    head("post-hoc LA CV", LogitAdjustedClassifierCV),
    head("post-hoc LA CV (joint)", LogitAdjustedClassifierCV, base="joint"),
    head("post-hoc LA val (joint)", LogitAdjustedClassifierCV, base="joint",
         fit=fit_with_validation_fold),
    Model(
        "LogReg (balanced)",
        lambda stage: LogisticRegression(class_weight="balanced", max_iter=LOGISTIC_MAX_ITER),
        kind="baseline",
    ),
    # The CV heads' peer: a search over the penalty on 5 folds, scored as they score.
    Model(
        "LogRegCV (balanced)",
        lambda stage: LogisticRegressionCV(
            class_weight="balanced", scoring="balanced_accuracy", max_iter=LOGISTIC_MAX_ITER
        ),
        kind="baseline",
    ),
    Model(
        "ROS + LogReg",
        lambda stage: make_pipeline(
            RandomOverSampler(random_state=stage.seed),
            LogisticRegression(max_iter=LOGISTIC_MAX_ITER),
        ),
        kind="baseline",
    ),
)}

SPLITS = ("all", "many", "medium", "few")
SEEDS = (0, 1, 2)
BALANCED_BASELINE = "LogReg (balanced)"


# ------------------------------------------------------------------ running
def _short(message, limit=240):
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def evaluate(model, d, seed):
    """Fit one model on one source's Bunch ``d``; its test accuracies, time and warnings."""
    result = {s: math.nan for s in SPLITS}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = fit_model(model, d, seed)
            acc = shot_accuracy(
                d.y_test, to_numpy(estimator.predict(d.F_test)),
                dict(zip(d.classes.tolist(), d.class_counts.tolist())),
                many_threshold=d.shot_thresholds[0], few_threshold=d.shot_thresholds[1],
            )
            result.update({s: float(acc[s]) for s in SPLITS})
        except Exception as exc:  # a broken head is reported, the others still run
            result["error"] = _short(f"{type(exc).__name__}: {exc}")
            result["traceback"] = traceback.format_exc()
    result["seconds"] = time.perf_counter() - start
    result["warnings"] = sorted({_short(f"{w.category.__name__}: {w.message}") for w in caught})
    return result


def _nan_to_none(value):
    """NaN (a failed fit) as None, recursively: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def _summary(per_seed):
    """Mean and std over seeds of every split (NaN where a seed failed)."""
    runs = list(per_seed.values())
    return {
        "mean": {s: _nan_to_none(float(np.mean([r[s] for r in runs]))) for s in SPLITS},
        "std": {s: _nan_to_none(float(np.std([r[s] for r in runs]))) for s in SPLITS},
        "seconds": float(np.mean([r["seconds"] for r in runs])),
        "warnings": sorted({w for r in runs for w in r["warnings"]}),
        "errors": sorted({r["error"] for r in runs if "error" in r}),
    }


def run(sources=None, seeds=SEEDS, models=None, *, verbose=True):
    """Run the suite; returns the results dict that ``--out`` writes as JSON.

    Parameters
    ----------
    sources : list of str, default=None
        Names for :func:`.sources.get_source` (``None``: every source of
        ``SOURCES``).
    seeds : list of int, default=(0, 1, 2)
    models : list of str, default=None
        Names of ``MODELS`` (``None``: all). ``"joint"`` and the balanced
        baseline are added when missing, for the orderings.
    verbose : bool, default=True
        Progress on stderr.
    """
    sources = list(SOURCES) if sources is None else list(sources)
    names = list(MODELS) if models is None else list(models)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise KeyError(f"Unknown models {unknown}: choose among {list(MODELS)}.")
    # The orderings compare with these two; kept in MODELS' order.
    names = [n for n in MODELS if n in names or n in ("joint", BALANCED_BASELINE)]
    start = time.perf_counter()
    results = {}
    for source_name in sources:
        source = get_source(source_name)
        per_model = {n: {} for n in names}
        info = None
        for seed in seeds:
            t0 = time.perf_counter()
            d = source(seed)
            if info is None:
                info = {
                    "description": d.description, "n_classes": len(d.classes),
                    "n_features": int(d.F_train.shape[1]), "shot_thresholds": d.shot_thresholds,
                    "n_train": [], "n_val": len(d.y_val), "n_test": len(d.y_test),
                    "class_counts": [], "mean_row_norm": [],
                }
            info["n_train"].append(len(d.y_train))
            info["class_counts"].append(d.class_counts.tolist())
            info["mean_row_norm"].append(float(np.linalg.norm(d.F_train, axis=1).mean()))
            for name in names:
                model = MODELS[name]
                if model.needs_joint and d.joint is None or name in d.get("skip", ()):
                    continue
                per_model[name][seed] = evaluate(model, d, seed)
            if verbose:
                print(f"  {source_name} seed {seed}: {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr, flush=True)
        results[source_name] = {
            **info,
            "models": {
                n: {**_summary(runs),
                    "per_seed": _nan_to_none({str(s): r for s, r in runs.items()})}
                for n, runs in per_model.items() if runs
            },
        }
    return {
        "seeds": list(seeds), "seconds": time.perf_counter() - start,
        "sources": results, "orderings": orderings(results),
    }


# ---------------------------------------------------------------- orderings
def orderings(results):
    """Per source: does each head beat the joint classifier (all, few), mean over seeds;
    is the best head at least ``LogisticRegression(class_weight="balanced")`` on all."""
    summary = {}
    for source_name, source in results.items():
        models = source["models"]
        if "joint" not in models:
            continue
        joint = models["joint"]["mean"]
        heads = {n: m["mean"] for n, m in models.items() if MODELS[n].kind == "head"}
        entry = {"heads": {}}
        for name, mean in heads.items():
            entry["heads"][name] = {
                f"{s}_vs_joint": _difference(mean[s], joint[s]) for s in ("all", "few")
            }
            for s in ("all", "few"):
                diff = entry["heads"][name][f"{s}_vs_joint"]
                entry["heads"][name][f"beats_joint_{s}"] = diff is not None and diff > 0
        scored = {n: m["all"] for n, m in heads.items() if m["all"] is not None}
        balanced = models.get(BALANCED_BASELINE, {}).get("mean", {}).get("all")
        if scored and balanced is not None:
            best = max(scored, key=scored.get)
            entry.update(
                best_head=best, best_head_all=scored[best], balanced_logreg_all=balanced,
                best_head_at_least_balanced_logreg=scored[best] >= balanced,
            )
        summary[source_name] = entry
    return summary


def _difference(a, b):
    return None if a is None or b is None else a - b


# ----------------------------------------------------------------- printing
def _cell(mean, std):
    return "error" if mean is None else f"{mean:.3f} ± {std:.3f}"


def format_source(name, source, markdown=False):
    """One source's table: all / many / medium / few, mean ± std over seeds, and fit time."""
    many, few = source["shot_thresholds"]
    header = ["model", *SPLITS, "fit s"]
    rows = [
        [model, *(_cell(m["mean"][s], m["std"][s]) for s in SPLITS), f"{m['seconds']:.2f}"]
        for model, m in source["models"].items()
    ]
    title = (
        f"{name}: {source['description']}; {len(source['n_train'])} seeds, "
        f"{np.mean(source['n_train']):.0f} training rows, {source['n_test']} test rows, "
        f"mean row norm {np.mean(source['mean_row_norm']):.3g}; many > {many}, few < {few}"
    )
    return title + "\n" + _table(header, rows, markdown)


def format_orderings(summary, markdown=False):
    """Signed differences to the joint classifier ('+' where the head beats it)."""
    header = ["source", "head", "all - joint", "few - joint"]
    rows, best = [], []
    for source_name, entry in summary.items():
        for name, h in entry["heads"].items():
            rows.append([source_name, name, *(_signed(h[f"{s}_vs_joint"]) for s in ("all", "few"))])
        if "best_head" in entry:
            verdict = "yes" if entry["best_head_at_least_balanced_logreg"] else "NO"
            diff = entry["best_head_all"] - entry["balanced_logreg_all"]
            best.append(
                f"{'-' if markdown else ' '} {source_name}: {entry['best_head']} "
                f"{entry['best_head_all']:.3f} vs {entry['balanced_logreg_all']:.3f} "
                f"({diff:+.3f}): {verdict}"
            )
    return (
        "orderings: head minus joint classifier, means over seeds (yes: the head beats it)\n"
        + _table(header, rows, markdown, left=2)
        + f"\n\nbest head >= {BALANCED_BASELINE} on all-class accuracy (means over seeds):\n"
        + "\n".join(best)
    )


# The user guide's summary table (fidelity.rst): these models on the unscaled sources.
SUMMARY_MODELS = ("joint", "default base", "NCM", "cRT", "tau-norm", "tau-norm CV", "LWS",
                  "LORT", "LORT CV", "Balanced Softmax", BALANCED_BASELINE, "LogRegCV (balanced)",
                  "ROS + LogReg")


def format_summary(results, models=SUMMARY_MODELS):
    """All-class / few-shot accuracy of ``models`` (rows) on the unscaled sources (columns),
    means over seeds, as an RST table; ``-`` where a model did not run."""
    sources = [name for name in results["sources"] if "*" not in name]
    rows = []
    for model in models:
        cells = []
        for name in sources:
            m = results["sources"][name]["models"].get(model)
            ok = m is not None and m["mean"]["all"] is not None
            cells.append(f"{m['mean']['all']:.3f}/{m['mean']['few']:.3f}" if ok else "-")
        rows.append([model, *cells])
    header = ["model", *(name.replace("_digits", "") for name in sources)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "   ".join("=" * w for w in widths)
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join([rule, lines[0], rule, *lines[1:], rule])


def _signed(diff):
    if diff is None:
        return "error"
    return f"{diff:+.3f} {'yes' if diff > 0 else 'NO '}"


def _table(header, rows, markdown, left=1):
    """Plain columns (the first ``left`` flush left, the rest right) or Markdown."""
    if markdown:
        lines = [header, ["---"] * len(header), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                  for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    )


def _git_state():
    """The commit that ran, and the package files changed on top of it."""
    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True,
                cwd=Path(__file__).resolve().parents[2],
            ).stdout.rstrip("\n")  # status lines start with a meaningful space
        except (OSError, subprocess.CalledProcessError):
            return None

    changed = git("status", "--porcelain", "--", "sklearn_lt")
    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted_in_sklearn_lt": changed.splitlines() if changed else []}


def _names(values):
    """``--sources a --sources b,c`` -> ``["a", "b", "c"]``."""
    return None if not values else [n.strip() for v in values for n in v.split(",") if n.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fidelity",
        description="Fidelity of the stage-two heads on several feature sources "
        "(issue #14): every head at its defaults, mean ± std over seeds.",
    )
    parser.add_argument("--sources", action="append", metavar="NAMES",
                        help=f"comma-separated, repeatable; NAME*FACTOR scales a source "
                        f"(default: {', '.join(SOURCES)})")
    parser.add_argument("--models", action="append", metavar="NAMES",
                        help=f"comma-separated, repeatable (default: {', '.join(MODELS)})")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--out", type=Path, default=cache_dir() / "results.json",
                        help="JSON results (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--summary", action="store_true",
                        help="also print the user guide's summary table")
    parser.add_argument("--list", action="store_true", help="list sources and models")
    args = parser.parse_args(argv)
    if args.list:
        for name, source in SOURCES.items():
            print(f"source {name}: {(source.__doc__ or '').strip().splitlines()[0]}")
        for name, model in MODELS.items():
            print(f"model {name} ({model.kind})")
        return 0
    results = run(_names(args.sources), args.seeds, _names(args.models))
    for name, source in results["sources"].items():
        print(format_source(name, source, args.markdown) + "\n")
        problems = {m: s["errors"] for m, s in source["models"].items() if s["errors"]}
        for model, errors in problems.items():
            print(f"  {model} failed: {'; '.join(errors)}")
    print(format_orderings(results["orderings"], args.markdown))
    if args.summary:
        print("\n" + format_summary(results))
    print(f"\n{len(results['sources'])} sources x {len(args.seeds)} seeds in "
          f"{results['seconds']:.0f} s")
    results.update(command=" ".join(sys.argv), git=_git_state())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, allow_nan=False))
    print(f"wrote {args.out}")
    failed = any(s["errors"] for src in results["sources"].values()
                 for s in src["models"].values())
    return 1 if failed else 0
