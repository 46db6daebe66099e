"""The decoupling study (Kang et al. 2020, Table 2 style) on a long-tailed dataset.

Per seed: train stage one once (instance-balanced), freeze it, fit every
stage-two head and the baselines a practitioner would try instead on the same
features, and score each on the balanced test set per many/medium/few split.
Then report mean +- std over seeds, as a table, CSV, JSON and figures.
"""

import csv
import json
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from .backbone import BackboneEmbedder
from .datasets import load_cifar_lt, load_digits_lt, log_thirds_thresholds
from .heads import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)
from .metrics import shot_accuracy
from .utils import to_numpy

__all__ = ["run_study", "load_study_data", "SPLITS"]

SPLITS = ("many", "medium", "few", "all")
TAUS = np.round(np.linspace(0, 2, 21), 10)
N_VAL_PER_CLASS = 20


# ------------------------------------------------------------------ data
def _carve_validation(X_test, y_test, n_per_class, seed):
    """Split a balanced test set into a balanced validation part and the rest."""
    rng = np.random.RandomState(seed)
    val = np.concatenate(
        [rng.permutation(np.flatnonzero(y_test == c))[:n_per_class] for c in np.unique(y_test)]
    )
    rest = np.setdiff1d(np.arange(len(y_test)), val)
    return X_test[val], y_test[val], X_test[rest], y_test[rest]


def load_study_data(data="digits", *, seed=0, imbalance_ratio=None):
    """Load the study's train / validation / test sets.

    Parameters
    ----------
    data : str or path, default="digits"
        ``"digits"``: the bundled digits-LT (:func:`~sklearn_lt.datasets.load_digits_lt`,
        with 20 validation images per class). A folder of the CIFAR-10 or
        CIFAR-100 python pickles (made long-tailed). A ``.npz`` file with
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (images as
        ``(N, C, H, W)``, or flat rows with an ``input_shape`` entry) and
        optionally ``X_val``, ``y_val``. Without a validation set, 20 images
        per class of the (balanced) test set are set aside for it.
    seed : int, default=0
        Seeds the split (digits) and the validation draw.
    imbalance_ratio : float, default=None
        IR of the long-tailed training set: 50 for digits, 100 for CIFAR;
        ignored for ``.npz`` files (already long-tailed).

    Returns
    -------
    Bunch
        ``X_train, y_train, X_val, y_val, X_test, y_test, input_shape, name,
        shot_thresholds`` (many, few), ``classes``, ``class_counts``.
    """
    if str(data) == "digits":
        d = load_digits_lt(
            imbalance_ratio=imbalance_ratio or 50,
            n_val_per_class=N_VAL_PER_CLASS,
            random_state=seed,
        )
        return Bunch(
            X_train=d.X_train, y_train=d.y_train, X_val=d.X_val, y_val=d.y_val,
            X_test=d.X_test, y_test=d.y_test, input_shape=d.images_shape,
            name=f"digits-LT (IR {d.imbalance_ratio:g})", shot_thresholds=d.shot_thresholds,
            classes=d.class_order, class_counts=d.class_counts,
        )
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(
            f"No dataset at {path}: give 'digits', a CIFAR folder or a .npz file."
        )
    if path.is_dir():
        names = {p.name for p in path.rglob("*")}
        dataset = "cifar100" if "train" in names and "data_batch_1" not in names else "cifar10"
        ir = imbalance_ratio or 100
        d = load_cifar_lt(path, dataset=dataset, imbalance_ratio=ir, as_float=True)
        X_train, y_train, X_test, y_test = d.X_train, d.y_train, d.X_test, d.y_test
        name, thresholds = f"{dataset.upper()}-LT (IR {ir:g})", d.shot_thresholds
        X_val = y_val = None
        input_shape = X_train.shape[1:]
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            missing = {"X_train", "y_train", "X_test", "y_test"} - set(f.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)}.")
            arrays = {k: f[k] for k in f.files}
        X_train, y_train = arrays["X_train"], arrays["y_train"]
        X_test, y_test = arrays["X_test"], arrays["y_test"]
        X_val, y_val = arrays.get("X_val"), arrays.get("y_val")
        input_shape = (
            tuple(int(v) for v in arrays["input_shape"]) if "input_shape" in arrays
            else X_train.shape[1:]
        )
        name, thresholds = path.stem, None
    else:
        raise ValueError(f"{path}: expected a CIFAR folder or a .npz file.")
    if (X_val is None) != (y_val is None):
        raise ValueError(f"{path}: give both X_val and y_val, or neither.")
    if X_val is None:
        test_classes, per_class = np.unique(y_test, return_counts=True)
        if per_class.min() <= N_VAL_PER_CLASS:
            raise ValueError(
                f"{path}: class {test_classes[per_class.argmin()].item()!r} has "
                f"{per_class.min()} test images; {N_VAL_PER_CLASS} per class are set "
                "aside for validation and the rest is the test set. Add X_val and "
                "y_val, or more test images."
            )
        X_val, y_val, X_test, y_test = _carve_validation(X_test, y_test, N_VAL_PER_CLASS, seed)
    classes, counts = np.unique(y_train, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return Bunch(
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, X_test=X_test,
        y_test=y_test, input_shape=tuple(input_shape), name=name,
        shot_thresholds=thresholds or log_thirds_thresholds(counts[order]),
        classes=classes[order], class_counts=counts[order],
    )


# ----------------------------------------------------------------- models
def _stage_two_models(joint, seed):
    """Every head of the study, and the baselines, on frozen features."""
    frozen = FrozenEstimator(joint)
    return {
        "Joint (IB)": joint,
        "NCM": NCMClassifier(),
        "cRT": CRTClassifier(random_state=seed),
        "tau-norm": TauNormClassifierCV(frozen, taus=TAUS),
        "LWS": LWSClassifier(frozen, random_state=seed),
        "LORT": LORTClassifier(frozen, random_state=seed),
        "LogReg (balanced)": LogisticRegression(class_weight="balanced", max_iter=3000),
        "ROS + LogReg": make_pipeline(
            RandomOverSampler(random_state=seed), LogisticRegression(max_iter=3000)
        ),
    }


def _fit_model(name, model, F_train, y_train, F_val, y_val):
    if name == "Joint (IB)":
        return model
    if name == "tau-norm":
        # tau chosen on the balanced validation set, never on the test set:
        # one predefined split, train part unused by the frozen base.
        n = len(y_train)
        F = np.concatenate([F_train, F_val])
        split = [(np.arange(n), np.arange(n, n + len(y_val)))]
        return model.set_params(cv=split).fit(F, np.concatenate([y_train, y_val]))
    return model.fit(F_train, y_train)


def _print(verbose, *args):
    if verbose:
        print(*args, flush=True)


def run_study(
    data="digits",
    *,
    seeds=5,
    out="study_output",
    max_epochs=30,
    module="convnet",
    device="cpu",
    imbalance_ratio=None,
    figures=True,
    verbose=1,
    threads=None,
):
    """Run the decoupling study and write its table, JSON and figures.

    Parameters
    ----------
    data : str or path, default="digits"
        See :func:`load_study_data`.
    seeds : int or list of int, default=5
        Number of seeds (0, 1, ...) or the seeds themselves. Each seed gets
        its own split (digits), stage-one training and stage-two fits.
    out : str or path or None, default="study_output"
        Folder for ``results.csv``, ``results.json`` and ``figures/``;
        ``None`` writes nothing.
    max_epochs : int, default=30
        Stage-one epochs.
    module : str or torch.nn.Module, default="convnet"
        Stage-one backbone (see :class:`~sklearn_lt.backbone.BackboneEmbedder`).
    device : str, default="cpu"
    imbalance_ratio : float, default=None
        See :func:`load_study_data`.
    figures : bool, default=True
        Draw the figures (needs matplotlib).
    verbose : int, default=1
        Progress messages and the final table.
    threads : int, default=None
        torch's CPU threads during the run (restored afterwards); ``None``
        keeps the current setting. A run is repeatable for a given thread
        count; another count sums in another order, which can change the
        table in the third decimal.

    Returns
    -------
    Bunch
        ``table``: {model: {split: (mean, std)}}; ``per_seed``: list of
        {model: {split: accuracy}}; ``tau_sweep``: {tau: {split: mean test
        accuracy}}; ``chosen_tau``: tau picked per seed; ``dataset``,
        ``shot_thresholds``, ``seconds``.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must be a positive number of seeds or a non-empty list.")
    start = time.perf_counter()
    per_seed, sweeps, chosen, last = [], [], [], None
    with _torch_threads(threads):
        for i, seed in enumerate(seeds):
            d = load_study_data(data, seed=seed, imbalance_ratio=imbalance_ratio)
            many, few = d.shot_thresholds
            _print(verbose, f"[seed {seed}, {i + 1}/{len(seeds)}] {d.name}: "
                   f"{len(d.y_train)} training images, counts {d.class_counts.tolist()}")
            t0 = time.perf_counter()
            embedder = BackboneEmbedder(
                module, input_shape=d.input_shape, max_epochs=max_epochs, device=device,
                random_state=seed, verbose=0, output="numpy",
            ).fit(d.X_train, d.y_train)
            F_train, F_val, F_test = (
                to_numpy(embedder.transform(X)) for X in (d.X_train, d.X_val, d.X_test)
            )
            _print(verbose, f"  stage one: {max_epochs} epochs in {time.perf_counter() - t0:.1f} s")

            def score(pred, d=d, many=many, few=few):
                acc = shot_accuracy(d.y_test, pred, dict(zip(d.classes, d.class_counts)),
                                    many_threshold=many, few_threshold=few)
                return {s: float(acc[s]) for s in SPLITS}

            t0 = time.perf_counter()
            fitted, results = {}, {}
            for name, model in _stage_two_models(embedder.classifier_, seed).items():
                fitted[name] = _fit_model(name, model, F_train, d.y_train, F_val, d.y_val)
                results[name] = score(to_numpy(fitted[name].predict(F_test)))
            chosen.append(float(fitted["tau-norm"].tau_))
            frozen = FrozenEstimator(embedder.classifier_)
            sweeps.append({
                float(tau): score(TauNormClassifier(frozen, tau=tau).fit(F_train, d.y_train)
                                  .predict(F_test))
                for tau in TAUS
            })
            per_seed.append(results)
            _print(verbose, f"  stage two: {len(results)} models in "
                   f"{time.perf_counter() - t0:.1f} s (tau chosen on validation: "
                   f"{chosen[-1]:g}); all-class accuracy: "
                   + ", ".join(f"{k} {v['all']:.3f}" for k, v in results.items()))
            last = Bunch(d=d, fitted=fitted, F_test=F_test, F_train=F_train)

    table = {
        name: {s: (float(np.mean([r[name][s] for r in per_seed])),
                   float(np.std([r[name][s] for r in per_seed]))) for s in SPLITS}
        for name in per_seed[0]
    }
    tau_sweep = {tau: {s: float(np.mean([sw[tau][s] for sw in sweeps])) for s in SPLITS}
                 for tau in sweeps[0]}
    result = Bunch(
        table=table, per_seed=per_seed, tau_sweep=tau_sweep, chosen_tau=chosen,
        dataset=last.d.name, shot_thresholds=tuple(int(t) for t in last.d.shot_thresholds),
        seeds=seeds, seconds=time.perf_counter() - start,
    )
    _print(verbose, "\n" + format_table(result))
    if out is not None:
        _write(result, Path(out), last if figures else None, verbose)
    return result


@contextmanager
def _torch_threads(threads):
    """Use ``threads`` torch CPU threads inside the block (``None``: unchanged)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def format_table(result):
    """The paper-style table: many / medium / few / all, mean +- std over seeds."""
    many, few = result.shot_thresholds
    lines = [
        f"{result.dataset}, {len(result.seeds)} seeds; top-1 accuracy on the balanced test "
        f"set (many: > {many} training images, few: < {few})",
        f"{'model':<20}" + "".join(f"{s:>16}" for s in SPLITS),
    ]
    for name, row in result.table.items():
        lines.append(f"{name:<20}" + "".join(
            f"{row[s][0]:>9.3f} ± {row[s][1]:.3f}" for s in SPLITS))
    lines.append("tau-norm on test by tau (trade-off; tau itself is chosen on validation):")
    for tau, row in result.tau_sweep.items():
        if np.isclose(tau * 2, round(tau * 2)):
            lines.append(f"  tau {tau:<4g}" + "".join(f"  {s} {row[s]:.3f}" for s in SPLITS))
    lines.append(f"chosen tau per seed: {result.chosen_tau}; {result.seconds:.0f} s in all")
    return "\n".join(lines)


def _write(result, out, last, verbose):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model"] + [f"{s}_{k}" for s in SPLITS for k in ("mean", "std")])
        for name, row in result.table.items():
            writer.writerow([name] + [f"{v:.4f}" for s in SPLITS for v in row[s]])
    payload = {k: v for k, v in result.items()}
    payload["table"] = {n: {s: {"mean": m, "std": sd} for s, (m, sd) in row.items()}
                        for n, row in result.table.items()}
    payload["tau_sweep"] = [{"tau": tau, **row} for tau, row in result.tau_sweep.items()]
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    (out / "results.txt").write_text(format_table(result) + "\n")
    written = ["results.csv", "results.json", "results.txt"]
    if last is not None:
        written += _figures(result, out / "figures", last)
    _print(verbose, f"wrote {', '.join(written)} to {out}/")


def _figures(result, folder, last):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    from .plotting import (
        LogitsMagnitudeDisplay,
        ShotAccuracyDisplay,
        TauSweepDisplay,
        WeightNormDisplay,
    )

    folder.mkdir(parents=True, exist_ok=True)
    d, fitted = last.d, last.fitted
    many, few = result.shot_thresholds
    common = dict(class_counts=dict(zip(d.classes, d.class_counts)),
                  many_threshold=many, few_threshold=few)
    linear = {k: fitted[k] for k in ("Joint (IB)", "cRT", "tau-norm", "LWS", "LORT")}
    drawings = {
        "shot_accuracy.png": lambda: ShotAccuracyDisplay.from_predictions(
            d.y_test, {k: m.predict(last.F_test) for k, m in fitted.items()}, **common),
        "tau_sweep.png": lambda: TauSweepDisplay.from_estimator(
            fitted["tau-norm"], last.F_test, d.y_test, taus=TAUS, **common),
        "weight_norms.png": lambda: WeightNormDisplay.from_estimators(linear, **common),
        "logits_magnitude.png": lambda: LogitsMagnitudeDisplay.from_estimators(
            {k: linear[k] for k in ("Joint (IB)", "LORT", "tau-norm")}, last.F_test, d.y_test,
            **common),
    }
    written = []
    for filename, draw in drawings.items():
        display = draw()
        display.figure_.savefig(folder / filename, dpi=110)
        plt.close(display.figure_)
        written.append(f"figures/{filename}")
    return written
