"""Shot splits, per-split accuracy and LORT diagnostics against plain numpy references."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from sklearn_lt import TauNormClassifier
from sklearn_lt.metrics import (
    ClassCounts,
    SingleClassSplitWarning,
    UndefinedSplitWarning,
    logits_magnitude,
    regularized_std,
    shot_accuracy,
    shot_splits,
    weight_norms,
)
from sklearn_lt.utils._labels import encode_labels, label_positions, label_positions_sorted

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# Most hand examples here have one class per split, which warns (issue #23.13):
# the tests of that warning catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_lt.metrics.SingleClassSplitWarning")


# ------------------------------------------------------------------ shot_splits
def test_shot_splits_oltr_boundaries():
    counts = [1000, 101, 100, 50, 20, 19, 1, 0]
    expected = ["many", "many", "medium", "medium", "medium", "few", "few", "few"]
    assert shot_splits(counts).tolist() == expected


def test_shot_splits_custom_thresholds_and_tensor_counts():
    counts = torch.tensor([31, 30, 10, 9, 5])
    assert shot_splits(counts, many_threshold=30, few_threshold=10).tolist() == [
        "many",
        "medium",
        "medium",
        "few",
        "few",
    ]
    # Equal thresholds: no medium class can exist except exactly at the threshold.
    assert shot_splits([11, 10, 9], many_threshold=10, few_threshold=10).tolist() == [
        "many",
        "medium",
        "few",
    ]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"many_threshold": 10, "few_threshold": 20}, ValueError),
        ({"many_threshold": -1, "few_threshold": 0}, ValueError),
        ({"few_threshold": -1}, ValueError),
        ({"many_threshold": "100"}, TypeError),
        ({"few_threshold": float("nan")}, TypeError),
    ],
)
def test_shot_splits_validates_thresholds(kwargs, error):
    with pytest.raises(error):
        shot_splits([5, 50, 500], **kwargs)


@pytest.mark.parametrize("counts", [[], [[1, 2]], [-1, 5], [1.0, np.nan], ["a", "b"]])
def test_shot_splits_validates_counts(counts):
    with pytest.raises(ValueError):
        shot_splits(counts)


# ---------------------------------------------------------------- shot_accuracy
def _reference(y_true, y_pred, counts, many=100, few=20):
    """OLTR's shot_acc, written out with loops."""
    per_class = {}
    for c in np.unique(y_true):
        rows = [i for i in range(len(y_true)) if y_true[i] == c]
        per_class[c] = sum(y_pred[i] == c for i in rows) / len(rows)
    out = {"many": [], "medium": [], "few": []}
    for c, acc in per_class.items():
        n = counts[c]
        out["many" if n > many else "few" if n < few else "medium"].append(acc)
    res = {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}
    res["all"] = float(np.mean(list(per_class.values())))
    return res, per_class


def _long_tailed_predictions(seed=0, n_classes=30, n_test=20):
    rng = np.random.RandomState(seed)
    counts = (400 * 0.01 ** (np.arange(n_classes) / (n_classes - 1))).astype(int)
    y_true = np.repeat(np.arange(n_classes), n_test)
    # Head classes are predicted better than tail ones.
    hit = rng.rand(len(y_true)) < np.linspace(0.9, 0.2, n_classes)[y_true]
    y_pred = np.where(hit, y_true, rng.randint(n_classes, size=len(y_true)))
    return y_true, y_pred, counts


def test_shot_accuracy_matches_hand_computation():
    y_true, y_pred, counts = _long_tailed_predictions()
    res = shot_accuracy(y_true, y_pred, counts)
    expected, per_class = _reference(y_true, y_pred, dict(enumerate(counts)))
    for split in ("many", "medium", "few", "all"):
        assert res[split] == pytest.approx(expected[split], abs=1e-12)
    np.testing.assert_allclose(res.per_class, [per_class[c] for c in range(len(counts))])
    np.testing.assert_array_equal(res.splits, shot_splits(counts))
    np.testing.assert_array_equal(res.classes, np.arange(len(counts)))
    assert {"many", "medium", "few"} == set(res.splits)
    assert res["all"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def test_shot_accuracy_small_hand_example():
    # counts 500 / 50 / 5 -> many / medium / few
    res = shot_accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 0], [500, 50, 5])
    assert (res.many, res.medium, res.few) == (0.5, pytest.approx(2 / 3), 0.0)
    assert res.all == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    np.testing.assert_array_equal(res.support, [2, 3, 1])


@pytest.mark.filterwarnings("ignore::sklearn_lt.metrics.UndefinedSplitWarning")
def test_split_mean_is_unweighted_over_classes():
    # Class 0 has 1 test sample (right), class 1 has 9 (all wrong): both many-shot.
    y_true = np.array([0] + [1] * 9)
    y_pred = np.array([0] + [0] * 9)
    assert shot_accuracy(y_true, y_pred, [200, 300]).many == 0.5


@pytest.mark.parametrize("true_kind", ["list", "numpy", "torch"])
@pytest.mark.parametrize("pred_kind", ["list", "numpy", "torch"])
@pytest.mark.parametrize("device", DEVICES)
def test_shot_accuracy_any_array_mix(true_kind, pred_kind, device):
    y_true, y_pred, counts = _long_tailed_predictions(seed=1)
    expected = shot_accuracy(y_true, y_pred, counts)
    convert = {
        "list": lambda a: a.tolist(),
        "numpy": lambda a: a,
        "torch": lambda a: torch.as_tensor(a, device=device),
    }
    res = shot_accuracy(
        convert[true_kind](y_true),
        convert[pred_kind](y_pred),
        torch.as_tensor(counts, device=device),
    )
    for split in ("many", "medium", "few", "all"):
        assert res[split] == expected[split]


def test_balanced_accuracy_trap_is_avoided():
    # scikit-learn 1.9.1's balanced_accuracy_score fails on numpy y_true + torch y_pred.
    y_true, y_pred, counts = _long_tailed_predictions(seed=2)
    res = shot_accuracy(y_true, torch.as_tensor(y_pred), counts)
    assert res.all == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def test_float_tensor_predictions_compare_by_value():
    res = shot_accuracy(np.array([0, 1, 2]), torch.tensor([0.0, 1.0, 0.0]), [500, 50, 5])
    assert (res.many, res.medium, res.few) == (1.0, 1.0, 0.0)


def test_string_labels_and_dict_counts():
    y_true = np.array(["cat", "cat", "dog", "emu", "emu"])
    y_pred = ["cat", "dog", "dog", "emu", "cat"]
    res = shot_accuracy(y_true, y_pred, {"emu": 3, "dog": 40, "cat": 150})
    np.testing.assert_array_equal(res.classes, ["cat", "dog", "emu"])
    np.testing.assert_array_equal(res.splits, ["many", "medium", "few"])
    assert (res.many, res.medium, res.few) == (0.5, 1.0, 0.5)
    # Same with an aligned array and unsorted classes.
    res2 = shot_accuracy(y_true, y_pred, [3, 150, 40], classes=["emu", "cat", "dog"])
    assert (res2.many, res2.medium, res2.few) == (0.5, 1.0, 0.5)
    np.testing.assert_array_equal(res2.splits, ["few", "many", "medium"])


def test_string_labels_against_numbers_raise_as_in_scikit_learn():
    # Issue #18.6: this returned 0.0 where scikit-learn refuses the mix.
    with pytest.raises(ValueError, match="Mix of label input types"):
        accuracy_score(["a", "b"], [1, 2])
    with pytest.raises(ValueError, match="Mix of label input types.*y_pred holds numbers"):
        shot_accuracy(["a", "b"], [1, 2], {"a": 500, "b": 5})
    with pytest.raises(ValueError, match="Mix of label input types.*y_true holds numbers"):
        shot_accuracy([0, 1], ["a", "b"], [500, 5])
    with pytest.raises(ValueError, match="Mix of label input types"):
        shot_accuracy(["a", "b"], ["a", "b"], [500, 5], classes=[0, 1])
    with pytest.raises(ValueError, match="Mix of label input types"):
        shot_accuracy(np.array(["a", 1], dtype=object), ["a", "a"], [500, 5], classes=["a", "b"])


def test_classes_never_come_from_predictions():
    # Issue #18.6: the stray prediction 9 made {1, 2, 9} match the three
    # counts, and class 1 was reported many-shot with 500 samples.
    with pytest.raises(ValueError, match="y_true holds 2 distinct labels: pass classes"):
        shot_accuracy([1, 1, 2, 2], [1, 9, 2, 2], [500, 50, 5])
    with pytest.warns(UndefinedSplitWarning, match="many-shot"):
        res = shot_accuracy([1, 1, 2, 2], [1, 9, 2, 2], [500, 50, 5], classes=[0, 1, 2])
    np.testing.assert_array_equal(res.class_counts, [500, 50, 5])
    np.testing.assert_array_equal(res.splits, ["many", "medium", "few"])
    assert np.isnan(res.many) and res.medium == 0.5 and res.few == 1.0
    # Without classes, the counts are those of y_true's labels, whatever y_pred holds.
    res = shot_accuracy([1, 1, 2, 2], [1, 9, 2, 2], [50, 5], warn_for=())
    np.testing.assert_array_equal(res.classes, [1, 2])
    assert (res.medium, res.few) == (0.5, 1.0)


def test_classes_absent_from_y_true_are_skipped():
    # Class 2 (few) has no test sample: NaN per class, few split undefined.
    with pytest.warns(UndefinedSplitWarning, match="few-shot"):
        res = shot_accuracy([0, 1], [0, 0], [500, 50, 5], classes=[0, 1, 2])
    assert np.isnan(res.per_class[2])
    assert np.isnan(res.few)
    assert res.all == 0.5
    assert res.support.tolist() == [1, 1, 0]


def test_empty_split_warns_and_gives_nan():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = shot_accuracy([0, 1, 0], [0, 1, 1], [150, 120])
    messages = [str(w.message) for w in caught if w.category is UndefinedSplitWarning]
    assert len(messages) == 2
    assert np.isnan(res.medium) and np.isnan(res.few)
    assert res.many == 0.75
    assert issubclass(UndefinedSplitWarning, UserWarning)


def test_warn_for_selects_the_splits_that_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = shot_accuracy([0, 1], [0, 1], [150, 120], warn_for=())
    assert np.isnan(res.few)
    with pytest.warns(UndefinedSplitWarning, match="few-shot") as caught:
        shot_accuracy([0, 1], [0, 1], [150, 120], warn_for=("few",))
    assert len(caught) == 1


def test_default_classes_need_matching_counts():
    with pytest.raises(ValueError, match="pass classes"):
        shot_accuracy([0, 1], [0, 1], [10, 20, 30])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([0, 1], [0], [1, 2]), {}, "inconsistent"),
        (([], [], [1]), {}, "empty"),
        (([0, 1], [0, 1], [1, 2]), {"classes": [0, 1, 2]}, "2 entries but there are 3 classes"),
        (([0, 1], [0, 1], [1, 2]), {"classes": [0, 0]}, "duplicates"),
        (([0, 3], [0, 1], [1, 2]), {"classes": [0, 1]}, r"labels \[3\]"),
        (([0, 1], [0, 1], {0: 1, 1: 2}), {"classes": [0, 1]}, "dict"),
        (([[0, 1]], [0, 1], [1, 2]), {}, "1-D"),
    ],
)
def test_shot_accuracy_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        shot_accuracy(*args, **kwargs)


# ------------------------------------------------------------------ diagnostics
def _diagnostics_reference(logits, y):
    """Definitions 1 and 2 of LORT, one class at a time."""
    magnitude, rsd = [], []
    for j in range(logits.shape[1]):
        pos = logits[y == j, j]
        neg = logits[y != j, j]
        m = pos.mean() - neg.mean()
        magnitude.append(m)
        rsd.append(pos.std() / m)
    return np.array(magnitude), np.array(rsd)


def _logits(seed=0, n_classes=5):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), np.arange(n_classes, 0, -1) * 7)
    logits = rng.normal(size=(len(y), n_classes)) + 3 * np.eye(n_classes)[y]
    return logits, y


@pytest.mark.parametrize("device", DEVICES)
def test_diagnostics_match_numpy_reference(device):
    logits, y = _logits()
    magnitude, rsd = _diagnostics_reference(logits, y)
    np.testing.assert_allclose(logits_magnitude(logits, y), magnitude, rtol=1e-12)
    np.testing.assert_allclose(regularized_std(logits, y), rsd, rtol=1e-12)
    t_logits = torch.as_tensor(logits, device=device, dtype=torch.float32)
    t_y = torch.as_tensor(y, device=device)
    out = logits_magnitude(t_logits, t_y)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, magnitude, rtol=1e-5)
    np.testing.assert_allclose(regularized_std(t_logits, y.tolist()), rsd, rtol=1e-5)


def test_regularized_std_ddof_and_scale_invariance():
    logits, y = _logits(seed=3)
    ref = np.array(
        [logits[y == j, j].std(ddof=1) for j in range(5)]
    ) / _diagnostics_reference(logits, y)[0]
    np.testing.assert_allclose(regularized_std(logits, y, ddof=1), ref, rtol=1e-12)
    # A temperature changes the magnitude but not the regularized std.
    np.testing.assert_allclose(
        logits_magnitude(3 * logits, y), 3 * logits_magnitude(logits, y), rtol=1e-12
    )
    np.testing.assert_allclose(regularized_std(3 * logits, y), regularized_std(logits, y))


def test_diagnostics_with_classes_and_string_labels():
    logits, y = _logits(seed=1, n_classes=3)
    names = np.array(["c", "a", "b"])  # column j is class names[j]
    labels = names[y]
    np.testing.assert_allclose(
        logits_magnitude(logits, labels, classes=names), _diagnostics_reference(logits, y)[0]
    )
    # A column whose class has no sample gives NaN.
    out = logits_magnitude(np.c_[logits, np.zeros(len(y))], labels, classes=[*names, "z"])
    assert np.isnan(out[3]) and np.all(np.isfinite(out[:3]))
    with pytest.raises(ValueError, match="pass classes"):
        logits_magnitude(np.c_[logits, logits], labels)
    with pytest.raises(ValueError, match="columns"):
        regularized_std(logits, labels, classes=["a", "b"])
    with pytest.raises(ValueError, match="inconsistent"):
        logits_magnitude(logits, labels[:-1])


def test_diagnostics_refuse_classes_of_another_kind():
    # Issue #18.6: classes of the wrong type gave all-NaN magnitudes.
    logits, y = _logits(seed=1, n_classes=3)
    with pytest.raises(ValueError, match="Mix of label input types"):
        logits_magnitude(logits, y, classes=["0", "1", "2"])
    with pytest.raises(ValueError, match="Mix of label input types"):
        regularized_std(logits, np.array(["a", "b", "c"])[y], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="No label of y is among classes"):
        logits_magnitude(logits, y, classes=[10, 11, 12])
    with pytest.raises(ValueError, match="duplicates"):
        logits_magnitude(logits, y, classes=[0, 1, 1])
    # Labels outside classes are "other classes" for every column.
    extra = np.r_[y, 7]
    more = np.r_[logits, np.zeros((1, 3))]
    expected = [more[extra == j, j].mean() - more[extra != j, j].mean() for j in range(3)]
    np.testing.assert_allclose(logits_magnitude(more, extra, classes=[0, 1, 2]), expected)


def test_diagnostics_binary_decision_function():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], [30, 10])
    X = rng.normal(size=(40, 2)) + 2 * np.eye(2)[y]
    clf = LogisticRegression().fit(X, y)
    s = clf.decision_function(X)
    full = np.stack([-s / 2, s / 2], axis=1)
    np.testing.assert_allclose(logits_magnitude(s, y), logits_magnitude(full, y))
    np.testing.assert_allclose(regularized_std(s, y), _diagnostics_reference(full, y)[1])


# ----------------------------------------------------------------- weight_norms
def test_weight_norms_of_estimators_arrays_and_tensors():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [60, 20, 5])
    X = rng.normal(size=(len(y), 4)) + 2 * np.eye(4)[y]
    lr = LogisticRegression().fit(X, y)
    expected = np.sqrt((lr.coef_**2).sum(axis=1))
    np.testing.assert_allclose(weight_norms(lr), expected)
    np.testing.assert_allclose(weight_norms(FrozenEstimator(lr)), expected)
    np.testing.assert_allclose(weight_norms(lr.coef_), expected)
    np.testing.assert_allclose(weight_norms(torch.as_tensor(lr.coef_)), expected)
    head = TauNormClassifier(FrozenEstimator(lr), tau=1.0).fit(torch.as_tensor(X), y)
    # tau 1: unit rows in the normalised units of the features (see tau_normalize).
    np.testing.assert_allclose(weight_norms(head) * head.feature_scale_, 1.0, rtol=1e-12)
    assert weight_norms(np.array([3.0, 4.0])).tolist() == [5.0]
    with pytest.raises(ValueError, match="coef_"):
        weight_norms(LogisticRegression())
    with pytest.raises(ValueError, match="2-D"):
        weight_norms(np.zeros((2, 2, 2)))


# ------------------------------------------------------------------ ClassCounts
def test_class_counts_sorts_and_aligns_string_labels():
    cc = ClassCounts(["dog", "cat", "emu"], [40, 150, 3])
    np.testing.assert_array_equal(cc.classes, ["cat", "dog", "emu"])
    np.testing.assert_array_equal(cc.counts, [150, 40, 3])
    np.testing.assert_array_equal(cc.align(["emu", "cat", "emu"]), [3, 150, 3])
    np.testing.assert_array_equal(cc.positions(np.array(["emu", "dog"], dtype=object)), [2, 1])
    np.testing.assert_array_equal(cc.splits(), ["many", "medium", "few"])
    np.testing.assert_array_equal(cc.splits(["emu", "cat"]), ["few", "many"])
    assert cc.as_dict() == {"cat": 150, "dog": 40, "emu": 3}
    np.testing.assert_allclose(cc.priors(), np.array([150, 40, 3]) / 193)
    assert len(cc) == 3 and cc.thresholds == (100, 20)
    assert repr(cc) == "ClassCounts({'cat': 150, 'dog': 40, 'emu': 3}, many_threshold=100, " \
        "few_threshold=20)"
    # Tensors on any device, as classes and counts.
    same = ClassCounts(torch.tensor([2, 0, 1]), torch.tensor([3, 150, 40]))
    np.testing.assert_array_equal(same.align(torch.tensor([0, 2])), [150, 3])


def test_class_counts_unknown_labels():
    cc = ClassCounts([0, 1, 2], [500, 50, 5])
    with pytest.raises(ValueError, match=r"y_true has labels \[3, 7\] without a class count"):
        cc.positions([0, 7, 3, 7], name="y_true")
    np.testing.assert_array_equal(cc.positions([0, 7, 2], unknown="ignore"), [0, -1, 2])
    np.testing.assert_array_equal(cc.align([0, 7, 2], unknown="zero"), [500, 0, 5])
    np.testing.assert_array_equal(cc.align([np.nan, 1.0], unknown="zero"), [0, 50])
    assert cc.positions([]).shape == (0,)


def test_class_counts_reindex():
    cc = ClassCounts(["a", "b"], [7, 0])
    wider = cc.reindex(["c", "a", "b"])
    assert wider.as_dict() == {"a": 7, "b": 0, "c": 0}
    assert wider.thresholds == cc.thresholds
    # A class without samples may be left out; one with samples may not.
    assert cc.reindex(["a"]).as_dict() == {"a": 7}
    with pytest.raises(ValueError, match=r"\['a'\] have training samples"):
        cc.reindex(["b", "c"])
    with pytest.raises(ValueError, match=r"classes has labels \['c'\] without a class count"):
        cc.reindex(["a", "b", "c"], unknown="raise")
    assert ClassCounts.from_labels([2, 0, 0], classes=[0, 1, 2]).as_dict() == {0: 2, 1: 0, 2: 1}


def test_class_counts_log_thirds_matches_formula():
    rng = np.random.RandomState(0)
    for _ in range(20):
        counts = rng.randint(1, 5000, size=rng.randint(2, 30))
        n_max, n_min = counts.max(), counts.min()
        cc = ClassCounts.log_thirds(np.arange(len(counts)), counts)
        assert cc.many_threshold == round(n_max ** (2 / 3) * n_min ** (1 / 3))
        assert cc.few_threshold == round(n_max ** (1 / 3) * n_min ** (2 / 3))
        # Both thresholds scale with the counts (up to rounding).
        doubled = ClassCounts.log_thirds(np.arange(len(counts)), 2 * counts)
        assert abs(doubled.many_threshold - 2 * cc.many_threshold) <= 1
        assert abs(doubled.few_threshold - 2 * cc.few_threshold) <= 1
    # Classes without samples do not move the thresholds.
    assert ClassCounts.log_thirds([0, 1, 2], [500, 5, 0]).thresholds == (108, 23)
    with pytest.raises(ValueError, match="at least one class with samples"):
        ClassCounts.log_thirds([0, 1], [0, 0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"many_threshold": 10, "few_threshold": 20}, ValueError, "must not exceed"),
        ({"many_threshold": -1, "few_threshold": 0}, ValueError, "non-negative"),
        ({"many_threshold": "100"}, TypeError, "finite real number"),
        ({"few_threshold": float("nan")}, TypeError, "finite real number"),
        ({"few_threshold": True}, TypeError, "finite real number"),
    ],
)
def test_class_counts_validates_thresholds(kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassCounts([0, 1], [5, 50], **kwargs)
    with pytest.raises(error, match=match):
        ClassCounts([0, 1], [5, 50]).with_thresholds(**kwargs)


@pytest.mark.parametrize(
    "classes, counts, match",
    [
        ([0, 1, 1], [1, 2, 3], "duplicates"),
        ([0, 1, 2], [1, 2], "2 entries but there are 3 classes"),
        ([0, 1], [1, -2], "finite and non-negative"),
        ([0, 1], [[1, 2]], "1-D"),
        (np.array(["a", 1], dtype=object), [1, 2], "Mix of label input types"),
        ([[0, 1]], [1, 2], "classes must be 1-D"),
    ],
)
def test_class_counts_validates_classes_and_counts(classes, counts, match):
    with pytest.raises(ValueError, match=match):
        ClassCounts(classes, counts)


def test_class_counts_refuses_mixed_label_kinds():
    strings = ClassCounts(["a", "b"], [5, 50])
    with pytest.raises(ValueError, match="Mix of label input types.*y holds numbers"):
        strings.positions([0, 1], name="y")
    with pytest.raises(ValueError, match="Mix of label input types"):
        ClassCounts([0, 1], [5, 50]).align(["a"])
    with pytest.raises(ValueError, match="Mix of label input types"):
        strings.reindex([0, 1])


def test_class_counts_coerce():
    counted = ClassCounts.coerce({"b": 5, "a": torch.tensor(50)}, few_threshold=10)
    assert counted == ClassCounts(["a", "b"], [50, 5], few_threshold=10)
    # A ClassCounts keeps its thresholds unless others are given.
    assert ClassCounts.coerce(counted) is counted
    assert ClassCounts.coerce(counted, many_threshold=None).thresholds == (100, 10)
    assert ClassCounts.coerce(counted, many_threshold=40).thresholds == (40, 10)
    assert ClassCounts.coerce([5, 50], ["b", "a"]) == ClassCounts(["a", "b"], [50, 5])
    with pytest.raises(ValueError, match="needs the classes"):
        ClassCounts.coerce([5, 50])
    with pytest.raises(ValueError, match="only with an array"):
        ClassCounts.coerce({"a": 1}, ["a"])
    assert counted != ClassCounts(["a", "b"], [50, 5])  # other thresholds


def test_functions_take_class_counts_with_their_thresholds():
    y_true, y_pred, counts = _long_tailed_predictions(seed=4)
    cc = ClassCounts.log_thirds(np.arange(len(counts)), counts)
    thresholds = {"many_threshold": cc.many_threshold, "few_threshold": cc.few_threshold}
    expected = shot_accuracy(y_true, y_pred, counts, **thresholds)
    got = shot_accuracy(y_true, y_pred, cc)
    for split in ("many", "medium", "few", "all"):
        assert got[split] == expected[split]
    assert got.thresholds == cc.thresholds
    np.testing.assert_array_equal(shot_splits(cc), shot_splits(counts, **thresholds))
    # Explicit thresholds win over those of the ClassCounts.
    np.testing.assert_array_equal(shot_splits(cc, many_threshold=1000), shot_splits(
        counts, many_threshold=1000, few_threshold=cc.few_threshold))
    # Unsorted classes: the result follows their order.
    res = shot_accuracy(["b", "a"], ["b", "b"], ClassCounts(["a", "b"], [500, 5]),
                        classes=["b", "a"], warn_for=())
    np.testing.assert_array_equal(res.class_counts, [5, 500])
    np.testing.assert_array_equal(res.per_class, [1.0, 0.0])


# ------------------------------------------------------ bad and unusual input
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 1, 0, 0, 0])
COUNTS = [500, 50, 5]


def test_shot_accuracy_low_precision_and_non_contiguous_tensors():
    ref = shot_accuracy(Y_TRUE, Y_PRED, COUNTS)
    assert (ref.many, ref.medium, ref.few, ref.all) == (1.0, 0.5, 0.0, 0.5)
    spread = torch.from_numpy(np.repeat(Y_TRUE, 2))[::2]
    for y_true, y_pred, counts in [
        (torch.from_numpy(Y_TRUE).half(), torch.from_numpy(Y_PRED).half(), COUNTS),
        (spread, torch.from_numpy(Y_PRED), torch.tensor(COUNTS).half()),
    ]:
        res = shot_accuracy(y_true, y_pred, counts)
        assert (res.many, res.medium, res.few, res.all) == (1.0, 0.5, 0.0, 0.5)
    np.testing.assert_array_equal(shot_splits(torch.tensor(COUNTS, dtype=torch.float16)),
                       ["many", "medium", "few"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: shot_accuracy(Y_TRUE, torch.from_numpy(Y_PRED).bfloat16(), COUNTS).per_class,
        lambda: shot_splits(torch.tensor(COUNTS).bfloat16()) == ["many", "medium", "few"],
        lambda: logits_magnitude(torch.eye(3).bfloat16()[Y_TRUE], Y_TRUE),
        lambda: weight_norms(torch.eye(3).bfloat16()),
    ],
    ids=["shot_accuracy", "shot_splits", "logits_magnitude", "weight_norms"],
)
def test_metrics_take_bfloat16_tensors(call):
    assert np.all(np.isfinite(np.asarray(call(), dtype=float)))


def test_shot_accuracy_non_finite_and_odd_labels():
    with pytest.raises(ValueError, match=r"labels \[nan\] without a class count"):
        shot_accuracy(np.array([0, 0, 1, 1, 2, np.nan]), Y_PRED, COUNTS, classes=[0, 1, 2])
    # NaN or inf predictions are wrong answers, not errors, once classes are known
    for bad in (np.nan, np.inf):
        res = shot_accuracy(Y_TRUE, np.where(np.arange(6) == 0, bad, Y_PRED), COUNTS,
                            classes=[0, 1, 2])
        assert (res.many, res.medium, res.few) == (0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="finite and non-negative"):
        shot_accuracy(Y_TRUE, Y_PRED, [np.inf, 50, 5])
    with pytest.raises(TypeError, match="finite real number"):
        shot_accuracy(Y_TRUE, Y_PRED, COUNTS, many_threshold=np.inf)
    # one class: its split is defined (of one class: a warning), the other two are
    # NaN with a warning each
    with pytest.warns(UndefinedSplitWarning) as caught:
        res = shot_accuracy([0, 0], [0, 1], [5], classes=[0])
    assert [w.category for w in caught].count(UndefinedSplitWarning) == 2
    assert [w.category for w in caught].count(SingleClassSplitWarning) == 1
    assert res.all == res.few == 0.5
    assert np.isnan(res.many) and np.isnan(res.medium)


def test_diagnostics_non_finite_logits_stay_in_their_class():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [6, 4, 3])
    logits = rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]
    clean_m, clean_s = logits_magnitude(logits, y), regularized_std(logits, y)
    for bad in (np.nan, np.inf):
        dirty = logits.copy()
        dirty[2, 0] = bad  # one logit of class 0's column
        with np.errstate(invalid="ignore"):
            magnitude, rsd = logits_magnitude(dirty, y), regularized_std(dirty, y)
        assert np.isnan(magnitude[0]) or np.isinf(magnitude[0])
        np.testing.assert_array_equal(magnitude[1:], clean_m[1:])
        np.testing.assert_array_equal(rsd[1:], clean_s[1:])


def test_diagnostics_edge_shapes_and_dtypes():
    logits = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    y = [0, 0, 1, 1]
    ref = logits_magnitude(logits, y)
    np.testing.assert_array_equal(ref, [1.5, 2.5])
    half = logits_magnitude(torch.tensor(logits).half(), torch.tensor(y))
    np.testing.assert_array_equal(half, ref)
    np.testing.assert_array_equal(logits_magnitude(torch.tensor(logits).T.contiguous().T, y), ref)
    # no sample at all, or no sample of another class: undefined, NaN
    assert np.isnan(logits_magnitude(np.zeros((0, 2)), [], classes=[0, 1])).all()
    assert np.isnan(logits_magnitude(np.zeros((2, 1)), [0, 0])).all()
    assert np.isnan(regularized_std(logits, y, ddof=2)).all()  # 2 samples per class
    with pytest.raises(ValueError, match="2-D"):
        regularized_std(np.zeros((4, 2, 1)), y)
    with pytest.raises(ValueError, match="1-D"):
        logits_magnitude(logits, [y])
    np.testing.assert_array_equal(weight_norms(torch.tensor([[3.0, 4.0]]).half()), [5.0])
    np.testing.assert_array_equal(weight_norms(np.zeros((0, 3))), np.zeros(0))
    assert np.isnan(weight_norms(np.array([[np.nan, 1.0], [3.0, 4.0]]))[0])
    with pytest.raises(ValueError, match="coef_"):
        weight_norms(TauNormClassifier())


# ------------------------------------------ issue #24.15: weighted shot accuracy
def _weighted_reference(y_true, y_pred, weights, counts, many=100, few=20):
    """Per-class weighted recall, split means over classes of positive weight: loops."""
    per_class = {}
    for c in np.unique(y_true):
        rows = y_true == c
        if weights[rows].sum() > 0:
            per_class[c] = weights[rows & (y_pred == c)].sum() / weights[rows].sum()
    out = {"many": [], "medium": [], "few": []}
    for c, acc in per_class.items():
        out["many" if counts[c] > many else "few" if counts[c] < few else "medium"].append(acc)
    res = {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}
    res["all"] = float(np.mean(list(per_class.values())))
    return res, per_class


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")  # scikit-learn's
def test_shot_accuracy_honours_sample_weight():
    y_true, y_pred, counts = _long_tailed_predictions(seed=5)
    rng = np.random.RandomState(0)
    weights = rng.exponential(size=len(y_true))
    weights[y_true == 3] = 0.0  # a class whose samples weigh nothing is absent
    res = shot_accuracy(y_true, y_pred, counts, sample_weight=weights)
    expected, per_class = _weighted_reference(y_true, y_pred, weights, counts)
    for split in ("many", "medium", "few", "all"):
        assert res[split] == pytest.approx(expected[split], abs=1e-12)
    assert np.isnan(res.per_class[3]) and res.support[3] == 20  # support: samples
    assert res.all == pytest.approx(
        balanced_accuracy_score(y_true, y_pred, sample_weight=weights)
    )
    unweighted = shot_accuracy(y_true, y_pred, counts)
    assert abs(res.all - unweighted.all) > 0.01  # the weights change the answer
    # Weights of one per sample change nothing; tensors are taken as weights.
    ones = shot_accuracy(y_true, y_pred, counts, sample_weight=torch.ones(len(y_true)))
    np.testing.assert_array_equal(ones.per_class, unweighted.per_class)


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.ones(5), r"shape \(6,\)"),
        (-np.ones(6), "finite and non-negative"),
        (np.full(6, np.nan), "finite and non-negative"),
        (np.zeros(6), "sums to zero"),
        (np.array(list("abcdef")), "numbers"),
    ],
)
def test_shot_accuracy_sample_weight_errors(weights, match):
    with pytest.raises(ValueError, match=match):
        shot_accuracy(Y_TRUE, Y_PRED, COUNTS, sample_weight=weights)


# ------------------------------------ issue #23.13: single-class split warnings
def test_shot_accuracy_warns_for_a_split_of_one_class():
    # digits-LT with the ImageNet-LT thresholds: class 0 alone is many-shot.
    counts = np.array([150, 80, 60, 40, 30, 12, 8])
    y_true = np.repeat(np.arange(7), 10)
    y_pred = np.where(np.arange(70) % 3 == 0, 0, y_true)
    with pytest.warns(SingleClassSplitWarning,
                      match=r"'many' accuracy is that of one class \(0\).*many: > 100") as caught:
        res = shot_accuracy(y_true, y_pred, counts)
    assert len(caught) == 1  # medium and few have several classes
    assert res.many == res.per_class[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shot_accuracy(y_true, y_pred, counts, warn_for=())
        shot_accuracy(y_true, y_pred, ClassCounts.log_thirds(np.arange(7), counts))


# -------------------------------------------------- issue #24.16: NaN labels
@pytest.mark.parametrize(
    "make",
    [
        lambda: ClassCounts([np.nan, np.nan], [1, 2]),
        lambda: ClassCounts([0.0, np.inf], [1, 2]),
        lambda: ClassCounts(np.array([1.0, np.nan], dtype=object), [1, 2]),
        lambda: ClassCounts(torch.tensor([0.0, float("nan")]), [1, 2]),
        lambda: ClassCounts.from_labels([0.0, np.nan, np.nan]),
        lambda: ClassCounts.coerce({np.nan: 3, 1.0: 2}),
        lambda: shot_accuracy([0.0, np.nan], [0.0, 1.0], [5, 50]),
    ],
)
def test_class_counts_refuse_nan_labels(make):
    with pytest.raises(ValueError, match=r"non-finite labels \[(nan|inf)\].*equals no label"):
        make()
    # without classes, shot_accuracy's classes are y_true's labels: the message names y_true
    with pytest.raises(ValueError, match=r"^y_true holds non-finite labels \[nan\]"):
        shot_accuracy([0.0, np.nan], [0.0, 1.0], [5, 50])


# --------------------------- issue #22.5: label lookup by table, same answers
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64])
def test_label_positions_table_matches_the_search(dtype):
    rng = np.random.RandomState(0)
    info = np.iinfo(dtype)
    low = max(int(info.min), -60)
    classes = rng.choice(np.arange(low, low + 120), 40, replace=False).astype(dtype)
    labels = rng.randint(low - 10, low + 130, 500)
    labels = np.clip(labels, info.min, info.max).astype(dtype)
    labels[:3] = [info.min, info.max, classes[0]]
    got = label_positions(classes, labels)
    np.testing.assert_array_equal(got, label_positions_sorted(classes, labels))
    assert got.dtype == np.int64 and (got >= 0).any() and (got < 0).any()
    # Integer labels against a wide range of integer classes, and the other way round.
    wide = np.array([-(2**62), 0, 2**62], dtype=np.int64)
    np.testing.assert_array_equal(label_positions(wide, np.array([0, 2**62, 5])), [1, 2, -1])
    np.testing.assert_array_equal(
        label_positions(np.arange(3), np.array([2**62, -(2**62), 1])), [-1, -1, 1]
    )


@pytest.mark.parametrize(
    "labels",
    [
        np.array([5, 3, 5, 9, 3, 3]),
        np.array([-4, 2, 2, -4, 100], dtype=np.int16),
        np.arange(10, dtype=np.uint8)[::-1],
        np.array([0, 2**40, 7]),
        np.array([2.5, 1.0, 2.5]),
        np.array(["b", "a", "b"]),
    ],
)
def test_encode_labels_is_numpy_unique(labels):
    classes, index, counts = encode_labels(labels)
    ref = np.unique(labels, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(classes, ref[0])
    assert classes.dtype == ref[0].dtype
    np.testing.assert_array_equal(index, ref[1])
    assert index.dtype == np.int64
    np.testing.assert_array_equal(counts, ref[2])
