"""Display objects: each renders to PNG and draws exactly the metrics it is built on."""

import copy
import sys
import warnings

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _support import wide_view  # noqa: E402
from imblearn.pipeline import make_pipeline  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from sklearn_lt import (  # noqa: E402
    ClassBalancedSampler,
    InstanceBalancedSampler,
    LORTClassifier,
    NCMClassifier,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt._counts import ALL_SPLITS as SPLITS  # noqa: E402
from sklearn_lt.metrics import (  # noqa: E402
    ClassCounts,
    UndefinedSplitWarning,
    logits_magnitude,
    regularized_std,
    shot_accuracy,
    weight_norms,
)

# Most displays here draw toy problems of one class per split, which the metrics rightly
# warn about (SingleClassSplitWarning, tested in test_metrics.py); not this module's subject.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn_lt.metrics.SingleClassSplitWarning")
from sklearn_lt.plotting import (  # noqa: E402
    LogitsMagnitudeDisplay,
    SamplingProbabilityDisplay,
    ShotAccuracyDisplay,
    TauSweepDisplay,
    WeightNormDisplay,
)

# digits-LT: counts [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]; (31, 8) gives 4 / 3 / 3 classes.
THRESHOLDS = {"many_threshold": 31, "few_threshold": 8}
COUNTS = np.array([124, 80, 51, 33, 21, 14, 9, 5, 3, 2])
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def digits(digits_lt):
    """digits-LT (pixels in [0, 1]) and a logistic regression fitted on it."""
    X_train, y_train, X_test, y_test = digits_lt
    base = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    return X_train, y_train, X_test, y_test, base


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_renders(display, tmp_path, name="figure.png"):
    path = tmp_path / name
    display.figure_.savefig(path)
    assert path.exists()
    assert path.stat().st_size > 10_000
    assert display.ax_.figure is display.figure_


# -------------------------------------------------------------------- tau sweep
def test_tau_sweep_matches_refitted_tau_norm_heads(digits, tmp_path):
    X_train, y_train, X_test, y_test, base = digits
    clf = TauNormClassifier(FrozenEstimator(base), tau=0.7).fit(X_train, y_train)
    taus = [0.0, 0.3, 0.7, 1.0, 1.5]
    display = TauSweepDisplay.from_estimator(clf, X_test, y_test, taus=taus, **THRESHOLDS)
    assert display.tau == 0.7
    for i, tau in enumerate(taus):
        head = TauNormClassifier(FrozenEstimator(base), tau=tau).fit(X_train, y_train)
        expected = shot_accuracy(y_test, head.predict(X_test), COUNTS, **THRESHOLDS)
        for split in ("many", "medium", "few", "all"):
            assert display.accuracies[split][i] == pytest.approx(expected[split], abs=1e-12)
            np.testing.assert_allclose(
                display.lines_[split].get_ydata()[i], expected[split], atol=1e-12
            )
    np.testing.assert_array_equal(display.lines_["all"].get_xdata(), taus)
    assert display.tau_line_ is not None
    assert display.ax_.get_xlabel() == "tau"
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "Many",
        "Medium",
        "Few",
        "All",
        "tau = 0.7",
    ]
    assert_renders(display, tmp_path)


def test_tau_sweep_default_taus_torch_and_plain_linear_model(digits):
    X_train, y_train, X_test, y_test, base = digits
    # A plain linear model: its own coef_ are the base weights (bias dropped).
    plain = TauSweepDisplay.from_estimator(
        base, X_test, y_test, class_counts=COUNTS, **THRESHOLDS
    )
    np.testing.assert_allclose(plain.taus, np.linspace(0, 2, 21))
    assert plain.tau is None and plain.tau_line_ is None
    clf = TauNormClassifier(FrozenEstimator(base)).fit(X_train, y_train)
    tensors = TauSweepDisplay.from_estimator(
        clf, torch.as_tensor(X_test), torch.as_tensor(y_test), **THRESHOLDS
    )
    for split in ("many", "medium", "few", "all"):
        np.testing.assert_allclose(tensors.accuracies[split], plain.accuracies[split])


@pytest.mark.parametrize("device", DEVICES)
def test_displays_take_tensors_on_any_device(digits, device):
    X_train, y_train, X_test, y_test, base = digits
    X_t = torch.as_tensor(X_train, device=device)
    y_t = torch.as_tensor(y_train, device=device)
    X_v = torch.as_tensor(X_test, device=device)
    y_v = torch.as_tensor(y_test, device=device)
    clf = TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_t, y_t)
    reference = TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_train, y_train)
    sweep = TauSweepDisplay.from_estimator(clf, X_v, y_v, taus=[0, 1], **THRESHOLDS)
    expected = TauSweepDisplay.from_estimator(
        reference, X_test, y_test, taus=[0, 1], **THRESHOLDS
    )
    for split in ("many", "medium", "few", "all"):
        np.testing.assert_allclose(sweep.accuracies[split], expected.accuracies[split])
    norms = WeightNormDisplay.from_estimator(clf).weight_norms["TauNormClassifier"]
    np.testing.assert_allclose(norms, norms[0])  # tau 1: every class at one norm
    shots = ShotAccuracyDisplay.from_estimators({"tau": clf}, X_v, y_v, **THRESHOLDS)
    assert shots.accuracies["tau"]["all"] == pytest.approx(expected.accuracies["all"][1])
    logits = LogitsMagnitudeDisplay.from_estimator(clf, X_v, y_v, **THRESHOLDS)
    np.testing.assert_allclose(
        logits.magnitudes["TauNormClassifier"],
        logits_magnitude(reference.decision_function(X_test), y_test),
        rtol=1e-6,
    )


def test_string_labels(digits):
    X_train, y_train, X_test, y_test, _ = digits
    names = np.array([f"digit {d}" for d in range(10)])
    base = LogisticRegression(max_iter=2000).fit(X_train, names[y_train])
    counts = dict(zip(names.tolist(), COUNTS.tolist()))
    sweep = TauSweepDisplay.from_estimator(
        base, X_test, names[y_test], class_counts=counts, taus=[0, 1], **THRESHOLDS
    )
    numeric_base = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    numeric = TauSweepDisplay.from_estimator(
        numeric_base, X_test, y_test, class_counts=COUNTS, taus=[0, 1], **THRESHOLDS
    )
    np.testing.assert_allclose(sweep.accuracies["all"], numeric.accuracies["all"])
    norms = WeightNormDisplay.from_estimator(base, class_counts=counts)
    assert norms.ax_.get_xticklabels()[0].get_text() == "digit 0\n124"


def test_tau_sweep_through_a_resampling_pipeline_uses_counts_before_resampling(digits):
    X_train, y_train, X_test, y_test, base = digits
    pipe = make_pipeline(
        ClassBalancedSampler(random_state=0), TauNormClassifier(FrozenEstimator(base))
    ).fit(X_train, y_train)
    display = TauSweepDisplay.from_estimator(pipe, X_test, y_test, taus=[0, 1], **THRESHOLDS)
    direct = TauSweepDisplay.from_estimator(
        pipe[-1], X_test, y_test, taus=[0, 1], class_counts=COUNTS, **THRESHOLDS
    )
    for split in ("many", "medium", "few", "all"):
        np.testing.assert_allclose(display.accuracies[split], direct.accuracies[split])


def test_tau_sweep_empty_split_warns_once_and_is_nan(digits):
    X_train, y_train, X_test, y_test, base = digits
    # No count equals 20: with both thresholds at 20 no class is medium-shot.
    with pytest.warns(UndefinedSplitWarning) as record:
        display = TauSweepDisplay.from_estimator(
            base, X_test, y_test, class_counts=COUNTS, taus=[0, 0.5, 1],
            many_threshold=20, few_threshold=20,
        )
    assert len(record) == 1 and "medium" in str(record[0].message)
    assert np.isnan(display.accuracies["medium"]).all()
    assert not np.isnan(display.accuracies["few"]).any()
    display.figure_.canvas.draw()


def test_tau_sweep_plot_splits_and_errors(digits):
    X_train, y_train, X_test, y_test, base = digits
    display = TauSweepDisplay.from_estimator(
        base, X_test, y_test, class_counts=COUNTS, taus=[0, 1], splits=["few", "all"],
        **THRESHOLDS,
    )
    assert list(display.lines_) == ["few", "all"]
    with pytest.raises(ValueError, match="Unknown split"):
        display.plot(splits=["tail"])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TauSweepDisplay.from_estimator(base, X_test, y_test[:-1], class_counts=COUNTS)
    with pytest.raises(ValueError, match="10 classes"):
        TauSweepDisplay.from_estimator(base, X_test, y_test, class_counts=COUNTS[:-1])
    with pytest.raises(ValueError, match="taus"):
        TauSweepDisplay.from_estimator(base, X_test, y_test, class_counts=COUNTS, taus=[-1])
    with pytest.raises(ValueError, match="class_counts"):
        # LogisticRegression records no training counts.
        TauSweepDisplay.from_estimator(base, X_test, y_test)
    with pytest.raises(ValueError, match="3 values for 2 taus"):
        TauSweepDisplay([0, 1], {"all": [0.1, 0.2, 0.3]})


def test_tau_sweep_from_cv_results(digits, tmp_path):
    X_train, y_train, X_test, y_test, base = digits
    # digits-LT's smallest class has 2 samples: 2 stratified folds.
    cv = TauNormClassifierCV(FrozenEstimator(base), cv=2).fit(X_train, y_train)
    display = TauSweepDisplay.from_cv_results(cv)
    np.testing.assert_array_equal(display.taus, cv.cv_results_["param_tau"])
    np.testing.assert_array_equal(
        display.lines_["all"].get_ydata(), cv.cv_results_["mean_test_score"]
    )
    assert display.tau == cv.tau_
    assert "all" in display.fill_
    assert_renders(display, tmp_path)
    # Its own sweep on test data marks the chosen tau_.
    # Its own sweep on test data starts from the same base and marks the chosen tau_.
    sweep = TauSweepDisplay.from_estimator(cv, X_test, y_test, **THRESHOLDS)
    assert sweep.tau == cv.tau_
    direct = TauSweepDisplay.from_estimator(base, X_test, y_test, class_counts=COUNTS, **THRESHOLDS)
    np.testing.assert_allclose(sweep.accuracies["all"], direct.accuracies["all"])
    # Scored on a split: the line is named after it.
    few = TauNormClassifierCV(FrozenEstimator(base), cv=2, scoring="few", **THRESHOLDS)
    assert list(TauSweepDisplay.from_cv_results(few.fit(X_train, y_train)).lines_) == ["few"]


# ----------------------------------------------------------------- weight norms
def test_weight_norms_equal_metric_and_are_sorted_by_count(digits, tmp_path):
    X_train, y_train, _, _, base = digits
    heads = {
        "joint": base,
        "tau-norm 0.5": TauNormClassifier(FrozenEstimator(base), tau=0.5).fit(X_train, y_train),
        "tau-norm 1": TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_train, y_train),
    }
    display = WeightNormDisplay.from_estimators(heads, **THRESHOLDS)
    np.testing.assert_array_equal(display.class_counts, COUNTS)
    for name, head in heads.items():
        np.testing.assert_allclose(display.weight_norms[name], weight_norms(head))
        np.testing.assert_allclose(
            display.lines_[name].get_ydata(), weight_norms(head)[display.class_order]
        )
    tau_one = display.lines_["tau-norm 1"].get_ydata()
    np.testing.assert_allclose(tau_one, tau_one[0])  # tau 1: every class at one norm
    # Three regions: two boundaries, three labels.
    assert len(display.split_lines_) == 2
    assert [t.get_text() for t in display.split_texts_] == ["many", "medium", "few"]
    assert_renders(display, tmp_path)
    display.plot(normalize=True, show_splits=False)
    joint = weight_norms(base)[display.class_order]
    np.testing.assert_allclose(display.lines_["joint"].get_ydata(), joint / joint.mean())
    assert display.split_lines_ == [] and display.split_texts_ == []


def test_weight_norms_follow_counts_not_label_order(digits):
    _, _, _, _, base = digits
    counts = {label: c for label, c in zip(range(10), COUNTS[::-1])}  # class 9 is the head
    display = WeightNormDisplay.from_estimator(base, class_counts=counts, name="joint")
    np.testing.assert_array_equal(display.class_order, np.arange(10)[::-1])
    np.testing.assert_allclose(display.lines_["joint"].get_ydata(), weight_norms(base)[::-1])
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks[0] == "9\n124" and ticks[-1] == "0\n2"


def test_weight_norms_binary_and_errors():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], [60, 10])
    X = rng.normal(size=(70, 3)) + y[:, None]
    binary = LogisticRegression().fit(X, y)
    display = WeightNormDisplay.from_estimator(binary, class_counts=[60, 10])
    half = np.full(2, weight_norms(binary)[0] / 2)
    np.testing.assert_allclose(display.weight_norms["LogisticRegression"], half)
    other = LogisticRegression().fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(ValueError, match="share their classes"):
        WeightNormDisplay.from_estimators({"a": binary, "b": other}, class_counts=[60, 10])
    with pytest.raises(ValueError, match="empty"):
        WeightNormDisplay.from_estimators({})
    with pytest.raises(TypeError, match="dict"):
        WeightNormDisplay.from_estimators([binary])
    with pytest.raises(ValueError, match="one value per class"):
        WeightNormDisplay({"a": [1.0, 2.0, 3.0]}, [60, 10])


# --------------------------------------------------------------- shot accuracy
def test_shot_accuracy_bars_equal_shot_accuracy(digits, tmp_path):
    X_train, y_train, X_test, y_test, base = digits
    heads = {
        "joint": TauNormClassifier(FrozenEstimator(base), tau=0.0).fit(X_train, y_train),
        "tau-norm": TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_train, y_train),
    }
    display = ShotAccuracyDisplay.from_estimators(heads, X_test, y_test, **THRESHOLDS)
    for name, head in heads.items():
        expected = shot_accuracy(y_test, head.predict(X_test), COUNTS, **THRESHOLDS)
        heights = [bar.get_height() for bar in display.bars_[name]]
        np.testing.assert_allclose(
            heights, [expected[s] for s in ("many", "medium", "few", "all")]
        )
        assert len(display.texts_[name]) == 4
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks == [
        "Many\n(4 classes)",
        "Medium\n(3 classes)",
        "Few\n(3 classes)",
        "All\n(10 classes)",
    ]
    # The same numbers from predictions, torch ones included.
    predictions = {name: torch.as_tensor(h.predict(X_test)) for name, h in heads.items()}
    again = ShotAccuracyDisplay.from_predictions(
        torch.as_tensor(y_test), predictions, COUNTS, splits=("few", "all"), **THRESHOLDS
    )
    assert again.accuracies == display.accuracies
    assert len(again.bars_["joint"]) == 2
    assert_renders(display, tmp_path)


def test_shot_accuracy_errors():
    y_true = [0, 0, 1, 1, 2, 2]
    counts = {0: 500, 1: 50, 2: 5}
    with pytest.raises(ValueError, match="5 predictions for 6 samples"):
        ShotAccuracyDisplay.from_predictions(y_true, {"a": [0, 0, 1, 1, 2]}, counts)
    with pytest.raises(ValueError, match="Unknown split"):
        ShotAccuracyDisplay.from_predictions(y_true, [0, 0, 1, 1, 2, 2], counts, splits="tail")
    display = ShotAccuracyDisplay.from_predictions(y_true, [0, 0, 1, 1, 2, 0], counts)
    assert list(display.bars_) == ["Classifier"]
    with pytest.raises(ValueError, match="none of the splits"):
        ShotAccuracyDisplay({"a": {"head": 1.0}})


def test_shot_accuracy_empty_split_is_labelled_not_dropped(tmp_path):
    with pytest.warns(UndefinedSplitWarning):
        display = ShotAccuracyDisplay.from_predictions([0, 1, 1], [0, 1, 0], [500, 200])
    assert display.accuracies["Classifier"]["few"] != display.accuracies["Classifier"]["few"]
    assert [t.get_text() for t in display.texts_["Classifier"]][2] == "n/a"
    assert_renders(display, tmp_path)


# ----------------------------------------------------------- logits magnitude
def test_logits_magnitude_equals_metrics(digits, tmp_path):
    X_train, y_train, X_test, y_test, base = digits
    heads = {
        "joint": TauNormClassifier(FrozenEstimator(base), tau=0.0).fit(X_train, y_train),
        "LORT": LORTClassifier(FrozenEstimator(base), n_epochs=2, random_state=0).fit(
            X_train, y_train
        ),
    }
    display = LogitsMagnitudeDisplay.from_estimators(
        heads, X_test, y_test, show_std=True, **THRESHOLDS
    )
    assert len(display.axes_) == 2 and display.ax_ is display.axes_[0]
    for name, head in heads.items():
        logits = head.decision_function(X_test)
        np.testing.assert_allclose(display.magnitudes[name], logits_magnitude(logits, y_test))
        np.testing.assert_allclose(
            display.regularized_stds[name], regularized_std(logits, y_test)
        )
        np.testing.assert_allclose(
            display.lines_[name].get_ydata(), logits_magnitude(logits, y_test)
        )
        np.testing.assert_allclose(
            display.std_lines_[name].get_ydata(), regularized_std(logits, y_test)
        )
    assert display.axes_[1].get_ylabel() == "Regularized Std"
    assert len(display.split_lines_) == 4  # two boundaries on each panel
    assert_renders(display, tmp_path)


def test_logits_magnitude_from_predictions_torch_and_errors(digits, tmp_path):
    X_train, y_train, X_test, y_test, base = digits
    head = TauNormClassifier(FrozenEstimator(base), tau=0.0).fit(X_train, y_train)
    logits = torch.as_tensor(head.decision_function(X_test))
    display = LogitsMagnitudeDisplay.from_predictions(
        torch.as_tensor(y_test), {"joint": logits}, COUNTS, **THRESHOLDS
    )
    single = LogitsMagnitudeDisplay.from_estimator(head, X_test, y_test, **THRESHOLDS)
    np.testing.assert_allclose(
        display.magnitudes["joint"], single.magnitudes["TauNormClassifier"]
    )
    assert len(display.axes_) == 1
    assert_renders(display, tmp_path)
    with pytest.raises(ValueError, match="rows for"):
        LogitsMagnitudeDisplay.from_predictions(y_test[:-1], logits, COUNTS)
    with pytest.raises(ValueError, match="10 classes"):
        LogitsMagnitudeDisplay.from_predictions(y_test, logits, COUNTS[:3])
    with pytest.raises(ValueError, match="two Axes"):
        _, ax = plt.subplots()
        display.plot(ax=ax, show_std=True)
    _, axes = plt.subplots(1, 2)
    assert display.plot(ax=axes, show_std=True).axes_[1] is axes[1]


# -------------------------------------------------------- sampling probabilities
def test_sampling_probabilities_equal_samplers(tmp_path):
    counts = {f"c{i}": n for i, n in enumerate([500, 200, 80, 30, 12, 5])}
    samplers = {
        "IB": InstanceBalancedSampler(),
        "SQRT": SquareRootSampler(),
        "CB": ClassBalancedSampler(),
        "PB": ProgressivelyBalancedSampler(),
    }
    display = SamplingProbabilityDisplay.from_samplers(
        samplers, counts, epoch=range(0, 10, 3), n_epochs=10
    )
    assert list(display.lines_) == [
        "IB",
        "SQRT",
        "CB",
        "PB (epoch 0)",
        "PB (epoch 3)",
        "PB (epoch 6)",
        "PB (epoch 9)",
    ]
    values = np.array(list(counts.values()))
    for name in ("IB", "SQRT", "CB"):
        expected = samplers[name].class_probabilities(values)
        np.testing.assert_allclose(display.probabilities[name], expected)
        np.testing.assert_allclose(display.lines_[name].get_ydata(), expected)
    for t in (0, 3, 6, 9):
        expected = samplers["PB"].class_probabilities(values, epoch=t, n_epochs=10)
        np.testing.assert_allclose(display.lines_[f"PB (epoch {t})"].get_ydata(), expected)
    np.testing.assert_allclose(display.probabilities["PB (epoch 9)"], 1 / 6)
    assert display.lines_["PB (epoch 0)"].get_color() != display.lines_["PB (epoch 9)"].get_color()
    assert [t.get_text() for t in display.ax_.get_xticklabels()][0] == "c0\n500"
    assert_renders(display, tmp_path)


def test_sampling_probabilities_single_epoch_and_errors():
    display = SamplingProbabilityDisplay.from_samplers(
        {"PB": ProgressivelyBalancedSampler(n_epochs=5)}, [30, 10], epoch=4, log_scale=True
    )
    np.testing.assert_allclose(display.probabilities["PB"], [0.5, 0.5])
    assert display.ax_.get_yscale() == "log"
    with pytest.raises(TypeError, match="class_probabilities"):
        SamplingProbabilityDisplay.from_samplers({"x": LogisticRegression()}, [30, 10])
    with pytest.raises(ValueError, match="epoch"):
        SamplingProbabilityDisplay.from_samplers({"IB": InstanceBalancedSampler()}, [3, 1],
                                                 epoch=[0.5])
    with pytest.raises(ValueError, match="zero samples"):
        SamplingProbabilityDisplay.from_samplers({"IB": InstanceBalancedSampler()}, [3, 0])


# ----------------------------------------------------------------------- common
def test_plot_on_given_axes_and_without_matplotlib(monkeypatch):
    figure, ax = plt.subplots()
    display = ShotAccuracyDisplay({"a": {"all": 0.5, "few": 0.2}}).plot(ax=ax)
    assert display.ax_ is ax and display.figure_ is figure
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"matplotlib.*\[plot\]"):
        display.plot()
    with pytest.raises(ImportError, match="SamplingProbabilityDisplay.from_samplers"):
        SamplingProbabilityDisplay.from_samplers({"IB": InstanceBalancedSampler()}, [3, 1])


def _extent(artist):
    return artist.get_window_extent(artist.figure.canvas.get_renderer())


@pytest.mark.parametrize("display_class", [WeightNormDisplay, LogitsMagnitudeDisplay])
def test_a_title_set_after_plot_clears_the_split_labels(display_class):
    """The study sets its own titles after plot(): they must not cover many/medium/few."""
    values = {"joint": np.linspace(2, 1, len(COUNTS)), "tau": np.linspace(1, 2, len(COUNTS))}
    display = display_class(values, COUNTS, **THRESHOLDS).plot()
    display.ax_.set_title("Weight norm per class (mean of 5 seeds)")
    display.figure_.canvas.draw()
    title = _extent(display.ax_.title)
    assert [t.get_text() for t in display.split_texts_] == ["many", "medium", "few"]
    for label in display.split_texts_:
        region = _extent(label)
        assert region.y1 <= title.y0, f"the title covers {label.get_text()!r}"
        assert region.y0 >= _extent(display.ax_.patch).y1  # above the data, not on it


def test_bar_values_clear_their_error_bars_and_the_legend():
    models = ["Joint", "NCM", "cRT", "tau-norm", "LWS", "LORT", "LogReg", "ROS"]
    rng = np.random.RandomState(0)
    accuracies = {m: dict(zip(SPLITS, [1.0, 0.97, 0.5 + 0.2 * rng.rand(), 0.85]))
                  for m in models}
    std = {m: dict(zip(SPLITS, [0.005, 0.01, 0.12, 0.03])) for m in models}
    display = ShotAccuracyDisplay(accuracies, std=std).plot()
    display.figure_.canvas.draw()
    ax, points = display.ax_, display.figure_.dpi / 72
    legend = _extent(ax.get_legend())
    for name in models:
        for bar, text, split in zip(display.bars_[name], display.texts_[name], SPLITS):
            x = bar.get_x() + bar.get_width() / 2
            cap = ax.transData.transform((x, accuracies[name][split] + std[name][split]))[1]
            label = _extent(text)
            assert label.y0 - cap >= 4 * points, f"{name} {split}: its value touches the cap"
            assert not label.overlaps(legend), f"{name} {split}: the legend hides its value"


def test_many_classes_use_index_axis(tmp_path):
    counts = np.round(1000 * 0.01 ** (np.arange(100) / 99)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display = SamplingProbabilityDisplay.from_samplers(
            {"IB": InstanceBalancedSampler(), "CB": ClassBalancedSampler()}, counts
        )
    assert "index" in display.ax_.get_xlabel()
    assert [t.get_text() for t in display.split_texts_] == ["many", "medium", "few"]
    assert_renders(display, tmp_path)


# ------------------------------------------------------------------ ClassCounts
def test_every_display_takes_class_counts_with_their_thresholds(digits):
    # The thresholds travel with the counts: a ClassCounts gives the same
    # figures as the counts with the thresholds spelled out.
    X_train, y_train, X_test, y_test, base = digits
    counts = ClassCounts.log_thirds(np.arange(10), COUNTS)
    assert counts.thresholds == (THRESHOLDS["many_threshold"], THRESHOLDS["few_threshold"])
    clf = TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_train, y_train)
    pred = clf.predict(X_test)
    for by_object, by_keywords in [
        (
            ShotAccuracyDisplay.from_estimators({"a": clf}, X_test, y_test, counts),
            ShotAccuracyDisplay.from_estimators({"a": clf}, X_test, y_test, **THRESHOLDS),
        ),
        (
            ShotAccuracyDisplay.from_predictions(y_test, pred, counts),
            ShotAccuracyDisplay.from_predictions(y_test, pred, COUNTS, **THRESHOLDS),
        ),
    ]:
        assert by_object.accuracies == by_keywords.accuracies
        assert by_object.n_classes_per_split == {"many": 4, "medium": 3, "few": 3, "all": 10}
    sweep = TauSweepDisplay.from_estimator(clf, X_test, y_test, taus=[0, 1], class_counts=counts)
    same = TauSweepDisplay.from_estimator(clf, X_test, y_test, taus=[0, 1], **THRESHOLDS)
    for split in ("many", "medium", "few", "all"):
        np.testing.assert_array_equal(sweep.accuracies[split], same.accuracies[split])
    axis_displays = [
        WeightNormDisplay.from_estimator(clf, class_counts=counts),
        LogitsMagnitudeDisplay.from_estimator(clf, X_test, y_test, class_counts=counts),
        LogitsMagnitudeDisplay.from_predictions(y_test, clf.decision_function(X_test), counts),
        SamplingProbabilityDisplay.from_samplers({"CB": ClassBalancedSampler()}, counts),
        WeightNormDisplay({"a": weight_norms(clf)}, counts).plot(),
    ]
    for display in axis_displays:
        assert (display.many_threshold, display.few_threshold) == (31, 8)
        np.testing.assert_array_equal(display.class_counts, COUNTS)
        np.testing.assert_array_equal(display.classes, np.arange(10))
        # Region boundaries after the 4th and 7th classes (4 / 3 / 3).
        assert [line.get_xdata()[0] for line in display.split_lines_][:2] == [3.5, 6.5]
    # Explicit thresholds replace those of the ClassCounts.
    wider = WeightNormDisplay.from_estimator(clf, class_counts=counts, few_threshold=15)
    assert (wider.many_threshold, wider.few_threshold) == (31, 15)
    assert [t.get_text() for t in wider.split_texts_] == ["many", "medium", "few"]
    assert [line.get_xdata()[0] for line in wider.split_lines_] == [3.5, 4.5]  # 14 < 15


def test_display_class_counts_dict_and_string_labels():
    counts = ClassCounts(["b", "a", "c"], [10, 300, 40], many_threshold=100, few_threshold=20)
    display = WeightNormDisplay({"x": [1.0, 2.0, 3.0]}, counts)  # norms of a, b, c
    np.testing.assert_array_equal(display.classes, ["a", "b", "c"])
    np.testing.assert_array_equal(display.class_order, [0, 2, 1])
    display.plot()
    np.testing.assert_array_equal(display.lines_["x"].get_ydata(), [1.0, 3.0, 2.0])
    as_dict = WeightNormDisplay({"x": [1.0, 2.0, 3.0]}, counts.as_dict())
    np.testing.assert_array_equal(as_dict.class_counts, display.class_counts)
    # Given classes keep their order; the counts follow them.
    reordered = WeightNormDisplay({"x": [3.0, 2.0, 1.0]}, counts, classes=["c", "b", "a"])
    np.testing.assert_array_equal(reordered.class_counts, [40, 10, 300])
    with pytest.raises(ValueError, match=r"classes has labels \['d'\] without a class count"):
        WeightNormDisplay({"x": [1.0, 2.0]}, counts, classes=["a", "d"])


def test_tau_sweep_of_a_base_with_unsorted_classes(digits):
    # The same model with its classes_ stored in another order (as a
    # BackboneEmbedder(classes=[...]) classifier_ may be): the same sweep.
    _, _, X_test, y_test, base = digits
    shuffled = copy.deepcopy(base)
    order = np.array([3, 0, 9, 1, 8, 2, 7, 4, 6, 5])
    shuffled.classes_, shuffled.coef_ = base.classes_[order], base.coef_[order]
    shuffled.intercept_ = base.intercept_[order]
    np.testing.assert_array_equal(shuffled.predict(X_test), base.predict(X_test))
    counts = dict(enumerate(COUNTS.tolist()))
    sweeps = [
        TauSweepDisplay.from_estimator(
            model, X_test, y_test, class_counts=counts, taus=[0, 0.5, 1], **THRESHOLDS
        )
        for model in (base, shuffled)
    ]
    for split in ("many", "medium", "few", "all"):
        np.testing.assert_array_equal(sweeps[1].accuracies[split], sweeps[0].accuracies[split])


# ------------------------------------------------------ bad and unusual input
@pytest.fixture(scope="module")
def small_fit():
    """A tau-norm head on 3 classes of 30, 12 and 4 rows and a balanced test set."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [30, 12, 4])
    X = (rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]).astype(np.float32)
    y_test = np.repeat([0, 1, 2], 10)
    X_test = (rng.normal(size=(30, 3)) + 3 * np.eye(3)[y_test]).astype(np.float32)
    head = TauNormClassifier(tau=1.0, random_state=0).fit(X, y)
    return head, X_test, y_test


SMALL = {"many_threshold": 20, "few_threshold": 5}


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_tau_sweep_refuses_non_finite_features(small_fit, bad, kind):
    head, X, y = small_fit
    dirty = X.copy()
    dirty[0, 0] = bad
    dirty = torch.from_numpy(dirty) if kind == "torch" else dirty
    with pytest.raises(ValueError, match="NaN or infinity"):
        TauSweepDisplay.from_estimator(head, dirty, y, taus=[0, 1], **SMALL)


def test_tau_sweep_bad_shapes_and_tensors(small_fit):
    head, X, y = small_fit
    sweep = TauSweepDisplay.from_estimator
    ref = sweep(head, X, y, taus=[0, 1], **SMALL).accuracies
    for tensor in (torch.from_numpy(X).half(), torch.from_numpy(X).bfloat16(), wide_view(X)):
        # every value is first rounded to the tensor's dtype, then computed in float64
        expected = sweep(head, tensor.to(torch.float64).numpy(), y, taus=[0, 1], **SMALL)
        got = sweep(head, tensor, y, taus=[0, 1], **SMALL).accuracies
        for split in ref:
            np.testing.assert_array_equal(got[split], expected.accuracies[split])
    with pytest.raises(ValueError, match=r"X has shape \(1, 30, 3\)"):
        sweep(head, X[None], y, **SMALL)
    with pytest.raises(ValueError, match="expects 3 features"):
        sweep(head, X[:, 0], y, **SMALL)
    with pytest.raises(ValueError, match="empty"):
        sweep(head, X[:0], y[:0], **SMALL)
    with pytest.raises(ValueError, match=r"labels \[7\] without a class count"):
        sweep(head, X, np.where(y == 2, 7, y), **SMALL)
    with pytest.raises(ValueError, match="no classes_"):
        sweep(TauNormClassifier(), X, y)
    with pytest.raises(ValueError, match="maps the features"):
        sweep(NCMClassifier().fit(X, y), X, y, **SMALL)


def test_shot_accuracy_display_bad_input(small_fit):
    head, X, y = small_fit
    display = ShotAccuracyDisplay
    with pytest.raises(ValueError, match="NaN"):
        display.from_estimators({"a": head}, np.where(np.arange(3) == 0, np.nan, X), y,
                                **SMALL)
    with pytest.raises(ValueError, match="0 sample"):
        display.from_estimators({"a": head}, X[:0], y[:0], **SMALL)
    with pytest.raises(ValueError, match="must be 1-D"):
        display.from_predictions(y, np.eye(3)[y], [30, 12, 4], **SMALL)
    with pytest.raises(ValueError, match="y_pred is empty"):
        display.from_predictions(y, {}, [30, 12, 4], **SMALL)
    with pytest.raises(ValueError, match="finite and non-negative"):
        display.from_predictions(y, y, [30, -12, 4], **SMALL)
    ref = display.from_predictions(y, head.predict(X), [30, 12, 4], **SMALL)
    half = display.from_predictions(torch.from_numpy(y).half(),
                                    torch.from_numpy(head.predict(X)).half(), [30, 12, 4],
                                    **SMALL)
    assert half.accuracies == ref.accuracies
    with pytest.warns(UndefinedSplitWarning):
        one = display.from_predictions([0, 0], [0, 1], [30], classes=[0], **SMALL)
    assert one.accuracies["Classifier"]["many"] == 0.5
    assert np.isnan(one.accuracies["Classifier"]["few"])


def test_shot_accuracy_display_bfloat16_predictions(small_fit):
    head, X, y = small_fit
    low = ShotAccuracyDisplay.from_predictions(
        y, torch.from_numpy(head.predict(X)).bfloat16(), [30, 12, 4], **SMALL
    )
    ref = ShotAccuracyDisplay.from_predictions(y, head.predict(X), [30, 12, 4], **SMALL)
    assert low.accuracies == ref.accuracies


def test_logits_magnitude_display_bad_input(small_fit):
    head, X, y = small_fit
    display = LogitsMagnitudeDisplay
    logits = head.decision_function(X)
    ref = display.from_predictions(y, logits, [30, 12, 4], **SMALL).magnitudes
    half = display.from_predictions(y, torch.from_numpy(logits).half(), [30, 12, 4],
                                    **SMALL).magnitudes
    expected = logits_magnitude(torch.from_numpy(logits).half().double(), y)
    np.testing.assert_array_equal(half["Classifier"], expected)
    np.testing.assert_allclose(half["Classifier"], ref["Classifier"], rtol=1e-2)
    partial = display.from_predictions(y[y < 2], logits[y < 2], [30, 12, 4],
                                       classes=[0, 1, 2], **SMALL).magnitudes
    assert np.isnan(partial["Classifier"][2]) and np.all(np.isfinite(partial["Classifier"][:2]))
    with pytest.raises(ValueError, match="columns"):
        display.from_predictions(y, np.c_[logits, logits[:, :1]], [30, 12, 4], **SMALL)
    with pytest.raises(ValueError, match="rows for"):
        display.from_predictions(y, logits[None], [30, 12, 4], **SMALL)
    with pytest.raises(ValueError, match="NaN"):
        display.from_estimator(head, np.full_like(X, np.nan), y, **SMALL)
    with pytest.raises(ValueError, match="has no no_such_method"):
        display.from_estimator(head, X, y, response_method="no_such_method", **SMALL)


def test_weight_norm_display_bad_input(small_fit):
    head, X, y = small_fit
    display = WeightNormDisplay
    with pytest.raises(ValueError, match="no classes_"):
        display.from_estimator(TauNormClassifier())
    with pytest.raises(ValueError, match="finite and non-negative"):
        display.from_estimator(head, class_counts=[30, np.nan, 4])
    with pytest.raises(ValueError, match="1 entries but there are 3 classes"):
        display.from_estimator(head, class_counts=[30])
    with pytest.raises(ValueError, match="many_threshold"):
        display.from_estimator(head, many_threshold=-1)
    low = TauNormClassifier(tau=0.5, random_state=0).fit(torch.from_numpy(X).bfloat16(), y)
    norms = display.from_estimator(low, **SMALL).weight_norms["TauNormClassifier"]
    np.testing.assert_allclose(norms, weight_norms(low), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epoch": 1.5}, ValueError, "epoch must be an int"),
        ({"epoch": "1"}, ValueError, "epoch must be an int"),
        ({"epoch": [0, 5]}, ValueError, "epoch must be in"),
        ({"epoch": -1}, ValueError, "epoch must be in"),
        ({"n_epochs": 0}, ValueError, "n_epochs"),
        ({"class_counts": [30, 0, 4]}, ValueError, "zero samples"),
        ({"class_counts": [30, np.nan, 4]}, ValueError, "finite"),
        ({"class_counts": []}, ValueError, "non-empty"),
        ({"class_counts": [[30, 4]]}, ValueError, "1-D"),
    ],
)
def test_sampling_probability_display_bad_input(kwargs, error, match):
    kwargs = {"class_counts": [30, 12, 4], **kwargs}
    with pytest.raises(error, match=match):
        SamplingProbabilityDisplay.from_samplers(
            {"PB": ProgressivelyBalancedSampler(n_epochs=3)}, **kwargs, **SMALL
        )


def test_sampling_probability_display_one_class_and_tensor_counts():
    show = SamplingProbabilityDisplay.from_samplers
    one = show({"CB": ClassBalancedSampler()}, [30], **SMALL)
    np.testing.assert_array_equal(one.probabilities["CB"], [1.0])
    half = show({"SQRT": SquareRootSampler()}, torch.tensor([36.0, 9.0, 1.0]).half())
    np.testing.assert_allclose(half.probabilities["SQRT"], np.array([6, 3, 1]) / 10)
