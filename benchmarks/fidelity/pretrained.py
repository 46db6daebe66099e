"""Feature source ``pretrained_digits``: frozen ImageNet features of OpenCV's digits, from files.

OpenCV's ``digits.png`` cut into 5,000 PNG files (written once under
``<cache>/pretrained_digits/images``), split as the ``digits_png`` source
splits it (IR 50; 100 test and 20 validation images per digit, same seeds,
so the two sources differ only in their features), and embedded by
EfficientNet-Lite0 with its ImageNet weights
(:class:`~sklearn_lt.backbone.PretrainedEmbedder`, its own preprocessing at
64x64 input): 1280 raw post-ReLU6 features per image, of norm about 40,
features no package head was tuned on. The embedder's own cache (keyed by
network, weights, preprocessing and files) holds them: every seed reads its
split from one extraction. The joint classifier: a plain
``LogisticRegression`` on the long-tailed training features (a linear probe;
the network's classifier is ImageNet's). Needs the ``pretrained`` extra.
"""

import numpy as np

from sklearn_lt.backbone import PretrainedEmbedder
from sklearn_lt.datasets import load_opencv_digits, save_image_folder

from . import data

__all__ = ["pretrained_digits"]

INPUT_SIZE = 64


def _features():
    """Features of the 5,000 digit images (from the embedder's cache after the first call)."""
    images, y = load_opencv_digits(data.opencv_data_file("digits.png").parent)
    folder = data.cache_dir() / "pretrained_digits"
    paths = save_image_folder(images, y, folder / "images")
    embedder = PretrainedEmbedder(
        "efficientnet_lite0", preprocessing={"input_size": INPUT_SIZE}, batch_size=100,
        cache_dir=folder / "features", verbose=0,
    ).fit([])
    files = [str(folder / "images" / p) for p in paths]
    return np.asarray(embedder.transform(files)), y


def pretrained_digits(seed):
    """Frozen EfficientNet-Lite0 ImageNet features of OpenCV's digits.png files (IR 50)."""
    F, y = _features()
    split = data.long_tailed_split(F, y, n_test=100, n_val=20, imbalance_ratio=50, seed=seed)
    arrays = {
        "F_train": F[split.train], "y_train": y[split.train], "F_val": F[split.val],
        "y_val": y[split.val], "F_test": F[split.test], "y_test": y[split.test],
        "shot_thresholds": np.asarray(split.shot_thresholds),
    }
    return data.source_bunch(
        arrays, data.logistic_joint(arrays), "pretrained_digits",
        "OpenCV digits.png as image files (IR 50; 100 test, 20 validation per class), "
        f"EfficientNet-Lite0 ImageNet features ({INPUT_SIZE}x{INPUT_SIZE} input, 1280-d)",
    )
