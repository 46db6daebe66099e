"""benchmarks/fidelity/tau_guard.py: the held-out guard measured for tau-norm (issue #23)."""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from benchmarks.fidelity import tau_guard


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_LT_FIDELITY_CACHE", str(tmp_path))


def test_held_out_split_keeps_every_class_on_both_sides():
    y = np.repeat([0, 1, 2, 3], [50, 10, 2, 1])
    fit_rows, val_rows = tau_guard.held_out_split(y, 0.2, seed=0)
    assert_array_equal(np.sort(np.concatenate([fit_rows, val_rows])), np.arange(len(y)))
    assert_array_equal(np.bincount(y[val_rows], minlength=4), [10, 2, 1, 0])
    assert_array_equal(np.bincount(y[fit_rows]), [40, 8, 1, 1])


def test_the_guard_picks_the_base_or_tau_one_on_real_data(cache):
    results = tau_guard.run(["pixels"], [0])
    scores = results["pixels"]["scores"]
    assert set(scores) == set(tau_guard.VARIANTS)
    # One seed: each guard is exactly one of its two candidates.
    for guard in ("guard", "guard CV"):
        assert scores[guard] in (scores["base"], scores["tau=1"])
    assert -1 <= results["pixels"]["spearman"][0] <= 1
    assert results["pixels"]["ties"] in (0, 1)
    table = tau_guard.format_results(results, 1)
    assert f"| pixels | {scores['base']:.3f} | {scores['tau=1']:.3f} |" in table


def test_the_user_guide_quotes_the_script(cache):
    """fidelity.rst's table comes from the script: its pixels row is re-run here (2 s)."""
    (row,) = tau_guard.format_results(tau_guard.run(["pixels"], [0, 1, 2]), 3).splitlines()[2:]
    page = Path(__file__).parents[1] / "docs" / "user_guide" / "fidelity.rst"
    assert row in page.read_text()
