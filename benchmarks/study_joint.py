"""Which joint classifier the study's rebalancing heads start from, on a frozen stage one.

Issue #23 item 3: on features (a ``.npz``) and on image files (a pretrained
network), the study fits the joint classifier itself. This script runs the
study with the probe it used before (``SoftmaxClassifier()``, with an
intercept) and with the heads' default base (no intercept), on:

- features studies: the fidelity suite's ``pixels``, ``letter`` and
  ``digits_png`` sources (one ``.npz`` per seed, its own split);
- image-list studies through EfficientNet-Lite0: PNGs of scikit-learn's digits
  (the 233-image set of the issue) and of OpenCV's digits.png when present.

Prints all-class and few-shot test accuracy (mean over seeds) of the joint
classifier and of each head that rebalances it. Nothing is chosen on the
test set: the study chooses tau and LORT's epoch on its validation set.

    python -m benchmarks.study_joint [--seeds 3]
"""

import argparse
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np

from sklearn_lt.heads import SoftmaxClassifier
from sklearn_lt.study import run_study

REBALANCING = ("Joint (IB)", "tau-norm", "LWS", "LORT")
VARIANTS = {
    "probe with intercept (before)": lambda random_state=None: SoftmaxClassifier(
        random_state=random_state
    ),
    "default base, no intercept": None,
}


def _study(data, seeds, variant, **kwargs):
    factory = VARIANTS[variant]
    if factory is None:
        return run_study(data, seeds=seeds, out=None, verbose=0, threads=1, **kwargs)
    with mock.patch("sklearn_lt.study._run.default_base", factory):
        return run_study(data, seeds=seeds, out=None, verbose=0, threads=1, **kwargs)


def _features_npz(source, seed, folder):
    from benchmarks.fidelity import sources

    b = getattr(sources, source)(seed)
    path = Path(folder) / f"{source}_{seed}.npz"
    np.savez(path, X_train=b.F_train, y_train=b.y_train, X_val=b.F_val, y_val=b.y_val,
             X_test=b.F_test, y_test=b.y_test)
    return path


def _image_list(images, y, folder, *, n_test, n_val, n_max, imbalance_ratio, seed=0):
    from sklearn_lt.datasets import make_long_tailed, save_image_folder, save_split_list

    rng = np.random.RandomState(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    test = np.concatenate([rows[:n_test] for rows in per_class])
    val = np.concatenate([rows[n_test:n_test + n_val] for rows in per_class])
    rest = np.concatenate([rows[n_test + n_val:] for rows in per_class])
    train = rest[make_long_tailed(None, y[rest], n_max=n_max, imbalance_ratio=imbalance_ratio,
                                  random_state=seed).indices]
    folder = Path(folder)
    for split, rows in (("train", train), ("val", val), ("test", test)):
        paths = save_image_folder(images[rows], y[rows], folder / "images", prefix=split)
        save_split_list(folder / f"list_{split}.txt", paths, y[rows])
    return folder / "list_train.txt", folder / "images", len(train) + len(val) + len(test)


def _report(name, results):
    for variant, per_seed in results.items():
        cells = []
        for model in REBALANCING:
            all_ = np.mean([r.table[model]["all"][0] for r in per_seed])
            few = np.mean([r.table[model]["few"][0] for r in per_seed])
            cells.append(f"{model} {all_:.3f}/{few:.3f}")
        print(f"{name:<22} {variant:<30} " + "  ".join(cells), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--features", nargs="*", default=["pixels", "letter", "digits_png"],
                        help="fidelity sources for the features studies")
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds))
    print("all-class / few-shot balanced test accuracy, mean of the seeds")
    with tempfile.TemporaryDirectory() as tmp:
        for source in args.features:
            paths = [_features_npz(source, s, tmp) for s in seeds]
            _report(f"features: {source}", {
                v: [_study(p, [s], v) for p, s in zip(paths, seeds)] for v in VARIANTS
            })
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        images = (X.reshape(-1, 8, 8) * 15).astype(np.uint8)
        lists = [("PNG: sklearn digits", _image_list(
            images, y, Path(tmp) / "digits", n_test=10, n_val=5, n_max=40, imbalance_ratio=10
        ))]
        try:
            from benchmarks.fidelity.data import load_digits_png

            png, y_png = load_digits_png()
            lists.append(("PNG: digits.png", _image_list(
                (png * 255).astype(np.uint8), y_png, Path(tmp) / "digits_png",
                n_test=50, n_val=20, n_max=100, imbalance_ratio=50,
            )))
        except FileNotFoundError as exc:
            print(f"digits.png skipped: {exc}")
        for name, (path, root, n_images) in lists:
            kwargs = dict(image_root=root, cache_dir=Path(tmp) / "cache")
            _report(f"{name} ({n_images} images)", {
                v: [_study(path, seeds, v, **kwargs)] for v in VARIANTS
            })


if __name__ == "__main__":
    main()
