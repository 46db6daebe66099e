"""The study's data: a long-tailed training set, a balanced validation and test set."""

import re
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..datasets import (
    load_cifar_lt,
    load_digits_lt,
    load_image_list_study_data,
    log_thirds_thresholds,
)

__all__ = ["N_VAL_PER_CLASS", "load_study_data"]

N_VAL_PER_CLASS = 20


def _carve_validation(X_test, y_test, n_per_class, seed):
    """Split a balanced test set into a balanced validation part and the rest."""
    rng = np.random.RandomState(seed)
    val = np.concatenate(
        [rng.permutation(np.flatnonzero(y_test == c))[:n_per_class] for c in np.unique(y_test)]
    )
    rest = np.setdiff1d(np.arange(len(y_test)), val)
    return X_test[val], y_test[val], X_test[rest], y_test[rest]


def load_study_data(data="digits", *, seed=0, imbalance_ratio=None, image_root=None):
    """Load the study's train / validation / test sets.

    Parameters
    ----------
    data : str or path, default="digits"
        ``"digits"``: the bundled digits-LT (:func:`~sklearn_lt.datasets.load_digits_lt`,
        with 20 validation images per class). A folder of the CIFAR-10 or
        CIFAR-100 python pickles (made long-tailed). A ``.npz`` file with
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` and optionally
        ``X_val``, ``y_val``: images as ``(N, C, H, W)`` or ``(N, H, W)``, flat
        image rows with an ``input_shape`` entry, or 2-D features without one
        (features a network already made: stage one is skipped). A ``.txt`` split list in the
        ImageNet-LT format (``<path> <label>`` per line; the test and
        validation lists beside it, see
        :func:`~sklearn_lt.datasets.load_image_list_study_data`): image files,
        for a pretrained stage one. Without a validation set, 20 images per
        class of the (balanced) test set are set aside for it.
    seed : int, default=0
        Seeds the split (digits) and the validation draw.
    imbalance_ratio : float, default=None
        IR of the long-tailed training set: 50 for digits, 100 for CIFAR;
        ignored for ``.npz`` files and lists (already long-tailed).
    image_root : str or path, default=None
        The folder the paths of a split list are relative to; ``None`` is the
        list's folder.

    Returns
    -------
    Bunch
        ``X_train, y_train, X_val, y_val, X_test, y_test, input_shape, name,
        shot_thresholds`` (many, few), ``classes``, ``class_counts`` and
        ``kind``: ``"images"`` (stage one trains on them), ``"image_files"``
        (a split list: ``X_*`` hold image paths, for a pretrained stage one)
        or ``"features"`` (stage one skipped); ``input_shape`` is None but for
        images; ``seeded``: what ``seed`` draws, ``"split"`` (digits),
        ``"validation"`` (set aside from the test set) or None.

    Raises
    ------
    ValueError
        A validation or test label has no training image (checked here,
        before stage one), or too few test images to set a validation set
        aside.

    Examples
    --------
    >>> from sklearn_lt.study import load_study_data
    >>> d = load_study_data("digits", seed=0)
    >>> d.kind, d.input_shape, d.class_counts[:3].tolist()
    ('images', (1, 8, 8), [104, 67, 43])
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
            classes=d.class_order, class_counts=d.class_counts, kind="images", seeded="split",
        )
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(
            f"No dataset at {path}: give 'digits', a CIFAR folder, a .npz file or a "
            ".txt split list."
        )
    if path.is_dir():
        names = {p.name for p in path.rglob("*")}
        dataset = "cifar100" if "train" in names and "data_batch_1" not in names else "cifar10"
        ir = imbalance_ratio or 100
        d = load_cifar_lt(path, dataset=dataset, imbalance_ratio=ir, as_float=True)
        X_train, y_train, X_test, y_test = d.X_train, d.y_train, d.X_test, d.y_test
        name, thresholds = f"{dataset.upper()}-LT (IR {ir:g})", d.shot_thresholds
        X_val = y_val = None
        input_shape, kind = X_train.shape[1:], "images"
    elif path.suffix == ".txt":
        d = load_image_list_study_data(path, image_root or path.parent)
        X_train, y_train, X_test, y_test = d.X_train, d.y_train, d.X_test, d.y_test
        X_val, y_val = d.X_val, d.y_val
        name, thresholds, input_shape, kind = d.name, d.shot_thresholds, None, "image_files"
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            missing = {"X_train", "y_train", "X_test", "y_test"} - set(f.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)}.")
            arrays = {k: f[k] for k in f.files}
        X_train, y_train = arrays["X_train"], arrays["y_train"]
        X_test, y_test = arrays["X_test"], arrays["y_test"]
        X_val, y_val = arrays.get("X_val"), arrays.get("y_val")
        # Without an input_shape, 2-D arrays are features: the most common
        # input of stage two (a network the user already has made them).
        if "input_shape" in arrays:
            input_shape, kind = tuple(int(v) for v in arrays["input_shape"]), "images"
        elif X_train.ndim == 2:
            input_shape, kind = None, "features"
        else:
            input_shape, kind = X_train.shape[1:], "images"
        name, thresholds = path.stem, None
    else:
        raise ValueError(
            f"{path}: expected a CIFAR folder, a .npz file or a .txt split list."
        )
    if (X_val is None) != (y_val is None):
        raise ValueError(f"{path}: give both X_val and y_val, or neither.")
    split_names = _split_names(path)
    for split, y in (("validation", y_val), ("test", y_test)):
        if y is not None:
            _check_trained_labels(path, y, y_train, split_names[split], split_names["training"])
    if X_val is None:
        test_classes, per_class = np.unique(y_test, return_counts=True)
        if per_class.min() <= N_VAL_PER_CLASS:
            add = (
                f"Add a validation list {_sibling_name(path, 'val')} beside {path.name}"
                if path.suffix == ".txt" else "Add X_val and y_val"
            )
            raise ValueError(
                f"{path}: class {test_classes[per_class.argmin()].item()!r} has "
                f"{per_class.min()} test images; {N_VAL_PER_CLASS} per class are set "
                f"aside for validation and the rest is the test set. {add}, or more "
                "test images."
            )
        X_val, y_val, X_test, y_test = _carve_validation(X_test, y_test, N_VAL_PER_CLASS, seed)
        seeded = "validation"
    else:
        seeded = None
    classes, counts = np.unique(y_train, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return Bunch(
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, X_test=X_test,
        y_test=y_test, input_shape=None if input_shape is None else tuple(input_shape), name=name,
        shot_thresholds=thresholds or log_thirds_thresholds(counts[order]),
        classes=classes[order], class_counts=counts[order], kind=kind, seeded=seeded,
    )


def _sibling_name(path, split):
    """The name of the ``split`` list beside a training list (``train`` replaced)."""
    return re.sub("train", split, path.name, count=1)


def _split_names(path):
    """How the error messages name each split of the dataset at ``path``."""
    if path.suffix == ".txt":
        return {"training": f"the training list {path.name}",
                "test": f"the test list {_sibling_name(path, 'test')}",
                "validation": f"the validation list {_sibling_name(path, 'val')}"}
    if path.suffix == ".npz":
        return {"training": "y_train", "test": "y_test", "validation": "y_val"}
    return {"training": "the training set", "test": "the test set",
            "validation": "the validation set"}


def _check_trained_labels(path, y, y_train, split, training):
    """Refuse labels without training images before stage one trains (no head knows them)."""
    unknown = np.setdiff1d(y, y_train)
    if unknown.size:
        raise ValueError(
            f"{path}: {split} has labels {unknown.tolist()} that {training} lacks: no "
            "model can learn a class without training images. Remove those rows or add "
            "training images of those classes."
        )
