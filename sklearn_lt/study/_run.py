"""Run the decoupling study: per seed, stage one once, then every declared model."""

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import Bunch

from .._counts import ClassCounts
from ..backbone import BackboneEmbedder, PretrainedEmbedder
from ..heads import default_base, linear_weights, tau_sweep
from ..metrics import logits_magnitude, shot_accuracy, weight_norms
from ..utils import to_numpy
from ._data import load_study_data
from ._models import (
    DECOUPLING_MODELS,
    RETRAINING_MODELS,
    SPLITS,
    TAUS,
    StageOne,
    fit_study_model,
)
from ._output import format_table, write_results

__all__ = ["run_study"]

# Linear models whose weight norms and logits the figures show.
WEIGHT_NORM_MODELS = ("Joint (IB)", "cRT", "tau-norm", "LWS", "LORT")
LOGITS_MODELS = ("Joint (IB)", "tau-norm", "LORT")


def _print(verbose, *args):
    if verbose:
        print(*args, flush=True)


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


def _frozen_features(d, pool, *, backbone, device, cache_dir):
    """``{part: features}`` of a frozen stage one, extracted once per run.

    Features given (``d.kind == "features"``) are used as they are. Image files
    go through the pretrained network once, on the first seed: every image any
    split of any seed reads, so that later seeds (which only redraw the
    validation part of the test list) look their rows up in ``pool``.
    """
    if d.kind == "features":
        return {part: np.asarray(d[f"X_{part}"]) for part in ("train", "val", "test")}
    if not pool:
        paths = np.unique(np.concatenate([d.X_train, d.X_val, d.X_test]))
        embedder = PretrainedEmbedder(backbone, device=device, cache_dir=cache_dir, verbose=0)
        features = np.asarray(to_numpy(embedder.fit(paths).transform(paths)))
        pool.update(paths=paths, features=features)
    return {
        part: pool["features"][np.searchsorted(pool["paths"], d[f"X_{part}"])]
        for part in ("train", "val", "test")
    }


def _stage_one(d, pool, *, module, backbone, max_epochs, device, seed, cache_dir):
    """Stage one and the frozen features of every split.

    Arrays of images: a :class:`BackboneEmbedder` trained on the training
    images, whose joint classifier the rebalancing heads start from. Image
    files (a split list) or features: a frozen stage one (a pretrained
    network, or none), and as the joint classifier the package's default
    base, an instance-balanced softmax probe without intercept: a probe with
    an intercept keeps the class prior in its bias, which tau-normalisation
    drops (on post-ReLU features it collapsed to 0.257 against the probe's
    0.543 on 233 digit images).
    """
    if d.kind == "images":
        embedder = BackboneEmbedder(
            module,
            input_shape=d.input_shape,
            max_epochs=max_epochs,
            device=device,
            random_state=seed,
            output="numpy",
            n_threads=None,  # the run's own setting (the CLI's --threads) governs
        ).fit(d.X_train, d.y_train)
        parts = {
            part: np.asarray(to_numpy(embedder.transform(d[f"X_{part}"])))
            for part in ("train", "val", "test")
        }
        joint = embedder.classifier_
    else:
        parts = _frozen_features(d, pool, backbone=backbone, device=device, cache_dir=cache_dir)
        joint = default_base(random_state=seed).fit(parts["train"], d.y_train)
    features = Bunch(y_train=d.y_train, y_val=d.y_val, y_test=d.y_test)
    for part, F in parts.items():
        features[f"F_{part}"] = F
    stage = StageOne(joint, seed)
    return stage, features


def describe_stage_one(d, *, module="convnet", backbone="efficientnet_lite0", max_epochs=30):
    """What stage one and the joint classifier are, and what the seeds vary, for the output."""
    varies = {"split": "the data split", "validation": "the validation draw"}.get(d.seeded)
    if d.kind == "images":
        varies = [varies, "stage one", "the heads"]
        stage = (f"stage one: {module} trained per seed ({max_epochs} epochs, instance-"
                 "balanced), frozen; joint classifier: its own.")
    else:
        varies = ["the heads", varies]
        frozen = (f"stage one: {backbone} (pretrained, frozen), features extracted once for "
                  "the run" if d.kind == "image_files" else "stage one skipped (features given)")
        stage = (f"{frozen}; joint classifier: a linear probe without intercept "
                 "(instance-balanced softmax, the heads' default base).")
    varies = [v for v in varies if v]
    same = "" if d.kind == "images" else " The features are the same for every seed."
    return (f"{stage} Seeds vary {', '.join(varies[:-1])}{' and ' * (len(varies) > 1)}"
            f"{varies[-1]}.{same}")


def _split_accuracies(y_true, y_pred, counts):
    result = shot_accuracy(y_true, y_pred, counts, warn_for=())
    return {s: float(result[s]) for s in SPLITS}


def _run_seed(d, pool, models, retraining_models, counts, **stage_one):
    """Every model of one seed: test scores, the validation tau sweep, diagnostics."""
    stage, f = _stage_one(d, pool, **stage_one)

    def scores_of(fitted):
        return {
            name: _split_accuracies(f.y_test, to_numpy(model.predict(f.F_test)), counts)
            for name, model in fitted.items()
        }

    fitted = {m.name: fit_study_model(m, stage, f) for m in models}
    scores = scores_of(fitted)
    retraining = scores_of({m.name: fit_study_model(m, stage, f) for m in retraining_models})
    # The trade-off of tau on the *validation* set, from the joint classifier's
    # weights: what tau-norm chose from (its test-set curve is never drawn).
    classes, coef, _ = linear_weights(stage.joint, dtype=torch.float64)
    sweep = classes[tau_sweep(coef, torch.as_tensor(f.F_val, dtype=torch.float64), TAUS)]
    present = [name for name in WEIGHT_NORM_MODELS if name in fitted]
    return Bunch(
        scores=scores,
        retraining_scores=retraining,
        tau=float(fitted["tau-norm"].tau_) if "tau-norm" in fitted else None,
        val_sweep=[_split_accuracies(f.y_val, pred, counts) for pred in sweep],
        weight_norms={name: weight_norms(fitted[name]) for name in present},
        magnitudes={
            name: logits_magnitude(
                fitted[name].decision_function(f.F_test), f.y_test, classes=fitted[name].classes_
            )
            for name in LOGITS_MODELS
            if name in fitted
        },
    )


def _check_device(device):
    """Refuse a device this torch cannot use before anything runs."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device ({exc}): use 'cpu' or "
                         "'cuda'.") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(kind, False):
        raise ValueError(
            f"device {device!r}: this torch build ({torch.__version__}) has no {kind} device. "
            "Use 'cpu'" + (", or install a CUDA build of torch." if kind == "cuda" else ".")
        )


def _make_output_folder(out):
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is an existing file: choose another --out.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {out}: {exc.strerror or exc}.") from None


def _mean_std(values):
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())


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
    models=DECOUPLING_MODELS,
    retraining_models=RETRAINING_MODELS,
    backbone="efficientnet_lite0",
    image_root=None,
    cache_dir=None,
):
    """Run the decoupling study and write its table, JSON and figures.

    Per seed: load the data (its own split for digits-LT), train stage one once
    (instance-balanced), freeze it, and fit every model of ``models`` on the
    frozen features (those that choose a hyper-parameter choose it on the
    balanced validation set); score each on the balanced test set per shot
    split. The table, the CSV/JSON and every figure report the mean and the
    standard deviation over the seeds.

    A stage one frozen already (a pretrained network on image files) runs once
    per run, and features given in a ``.npz`` skip it; their joint classifier
    is a linear probe without intercept (:func:`~sklearn_lt.heads.default_base`),
    which tau-normalisation can rebalance.

    Parameters
    ----------
    data : str or path, default="digits"
        See :func:`load_study_data`.
    seeds : int or list of int, default=5
        Number of seeds (0, 1, ...) or the seeds themselves.
    out : str or path or None, default="study_output"
        Folder for ``results.csv``, ``results.json``, ``results.txt`` and
        ``figures/``; ``None`` writes nothing.
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
    models : sequence of StudyModel, default=DECOUPLING_MODELS
        The rows of the table (see :mod:`sklearn_lt.study`).
    retraining_models : sequence of StudyModel, default=RETRAINING_MODELS
        The rows of the second table, LORT's Table 1 layout: every classifier
        re-training method on the same frozen features (``()`` skips it).
    backbone : str or torch.nn.Module, default="efficientnet_lite0"
        For image files (``data`` a split list): the pretrained network of
        stage one (see :class:`~sklearn_lt.backbone.PretrainedEmbedder`); a
        linear probe on its frozen features is the joint classifier.
    image_root : str or path, default=None
        See :func:`load_study_data`.
    cache_dir : str or path, default=None
        Where a pretrained stage one caches its features (each seed after
        the first then reads them).

    Returns
    -------
    Bunch
        ``table``: {model: {split: (mean, std)}}; ``per_seed``: list of
        {model: {split: accuracy}}; ``val_sweep``: {tau: {split: (mean, std)}}
        of tau-normalisation on the validation set; ``chosen_tau``: the tau
        chosen on validation per seed; ``weight_norms`` and
        ``logits_magnitude``: {model: per-class mean over seeds};
        ``class_counts`` (a :class:`~sklearn_lt.metrics.ClassCounts`),
        ``dataset``, ``stage_one`` (what stage one and the joint classifier
        are, and what the seeds vary), ``shot_thresholds``, ``seeds``,
        ``seconds``.

    Raises
    ------
    ValueError
        Before anything runs: an unusable ``device``, an ``out`` that is a
        file or cannot be created, data that cannot be read (see
        :func:`load_study_data`).
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must be a positive number of seeds or a non-empty list.")
    _check_device(device)
    if out is not None:
        _make_output_folder(out)  # before the run, not after it: never lose the results
    start = time.perf_counter()
    runs = []
    pool = {}  # a frozen stage one's features, shared by the seeds
    with _torch_threads(threads):
        for i, seed in enumerate(seeds):
            d = load_study_data(
                data, seed=seed, imbalance_ratio=imbalance_ratio, image_root=image_root
            )
            many, few = d.shot_thresholds
            counts = ClassCounts(d.classes, d.class_counts, many_threshold=many, few_threshold=few)
            if i == 0:
                stage_one = describe_stage_one(
                    d, module=module, backbone=backbone, max_epochs=max_epochs
                )
                _print(verbose, stage_one)
            _print(verbose, f"[seed {seed}, {i + 1}/{len(seeds)}] {d.name}: "
                   f"{len(d.y_train)} training images, counts {d.class_counts.tolist()}")
            t0 = time.perf_counter()
            run = _run_seed(
                d, pool, models, retraining_models, counts, module=module, backbone=backbone,
                max_epochs=max_epochs, device=device, seed=seed, cache_dir=cache_dir,
            )
            runs.append(run)
            _print(verbose, f"  {len(models)} models in {time.perf_counter() - t0:.1f} s "
                   f"(stage one included); all-class accuracy: "
                   + ", ".join(f"{k} {v['all']:.3f}" for k, v in run.scores.items()))
    result = _aggregate(runs, seeds, d, counts, time.perf_counter() - start)
    result.stage_one = stage_one
    _print(verbose, "\n" + format_table(result))
    if out is not None:
        written = write_results(result, out, figures=figures)
        _print(verbose, f"wrote {', '.join(written)} to {out}/")
    return result


def _table(per_seed):
    """{model: {split: (mean, std)}} over the seeds' {model: {split: accuracy}}."""
    return {
        name: {s: _mean_std([scores[name][s] for scores in per_seed]) for s in SPLITS}
        for name in per_seed[0]
    }


def _aggregate(runs, seeds, d, counts, seconds):
    table = _table([r.scores for r in runs])
    val_sweep = {
        float(tau): {
            s: _mean_std([r.val_sweep[k][s] for r in runs])
            for s in SPLITS
        }
        for k, tau in enumerate(TAUS)
    }
    return Bunch(
        table=table,
        retraining_table=_table([r.retraining_scores for r in runs])
        if runs[0].retraining_scores
        else {},
        per_seed=[r.scores for r in runs],
        val_sweep=val_sweep,
        chosen_tau=[r.tau for r in runs],
        weight_norms={name: np.mean([r.weight_norms[name] for r in runs], axis=0)
                      for name in runs[0].weight_norms},
        logits_magnitude={name: np.mean([r.magnitudes[name] for r in runs], axis=0)
                          for name in runs[0].magnitudes},
        class_counts=counts,
        dataset=d.name,
        shot_thresholds=tuple(int(t) for t in d.shot_thresholds),
        seeds=seeds,
        seconds=seconds,
    )
