"""One meaning per name (issue #26): logit adjustment's strength is ``adjustment``.

``tau`` is tau-normalisation's power (TauNormClassifier); Menon et al.'s tau
is ``adjustment`` in LogitAdjustedClassifier, ``adjustments``/``adjustment_``
in its CV variant and in logit_adjustment_sweep. The old names work for one
release, with a FutureWarning naming the new one.
"""

import warnings

import _support
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_lt import LogitAdjustedClassifier, LogitAdjustedClassifierCV, TauNormClassifier
from sklearn_lt.heads import logit_adjustment_sweep

ADJUSTMENTS = [-0.5, 0.0, 0.5, 1.0, 1.5]


def data():
    return _support.small_long_tailed(seed=2)


def test_the_fixed_head_adjusts_by_adjustment_times_the_log_prior():
    X, y = data()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    head = LogitAdjustedClassifier(FrozenEstimator(base), adjustment=0.7).fit(X, y)
    log_prior = np.log(np.bincount(y) / len(y))
    # Menon et al. 2021, eq. 9: b_j - tau * log pi_j, tau the adjustment.
    assert_allclose(head.intercept_, base.intercept_ - 0.7 * log_prior, rtol=1e-6)  # float32
    assert "tau" not in repr(head)
    assert "tau" in TauNormClassifier().get_params()  # the power keeps its name


def test_the_old_name_tau_is_used_with_a_future_warning():
    X, y = data()
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    new = LogitAdjustedClassifier(base, adjustment=0.7).fit(X, y)
    with pytest.warns(FutureWarning, match="'tau' was renamed 'adjustment'.*pass adjustment="):
        old = LogitAdjustedClassifier(base, tau=0.7).fit(X, y)
    assert_array_equal(old.intercept_, new.intercept_)
    # Given both, the old one is what the caller's code meant.
    with pytest.warns(FutureWarning):
        both = LogitAdjustedClassifier(base, adjustment=2.0, tau=0.7).fit(X, y)
    assert_array_equal(both.intercept_, new.intercept_)


def test_the_cv_head_searches_adjustments_and_reports_adjustment_():
    X, y = data()
    head = LogitAdjustedClassifierCV(LogisticRegression(), adjustments=ADJUSTMENTS, cv=3)
    head.fit(X, y)
    assert head.adjustment_ == ADJUSTMENTS[head.best_index_]
    assert_array_equal(head.cv_results_["param_adjustment"], ADJUSTMENTS)
    assert head.cv_results_["params"] == [{"adjustment": a} for a in ADJUSTMENTS]
    # cv_results_'s params are the fixed head's: GridSearchCV takes them as they are.
    grid = GridSearchCV(
        LogitAdjustedClassifier(LogisticRegression()),
        {"adjustment": ADJUSTMENTS},
        cv=3,
        scoring="balanced_accuracy",
    ).fit(X, y)
    assert_allclose(head.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"],
                    rtol=1e-10)
    fixed = LogitAdjustedClassifier(LogisticRegression(), adjustment=head.adjustment_).fit(X, y)
    assert_allclose(head.intercept_, fixed.intercept_, rtol=1e-12)


def test_the_cv_heads_old_names_work_for_one_release():
    X, y = data()
    new = LogitAdjustedClassifierCV(LogisticRegression(), adjustments=ADJUSTMENTS, cv=3).fit(X, y)
    with pytest.warns(FutureWarning, match="'taus' was renamed 'adjustments'"):
        old = LogitAdjustedClassifierCV(LogisticRegression(), taus=ADJUSTMENTS, cv=3).fit(X, y)
    assert_array_equal(old.cv_results_["mean_test_score"], new.cv_results_["mean_test_score"])
    with pytest.warns(FutureWarning, match="'tau_' was renamed 'adjustment_'"):
        assert old.tau_ == new.adjustment_
    assert_array_equal(new.cv_results_["param_tau"], new.cv_results_["param_adjustment"])
    with pytest.raises(ValueError, match="taus must be a non-empty"), pytest.warns(FutureWarning):
        LogitAdjustedClassifierCV(taus=[np.nan]).fit(X, y)
    with pytest.raises(ValueError, match="adjustments must be a non-empty list"):
        LogitAdjustedClassifierCV(adjustments=[np.nan]).fit(X, y)
    assert not hasattr(LogitAdjustedClassifierCV(), "tau_")  # unfitted, as any fitted attribute


@pytest.mark.parametrize("old", [False, True])
def test_a_scorer_gets_heads_that_speak_its_callers_names(old):
    X, y = data()
    seen = []

    def scorer(estimator, X_fold, y_fold):
        seen.append(estimator.get_params()["tau" if old else "adjustment"])
        return estimator.score(X_fold, y_fold)

    grid = {"taus" if old else "adjustments": ADJUSTMENTS}
    head = LogitAdjustedClassifierCV(LogisticRegression(), cv=2, scoring=scorer, **grid)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        head.fit(X, y)
    assert any(issubclass(w.category, FutureWarning) for w in caught) == old
    assert seen == ADJUSTMENTS * 2


def test_the_sweep_takes_adjustments_and_its_old_name():
    X, y = data()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    args = (torch.as_tensor(base.coef_), torch.as_tensor(base.intercept_), torch.as_tensor(X),
            np.bincount(y))
    sweep = logit_adjustment_sweep(*args, adjustments=ADJUSTMENTS)
    for row, adjustment in zip(sweep, ADJUSTMENTS):
        head = LogitAdjustedClassifier(FrozenEstimator(base), adjustment=adjustment).fit(X, y)
        assert_array_equal(row, np.searchsorted(head.classes_, head.predict(X)))
    with pytest.warns(FutureWarning, match="'taus' was renamed 'adjustments'"):
        assert_array_equal(logit_adjustment_sweep(*args, taus=ADJUSTMENTS), sweep)
    with pytest.raises(TypeError, match="adjustments"):
        logit_adjustment_sweep(*args)

