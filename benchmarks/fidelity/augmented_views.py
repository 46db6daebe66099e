"""Stage two on augmented views (issue #25 item 8): do K augmented features per image help?

The official stage two of the decoupling code and of LOS/LORT trains the head
on augmented images through the frozen backbone; the fidelity suite's sources
give it one fixed feature per training image. This script fits each head at
its defaults on ``transform_views`` (``K`` augmented views per training image,
labels repeated, BatchNorm frozen) against the fixed features (``K = 1``, no
augmentation: what the sources give today), and scores the balanced test set
on the fixed (centre) features, as the references test. The views are read in
two ways:

- ``stacked``: the ``K`` views as ``K`` rows of their image, ``fit(F, y)``
  (an SGD epoch is ``K`` passes over the images);
- ``fresh``: ``fit(F, y, groups=groups)``, as the references' data loaders
  augment each image afresh at every epoch: SGD reads one view of every
  image per epoch, drawn anew from its ``K``, the sampler counts images,
  L-BFGS weighs each view ``1 / K`` and LORT's early stopping holds out
  whole images. ``tau-norm CV`` has no epochs (its base is an L-BFGS fit,
  the same with either), so its two columns agree.

The sources:

- ``backbone``: the fidelity source ``backbone``, ``BackboneEmbedder`` as
  the study trains it (ConvNet, 30 epochs, no augmentation) on digits-LT (IR
  50); views: its standard augmentation (random crop with 1 pixel of zero
  padding on the 8x8 images, horizontal flip);
- ``backbone_aug``: the same with stage one trained on that augmentation
  (``augment=True``), as the references train stage one on the augmentation
  their stage two draws views from;
- ``pretrained_digits``: the fidelity source ``pretrained_digits``,
  EfficientNet-Lite0's ImageNet features of OpenCV's digits.png files (IR
  50) at 64x64; views: torchvision's ``RandomResizedCrop`` (scale 0.08..1)
  and horizontal flip.

``--no-flip`` takes the flip out (digits are not mirror-symmetric); ``--scale
0.35`` makes the pretrained crop milder. Every knob is chosen on training data
only: ``TauNormClassifierCV`` on ``StratifiedGroupKFold(5)`` folds of the
training images (an image's views never split; with ``K = 1`` the same
stratified folds), ``LORTClassifier``'s stopping epoch on its own held-out
part of the training rows (stacked: held-out rows share their images with
training rows; fresh: whole images) and, as ``LORT (held-out images)``, on
the centre features of held-out training images. ``K = 4`` uses the first 4
of the 8 views (the same draws ``n_views=4`` gives). ``cRT (SGD)`` is cRT's
paper schedule (``solver="sgd"``, 10 epochs), where the way of reading the
views matters; ``cRT`` at its default L-BFGS only changes its penalty
(``weight_decay="auto"`` counts images with groups).

    OMP_NUM_THREADS=1 python -m benchmarks.fidelity.augmented_views
    python -m benchmarks.fidelity.augmented_views --sources backbone --seeds 0 --views 1 4
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils import Bunch

from sklearn_lt import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    SoftmaxClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.backbone import BackboneEmbedder, PretrainedEmbedder
from sklearn_lt.datasets import load_digits_lt, load_opencv_digits, save_image_folder
from sklearn_lt.metrics import shot_accuracy

from . import data
from .pretrained import INPUT_SIZE
from .sources import _STUDY_DEFAULTS

__all__ = ["HEADS", "SOURCES", "main", "run"]


def _fitted(head, **params):
    """A head fitted at its defaults (and ``params``) on the rows ``F``, their labels and,
    read ``fresh``, their images."""

    def fit(seed, F, y, groups, d, fresh):
        return head(random_state=seed, **params).fit(F, y, groups=groups if fresh else None)

    return fit


def _tau_norm(seed, F, y, groups, d, fresh):
    # Folds of the training images (stratified, as the default cv=5's folds).
    head = TauNormClassifierCV(cv=StratifiedGroupKFold(n_splits=5), random_state=seed)
    return head.fit(F, y, groups=groups)


def _lort_held_out_images(seed, F, y, groups, d, fresh):
    """LORT's stopping epoch chosen on held-out *images*: their centre features.

    LORT's own early stopping holds out rows; with views, a held-out row's
    image has views in the training part. Here the held-out part is 20 % of
    the images of each class (at least one of a class of two or more, never
    its last, as LORT's rule), scored on their fixed features as the test
    set is; LORT trains on the rows of the other images and keeps its best
    epoch (``fit``'s ``X_val``; no refit on the held-out images).
    """
    rng = np.random.RandomState(seed)
    held = []
    for c in np.unique(d.y_train):
        images = rng.permutation(np.flatnonzero(d.y_train == c))
        held += list(images[: min(max(int(0.2 * len(images)), 1), len(images) - 1)])
    keep = ~np.isin(groups, held)
    head = LORTClassifier(random_state=seed)
    return head.fit(
        F[keep], y[keep], d.F_train[held], d.y_train[held],
        groups=groups[keep] if fresh else None,
    )


HEADS = {
    "Softmax (base)": _fitted(SoftmaxClassifier),
    "cRT": _fitted(CRTClassifier),
    "cRT (SGD)": _fitted(CRTClassifier, solver="sgd"),
    "tau-norm CV": _tau_norm,
    "LWS": _fitted(LWSClassifier),
    "LORT": _fitted(LORTClassifier),
    "LORT (held-out images)": _lort_held_out_images,
}


def backbone(seed, n_views, flip=True, scale=None, augment_stage_one=False):
    """digits-LT through the study's BackboneEmbedder (the fidelity ``backbone`` source)."""
    d = load_digits_lt(imbalance_ratio=50, n_val_per_class=20, random_state=seed)
    augment = {"flip": flip}
    embedder = BackboneEmbedder(
        _STUDY_DEFAULTS["module"], input_shape=d.images_shape,
        max_epochs=_STUDY_DEFAULTS["max_epochs"], device="cpu", random_state=seed, verbose=0,
        output="numpy", augment=augment if augment_stage_one else False,
    ).fit(d.X_train, d.y_train)
    views, groups = embedder.transform_views(
        d.X_train, n_views, augment=augment, random_state=seed
    )
    return Bunch(
        F_train=embedder.transform(d.X_train), y_train=np.asarray(d.y_train), F_views=views,
        groups=groups, F_test=embedder.transform(d.X_test), y_test=np.asarray(d.y_test),
        shot_thresholds=d.shot_thresholds,
    )


def pretrained_digits(seed, n_views, flip=True, scale=None):
    """OpenCV's digits.png files through EfficientNet-Lite0 (the ``pretrained_digits`` source)."""
    images, y = load_opencv_digits(data.opencv_data_file("digits.png").parent)
    folder = data.cache_dir() / "pretrained_digits"
    paths = save_image_folder(images, y, folder / "images")  # unchanged files are kept
    files = np.array([str(folder / "images" / p) for p in paths])
    embedder = PretrainedEmbedder(
        "efficientnet_lite0", preprocessing={"input_size": INPUT_SIZE}, batch_size=100,
        cache_dir=folder / "features", verbose=0,
    ).fit([])
    F = embedder.transform(files)  # the source's cached features
    split = data.long_tailed_split(F, y, n_test=100, n_val=20, imbalance_ratio=50, seed=seed)
    augment = {"hflip": 0.5 if flip else 0.0}
    if scale is not None:
        augment["scale"] = (scale, 1.0)
    views, groups = embedder.transform_views(
        files[split.train], n_views, augment=augment, random_state=seed
    )
    return Bunch(
        F_train=F[split.train], y_train=y[split.train], F_views=views, groups=groups,
        F_test=F[split.test], y_test=y[split.test], shot_thresholds=split.shot_thresholds,
    )


def backbone_aug(seed, n_views, flip=True, scale=None):
    """``backbone`` with stage one trained on the views' augmentation, as the references."""
    return backbone(seed, n_views, flip=flip, augment_stage_one=True)


SOURCES = {
    "backbone": backbone, "backbone_aug": backbone_aug, "pretrained_digits": pretrained_digits
}


def columns(views):
    """The table's columns: ``(K, fresh)``, the fixed features first."""
    return [(k, fresh) for k in views for fresh in ((False,) if k == 1 else (False, True))]


def run(sources, seeds, views, flip=True, scale=None):
    """``{source: {head: {(K, fresh): [(all, few) per seed]}}}`` and the extraction times."""
    results, times = {}, {}
    n_max = max(views)
    for name in sources:
        results[name] = {head: {column: [] for column in columns(views)} for head in HEADS}
        for seed in seeds:
            start = time.perf_counter()
            d = SOURCES[name](seed, n_max, flip=flip, scale=scale)
            times[name, seed] = time.perf_counter() - start
            classes, counts = np.unique(d.y_train, return_counts=True)
            many, few = d.shot_thresholds
            for k in views:
                if k == 1:  # today: one fixed (centre) feature per image
                    F, groups = d.F_train, np.arange(len(d.y_train))
                else:  # the first k views of each image (image-major rows)
                    keep = (np.arange(len(d.groups)) % n_max) < k
                    F, groups = d.F_views[keep], d.groups[keep]
                y = d.y_train[groups]
                for fresh in (False,) if k == 1 else (False, True):
                    for head, fit in HEADS.items():
                        model = fit(seed, F, y, groups, d, fresh)
                        scores = shot_accuracy(
                            d.y_test, model.predict(d.F_test), counts, classes=classes,
                            many_threshold=many, few_threshold=few,
                        )
                        results[name][head][k, fresh].append((scores["all"], scores["few"]))
    return results, times


def format_table(name, table, views):
    """One source: balanced accuracy (few-shot accuracy), mean +- std over seeds, per column."""
    header = ["head"] + [
        f"K={k} " + ("fixed" if k == 1 else "fresh" if fresh else "stacked")
        for k, fresh in columns(views)
    ]
    rows = [header]
    for head, by_column in table.items():
        cells = [head]
        for column in columns(views):
            scores = np.asarray(by_column[column])
            mean, std = scores.mean(axis=0), scores.std(axis=0)
            cells.append(f"{mean[0]:.3f} ± {std[0]:.3f} ({mean[1]:.3f})")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"{name}: balanced test accuracy, mean ± std over seeds (few-shot accuracy)"]
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--views", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--no-flip", action="store_true", help="views without the flip")
    parser.add_argument("--scale", type=float, default=None,
                        help="pretrained_digits: the crop's smallest share of the area")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results, times = run(args.sources, args.seeds, args.views, not args.no_flip, args.scale)
    for name in args.sources:
        print(format_table(name, results[name], args.views))
        print()
    extraction = ", ".join(f"{s}/{seed}: {t:.0f} s" for (s, seed), t in times.items())
    print(f"features and views: {extraction}; total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
