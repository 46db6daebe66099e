"""
==============================================
Class samplers in an imbalanced-learn pipeline
==============================================

The sampling family of Kang et al. (2020) draws class :math:`j` with
probability :math:`p_j = n_j^q / \\sum_i n_i^q`: instance-balanced (``q=1``),
square-root (``q=1/2``) and class-balanced (``q=0``), and
progressively-balanced sampling moves from the first to the last over the
epochs of a training run.

This example

1. draws the class sampling probabilities of each strategy, and the
   progressively-balanced schedule epoch by epoch;
2. puts each sampler in an :class:`imblearn.pipeline.Pipeline` in front of a
   logistic regression and compares them per many/medium/few-shot split with
   cross-validation on the long-tailed training set, then on the balanced test
   set.

See :ref:`sampling` in the user guide.
"""

# License: BSD-3-Clause
# sphinx_gallery_thumbnail_number = 2

# %%
# A long-tailed training set
# --------------------------
# digits-LT: scikit-learn's bundled digits, with a balanced test set of 50
# images per class and a long-tailed training set (imbalance ratio 50) drawn
# from the rest. Small data needs small shot thresholds: digits-LT recommends
# many-shot > 31 and few-shot < 8 training images.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.sampling import progressive_probabilities

digits = load_digits_lt()
X_train, y_train = digits.X_train, digits.y_train
X_test, y_test = digits.X_test, digits.y_test
many, few = digits.shot_thresholds
counts = digits.class_counts
print("training images per class:", counts)
print("shot thresholds: many >", many, ", few <", few)

# %%
# Class sampling probabilities
# ----------------------------
# :class:`~sklearn_lt.plotting.SamplingProbabilityDisplay` draws each
# sampler's :math:`p_j` with the classes sorted by training count and the
# many/medium/few-shot regions marked. Class-balanced sampling gives every
# class 1/10; instance-balanced sampling gives the head class 124/342.
# Progressively-balanced sampling,
# :math:`p_j(t) = (1 - t/T)\, p_j^{IB} + (t/T)\, p_j^{CB}`, takes :math:`t/T`
# from ``np.linspace(0, 1, T)`` as the official code does: its first epoch is
# instance-balanced, its last one class-balanced (right).
from sklearn_lt import (
    ClassBalancedSampler,
    InstanceBalancedSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)
from sklearn_lt.plotting import SamplingProbabilityDisplay

n_epochs = 30
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
SamplingProbabilityDisplay.from_samplers(
    {
        "instance-balanced (q=1)": InstanceBalancedSampler(),
        "square-root (q=1/2)": SquareRootSampler(),
        "class-balanced (q=0)": ClassBalancedSampler(),
    },
    counts,
    many_threshold=many,
    few_threshold=few,
    ax=axes[0],
)
SamplingProbabilityDisplay.from_samplers(
    {"PB": ProgressivelyBalancedSampler()},
    counts,
    epoch=[0, 10, 20, n_epochs - 1],
    n_epochs=n_epochs,
    many_threshold=many,
    few_threshold=few,
    ax=axes[1],
)
axes[0].set_title(r"Power family, $p_j = n_j^q / \sum_i n_i^q$")
axes[1].set_title(f"Progressively-balanced, {n_epochs} epochs")
fig.tight_layout()

# %%
# Progressively-balanced sampling, epoch by epoch
# -----------------------------------------------
# The same schedule with the epoch on the x axis: head classes are sampled
# less and less, tail classes more and more, until every class gets 1/10.
schedule = np.array(
    [
        progressive_probabilities(counts, epoch, n_epochs)
        for epoch in range(n_epochs)
    ]
)

fig, ax = plt.subplots(figsize=(7, 4))
colors = plt.cm.viridis(np.linspace(0, 0.9, len(counts)))
for j, color in enumerate(colors):
    ax.plot(
        np.arange(1, n_epochs + 1),
        schedule[:, j],
        color=color,
        label=f"class {digits.class_order[j]} ({counts[j]})",
    )
ax.axhline(1 / len(counts), color="k", linestyle=":", linewidth=1)
ax.set_xlabel("epoch")
ax.set_ylabel("sampling probability $p_j(t)$")
ax.set_title(f"Progressively-balanced sampling over {n_epochs} epochs")
ax.legend(ncol=2, fontsize="small")
fig.tight_layout()

# %%
# The same schedule drives training: the samplers hand out each epoch's rows
# through ``sample_indices`` (used by the heads' trainer) and
# :class:`~sklearn_lt.sampling.EpochIndexSampler` (a torch ``Sampler``). The
# classes drawn at the first, middle and last epoch:
from sklearn_lt.sampling import EpochIndexSampler

index_sampler = EpochIndexSampler(
    ProgressivelyBalancedSampler(), y_train, n_epochs=n_epochs, random_state=0
)
for epoch in (0, n_epochs // 2, n_epochs - 1):
    index_sampler.set_epoch(epoch)
    rows = np.fromiter(index_sampler, dtype=np.int64)
    print(f"epoch {epoch:2d}:", np.bincount(y_train[rows], minlength=10))

# %%
# Samplers in a pipeline
# ----------------------
# Each sampler is an imbalanced-learn resampler (``fit_resample``), so it
# goes into an :class:`imblearn.pipeline.Pipeline`; the resampling happens on
# the training part of each fold only. The scorers of
# :mod:`sklearn_lt.metrics` split classes by the training counts that the
# sampler recorded *before* resampling (``class_counts_``, those of the
# fold's training part): after class-balanced sampling every class has the
# same count, which would put all classes in one split.
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.preprocessing import StandardScaler

from sklearn_lt.metrics import (
    shot_accuracy,
    shot_scorers,
    training_class_counts,
)
from sklearn_lt.plotting import ShotAccuracyDisplay

samplers = {
    "instance-balanced": InstanceBalancedSampler(random_state=0),
    "square-root": SquareRootSampler(random_state=0),
    "class-balanced": ClassBalancedSampler(random_state=0),
}
scoring = shot_scorers(many_threshold=many, few_threshold=few)
cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
splits = ["all", "many", "medium", "few"]
cv_scores, test_scores = {}, {}
for name, sampler in samplers.items():
    pipe = make_pipeline(
        sampler, StandardScaler(), LogisticRegression(max_iter=2000)
    )
    result = cross_validate(pipe, X_train, y_train, scoring=scoring, cv=cv)
    cv_scores[name] = {s: result[f"test_{s}"].mean() for s in splits}
    pipe.fit(X_train, y_train)
    test = shot_accuracy(
        y_test,
        pipe.predict(X_test),
        counts,
        classes=digits.class_order,
        many_threshold=many,
        few_threshold=few,
    )
    test_scores[name] = test

print("counts the scorers use:", training_class_counts(pipe)[1])
print(
    "counts the classifier saw:",
    np.bincount(pipe[0].fit_resample(X_train, y_train)[1]),
)

# %%
# Two-fold cross-validation on the training set leaves 1 image of the rarest
# class in each fold, so the few-shot score there is noisy; the balanced test
# set has 50 images of every class.
print(f"{'':25s}" + "".join(f"{s:>8s}" for s in splits))
for name in samplers:
    print(
        f"{name + ' (CV)':25s}"
        + "".join(f"{cv_scores[name][s]:8.3f}" for s in splits)
    )
    print(
        f"{name + ' (test)':25s}"
        + "".join(f"{test_scores[name][s]:8.3f}" for s in splits)
    )

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
ShotAccuracyDisplay(cv_scores).plot(ax=axes[0], values_format=".2f")
ShotAccuracyDisplay(test_scores).plot(ax=axes[1], values_format=".2f")
axes[0].set_title("2-fold CV on the training set")
axes[1].set_title("Balanced test set")
fig.suptitle("Logistic regression after each sampler")
fig.tight_layout()
plt.show()

# %%
# Rebalancing by sampling trades many-shot accuracy for few-shot accuracy.
# Kang et al. find that for *representations* instance-balanced sampling is
# best, and rebalance the classifier afterwards on frozen features; see the
# heads in :ref:`heads`.
