"""TauNormClassifierCV: same choice as GridSearchCV over TauNormClassifier, one fit per fold."""

import pickle

import _support
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt import NCMClassifier, SoftmaxClassifier, TauNormClassifier, TauNormClassifierCV
from sklearn_lt.datasets import long_tailed_counts
from sklearn_lt.metrics import UndefinedSplitWarning, make_shot_scorer

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
THRESHOLDS = {"many_threshold": 60, "few_threshold": 20}


# The default base (a SoftmaxClassifier) is checked with every head in
# test_estimator_checks.py; here the two paths of scoring a fold.
@parametrize_with_checks(
    [
        # Every class medium-shot whatever the data of the check: the split path.
        TauNormClassifierCV(
            LogisticRegression(), taus=[0.0, 0.5, 1.0], cv=3, scoring="medium",
            few_threshold=0, many_threshold=10**9,
        ),
        # A scikit-learn scorer: the path through fold heads.
        TauNormClassifierCV(LogisticRegression(), taus=[0.0, 1.0], cv=3, scoring="accuracy"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def long_tailed(seed=0, n_classes=10, n_features=8):
    """300 down to 6 rows per class (imbalance ratio 50), shifted along the class's axis."""
    counts = long_tailed_counts(300, n_classes, 50)
    return _support.long_tailed(counts, n_features, separation=1.2, centers="axes", seed=seed)


CV = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)


def _grid_search(estimator, taus, scoring, X, y):
    return GridSearchCV(
        TauNormClassifier(estimator, random_state=0), {"tau": taus}, cv=CV, scoring=scoring
    ).fit(X, y)


@pytest.mark.parametrize(
    "cv_scoring, grid_scoring",
    [
        (None, "balanced_accuracy"),
        ("all", make_shot_scorer("all")),
        ("few", make_shot_scorer("few", **THRESHOLDS)),
        ("medium", make_shot_scorer("medium", **THRESHOLDS)),
        ("accuracy", "accuracy"),
        (make_shot_scorer("many", **THRESHOLDS), make_shot_scorer("many", **THRESHOLDS)),
    ],
    ids=["balanced", "all", "few", "medium", "sklearn-name", "callable"],
)
def test_same_choice_as_grid_search(cv_scoring, grid_scoring):
    X, y = long_tailed()
    # The default sweep with the default scoring; every 4th of it otherwise (time).
    taus = np.linspace(0, 2, 21) if cv_scoring is None else np.linspace(0, 2, 21)[::4]
    base = LogisticRegression(max_iter=1000)
    clf = TauNormClassifierCV(
        base,
        taus=None if cv_scoring is None else taus,
        cv=CV,
        scoring=cv_scoring,
        random_state=0,
        **THRESHOLDS,
    )
    clf.fit(X, y)
    search = _grid_search(base, taus, grid_scoring, X, y)
    for key in ["mean_test_score", "std_test_score"] + [f"split{k}_test_score" for k in range(4)]:
        assert_allclose(clf.cv_results_[key], search.cv_results_[key], rtol=0, atol=1e-12)
    assert_array_equal(clf.cv_results_["rank_test_score"], search.cv_results_["rank_test_score"])
    assert clf.tau_ == search.best_params_["tau"]
    assert clf.best_index_ == search.best_index_
    assert clf.best_score_ == pytest.approx(search.best_score_)
    # The final model is TauNormClassifier(tau_) refitted on everything.
    assert_allclose(clf.coef_, search.best_estimator_.coef_, rtol=1e-12)
    assert_array_equal(clf.predict(X), search.predict(X))


def test_same_choice_as_grid_search_with_the_default_base():
    X, y = long_tailed(1, n_classes=5)
    taus = [0.0, 0.5, 1.0, 1.5]
    clf = TauNormClassifierCV(
        SoftmaxClassifier(n_epochs=5, random_state=0), taus=taus, cv=CV, random_state=0
    ).fit(X, y)
    search = _grid_search(SoftmaxClassifier(n_epochs=5, random_state=0), taus,
                          "balanced_accuracy", X, y)
    assert_allclose(clf.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"])
    assert clf.tau_ == search.best_params_["tau"]
    # estimator=None seeds the SoftmaxClassifier as TauNormClassifier does.
    default = TauNormClassifierCV(taus=[0.0, 1.0], cv=2, random_state=3).fit(X, y)
    single = TauNormClassifier(tau=default.tau_, random_state=3).fit(X, y)
    assert_allclose(default.coef_, single.coef_)


class CountingLogisticRegression(LogisticRegression):
    fits = []

    def fit(self, X, y, sample_weight=None):
        type(self).fits.append(len(y))
        return super().fit(X, y, sample_weight=sample_weight)


def test_base_is_fitted_once_per_fold_and_once_at_the_end():
    X, y = long_tailed()
    CountingLogisticRegression.fits.clear()
    TauNormClassifierCV(CountingLogisticRegression(), cv=CV).fit(X, y)
    assert len(CountingLogisticRegression.fits) == CV.get_n_splits() + 1
    assert CountingLogisticRegression.fits[-1] == len(y)


def test_frozen_base_is_never_fitted():
    X, y = long_tailed()
    base = CountingLogisticRegression(max_iter=1000).fit(X, y)
    CountingLogisticRegression.fits.clear()
    clf = TauNormClassifierCV(FrozenEstimator(base), cv=CV, scoring="few", **THRESHOLDS)
    clf.fit(X, y)
    assert CountingLogisticRegression.fits == []
    W = base.coef_
    s = np.sqrt(np.mean(np.sum(X**2, axis=1)))  # RMS row norm: tau-norm's units
    assert_allclose(clf.coef_, W / (s * np.linalg.norm(W, axis=1, keepdims=True)) ** clf.tau_)
    search = GridSearchCV(
        TauNormClassifier(FrozenEstimator(base)),
        {"tau": np.linspace(0, 2, 21)},
        cv=CV,
        scoring=make_shot_scorer("few", **THRESHOLDS),
    ).fit(X, y)
    assert_allclose(clf.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"])
    assert clf.tau_ == search.best_params_["tau"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scoring", [None, "few", make_shot_scorer("few", **THRESHOLDS)])
def test_torch_input_matches_numpy(device, scoring):
    X, y = long_tailed()
    base = SoftmaxClassifier(n_epochs=3, random_state=0)
    kwargs = dict(taus=[0.0, 0.5, 1.0], cv=CV, scoring=scoring, random_state=0, **THRESHOLDS)
    ref = TauNormClassifierCV(base, **kwargs).fit(X, y)
    X_t = torch.as_tensor(X, device=device)
    clf = TauNormClassifierCV(base, **kwargs).fit(X_t, torch.as_tensor(y, device=device))
    assert torch.is_tensor(clf.coef_) and clf.coef_.device.type == device
    assert_allclose(clf.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    assert clf.tau_ == ref.tau_
    assert clf.predict(X_t).device.type == device


def test_ties_go_to_the_first_tau_and_results_layout():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [40, 20, 10])
    X = rng.normal(size=(len(y), 3)) * 0.1 + 5 * np.eye(3)[y]  # separable: every tau scores 1
    clf = TauNormClassifierCV(LogisticRegression(), taus=[1.0, 0.0, 2.0], cv=3).fit(X, y)
    assert clf.tau_ == 1.0 and clf.best_index_ == 0 and clf.best_score_ == 1.0
    res = clf.cv_results_
    assert_array_equal(res["param_tau"], [1.0, 0.0, 2.0])
    assert res["params"] == [{"tau": 1.0}, {"tau": 0.0}, {"tau": 2.0}]
    assert_array_equal(res["rank_test_score"], [1, 1, 1])
    assert clf.n_splits_ == 3 and "split2_test_score" in res
    assert_allclose(res["std_test_score"], 0.0)


def test_empty_split_everywhere_is_an_error_and_somewhere_a_warning():
    X, y = long_tailed()
    with pytest.raises(ValueError, match="Every tau scored NaN"):
        TauNormClassifierCV(LogisticRegression(), cv=3, scoring="many", many_threshold=1e6,
                            few_threshold=0).fit(X, y)
    # All samples of the rarest (only few-shot) class in the first validation
    # fold: the other folds have no few-shot class. The first fold's base never
    # saw that class (0 training samples: few-shot, never predicted).
    X, y = X[:-3], y[:-3]  # 3 samples of the rarest class left (the next has 9)
    rare = y == y.max()
    fold = np.where(rare, 0, np.arange(len(y)) % 3)
    cv = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)]
    with pytest.warns(UndefinedSplitWarning, match=r"folds \[1, 2\].*other folds"):
        clf = TauNormClassifierCV(LogisticRegression(), taus=[0.0, 1.0], cv=cv, scoring="few",
                                  few_threshold=4, many_threshold=1000)
        clf.fit(X, y)
    assert_array_equal(clf.cv_results_["split0_test_score"], [0.0, 0.0])
    assert np.isnan(clf.cv_results_["split1_test_score"]).all()
    assert_array_equal(clf.cv_results_["mean_test_score"], [0.0, 0.0])
    assert clf.tau_ == 0.0


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"taus": [-0.5, 1.0]}, ValueError, "taus"),
        ({"taus": []}, ValueError, "taus"),
        ({"taus": [np.nan]}, ValueError, "taus"),
        ({"taus": "0.5"}, ValueError, "taus"),
        ({"taus": [0.0, np.inf]}, ValueError, "taus"),
        ({"scoring": "no-such-scorer"}, ValueError, "no-such-scorer"),
        ({"many_threshold": 5, "few_threshold": 10}, ValueError, "few_threshold"),
        ({"scoring": "few", "few_threshold": -1}, ValueError, "few_threshold"),
        ({"cv": 1}, ValueError, "cv"),
        ({"cv": 500}, ValueError, "n_splits=500"),
        ({"estimator": KNeighborsClassifier()}, ValueError, "coef_"),
        ({"estimator": NCMClassifier()}, ValueError, "maps the features"),
        ({"estimator": "logistic"}, ValueError, "estimator"),
        ({"device": "no-such-device"}, RuntimeError, "device"),
    ],
)
def test_parameter_errors(params, error, match):
    X, y = long_tailed()
    with pytest.raises(error, match=match):
        TauNormClassifierCV(**{"estimator": LogisticRegression(), "cv": 2, **params}).fit(X, y)


# ------------------------------------------ folds that miss a class (bad input)
def small_long_tailed():
    """Classes of 40, 20, 10 and 6 rows along their own axes (float32)."""
    return _support.long_tailed((40, 20, 10, 6), 5, centers="axes", dtype=np.float32)


def tau_cv(**params):
    return TauNormClassifierCV(
        **{"cv": 3, "taus": [0.0, 0.5, 1.0, 1.5], "random_state": 0, **params}
    )


def test_class_absent_from_training_folds_matches_grid_search():
    # Unshuffled KFold on labels sorted by class: the last fold's training part
    # has no sample of classes 2 and 3, the first fold's validation part only class 0.
    X, y = small_long_tailed()
    taus = [0.0, 0.5, 1.0, 2.0]
    clf = tau_cv(cv=KFold(3), taus=taus, scoring="all").fit(X, y)
    grid = GridSearchCV(
        TauNormClassifier(random_state=0), {"tau": taus}, cv=KFold(3),
        scoring=make_shot_scorer("all"),
    ).fit(X, y)
    for k in range(3):
        assert_allclose(clf.cv_results_[f"split{k}_test_score"],
                        grid.cv_results_[f"split{k}_test_score"], rtol=0, atol=1e-12)
    assert clf.tau_ == grid.best_params_["tau"]
    # the fold that never saw classes 2 and 3 cannot get them right
    assert np.all(clf.cv_results_["split2_test_score"] < 0.5)


def test_class_rarer_than_folds_warns_and_still_fits():
    X, y = small_long_tailed()
    keep = np.r_[np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:2]]  # 2 rows of class 3
    with pytest.warns(UserWarning, match="least populated class"):
        clf = tau_cv().fit(X[keep], y[keep])
    assert_array_equal(clf.classes_, [0, 1, 2, 3])
    assert np.all(np.isfinite(clf.cv_results_["mean_test_score"]))


def test_logistic_regression_base_round_trip():
    """A scikit-learn base estimator inside TauNormClassifierCV survives pickling too."""
    X, y = small_long_tailed()
    clf = tau_cv(estimator=LogisticRegression(max_iter=500)).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_array_equal(loaded.estimator_.coef_, clf.estimator_.coef_)
