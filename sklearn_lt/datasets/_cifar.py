"""CIFAR-10-LT / CIFAR-100-LT from the official CIFAR python pickles (no download)."""

import os
import pickle
import reprlib
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._long_tailed import PROFILES, make_long_tailed

__all__ = ["load_cifar_lt"]

IMAGES_SHAPE = (3, 32, 32)

# folder, train files, test file, label key, meta file, meta names key
_LAYOUT = {
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        b"labels",
        "batches.meta",
        b"label_names",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        "test",
        b"fine_labels",
        "meta",
        b"fine_label_names",
    ),
}

N_CLASSES = {"cifar10": 10, "cifar100": 100}

# Everything a CIFAR pickle may reference: numpy arrays and their dtypes, and the
# bytes constructor of protocol-2 pickles written by Python 3.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickle plain containers and numpy arrays only: a CIFAR batch holds nothing else."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"it references {module}.{name}, which a CIFAR batch never holds; "
                "refusing to load it"
            )
        return super().find_class(module, name)


def _unpickle(file):
    with open(file, "rb") as f:
        try:
            return _CifarUnpickler(f, encoding="bytes").load()
        except Exception as exc:  # whatever garbage raises, say which file it was
            raise ValueError(f"{file}: not a CIFAR python batch ({exc}).") from exc


def _entry(content, key, file):
    if not isinstance(content, dict):
        raise ValueError(f"{file}: expected a pickled dict, got {type(content).__name__}.")
    if key not in content:
        raise ValueError(f"{file}: no {key!r} key; the file has keys {sorted(content)}.")
    return content[key]


def _read_batch(file, label_key, n_classes):
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one CIFAR batch file."""
    content = _unpickle(file)
    data = np.asarray(_entry(content, b"data", file))
    labels = np.asarray(_entry(content, label_key, file))
    n_pixels = int(np.prod(IMAGES_SHAPE))
    if data.ndim != 2 or data.shape[1] != n_pixels or data.dtype != np.uint8:
        raise ValueError(
            f"{file}: b'data' must be a uint8 array of shape (n_images, {n_pixels}), got "
            f"{data.dtype} of shape {data.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{file}: {label_key!r} must hold one integer label per image ({len(data)}), "
            f"got {labels.dtype} of shape {labels.shape}."
        )
    # A label beyond the dataset's classes would silently become one more class.
    outside = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if outside.size:
        first = outside[0]
        raise ValueError(
            f"{file}: {label_key!r}[{first}] is {labels[first]}, not one of the {n_classes} "
            f"classes 0 .. {n_classes - 1} ({outside.size} labels outside)."
        )
    return data.reshape(-1, *IMAGES_SHAPE), labels.astype(np.int64)


def _find_folder(path, dataset):
    folder, train_files, test_file = _LAYOUT[dataset][:3]
    path = Path(path)
    for candidate in (path, path / folder):
        if (candidate / train_files[0]).is_file():
            return candidate
    expected = ", ".join([*train_files, test_file])
    if not path.exists():
        raise FileNotFoundError(f"No such directory: '{path}'.")
    raise FileNotFoundError(
        f"No {dataset} python batches in '{path}' or '{path / folder}': expected the files "
        f"{expected} (the extracted official python archive). Nothing is downloaded."
    )


def _read_split(folder, files, label_key, n_classes):
    parts = []
    for name in files:
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"Missing CIFAR batch file '{file}'.")
        parts.append(_read_batch(file, label_key, n_classes))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _read_names(folder, meta_file, names_key, n_classes):
    file = folder / meta_file
    if not file.is_file():
        return None
    names = _entry(_unpickle(file), names_key, file)
    if (
        not isinstance(names, (list, tuple))
        or len(names) != n_classes
        or not all(isinstance(n, (bytes, str)) for n in names)
    ):
        raise ValueError(
            f"{file}: {names_key!r} must be a list of {n_classes} class names (bytes or str), "
            f"got {reprlib.repr(names)}."
        )
    return np.asarray([_decode_name(n) if isinstance(n, bytes) else n for n in names])


def _decode_name(name):
    """A class name of a CIFAR meta file: UTF-8, else Latin-1.

    The official pickles hold Python 2 byte strings (ASCII names); files made
    elsewhere may hold UTF-8 or Latin-1 ones. Latin-1 decodes any bytes
    (torchvision reads every name as Latin-1), so a name is never refused
    and never altered: ``name.encode("latin-1")`` gives the bytes back.
    """
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return name.decode("latin-1")


@validate_params(
    {
        "path": [str, os.PathLike],
        "dataset": [StrOptions(set(_LAYOUT))],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(set(PROFILES))],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "class_order": ["array-like", None],
        "random_state": ["random_state"],
        "as_float": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_cifar_lt(
    path,
    *,
    dataset="cifar10",
    imbalance_ratio=100,
    profile="exponential",
    n_max=None,
    class_order=None,
    random_state=None,
    as_float=False,
    return_X_y=False,
):
    """Load CIFAR-10-LT or CIFAR-100-LT from the official python batches on disk.

    Reads the extracted ``cifar-10-python.tar.gz`` (``data_batch_1`` ..
    ``data_batch_5``, ``test_batch``; labels under ``b"labels"``) or
    ``cifar-100-python.tar.gz`` (``train``, ``test``; fine labels under
    ``b"fine_labels"``), makes the training set long-tailed with
    :func:`make_long_tailed` and keeps the balanced official test set
    (1000 or 100 images per class). Nothing is downloaded.

    With the defaults this is the CIFAR-LT of LTWB and LOS (each class's first
    ``n_i`` training images; 12,406 images for CIFAR-10-LT and 10,847 for
    CIFAR-100-LT at IR 100). ``random_state=0`` gives LDAM-DRW's random
    selection instead.

    The files are unpickled with only numpy arrays allowed inside, so a
    tampered file cannot run code; still, load files you trust.

    Parameters
    ----------
    path : str or Path
        The folder holding the batch files, or its parent (the folder the
        archive was extracted into, holding ``cifar-10-batches-py`` or
        ``cifar-100-python``).
    dataset : {"cifar10", "cifar100"}, default="cifar10"
    imbalance_ratio : float >= 1, default=100
    profile : {"exponential", "step"}, default="exponential"
    n_max : int, default=None
        Head-class count; default the smallest class (5000 or 500 on the real data).
    class_order : array-like, default=None
        Labels, head first; default ``0 .. C-1``.
    random_state : int, RandomState instance or None, default=None
        ``None`` keeps each class's first images; see :func:`make_long_tailed`.
    as_float : bool, default=False
        Images as float32 in [0, 1] instead of uint8 0..255.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with

        X_train, y_train : ndarray of shape (n_train, 3, 32, 32) and (n_train,) int64
            The long-tailed training set, grouped by class, head first.
        X_test, y_test : ndarray of shape (n_test, 3, 32, 32) and (n_test,) int64
            The official balanced test set, in file order.
        class_order, class_counts : ndarray of shape (n_classes,)
            Labels head first and their training counts.
        shot_thresholds : tuple
            ``(100, 20)``: the standard many/few thresholds.
        train_indices : ndarray of int64
            Rows of the full official training set that were kept.
        target_names : ndarray of str or None
            Class names from ``batches.meta`` / ``meta`` when that file is there
            (bytes decoded as UTF-8, or as Latin-1 where they are not UTF-8).
        images_shape : tuple
            ``(3, 32, 32)``.
        imbalance_ratio, profile, dataset
            The construction.
    (X_train, y_train, X_test, y_test) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When the folder or a batch file is missing (the message names it).
    ValueError
        When a file is not a CIFAR batch (not a pickle, a missing key, data of
        the wrong shape or type, a label outside the dataset's 10 or 100
        classes, class names not one per class), or a class has no training
        image, naming the file.
    """
    folder = _find_folder(path, dataset)
    _, train_files, test_file, label_key, meta_file, names_key = _LAYOUT[dataset]
    n_classes = N_CLASSES[dataset]
    X_full, y_full = _read_split(folder, train_files, label_key, n_classes)
    X_test, y_test = _read_split(folder, [test_file], label_key, n_classes)
    absent = np.setdiff1d(np.arange(n_classes), y_full)
    if absent.size:  # make_long_tailed would build a dataset of fewer classes
        raise ValueError(
            f"{folder}: the training batches ({', '.join(train_files)}) have no image of "
            f"class {reprlib.repr(absent.tolist())} ({absent.size} of {n_classes} classes)."
        )

    lt = make_long_tailed(
        None,
        y_full,
        imbalance_ratio=imbalance_ratio,
        profile=profile,
        n_max=n_max,
        class_order=class_order,
        random_state=random_state,
    )
    X_train, y_train = X_full[lt.indices], y_full[lt.indices]
    if as_float:
        X_train = X_train.astype(np.float32) / 255
        X_test = X_test.astype(np.float32) / 255
    if return_X_y:
        return X_train, y_train, X_test, y_test
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_order=lt.class_order,
        class_counts=lt.class_counts,
        shot_thresholds=(100, 20),
        train_indices=lt.indices,
        target_names=_read_names(folder, meta_file, names_key, n_classes),
        images_shape=IMAGES_SHAPE,
        imbalance_ratio=imbalance_ratio,
        profile=profile,
        dataset=dataset,
    )
