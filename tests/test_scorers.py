"""Shot scorers in model selection: the fold's training counts, before resampling."""

import numpy as np
import pytest
import torch
from _support import wide_view
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lt import ClassBalancedSampler, NCMClassifier, TauNormClassifier
from sklearn_lt.metrics import (
    ClassCounts,
    SingleClassSplitWarning,
    UndefinedSplitWarning,
    make_shot_scorer,
    shot_accuracy,
    shot_scorers,
    shot_splits,
    training_class_counts,
)

THRESHOLDS = {"many_threshold": 40, "few_threshold": 12}
# Class 7 alone is few-shot under THRESHOLDS, which warns (issue #23.13); the
# tests of that warning catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_lt.metrics.SingleClassSplitWarning")


def _long_tailed(seed=0):
    rng = np.random.RandomState(seed)
    counts = [150, 100, 70, 45, 30, 20, 14, 10]
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), 6)) @ rng.normal(size=(6, 6))
    X[:, :5] += 1.5 * np.eye(len(counts), 5)[y] @ np.diag([3, 2, 1, 1, 1])
    X += 0.8 * rng.normal(size=(len(counts), 6))[y]
    return X, y


def _pipeline():
    return ImbPipeline(
        [
            ("scale", StandardScaler()),
            ("sample", ClassBalancedSampler(random_state=0)),
            ("head", TauNormClassifier(LogisticRegression(max_iter=500))),
        ]
    )


def test_scorers_in_multimetric_grid_search_match_hand_computation():
    X, y = _long_tailed()
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    taus = [0.0, 0.5, 1.0, 1.5]
    search = GridSearchCV(
        _pipeline(),
        {"head__tau": taus},
        cv=cv,
        scoring=shot_scorers(**THRESHOLDS),
        refit="few",
    ).fit(X, y)

    saw_all_splits = False
    for k, (train, test) in enumerate(cv.split(X, y)):
        original = np.bincount(y[train])
        # The head sees balanced counts: by those every class would be in one split.
        assert len(set(shot_splits(np.full(8, original.max()), **THRESHOLDS))) == 1
        saw_all_splits |= set(shot_splits(original, **THRESHOLDS)) == {"many", "medium", "few"}
        for i, tau in enumerate(taus):
            pipe = clone(_pipeline()).set_params(head__tau=tau).fit(X[train], y[train])
            expected = shot_accuracy(
                y[test], pipe.predict(X[test]), original, classes=np.arange(8), **THRESHOLDS
            )
            for split in ("all", "many", "medium", "few"):
                got = search.cv_results_[f"split{k}_test_{split}"][i]
                assert got == pytest.approx(expected[split], abs=1e-12), (k, tau, split)
    assert saw_all_splits
    assert search.best_index_ == np.argmax(search.cv_results_["mean_test_few"])
    assert search.best_params_["head__tau"] == taus[search.best_index_]
    # The refitted search reads the counts of the whole training set.
    classes, counts = training_class_counts(search)
    np.testing.assert_array_equal(counts, np.bincount(y))
    np.testing.assert_array_equal(classes, np.arange(8))


def test_cross_validate_with_single_scorer():
    X, y = _long_tailed(1)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=1)
    out = cross_validate(
        _pipeline(), X, y, cv=cv, scoring=make_shot_scorer("medium", **THRESHOLDS)
    )
    for k, (train, test) in enumerate(cv.split(X, y)):
        pipe = clone(_pipeline()).fit(X[train], y[train])
        expected = shot_accuracy(
            y[test], pipe.predict(X[test]), np.bincount(y[train]), **THRESHOLDS
        ).medium
        assert out["test_score"][k] == pytest.approx(expected)


def test_foreign_resampler_without_counts_is_refused():
    X, y = _long_tailed()
    pipe = make_imb_pipeline(
        RandomOverSampler(random_state=0), TauNormClassifier(LogisticRegression())
    ).fit(X, y)
    with pytest.raises(ValueError, match="RandomOverSampler.*class_counts"):
        make_shot_scorer("few")(pipe, X, y)
    with pytest.raises(ValueError, match="class_counts"):
        training_class_counts(pipe)
    # Explicit counts win: dict, or an array aligned with classes_.
    counts = np.bincount(y)
    expected = shot_accuracy(y, pipe.predict(X), counts, **THRESHOLDS)
    as_dict = make_shot_scorer("few", class_counts=dict(enumerate(counts)), **THRESHOLDS)
    as_array = make_shot_scorer("few", class_counts=counts, **THRESHOLDS)
    # Class 7 (10 samples) is the only few-shot class under 40 / 12.
    with pytest.warns(SingleClassSplitWarning, match=r"one class \(7\).*few: < 12"):
        assert as_dict(pipe, X, y) == expected.few
    with pytest.warns(SingleClassSplitWarning, match=r"one class \(7\)"):
        assert as_array(pipe, X, y) == expected.few


def test_our_sampler_after_foreign_transformers_and_nested_pipelines():
    X, y = _long_tailed()
    inner = make_imb_pipeline(ClassBalancedSampler(random_state=0), NCMClassifier())
    pipe = make_imb_pipeline(StandardScaler(), "passthrough", inner).fit(X, y)
    classes, counts = training_class_counts(pipe)
    np.testing.assert_array_equal(counts, np.bincount(y))
    # A sklearn Pipeline without a sampler: the head's own counts.
    plain = make_pipeline(StandardScaler(), NCMClassifier()).fit(X[:300], y[:300])
    np.testing.assert_array_equal(training_class_counts(plain)[1], np.bincount(y[:300]))
    # A frozen fitted pipeline is read through.
    np.testing.assert_array_equal(training_class_counts(FrozenEstimator(pipe))[1], counts)
    with pytest.raises(ValueError, match="records no training class counts"):
        training_class_counts(make_pipeline(LogisticRegression()).fit(X, y))


def test_scorer_with_torch_predictions_and_labels():
    X, y = _long_tailed()
    head = NCMClassifier().fit(torch.as_tensor(X), torch.as_tensor(y))
    assert torch.is_tensor(head.predict(torch.as_tensor(X)))
    scorer = make_shot_scorer("all", **THRESHOLDS)
    expected = shot_accuracy(y, head.predict(X), np.bincount(y), **THRESHOLDS).all
    assert scorer(head, torch.as_tensor(X), y) == pytest.approx(expected)
    assert scorer(head, torch.as_tensor(X), torch.as_tensor(y)) == pytest.approx(expected)
    assert scorer(head, X, y.tolist()) == pytest.approx(expected)


def test_validation_class_unseen_in_training_counts_as_few_shot():
    X, y = _long_tailed()
    keep = y != 7
    head = NCMClassifier().fit(X[keep], y[keep])
    with pytest.warns(SingleClassSplitWarning, match=r"one class \(7\)"):
        few = make_shot_scorer("few", many_threshold=5, few_threshold=1)(head, X, y)
    assert few == 0.0  # class 7 is never predicted


def test_scorers_warn_only_about_their_own_split():
    import warnings

    from sklearn_lt.metrics import UndefinedSplitWarning

    X, y = _long_tailed()
    head = NCMClassifier().fit(X, y)
    many_only = {"many_threshold": 0, "few_threshold": 0}  # every class many-shot
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_shot_scorer("all", **many_only)(head, X, y) > 0
        assert make_shot_scorer("many", **many_only)(head, X, y) > 0
    with pytest.warns(UndefinedSplitWarning, match="few-shot") as caught:
        assert np.isnan(make_shot_scorer("few", **many_only)(head, X, y))
    assert len(caught) == 1


def test_make_shot_scorer_validation_and_repr():
    with pytest.raises(ValueError, match="split"):
        make_shot_scorer("tail")
    with pytest.raises(ValueError, match="few_threshold"):
        make_shot_scorer(many_threshold=5, few_threshold=10)
    assert "few" in repr(make_shot_scorer("few"))
    assert sorted(shot_scorers()) == ["all", "few", "many", "medium"]


# digits-LT's training counts: 100 / 20 leave one class many-shot (issue #19.5).
DIGITS_COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]


def _digits_like(seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(10), DIGITS_COUNTS)
    X = rng.normal(size=(len(y), 10)) + 2.5 * np.eye(10)[y]
    return X, y


def test_single_class_split_warns_with_the_thresholds_used():
    X, y = _digits_like()
    head = NCMClassifier().fit(X, y)
    scorers = shot_scorers()
    assert list(scorers) == ["many", "medium", "few", "all"]
    with pytest.warns(SingleClassSplitWarning, match=r"'many'.*one class \(0\).*many: > 100"):
        many = scorers["many"](head, X, y)
    assert many == shot_accuracy(y, head.predict(X), np.bincount(y)).per_class[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for split in ("medium", "few", "all"):
            scorers[split](head, X, y)
    assert repr(scorers["many"]) == (
        "make_shot_scorer(split='many', many_threshold=100, few_threshold=20)"
    )
    # In 2-fold cross-validation the training parts hold 62 of class 0: no
    # class is many-shot, the score is NaN, and the warning says why.
    with pytest.warns(UndefinedSplitWarning, match=r"many-shot.*many: > 100.*log-thirds"):
        out = cross_validate(NCMClassifier(), X, y, cv=2, scoring=scorers["many"])
    assert np.isnan(out["test_score"]).all()


def test_log_thirds_thresholds_follow_each_folds_training_counts():
    X, y = _digits_like(1)
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no split of one class, none empty
        out = cross_validate(
            NCMClassifier(), X, y, cv=cv, scoring=shot_scorers(thresholds="log-thirds")
        )
    for k, (train, test) in enumerate(cv.split(X, y)):
        counts = ClassCounts.log_thirds(np.arange(10), np.bincount(y[train]))
        # Each fold's own: 62 and 1 samples give 62**(2/3) ~ 15.7 and 62**(1/3) ~ 4.0
        # (the whole training set's 124 and 2 give 31 and 8).
        assert counts.thresholds == (16, 4)
        pred = NCMClassifier().fit(X[train], y[train]).predict(X[test])
        expected = shot_accuracy(y[test], pred, counts)
        for split in ("many", "medium", "few", "all"):
            assert out[f"test_{split}"][k] == pytest.approx(expected[split], abs=1e-12)
    scorer = make_shot_scorer("few", thresholds="log-thirds")
    assert repr(scorer) == "make_shot_scorer(split='few', thresholds='log-thirds')"


def test_scorers_take_class_counts_with_their_thresholds():
    X, y = _digits_like(2)
    head = NCMClassifier().fit(X, y)
    counts = ClassCounts.log_thirds(np.arange(10), np.bincount(y))
    assert counts.thresholds == (31, 8)
    scorer = make_shot_scorer("few", class_counts=counts)
    expected = shot_accuracy(y, head.predict(X), np.bincount(y), many_threshold=31,
                             few_threshold=8)
    assert scorer(head, X, y) == expected.few
    assert "class_counts=ClassCounts({0: 124, 1: 80" in repr(scorer)
    assert "many_threshold=31, few_threshold=8" in repr(scorer)
    # Explicit thresholds replace those of the ClassCounts.
    wider = make_shot_scorer("few", class_counts=counts, few_threshold=10)
    assert wider.class_counts.thresholds == (31, 10)
    assert wider(head, X, y) == shot_accuracy(
        y, head.predict(X), counts.with_thresholds(few_threshold=10)).few


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"thresholds": "terciles"}, "thresholds must be None or 'log-thirds'"),
        ({"thresholds": "log-thirds", "many_threshold": 50}, "not both"),
        ({"many_threshold": 10}, r"few_threshold \(20\) must not exceed"),
        ({"class_counts": [3, np.nan]}, "finite and non-negative"),
    ],
)
def test_scorer_arguments_are_checked_when_made(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shot_scorers(**kwargs)


# ------------------------------------------------------ bad and unusual input
@pytest.fixture(scope="module")
def ncm():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [30, 12, 4])
    X = rng.normal(size=(len(y), 3)) + 1.0 * np.eye(3)[y]
    return NCMClassifier().fit(X, y), X, y


def test_scorers_bad_input(ncm):
    head, X, y = ncm
    scorer = make_shot_scorer("all", many_threshold=20, few_threshold=5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        scorer(head, X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        scorer(head, X[:0], y[:0])
    with pytest.raises(ValueError, match="NaN"):
        scorer(head, np.where(np.arange(3) == 0, np.nan, X), y)
    with pytest.raises(ValueError, match="class_counts"):
        scorer(NCMClassifier(), X, y)
    with pytest.raises(ValueError, match="class_counts"):
        training_class_counts("passthrough")
    with pytest.raises(ValueError, match="finite and non-negative"):
        make_shot_scorer(class_counts=[30, np.nan, 4])(head, X, y)
    with pytest.raises(ValueError, match="3 labels but class_counts 2"):
        make_shot_scorer(class_counts=[30, 12])(head, X, y)
    with pytest.raises(TypeError, match="finite real number"):
        make_shot_scorer(many_threshold="20")
    # f16 and non-contiguous features score like float32
    Xt = torch.from_numpy(X.astype(np.float32))
    assert scorer(head, Xt.half(), y) == scorer(head, Xt.half().float(), y)
    assert scorer(head, wide_view(X.astype(np.float32)), y) == scorer(head, Xt, y)


def test_scorer_with_counts_missing_a_fitted_class_is_an_error(ncm):
    head, X, y = ncm
    scorer = make_shot_scorer("few", many_threshold=20, few_threshold=5,
                              class_counts={1: 12, 2: 4})  # class 0 (30 samples) forgotten
    with pytest.raises(ValueError, match="class_counts|count"):
        scorer(head, X, y)


# ------------------------------------------------- issue #24.15: sample_weight
def test_scorer_honours_sample_weight_as_scikit_learns_does():
    from sklearn.metrics import balanced_accuracy_score, make_scorer

    X, y = _long_tailed(seed=3)
    head = TauNormClassifier(LogisticRegression(max_iter=500)).fit(X, y)
    pred = head.predict(X)
    w = np.random.RandomState(0).exponential(size=len(y)) * (1 + 3 * (pred != y))
    theirs = make_scorer(balanced_accuracy_score)(head, X, y, sample_weight=w)
    ours = make_shot_scorer()(head, X, y, sample_weight=w)
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert abs(ours - make_shot_scorer()(head, X, y)) > 0.01  # the weights count
    for split, scorer in shot_scorers(**THRESHOLDS).items():
        expected = shot_accuracy(y, pred, np.bincount(y), sample_weight=w, **THRESHOLDS)
        assert scorer(head, X, y, sample_weight=torch.as_tensor(w)) == expected[split]
    with pytest.raises(TypeError, match="takes sample_weight and no other metadata.*groups"):
        make_shot_scorer()(head, X, y, groups=y)
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        make_shot_scorer()(head, X, y, sample_weight=-w)


def test_scorer_and_shot_accuracy_share_the_single_class_warning():
    X, y = _digits_like()
    head = NCMClassifier().fit(X, y)
    with pytest.warns(SingleClassSplitWarning) as from_scorer:
        shot_scorers()["many"](head, X, y)
    with pytest.warns(SingleClassSplitWarning) as from_function:
        shot_accuracy(y, head.predict(X), np.bincount(y), warn_for=("many",))
    # the same check and words; only the advice differs
    assert str(from_function[0].message).split(";")[0] == (
        str(from_scorer[0].message).split(";")[0]
    )
