"""
=================================================
Choosing tau with GridSearchCV and split scorers
=================================================

tau-normalisation rescales each class's weight row of an instance-balanced
linear classifier, :math:`w_j / \\lVert w_j \\rVert^\\tau`. The official code
sweeps :math:`\\tau` over ``np.linspace(0, 2, 21)`` and reports the best value
on the *test* set. Here :math:`\\tau` is chosen the honest way, by
cross-validation on the long-tailed *training* set, scored per
many/medium/few-shot split with :func:`~sklearn_lt.metrics.shot_scorers`;
the test set is used once, to check the choice.

See :ref:`choosing-tau` in the user guide.
"""

# License: BSD-3-Clause

# %%
# Data and base classifier
# ------------------------
# digits-LT, with its recommended shot thresholds (many-shot > 31 and
# few-shot < 8 training images). The base classifier can be any scikit-learn
# linear classifier; a strongly regularised logistic regression keeps each
# fit to a few milliseconds, and :class:`~sklearn_lt.TauNormClassifier` clones
# and fits it on every training fold.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold

from sklearn_lt import TauNormClassifier
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.metrics import shot_scorers

digits = load_digits_lt()
X_train, y_train = digits.X_train, digits.y_train
X_test, y_test = digits.X_test, digits.y_test
many, few = digits.shot_thresholds
counts = dict(zip(digits.class_order.tolist(), digits.class_counts.tolist()))
print("training images per class:", counts)

base = LogisticRegression(C=0.1, max_iter=2000)

# %%
# The search
# ----------
# Each class is put in its split by its count in the *whole* training set
# (``class_counts=``): by default a scorer uses the counts of each fold's
# training part, which are smaller: with 2 folds, digits 2 and 3 (51 and 33
# images) would move from many-shot to medium-shot, and digit 6 (9 images) from
# medium-shot to few-shot. The rarest digit has 2 training images,
# so the folds are 2-fold, repeated 3 times with different shuffles.
taus = np.linspace(0, 2, 21)
scoring = shot_scorers(
    many_threshold=many, few_threshold=few, class_counts=counts
)
search = GridSearchCV(
    TauNormClassifier(base),
    {"tau": taus},
    scoring=scoring,
    refit="all",  # choose by mean per-class (balanced) accuracy
    cv=RepeatedStratifiedKFold(n_splits=2, n_repeats=3, random_state=0),
).fit(X_train, y_train)
best_tau = search.best_params_["tau"]
print(f"tau chosen on the training folds: {best_tau:.1f}")

# %%
# The same sweep on the test set
# ------------------------------
# Only to see how well the folds predicted it.
# :class:`~sklearn_lt.plotting.TauSweepDisplay` sweeps tau on the refitted
# best estimator without refitting anything: the base logits are computed once
# and divided by :math:`\lVert w_j \rVert^\tau` for every candidate.
from sklearn_lt.plotting import TauSweepDisplay

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
cv_display = TauSweepDisplay(
    taus,
    {
        s: search.cv_results_[f"mean_test_{s}"]
        for s in ("many", "medium", "few", "all")
    },
    tau=best_tau,
    name="2-fold CV x 3 on the training set",
    ylabel="mean per-class accuracy",
).plot(ax=axes[0])
test_display = TauSweepDisplay.from_estimator(
    search.best_estimator_,
    X_test,
    y_test,
    taus=taus,
    class_counts=counts,
    many_threshold=many,
    few_threshold=few,
    name="balanced test set",
    ax=axes[1],
)
fig.tight_layout()

test_all = test_display.accuracies["all"]
print(
    f"tau that would be best on the test set: {taus[np.argmax(test_all)]:.1f}"
)
print(
    "test accuracy (all) at the chosen tau: "
    f"{test_all[search.best_index_]:.3f}, "
    f"at tau=0: {test_all[0]:.3f}, at the test-best tau: {test_all.max():.3f}"
)

# %%
# As tau grows, the tail classes' rows gain on the head classes' rows:
# many-shot accuracy falls, few-shot accuracy rises, and the mean per-class
# accuracy peaks in between. The cross-validated curves (left) follow the test
# curves (right) closely enough to choose tau without looking at the test set.
#
# One base fit per fold: TauNormClassifierCV
# ------------------------------------------
# The grid search refits the base classifier for every candidate and fold
# (21 x 6 fits here), although the base does not depend on tau.
# :class:`~sklearn_lt.heads.TauNormClassifierCV` fits it once per fold and
# scores every tau from the same validation logits, like
# :class:`~sklearn.linear_model.RidgeCV` does for ridge. Its default sweep is
# the official ``np.linspace(0, 2, 21)`` and its default score the mean
# per-class accuracy.
from time import perf_counter

from sklearn_lt.heads import TauNormClassifierCV

cv = RepeatedStratifiedKFold(n_splits=2, n_repeats=3, random_state=0)
start = perf_counter()
tau_cv = TauNormClassifierCV(base, cv=cv).fit(X_train, y_train)
cv_time = perf_counter() - start
start = perf_counter()
GridSearchCV(
    TauNormClassifier(base), {"tau": taus}, cv=cv, scoring="balanced_accuracy"
).fit(X_train, y_train)
grid_time = perf_counter() - start
print(f"TauNormClassifierCV: tau_={tau_cv.tau_:.1f} in {cv_time:.2f} s")
print(f"GridSearchCV, same folds and score: {grid_time:.2f} s")

display = TauSweepDisplay.from_cv_results(tau_cv, name="TauNormClassifierCV")
display.figure_.set_size_inches(6, 4)
plt.show()

# %%
# To favour the tail instead, score on the few-shot split
# (``scoring="few"`` with the thresholds, or ``refit="few"`` in the grid
# search).
