"""The one search core under every CV head (issue #26, item 1): one set of parameters, one fit path.

TauNormClassifierCV, LogitAdjustedClassifierCV and LORTClassifierCV differ only
in their candidates; scoring, the shot-split thresholds, ``groups`` and the
errors must behave alike in all three.
"""

import _support
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_lt import (
    LogitAdjustedClassifier,
    LogitAdjustedClassifierCV,
    LORTClassifier,
    LORTClassifierCV,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.heads._cv import SearchCV
from sklearn_lt.metrics import UndefinedSplitWarning, shot_accuracy

# Small searches: a logistic base (deterministic), two folds' worth of candidates.
CV_HEADS = {
    "tau": TauNormClassifierCV(LogisticRegression(), taus=[0.0, 0.5, 1.0], cv=3),
    "la": LogitAdjustedClassifierCV(LogisticRegression(), adjustments=[0.0, 0.5, 1.0], cv=3),
    "lort": LORTClassifierCV(
        LogisticRegression(), smoothings=[0.5, 0.9], n_epochs=2, cv=3, random_state=0
    ),
}
# The head that one candidate of each search is.
FIXED_HEADS = {"tau": TauNormClassifier, "la": LogitAdjustedClassifier, "lort": LORTClassifier}

cv_heads = pytest.mark.parametrize("name", list(CV_HEADS))


def cv_head(name, **params):
    return clone(CV_HEADS[name]).set_params(**params)


def data():
    return _support.small_long_tailed(seed=1)


@cv_heads
def test_every_cv_head_extends_the_one_set_of_shared_constraints(name):
    constraints = type(CV_HEADS[name])._parameter_constraints
    for param, accepted in SearchCV._parameter_constraints.items():
        assert constraints[param] is accepted, param


@cv_heads
def test_a_callable_and_a_scorer_name_score_as_the_split_path(name):
    # Balanced accuracy three ways: from the sweep's predictions (None), by a
    # scikit-learn scorer name and by a callable on each candidate's head.
    # The callable path rebuilds every candidate from its weights: the same
    # scores mean the same candidates, fold by fold.
    X, y = data()
    split = cv_head(name).fit(X, y)
    for scoring in ("balanced_accuracy", make_scorer(balanced_accuracy_score)):
        scored = cv_head(name, scoring=scoring).fit(X, y)
        assert_allclose(
            scored.cv_results_["mean_test_score"], split.cv_results_["mean_test_score"],
            rtol=1e-12,
        )
        assert scored.best_index_ == split.best_index_
        assert_array_equal(scored.coef_, split.coef_)


@cv_heads
def test_a_callable_scorer_gets_each_candidates_fixed_head(name):
    X, y = data()
    seen = []

    def scorer(estimator, X_fold, y_fold):
        assert type(estimator) is FIXED_HEADS[name]
        assert isinstance(X_fold, np.ndarray) and len(X_fold) == len(y_fold)
        seen.append(estimator.get_params())
        return estimator.score(X_fold, y_fold)

    head = cv_head(name, scoring=scorer).fit(X, y)
    n_candidates = len(head.cv_results_["params"])
    assert len(seen) == n_candidates * head.n_splits_
    # Each call's head carries the candidate's own parameter values.
    searched = [k for k in head.cv_results_["params"][0] if k in seen[0]]
    assert searched, "the scorer's head names none of the searched parameters"
    first_fold = [{k: params[k] for k in searched} for params in seen[:n_candidates]]
    expected = [{k: params[k] for k in searched} for params in head.cv_results_["params"]]
    assert first_fold == expected


@cv_heads
def test_candidates_a_scorer_cannot_score_rank_last(name):
    X, y = data()
    # The first candidate's values of the parameters its fixed head has (LORT's
    # epoch is not one: every epoch of the first smoothing scores).
    fixed_params = FIXED_HEADS[name]().get_params()
    first = cv_head(name).fit(X, y).cv_results_["params"][0]
    first = {k: v for k, v in first.items() if k in fixed_params}

    def nan_but_first(estimator, X_fold, y_fold):
        params = estimator.get_params()
        mine = all(params[k] == v for k, v in first.items())
        return estimator.score(X_fold, y_fold) if mine else float("nan")

    with pytest.warns(UndefinedSplitWarning, match=r"scored NaN \(the scorer returned NaN\)"):
        head = cv_head(name, scoring=nan_but_first).fit(X, y)
    best = head.cv_results_["params"][head.best_index_]
    assert {k: best[k] for k in first} == first
    assert np.isfinite(head.best_score_)
    undefined = np.isnan(head.cv_results_["mean_test_score"])
    ranks = head.cv_results_["rank_test_score"]
    assert undefined.any() and ranks[undefined].min() > ranks[~undefined].max()


@cv_heads
@pytest.mark.parametrize("scoring", [None, "all", "many", "medium", "few", "accuracy"])
def test_split_names_and_scorer_names_are_accepted_alike(name, scoring):
    X, y = data()
    head = cv_head(name, scoring=scoring, many_threshold=30, few_threshold=8).fit(X, y)
    assert np.isfinite(head.best_score_)


@cv_heads
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"scoring": 3}, InvalidParameterError, "scoring"),
        ({"scoring": "no-such-scorer"}, ValueError, "no-such-scorer"),
        ({"cv": "five"}, InvalidParameterError, "cv"),
        ({"many_threshold": -1}, InvalidParameterError, "many_threshold"),
        ({"many_threshold": 5, "few_threshold": 10}, ValueError, "few_threshold"),
    ],
)
def test_shared_parameters_are_refused_alike(name, params, error, match):
    X, y = data()
    with pytest.raises(error, match=match):
        cv_head(name, **params).fit(X, y)


def test_lort_cv_accepts_what_lort_accepts():
    # batch_size="auto" and a callable scoring raised InvalidParameterError here
    # before the shared core, while LORTClassifier and TauNormClassifierCV took them.
    X, y = data()
    head = cv_head("lort", batch_size="auto", scoring=make_scorer(balanced_accuracy_score))
    head.fit(X, y)
    assert 0 <= head.best_epoch_ <= 2


@parametrize_with_checks(
    # The path through each candidate's head, with LORT's epochs.
    [LORTClassifierCV(LogisticRegression(), smoothings=[0.9], n_epochs=1, cv=2,
                      scoring="accuracy", random_state=0)]
)
def test_sklearn_compatible_with_a_scorer(estimator, check):
    check(estimator)


# ------------------------------------------------------------------- groups
def augmented_views(n_views=3, seed=0):
    """Images of four long-tailed classes, ``n_views`` noisy views of each: rows and their image."""
    rng = np.random.RandomState(seed)
    images = np.repeat(np.arange(4), [24, 12, 6, 4])
    centres = rng.normal(size=(len(images), 5)) + 1.5 * np.eye(4, 5)[images]
    image_of_row = np.repeat(np.arange(len(images)), n_views)
    X = centres[image_of_row] + 0.1 * rng.normal(size=(len(image_of_row), 5))
    return X, images[image_of_row], image_of_row


@cv_heads
@pytest.mark.parametrize("splitter", [GroupKFold(3), StratifiedGroupKFold(3)])
def test_groups_keep_every_view_of_an_image_in_one_fold(name, splitter):
    X, y, groups = augmented_views()
    group_of_row = {row.tobytes(): group for row, group in zip(X, groups)}
    validation_folds = []

    def record(estimator, X_fold, y_fold):
        validation_folds.append([group_of_row[row.tobytes()] for row in X_fold])
        return estimator.score(X_fold, y_fold)

    head = cv_head(name, cv=splitter, scoring=record).fit(X, y, groups=groups)
    expected = [sorted(groups[test]) for _, test in splitter.split(X, y, groups)]
    # The scorer is called on every candidate of a fold, folds in order.
    n_candidates = len(head.cv_results_["params"])
    assert [sorted(f) for f in validation_folds[::n_candidates]] == expected
    for fold in validation_folds:  # every view of each validation image, and no other
        assert sorted(fold) == sorted(g for g in groups if g in set(fold))


@pytest.mark.parametrize("name", ["tau", "la"])
def test_grouped_search_is_grid_search_with_groups(name):
    # The post-hoc searches choose as GridSearchCV over the fixed head (test_tau_cv.py);
    # with groups, as GridSearchCV given the same groups.
    from sklearn.model_selection import GridSearchCV

    X, y, groups = augmented_views()
    splitter = StratifiedGroupKFold(3)
    head = cv_head(name, cv=splitter, scoring="balanced_accuracy").fit(X, y, groups=groups)
    (param,) = head.cv_results_["params"][0]
    grid = GridSearchCV(
        FIXED_HEADS[name](LogisticRegression()),
        {param: list(head.cv_results_[f"param_{param}"])},
        cv=splitter,
        scoring="balanced_accuracy",
    ).fit(X, y, groups=groups)
    assert_allclose(head.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"],
                    rtol=1e-10)
    assert head.best_index_ == grid.best_index_


@cv_heads
def test_groups_are_ignored_by_a_splitter_without_groups_and_may_be_a_tensor(name):
    X, y, groups = augmented_views()
    plain = cv_head(name).fit(X, y)
    with pytest.warns(UserWarning, match="groups parameter is ignored by StratifiedKFold"):
        grouped = cv_head(name).fit(X, y, groups=torch.as_tensor(groups))
    assert_array_equal(grouped.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"])
    with pytest.raises(ValueError, match="groups"):
        cv_head(name, cv=GroupKFold(3)).fit(X, y)


# --------------------------------------------------------------- thresholds
@cv_heads
def test_thresholds_default_to_none_meaning_the_metrics_defaults(name):
    # One meaning per name: None, as in shot_accuracy and the displays, is
    # ClassCounts' 100 and 20 (the CV heads defaulted to the numbers before).
    X, y = _support.long_tailed((150, 110, 60, 30, 12), n_features=5, centers="axes")
    head = cv_head(name, scoring="medium")
    assert head.get_params()["many_threshold"] is None
    assert head.get_params()["few_threshold"] is None
    default = clone(head).fit(X, y)
    explicit = clone(head).set_params(many_threshold=100, few_threshold=20).fit(X, y)
    assert_array_equal(default.cv_results_["mean_test_score"],
                       explicit.cv_results_["mean_test_score"])


@cv_heads
@pytest.mark.parametrize("thresholds", [{"few_threshold": 150}, {"many_threshold": 10}])
def test_one_threshold_none_is_refused_where_the_metrics_refuse_it(name, thresholds):
    X, y = data()
    with pytest.raises(ValueError, match="must not exceed") as metrics_error:
        shot_accuracy(y, y, np.bincount(y), **thresholds)
    with pytest.raises(ValueError, match="must not exceed") as head_error:
        cv_head(name, scoring="few", **thresholds).fit(X, y)
    assert str(head_error.value) == str(metrics_error.value)


def test_lort_cv_kept_epoch_is_best_epoch_with_a_deprecated_alias():
    X, y = data()
    head = cv_head("lort").fit(X, y)
    with pytest.warns(FutureWarning, match="best_epoch_"):
        assert head.n_epochs_ == head.best_epoch_
