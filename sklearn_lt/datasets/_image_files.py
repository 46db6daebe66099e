"""Image files on disk: a labelled image set written as an ImageNet-LT-style folder, read back.

:func:`save_image_folder` and :func:`save_split_list` turn images in memory
into the on-disk protocol of ImageNet-LT and Places-LT (an image folder and
``<path> <label>`` split lists), :func:`load_image_list_study_data` reads such
a set into the paths and labels a pretrained stage one
(:class:`~sklearn_lt.backbone.PretrainedEmbedder`) and the study take, and
:func:`load_opencv_digits` reads OpenCV's ``digits.png`` (5,000 handwritten
digits), the real images of the pretrained gallery example and tests.
Nothing is downloaded.
"""

import io
import os
import re
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._image_list import load_split_list
from ._long_tailed import log_thirds_thresholds

__all__ = [
    "load_image_list_study_data",
    "load_opencv_digits",
    "save_image_folder",
    "save_split_list",
]

DEBIAN_OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _opencv_data_file(name, data_home):
    if data_home is not None:
        folders = [Path(data_home)]
    else:
        folders = [Path(os.environ["SKLEARN_LT_OPENCV_DATA"])] if os.environ.get(
            "SKLEARN_LT_OPENCV_DATA") else []
        folders.append(DEBIAN_OPENCV_DATA)
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{name} not found in {', '.join(str(f) for f in folders)}. It ships in Debian's "
        "opencv-doc package: `apt-get install opencv-doc`, or, without root, "
        "`bash benchmarks/fidelity/fetch_data.sh` from the repository (or `apt-get download "
        "opencv-doc && dpkg-deb -x opencv-doc_*.deb DIR`) and point data_home or "
        "SKLEARN_LT_OPENCV_DATA at the folder holding it."
    )


def load_opencv_digits(data_home=None):
    """OpenCV's ``digits.png``: 5,000 handwritten digits of 20x20 pixels, 500 per digit.

    The 2000x1000 sample image of OpenCV (``samples/data/digits.png``, in
    Debian's ``opencv-doc`` package) holds 50 rows of 100 cells; every 5 rows
    are one digit, 0 first, as OpenCV's ``samples/python/digits.py`` reads it.

    Parameters
    ----------
    data_home : str or Path, default=None
        Folder holding ``digits.png``. ``None``: ``$SKLEARN_LT_OPENCV_DATA``,
        then Debian's ``/usr/share/doc/opencv-doc/examples/data``.

    Returns
    -------
    images : ndarray of shape (5000, 20, 20), uint8
        White digits on black.
    y : ndarray of shape (5000,), int64
        The digit of each image, 500 of each, in order.

    Raises
    ------
    FileNotFoundError
        ``digits.png`` is in none of those folders (the message says how to get it).
    """
    from PIL import Image

    path = _opencv_data_file("digits.png", data_home)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    if pixels.shape != (1000, 2000):
        raise ValueError(f"{path}: expected a 2000x1000 image, got {pixels.shape[::-1]}.")
    cells = pixels.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    return np.ascontiguousarray(cells), np.repeat(np.arange(10, dtype=np.int64), 500)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def save_image_folder(images, labels, root, *, prefix=""):
    """Write images as PNG files ``<root>/<label>/<prefix><index>.png``; return their paths.

    A file that already holds the same PNG bytes is left untouched (its
    modification time too), so that rewriting the same set keeps every
    feature cache keyed on the files valid.

    Parameters
    ----------
    images : array-like of shape (n, H, W) or (n, H, W, 3), uint8
        Grayscale or RGB pixels.
    labels : array-like of shape (n,)
        Class of each image; its text (letters, digits, ``._-``; anything
        else becomes ``_``) names the sub-folder.
    root : str or Path
        Created if needed.
    prefix : str, default=""
        Start of each file name.

    Returns
    -------
    paths : ndarray of shape (n,), object
        Paths relative to ``root`` (``"3/0042.png"``), as split lists hold them.
    """
    from PIL import Image

    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
        raise ValueError(
            "images must be uint8 of shape (n, H, W) or (n, H, W, 3), one per label; got "
            f"{images.dtype} {images.shape} for {len(labels)} labels."
        )
    root = Path(root)
    width = len(str(max(len(images) - 1, 0)))
    paths = np.empty(len(images), dtype=object)
    for i, (pixels, label) in enumerate(zip(images, labels)):
        relative = f"{_UNSAFE.sub('_', str(label))}/{prefix}{i:0{width}d}.png"
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        data = buffer.getvalue()
        file = root / relative
        if not (file.is_file() and file.read_bytes() == data):
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(data)
        paths[i] = relative
    return paths


def save_split_list(list_file, paths, labels):
    """Write a split list in ImageNet-LT's format: ``<path> <label>`` per line.

    What :func:`load_split_list` and :func:`load_imagenet_lt` read.

    Parameters
    ----------
    list_file : str or Path
    paths : sequence of str
        Image paths relative to the image root (no line breaks).
    labels : sequence of int
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or len(labels) != len(paths):
        raise ValueError("labels must be integers, one per path.")
    lines = []
    for path, label in zip(paths, labels):
        if "\n" in str(path) or "\r" in str(path):
            raise ValueError(f"the path {path!r} holds a line break.")
        lines.append(f"{path} {int(label)}\n")
    Path(list_file).write_text("".join(lines), encoding="utf-8")


def _sibling(list_file, split):
    name = list_file.name
    sibling = re.sub(r"train", split, name, count=1)
    if sibling == name:
        return None
    path = list_file.with_name(sibling)
    return path if path.is_file() else None


def _image_paths(root, list_file):
    dataset, labels = load_split_list(root, list_file)
    paths = np.empty(len(dataset), dtype=object)
    paths[:] = [os.path.abspath(dataset.root / p) for p in dataset.paths]
    return paths, labels


def load_image_list_study_data(list_file, root, *, test_list=None, val_list=None):
    """A long-tailed image set given by split lists: absolute paths and labels per split.

    The input of a pretrained stage one
    (:class:`~sklearn_lt.backbone.PretrainedEmbedder`, which reads the
    paths) and of the decoupling study: ``list_file`` is the long-tailed
    training list (``ImageNet_LT_train.txt``, ``Places_LT_train.txt``...),
    the test and validation lists are found beside it by replacing
    ``train`` with ``test`` and ``val`` in its name unless given.

    Parameters
    ----------
    list_file : str or Path
        Training split list, ``<path> <label>`` per line (paths relative to ``root``).
    root : str or Path
        The image folder.
    test_list : str or Path, default=None
        Default: the sibling list named with ``test``; required.
    val_list : str or Path, default=None
        Default: the sibling named with ``val`` if it exists, else none
        (``X_val`` and ``y_val`` are then None: set part of the test set aside).

    Returns
    -------
    Bunch
        ``X_train, y_train, X_val, y_val, X_test, y_test`` (paths as object
        arrays of absolute path strings, labels int64), ``name`` (the list's
        name without ``_train``), ``classes`` and ``class_counts`` (training
        counts, head class first), ``shot_thresholds``: ``(100, 20)``, the
        standard ones, when the head class has more than 100 images, else
        :func:`log_thirds_thresholds` of the counts.

    Raises
    ------
    FileNotFoundError
        A list or the root is missing, or no test list is found.
    """
    list_file = Path(list_file)
    test_list = Path(test_list) if test_list is not None else _sibling(list_file, "test")
    if test_list is None:
        raise FileNotFoundError(
            f"No test list beside {list_file} (its name with 'train' replaced by 'test'): "
            "pass test_list."
        )
    val_list = Path(val_list) if val_list is not None else _sibling(list_file, "val")
    X_train, y_train = _image_paths(root, list_file)
    X_test, y_test = _image_paths(root, test_list)
    X_val = y_val = None
    if val_list is not None:
        X_val, y_val = _image_paths(root, val_list)
    classes, counts = np.unique(y_train, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    thresholds = (100, 20) if counts.max() > 100 else log_thirds_thresholds(counts)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_val=X_val,
        y_val=y_val,
        X_test=X_test,
        y_test=y_test,
        name=re.sub(r"[_-]?train", "", list_file.stem, count=1) or list_file.stem,
        classes=classes[order],
        class_counts=counts[order],
        shot_thresholds=thresholds,
    )
