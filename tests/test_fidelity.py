"""The fidelity suite (benchmarks/fidelity, issue #14): its machinery, and orderings
that sound heads must keep on features the package did not make.

The orderings run the suite on two sources without a network (standardised
pixels of digits-LT, UCI letter at IR 100), seeds 0-2, every head at its
defaults, and compare means over the seeds with the joint classifier. The
letter data comes from Debian's opencv-doc: ``bash benchmarks/fidelity/fetch_data.sh``
(CI runs it).
"""

import json
import os

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

from benchmarks.fidelity import data, runner, sources
from benchmarks.fidelity.models import Model, head
from sklearn_lt import CRTClassifier, NCMClassifier, TauNormClassifier
from sklearn_lt.study import StageOne

ORDERING_SOURCES = ("pixels", "letter")
SEEDS = (0, 1, 2)
HEADS = [name for name, model in runner.MODELS.items() if model.kind == "head"]

# Orderings that fail at the heads' defaults, head minus joint (mean over seeds 0-2, measured
# at be2eb13). Strict: when one starts passing, the test fails until its entry goes. NCM is a
# nearest-mean rule: on letter's 16 raw attributes the class means represent the classes
# poorly, and on the pixels it only ties the joint classifier (docs: user_guide/fidelity).
# LORTClassifierCV may keep its base (epoch 0) when the training folds do not favour LORT:
# from the pixels' joint classifier it does, and then ties it.
FAILING_TODAY = {
    ("pixels", "NCM", "all"): -0.000,
    ("letter", "NCM", "all"): -0.083,
    ("pixels", "LORT CV (joint)", "few"): 0.000,
    # Issue #15, measured at 0abe37d. Cosine logits discard the feature norm, which carries
    # class information on letter's 16 attributes. Tau chosen on folds of the rows the frozen
    # joint classifier was trained on is biased to 0 (its logits there are overconfident):
    # on the pixels it picks tau=0 for every seed, the joint itself (docs: retraining).
    ("letter", "Cosine", "all"): -0.003,
    ("pixels", "post-hoc LA CV (joint)", "few"): 0.000,
    # Issue #23, measured at 70c5933: LORTClassifier keeps the epoch its held-out training
    # rows prefer; from a frozen joint classifier those rows were trained on, epoch 0 (the
    # joint itself) looks best on the pixels, so it ties the joint.
    ("pixels", "LORT (joint)", "few"): 0.000,
}
# The heads at their defaults (not the "(joint)" variants of the papers' protocol): they
# must beat the joint classifier on all-class accuracy too.
DEFAULT_HEADS = [name for name in HEADS if "(joint)" not in name]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh feature cache; the OpenCV data still found where it was."""
    try:
        folder = data.opencv_data_file("letter-recognition.data").parent
        monkeypatch.setenv("SKLEARN_LT_OPENCV_DATA", str(folder))
    except FileNotFoundError:
        pass  # the tests that need it fail with the loader's message
    monkeypatch.setenv("SKLEARN_LT_FIDELITY_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            folder = data.opencv_data_file("letter-recognition.data").parent
        except FileNotFoundError as missing:
            if os.environ.get("CI"):  # CI fetches the data: its absence is a failure there
                raise
            pytest.skip(f"{missing} Enable: bash benchmarks/fidelity/fetch_data.sh")
        monkeypatch.setenv("SKLEARN_LT_OPENCV_DATA", str(folder))
        monkeypatch.setenv("SKLEARN_LT_FIDELITY_CACHE", str(tmp_path_factory.mktemp("fidelity")))
        models = HEADS + ["joint", "default base", "Softmax"]
        return runner.run(ORDERING_SOURCES, SEEDS, models, verbose=False)["sources"]


def _ordering(source, model, split):
    known = FAILING_TODAY.get((source, model, split))
    marks = () if known is None else pytest.mark.xfail(
        strict=True, reason=f"today's defaults: {model} - joint = {known:+.3f} on {split}"
    )
    return pytest.param(source, model, split, marks=marks, id=f"{source}-{model}-{split}")


ORDERINGS = [
    _ordering(source, model, split)
    for source in ORDERING_SOURCES
    for model, split in [(h, "few") for h in HEADS] + [(h, "all") for h in DEFAULT_HEADS]
]


@pytest.mark.parametrize("source, model, split", ORDERINGS)
def test_head_beats_joint(results, source, model, split):
    """(i) every head beats the joint classifier on few-shot accuracy; (ii) every head at
    its defaults beats it on all-class accuracy (means over seeds)."""
    models = results[source]["models"]
    assert not models[model]["errors"], models[model]["errors"]
    mine, joint = models[model]["mean"][split], models["joint"]["mean"][split]
    assert mine > joint, f"{model} {mine:.3f} <= joint {joint:.3f} on {split} ({source})"


# The classifier each rebalancing head starts from (issue #23: a head at its defaults must
# not leave the user below it). The "(joint)" variants start from the joint classifier.
STARTS = {
    **dict.fromkeys(["tau-norm", "tau-norm CV", "LWS", "LORT", "LORT CV", "LDAM-DRW",
                     "MaxNorm"], "default base"),
    **dict.fromkeys(["post-hoc LA", "post-hoc LA CV"], "Softmax"),
    **{name: "joint" for name in HEADS if name.endswith("(joint)")},
}
# Measured at 70c5933 (mean over seeds 0-2, head minus its start, all-class): tau-norm
# drops the joint classifier's bias, which carries much of letter's prior.
BELOW_START_TODAY = {("letter", "tau-norm (joint)"): -0.013}


def _at_or_above(source, model):
    known = BELOW_START_TODAY.get((source, model))
    marks = () if known is None else pytest.mark.xfail(
        strict=True, reason=f"today's defaults: {model} - its start = {known:+.3f}"
    )
    return pytest.param(source, model, marks=marks, id=f"{source}-{model}")


@pytest.mark.parametrize(
    "source, model", [_at_or_above(s, m) for s in ORDERING_SOURCES for m in STARTS]
)
def test_rebalancing_head_at_or_above_its_start(results, source, model):
    """Every rebalancing head, at its defaults, is at or above the classifier it starts
    from on all-class accuracy (means over seeds)."""
    models = results[source]["models"]
    mine, start = models[model]["mean"]["all"], models[STARTS[model]]["mean"]["all"]
    assert mine >= start - 1e-12, f"{model} {mine:.3f} < {STARTS[model]} {start:.3f}"


# ------------------------------------------------------------- many classes
MANY_CLASS_HEADS = ["cRT", "tau-norm", "LWS", "LORT"]


@pytest.fixture(scope="module")
def many_class():
    """The many-class source (300 classes), seeds 0-2: about a minute on one thread."""
    models = [*MANY_CLASS_HEADS, "default base", runner.BALANCED_BASELINE]
    return runner.run(["many_class"], SEEDS, models, verbose=False)["sources"]["many_class"]


def test_crt_is_balanced_logistic_regression_on_many_classes(many_class):
    """Issue #22: a converged cRT is LogisticRegression(class_weight="balanced"); with a
    fixed weight decay of 1e-4 it fell 0.010 below it here (0.025 at 1,000 classes)."""
    models = many_class["models"]
    crt, logreg = (models[m]["mean"]["all"] for m in ("cRT", runner.BALANCED_BASELINE))
    assert abs(crt - logreg) <= 0.01, (crt, logreg)


@pytest.mark.parametrize("model", MANY_CLASS_HEADS[1:])
def test_many_class_head_at_or_above_its_start(many_class, model):
    models = many_class["models"]
    mine, start = models[model]["mean"]["all"], models["default base"]["mean"]["all"]
    assert mine >= start - 1e-12, f"{model} {mine:.3f} < default base {start:.3f}"


def test_every_seed_scored(results):
    """No model failed, and every split of every seed is an accuracy."""
    for source in ORDERING_SOURCES:
        for name, model in results[source]["models"].items():
            assert not model["errors"], (source, name, model["errors"])
            assert sorted(model["per_seed"]) == [str(s) for s in SEEDS]
            for run in model["per_seed"].values():
                assert all(0 <= run[s] <= 1 for s in runner.SPLITS), (source, name, run)


# ---------------------------------------------------------------- machinery
def test_long_tailed_split():
    y = np.repeat(np.arange(4), 60)
    split = data.long_tailed_split(
        np.zeros((len(y), 1)), y, n_test=10, n_val=5, imbalance_ratio=10, seed=0
    )
    np.testing.assert_array_equal(np.bincount(y[split.test]), [10] * 4)
    np.testing.assert_array_equal(np.bincount(y[split.val]), [5] * 4)
    # n_max = 45 rows left per class; the exponential profile at IR 10.
    np.testing.assert_array_equal(split.class_counts, [45, 20, 9, 4])
    np.testing.assert_array_equal(np.bincount(y[split.train]), [45, 20, 9, 4])
    used = np.concatenate([split.train, split.val, split.test])
    assert len(np.unique(used)) == len(used)  # disjoint
    again = data.long_tailed_split(
        np.zeros((len(y), 1)), y, n_test=10, n_val=5, imbalance_ratio=10, seed=0
    )
    np.testing.assert_array_equal(again.train, split.train)


def test_hog_is_hellinger_normalised():
    images = np.random.RandomState(0).rand(3, 20, 20)
    features = sources.hog(images)
    assert features.shape == (3, 2 * 2 * 16)
    assert np.all(features >= 0)
    np.testing.assert_allclose((features**2).sum(axis=1), 1.0)
    # A horizontal ramp: every gradient points along +x, the first bin of each cell.
    ramp = np.tile(np.arange(20.0), (20, 1))[None]
    hist = sources.hog(ramp).reshape(4, 16)
    np.testing.assert_allclose(hist[:, 0], 0.5)
    np.testing.assert_allclose(hist[:, 1:], 0.0)


def test_source_bunch_and_cache(cache):
    d = sources.pixels(0)
    for name in ("F_train", "F_val", "F_test"):
        assert d[name].dtype == np.float32 and d[name].shape[1] == 64
    np.testing.assert_array_equal(np.bincount(d.y_test), [50] * 10)
    np.testing.assert_array_equal(np.bincount(d.y_val), [20] * 10)
    np.testing.assert_array_equal(d.class_counts, np.bincount(d.y_train))
    assert d.shot_thresholds == (28, 7)
    files = list((cache / "features").glob("_pixel_features-0-*.npz"))
    assert len(files) == 1
    again = sources.pixels(0)  # read back from the cache
    np.testing.assert_array_equal(again.F_test, d.F_test)
    np.testing.assert_array_equal(again.joint.predict(d.F_test), d.joint.predict(d.F_test))
    sources.pixels(1)
    assert len(list((cache / "features").glob("_pixel_features-*.npz"))) == 2


@pytest.mark.parametrize("factor", [0.1, 10])
def test_scaled_source_keeps_the_joint_predictions(cache, factor):
    d = sources.pixels(0)
    s = sources.get_source(f"pixels*{factor:g}")(0)
    assert s.name == f"pixels*{factor:g}"
    np.testing.assert_allclose(s.F_train, d.F_train * factor, rtol=1e-6)
    np.testing.assert_array_equal(s.y_train, d.y_train)
    np.testing.assert_array_equal(
        np.asarray(s.joint.predict(s.F_test)), d.joint.predict(d.F_test)
    )


def test_unknown_source():
    with pytest.raises(KeyError, match="Unknown source 'nope'"):
        sources.get_source("nope")
    with pytest.raises(KeyError, match="Unknown source 'pixels\\*x'"):
        sources.get_source("pixels*x")


def test_missing_opencv_data_names_the_script(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_LT_OPENCV_DATA", str(tmp_path))
    monkeypatch.setenv("SKLEARN_LT_FIDELITY_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "DEBIAN_OPENCV_DATA", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="benchmarks/fidelity/fetch_data.sh"):
        sources.letter(0)


def test_head_builds_defaults_with_the_seed(cache):
    d = sources.pixels(0)
    stage = StageOne(d.joint, 3)
    ncm = head("NCM", NCMClassifier).build(stage)
    assert ncm.get_params() == NCMClassifier().get_params()  # no random_state to set
    crt = head("cRT", CRTClassifier).build(stage)
    assert crt.get_params() == CRTClassifier(random_state=3).get_params()
    tau = head("tau-norm (joint)", TauNormClassifier, base="joint").build(stage)
    assert isinstance(tau.estimator, FrozenEstimator) and tau.estimator.estimator is d.joint
    assert tau.random_state == 3 and tau.tau == TauNormClassifier().tau
    with pytest.raises(ValueError, match="base must be None or 'joint'"):
        head("tau-norm", TauNormClassifier, base="mine")


def test_a_failing_model_is_reported_not_fatal(cache, monkeypatch):
    def broken(stage):
        raise RuntimeError("boom")

    monkeypatch.setitem(runner.MODELS, "broken", Model("broken", broken))
    out = runner.run(["pixels"], [0], ["broken", "NCM"], verbose=False)
    models = out["sources"]["pixels"]["models"]
    assert list(models) == ["joint", "NCM", "LogReg (balanced)", "broken"]
    assert models["broken"]["errors"] == ["RuntimeError: boom"]
    assert models["broken"]["mean"]["all"] is None
    assert models["NCM"]["errors"] == [] and 0 < models["NCM"]["mean"]["all"] <= 1
    assert out["orderings"]["pixels"]["heads"]["broken"]["all_vs_joint"] is None


def test_main_writes_json(cache, capsys):
    out = cache / "r.json"
    status = runner.main(["--sources", "pixels", "--seeds", "0", "1", "--models", "NCM,cRT",
                          "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "pixels: digits-LT" in printed and "best head" in printed
    result = json.loads(out.read_text())
    assert result["seeds"] == [0, 1]
    table = result["sources"]["pixels"]["models"]
    assert list(table) == ["joint", "NCM", "cRT", "LogReg (balanced)"]
    ncm = table["NCM"]
    mean = np.mean([ncm["per_seed"][s]["few"] for s in ("0", "1")])
    assert ncm["mean"]["few"] == pytest.approx(mean)
    ordering = result["orderings"]["pixels"]
    assert ordering["heads"]["NCM"]["all_vs_joint"] == pytest.approx(
        ncm["mean"]["all"] - table["joint"]["mean"]["all"]
    )
    assert ordering["best_head"] in ("NCM", "cRT")


def test_the_summary_table_quotes_the_results(results):
    """``--summary``'s table (fidelity.rst's): a row per model, all/few means per source."""
    table = runner.format_summary({"sources": results}, models=("joint", "default base", "nope"))
    lines = table.splitlines()
    assert set(lines[0]) == set(lines[2]) == set(lines[-1]) == {"=", " "}
    assert lines[1].split() == ["model", *(s for s in results if "*" not in s)]
    for model in ("joint", "default base"):
        row = next(line for line in lines if line.startswith(model + "  "))
        means = [results[s]["models"][model]["mean"] for s in results if "*" not in s]
        assert row.split()[-len(means):] == [f"{m['all']:.3f}/{m['few']:.3f}" for m in means]
    assert next(line for line in lines if line.startswith("nope")).split()[1:] == ["-"] * (
        len(lines[1].split()) - 1)
