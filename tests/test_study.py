"""The decoupling study on real long-tailed digits: the papers' findings, files, CLI."""

import csv
import json

import numpy as np
import pytest

from sklearn_lt.__main__ import main
from sklearn_lt.study import SPLITS, load_study_data, run_study

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


def test_tau_trades_many_for_few_and_lort_is_competitive(study):
    result = study[0]
    sweep = result.tau_sweep
    assert sweep[2.0]["few"] > sweep[1.0]["few"] > sweep[0.0]["few"]
    assert sweep[2.0]["many"] <= sweep[0.0]["many"]
    best = max(result.table[h]["all"][0] for h in DECOUPLED)
    assert result.table["LORT"]["all"][0] > best - 0.05
    assert len(result.chosen_tau) == 3 and all(0 <= t <= 2 for t in result.chosen_tau)


def test_study_writes_table_json_and_figures(study):
    result, out = study
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == list(result.table)
    for row in rows:
        for split in SPLITS:
            assert 0 <= float(row[f"{split}_mean"]) <= 1
    payload = json.loads((out / "results.json").read_text())
    assert payload["table"]["NCM"]["few"]["mean"] == pytest.approx(result.table["NCM"]["few"][0])
    assert len(payload["per_seed"]) == 3
    for name in ("shot_accuracy", "tau_sweep", "weight_norms", "logits_magnitude"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    assert "many" in (out / "results.txt").read_text()


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
