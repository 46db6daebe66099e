"""
===========================================
Weight norms before and after rebalancing
===========================================

A linear classifier trained with instance-balanced sampling on long-tailed
data gives the head classes weight vectors of larger norm, hence larger
logits, and predicts them too often (Kang et al. 2020). This example fits
such a "joint" classifier on digits-LT, rebalances it three ways, and looks at
the L2 norm :math:`\\lVert w_j \\rVert` of each class's weight row:

- tau-normalisation, :math:`w_j / \\lVert w_j \\rVert^\\tau`, which leaves norms
  :math:`\\lVert w_j \\rVert^{1 - \\tau}` (flat at :math:`\\tau = 1`);
- LWS, which learns one scale :math:`f_j` per class with class-balanced
  sampling;
- cRT, which re-trains the classifier from scratch with class-balanced
  sampling.

See :ref:`heads` in the user guide.
"""

# License: BSD-3-Clause

# %%
# The joint classifier
# --------------------
# Stage one of the decoupled recipe trains the representation and a linear
# classifier together, instance-balanced. Here the "features" are the pixels
# of digits-LT and the joint classifier a
# :class:`~sklearn_lt.SoftmaxClassifier` (linear softmax trained by SGD,
# instance-balanced).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator

from sklearn_lt import (
    CRTClassifier,
    LWSClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
)
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.metrics import weight_norms

digits = load_digits_lt()
X_train, y_train = digits.X_train, digits.y_train
X_test, y_test = digits.X_test, digits.y_test
many, few = digits.shot_thresholds
counts = digits.class_counts

joint = SoftmaxClassifier(random_state=0).fit(X_train, y_train)

# %%
# Rebalancing it
# --------------
# tau-normalisation and LWS start from the joint classifier; wrapped in
# :class:`~sklearn.frozen.FrozenEstimator` it is used as it is, not refitted.
# cRT ignores it and trains a fresh linear layer.
frozen = FrozenEstimator(joint)
heads = {
    "joint (IB)": joint,
    "tau-norm, tau=0.5": TauNormClassifier(frozen, tau=0.5).fit(
        X_train, y_train
    ),
    "tau-norm, tau=1": TauNormClassifier(frozen, tau=1.0).fit(
        X_train, y_train
    ),
    "LWS": LWSClassifier(frozen, random_state=0).fit(X_train, y_train),
    "cRT": CRTClassifier(random_state=0).fit(X_train, y_train),
}

# %%
# The norms, head classes first
# -----------------------------
# :class:`~sklearn_lt.plotting.WeightNormDisplay` reads each head's
# ``coef_`` (:func:`~sklearn_lt.metrics.weight_norms`) and sorts the classes by
# training count, with the many/medium/few-shot regions marked. To compare
# classifiers of different scales, each curve is divided by its mean norm
# (``normalize=True``). The joint classifier's norms fall with the class
# counts; tau-normalisation with :math:`\tau = 1` makes them all equal, and
# LWS and cRT flatten them. LWS keeps the joint directions and learns one
# scale per class (right): the learned scales grow towards the tail, undoing
# the imbalance.
from sklearn_lt.plotting import ShotAccuracyDisplay, WeightNormDisplay

fig, axes = plt.subplots(
    1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]}
)
WeightNormDisplay.from_estimators(
    heads, many_threshold=many, few_threshold=few, normalize=True, ax=axes[0]
)
ax = axes[1]
ax.bar(np.arange(10), heads["LWS"].scales_, color="tab:red")
ax.axhline(1.0, color="k", linestyle=":", linewidth=1)
ax.set_xticks(np.arange(10), digits.class_order)
ax.set_xlabel("class")
ax.set_title("LWS scales $f_j$ (initialised to 1)")
fig.tight_layout()

for name, head in heads.items():
    print(
        f"{name:20s} norms {np.array2string(weight_norms(head), precision=2)}"
    )

# %%
# Accuracy per split
# ------------------
# Evening out the norms moves accuracy from the many-shot classes to the
# few-shot ones; the mean per-class accuracy ("all") rises.
fig, ax = plt.subplots(figsize=(10, 4))
display = ShotAccuracyDisplay.from_estimators(
    heads,
    X_test,
    y_test,
    many_threshold=many,
    few_threshold=few,
    values_format=".2f",
    ax=ax,
)
ax.set_title("Balanced test set (digits-LT)")
fig.tight_layout()
plt.show()

splits = ["all", "many", "medium", "few"]
print(f"{'':20s}" + "".join(f"{s:>8s}" for s in splits))
for name, result in display.accuracies.items():
    print(f"{name:20s}" + "".join(f"{result[s]:8.3f}" for s in splits))
