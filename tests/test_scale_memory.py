"""Bounded memory at scale (issue #22): every fit, sweep, CV score and early stop in chunks.

Two kinds of test. Results: with the chunk budget shrunk to a few rows
(``_base._CHUNK_ELEMENTS``, NCM's ``_CPU_CHUNK_BYTES``), every chunked path
gives what a plain numpy computation of the whole array gives. Memory: each
estimator is fitted in a fresh process on a problem whose ``N x C`` logits are
far larger than the chunk budget, and the rise of the resident set's
high-water mark during ``fit`` must stay below a bound that one ``N x C``
array (or a copy of ``X``) would break.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from _support import HEAD_IDS, HEADS
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_lt import (
    LogitAdjustedClassifierCV,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)
from sklearn_lt.heads import _base, _lws, _ncm, logit_adjustment_sweep, tau_sweep
from sklearn_lt.heads._base import LazyRows, chunked_argmax, row_chunks
from sklearn_lt.utils._array import validate_features

TAUS = np.linspace(0, 2, 5)


def problem(n=600, d=6, c=7, dtype=np.float64, seed=0):
    """Long-tailed labels, class means plus noise."""
    rng = np.random.RandomState(seed)
    counts = np.maximum((n * 0.5 ** np.arange(c)).astype(int), 4)
    y = np.repeat(np.arange(c), counts)
    X = rng.normal(size=(len(y), d)) + 2 * rng.normal(size=(c, d))[y]
    return X.astype(dtype), y


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of 3 rows (at 7 classes) everywhere, NCM's of a single row."""
    monkeypatch.setattr(_base, "_CHUNK_ELEMENTS", 21)
    monkeypatch.setattr(_ncm, "_CPU_CHUNK_BYTES", 1)
    monkeypatch.setattr(_ncm, "_CPU_CHUNK_MIN_ROWS", 1)


# ---------------------------------------------------------------- mechanism
def test_row_chunks_cover_the_rows_once_within_the_budget(monkeypatch):
    monkeypatch.setattr(_base, "_CHUNK_ELEMENTS", 40)
    X = torch.arange(30.0).reshape(10, 3)
    chunks = list(row_chunks(X, n_columns=8))  # 40 // 8 = 5 rows per chunk
    assert [where for where, _ in chunks] == [slice(0, 5), slice(5, 10)]
    rows = torch.tensor([9, 2, 4, 4, 0, 7, 1])
    gathered = torch.cat([block for _, block in row_chunks(X, 8, rows=rows)])
    assert_array_equal(gathered.numpy(), X.numpy()[rows.numpy()])
    # A budget smaller than one row still moves on, one row at a time.
    assert len(list(row_chunks(X, n_columns=1000))) == 10


def test_chunked_argmax_and_predict_equal_the_whole_product(tiny_chunks):
    X, y = problem()
    W, b = np.random.RandomState(1).normal(size=(7, 6)), np.zeros(7)
    index = chunked_argmax(torch.as_tensor(X), lambda B: B @ torch.as_tensor(W).T, 7)
    assert index.dtype == torch.long and index.shape == (len(X),)
    assert_array_equal(index.numpy(), np.argmax(X @ W.T, axis=1))
    head = SoftmaxClassifier.from_weights(W, b, classes=np.arange(7))
    assert_array_equal(head.predict(X), np.argmax(X @ W.T, axis=1))


# ------------------------------------------------------------------- sweeps
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tau_sweep_in_chunks_is_the_numpy_sweep(tiny_chunks, dtype):
    X, y = problem(dtype=dtype)
    W = LogisticRegression(max_iter=1000).fit(X, y).coef_
    s = np.sqrt(np.mean(np.sum(X.astype(np.float64) ** 2, axis=1)))
    norms = np.linalg.norm(W, axis=1)
    expected = [np.argmax((X @ W.T) / (s * norms) ** tau, axis=1) for tau in TAUS]
    sweep = tau_sweep(torch.as_tensor(W), torch.as_tensor(X), TAUS)
    assert sweep.shape == (len(TAUS), len(X)) and sweep.dtype == np.int64
    assert_array_equal(sweep, np.array(expected))
    # Any scale gives the same predictions (a factor common to every logit).
    assert_array_equal(tau_sweep(torch.as_tensor(W), torch.as_tensor(X), TAUS, scale=1.0), sweep)


def test_logit_adjustment_sweep_in_chunks_is_the_numpy_sweep(tiny_chunks):
    X, y = problem()
    base = LogisticRegression(max_iter=1000).fit(X, y)
    log_pi = np.log(np.bincount(y) / len(y))
    logits = X @ base.coef_.T + base.intercept_
    expected = [np.argmax(logits - tau * log_pi, axis=1) for tau in TAUS]
    sweep = logit_adjustment_sweep(
        torch.as_tensor(base.coef_), torch.as_tensor(base.intercept_), torch.as_tensor(X),
        np.bincount(y), TAUS,
    )
    assert_array_equal(sweep, np.array(expected))


@pytest.mark.parametrize("cls", [TauNormClassifierCV, LogitAdjustedClassifierCV])
def test_cv_heads_score_the_same_in_chunks(monkeypatch, cls):
    X, y = problem(dtype=np.float32)
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    whole = cls(base, taus=TAUS, cv=3).fit(X, y)
    monkeypatch.setattr(_base, "_CHUNK_ELEMENTS", 21)
    chunked = cls(base, taus=TAUS, cv=3).fit(X, y)
    assert_array_equal(chunked.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"])
    assert chunked.tau_ == whole.tau_


# ------------------------------------------- tau-norm at large feature scales
def _frozen_base_at(X, y, factor):
    """A softmax base fitted on ``X``, its weights for the features ``factor * X``."""
    base = SoftmaxClassifier(fit_intercept=False, random_state=0).fit(X, y)
    W = np.asarray(base.coef_, dtype=np.float64) / factor
    return FrozenEstimator(
        SoftmaxClassifier.from_weights(W.astype(X.dtype), np.zeros(len(W), X.dtype),
                                       classes=base.classes_)
    )


@pytest.mark.parametrize("tau, factor", [(2.0, 1e20), (8.0, 1e10), (2.0, 1e-20)])
def test_tau_norm_keeps_its_predictions_and_finite_logits_at_any_feature_scale(tau, factor):
    X, y = problem(dtype=np.float32)
    reference = TauNormClassifier(_frozen_base_at(X, y, 1.0), tau=tau).fit(X, y)
    X_big = (X.astype(np.float64) * factor).astype(np.float32)
    head = TauNormClassifier(_frozen_base_at(X, y, factor), tau=tau).fit(X_big, y)
    assert np.all(np.isfinite(head.coef_)), "coef_ overflowed"
    logits = head.decision_function(X_big)
    assert np.all(np.isfinite(logits)), "logits overflowed"
    agreement = np.mean(head.predict(X_big) == reference.predict(X))
    assert agreement > 0.99, agreement  # the same up to float32 rounding of ties
    assert set(head.predict(X_big)) == set(reference.predict(X))  # no class lost to inf


@pytest.mark.parametrize("factor", [1e20, 1e-20])
def test_tau_norm_cv_sweep_agrees_with_its_final_head_at_large_scales(factor):
    X, y = problem(dtype=np.float32)
    X_big = (X.astype(np.float64) * factor).astype(np.float32)
    frozen = _frozen_base_at(X, y, factor)
    cv = TauNormClassifierCV(frozen, taus=TAUS, cv=3).fit(X_big, y)
    reference = TauNormClassifierCV(_frozen_base_at(X, y, 1.0), taus=TAUS, cv=3).fit(X, y)
    assert cv.tau_ == reference.tau_
    assert_allclose(cv.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"],
                    atol=0.01)
    # The sweep's predictions at every tau are the fixed head's at that tau.
    sweep = tau_sweep(torch.as_tensor(np.asarray(frozen.coef_)), torch.as_tensor(X_big), TAUS)
    for tau, row in zip(TAUS, sweep):
        head = TauNormClassifier(frozen, tau=tau).fit(X_big, y)
        assert np.all(np.isfinite(head.decision_function(X_big)))
        assert np.mean(head.predict(X_big) == row) > 0.99


# ---------------------------------------------------------- trained heads
def test_lws_without_cached_logits_is_the_lws_with_them(tiny_chunks, monkeypatch):
    X, y = problem(dtype=np.float64)
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    monkeypatch.setattr(_lws, "_keeps_base_logits", lambda n_features, n_classes: True)
    cached = LWSClassifier(base, random_state=0).fit(X, y)
    # The logits not kept: each batch recomputes its own, and their scale is
    # taken 3 rows at a time.
    monkeypatch.setattr(_lws, "_keeps_base_logits", lambda n_features, n_classes: False)
    chunked = LWSClassifier(base, random_state=0).fit(X, y)
    assert_allclose(chunked.scales_, cached.scales_, rtol=1e-10)
    assert_array_equal(chunked.predict(X), cached.predict(X))


def test_lort_cv_and_early_stopping_score_the_same_in_chunks(monkeypatch):
    X, y = problem(dtype=np.float32)
    X_val, y_val = problem(n=200, dtype=np.float32, seed=1)
    base = FrozenEstimator(LogisticRegression(max_iter=1000).fit(X, y))
    lort = dict(smoothings=[0.9], n_epochs=2, cv=2, random_state=0)
    sgd = dict(solver="sgd", n_epochs=3, random_state=0)
    whole = LORTClassifierCV(base, **lort).fit(X, y)
    stopped = SoftmaxClassifier(**sgd).fit(X, y, X_val, y_val)
    monkeypatch.setattr(_base, "_CHUNK_ELEMENTS", 21)
    chunked = LORTClassifierCV(base, **lort).fit(X, y)
    assert_array_equal(chunked.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"])
    chunked_stop = SoftmaxClassifier(**sgd).fit(X, y, X_val, y_val)
    assert chunked_stop.validation_scores_ == stopped.validation_scores_
    assert chunked_stop.best_epoch_ == stopped.best_epoch_


@pytest.mark.parametrize("smoothings", [[np.nan], [0.9, np.nan], [np.inf], [], [1.0]])
def test_lort_cv_refuses_smoothings_outside_zero_one(smoothings):
    X, y = problem()
    with pytest.raises(ValueError, match=r"smoothings must be a non-empty list of values in \[0"):
        LORTClassifierCV(smoothings=smoothings).fit(X, y)


@pytest.mark.parametrize("center", [True, False])
def test_ncm_centroids_in_chunks_are_the_numpy_centroids(tiny_chunks, center):
    X, y = problem()
    mean = X.mean(axis=0) if center else np.zeros(X.shape[1])
    Z = X - mean
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    centroids = np.stack([Z[y == j].mean(axis=0) for j in range(7)])
    head = NCMClassifier(center=center).fit(X, y)
    assert_allclose(head.feature_mean_, mean, rtol=1e-12, atol=1e-12)
    assert_allclose(head.centroids_, centroids, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------- inputs not copied
def test_float32_arrays_memmaps_and_tensors_go_in_uncopied(tmp_path):
    X = np.random.RandomState(0).normal(size=(50, 4)).astype(np.float32)
    head = NCMClassifier()
    assert validate_features(head, X, reset=True).data_ptr() == X.ctypes.data
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert validate_features(head, mapped, reset=True).data_ptr() == mapped.ctypes.data
    X_t = torch.as_tensor(X)
    assert validate_features(head, X_t, reset=True).data_ptr() == X_t.data_ptr()


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("head", HEADS, ids=HEAD_IDS)
def test_a_fit_on_a_row_subset_is_the_fit_on_a_copy_of_the_rows(tiny_chunks, head, device):
    # The inner fits (a fold's base, LORT's held-out run) read their rows in
    # place: every head fits them bit for bit as it fits a copy, in tiny chunks,
    # and on a GPU the rows, their index and the fit stay on it.
    X, y = problem(n=120, c=5, dtype=np.float32)
    rows = np.random.RandomState(1).permutation(len(y))[: len(y) * 3 // 4]
    X_t = torch.from_numpy(X).to(device)
    subset = LazyRows(X_t, rows)
    assert subset.index.device == X_t.device
    in_place = clone(head)._fit_validated(subset, y[rows])
    copied = clone(head).fit(X_t[torch.as_tensor(rows, device=device)], y[rows])
    assert isinstance(in_place.coef_, torch.Tensor) and in_place.coef_.device == X_t.device
    assert_array_equal(in_place.coef_.cpu().numpy(), copied.coef_.cpu().numpy())
    assert_array_equal(in_place.intercept_.cpu().numpy(), copied.intercept_.cpu().numpy())
    assert_array_equal(in_place.classes_, copied.classes_)
    assert in_place.n_features_in_ == copied.n_features_in_ == X.shape[1]


def test_lazy_rows_read_their_rows_and_compose():
    X = torch.arange(20.0).reshape(10, 2)
    subset = LazyRows(LazyRows(X, [9, 7, 5, 3, 1]), [4, 0])  # rows 1 and 9 of X
    assert subset.shape == (2, 2) and len(subset) == 2
    assert subset.dtype == X.dtype and subset.device == X.device
    assert subset.source is X
    assert_array_equal(subset[:].numpy(), X[[1, 9]].numpy())
    assert_array_equal(
        torch.cat([block for _, block in row_chunks(subset, 1)]).numpy(), X[[1, 9]].numpy()
    )
    # A row-wise map applies to what is read, after the index and any earlier map.
    mapped = LazyRows(LazyRows(subset, transform=torch.neg), transform=lambda b: b + 1)
    assert mapped.index is subset.index and len(mapped.transforms) == 2
    assert_array_equal(mapped[:].numpy(), (1 - X[[1, 9]]).numpy())
    assert_array_equal(mapped[-1].numpy(), (1 - X[9]).numpy())  # one row: shape (d,)
    assert_array_equal(LazyRows(X, transform=torch.neg)[3:5].numpy(), (-X[3:5]).numpy())


def test_a_base_that_names_its_device_fits_a_copy_of_the_fold_as_one_that_does_not():
    X, y = problem(n=60, c=3, dtype=np.float32)
    named = TauNormClassifierCV(SoftmaxClassifier(device="cpu", random_state=0), cv=2).fit(X, y)
    plain = TauNormClassifierCV(SoftmaxClassifier(random_state=0), cv=2).fit(X, y)
    assert_array_equal(named.coef_, plain.coef_)
    assert_array_equal(named.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"])


def test_an_inner_fit_validates_the_base_estimators_parameters():
    X, y = problem(n=60, c=3, dtype=np.float32)
    with pytest.raises(ValueError, match="tol"):
        TauNormClassifierCV(SoftmaxClassifier(tol=-1.0), cv=2).fit(X, y)


# ---------------------------------------------------------- peak memory
# One fit in a fresh process: the rise of VmHWM over the resident set before
# fit (glibc's mmap threshold fixed at 1 MiB, so that freed blocks go back to
# the system and the figure is live memory; see benchmarks/run.py).
_SCRIPT = """
import ctypes, gc, json, sys
import numpy as np, sklearn, torch
from sklearn.frozen import FrozenEstimator
import sklearn_lt
from sklearn_lt.heads import _base
torch.set_num_threads(1)
_base._CHUNK_ELEMENTS = 2**20  # 4 MiB of float32 logits per chunk
sklearn.set_config(working_memory=8)  # MiB: LWS may not keep its N x C logits
n, d, c, case = {n}, {d}, {c}, {case!r}
rng = np.random.RandomState(0)
y = rng.randint(c, size=n)
y[:4 * c] = np.tile(np.arange(c), 4)  # the warm-up rows hold every class 4 times
X = rng.normal(size=(n, d)).astype(np.float32)
W = rng.normal(size=(c, d)).astype(np.float32)
frozen = FrozenEstimator(sklearn_lt.SoftmaxClassifier.from_weights(
    W, np.zeros(c, np.float32), classes=np.arange(c)))
half = n // 2
make = {{
    "lws": lambda: (sklearn_lt.LWSClassifier(frozen, n_epochs=1, batch_size=128), (X, y)),
    "lws_default_working_memory": lambda: (
        sklearn_lt.LWSClassifier(frozen, n_epochs=1, batch_size=128), (X, y)),
    "lbfgs_default_working_memory": lambda: (sklearn_lt.SoftmaxClassifier(max_iter=2), (X, y)),
    "tau_cv": lambda: (sklearn_lt.TauNormClassifierCV(frozen, cv=2), (X, y)),
    "la_cv": lambda: (sklearn_lt.LogitAdjustedClassifierCV(frozen, cv=2), (X, y)),
    "lort_cv": lambda: (sklearn_lt.LORTClassifierCV(frozen, n_epochs=1, smoothings=[0.9], cv=2,
                                                    batch_size=128), (X, y)),
    "early_stopping": lambda: (sklearn_lt.SoftmaxClassifier(solver="sgd", n_epochs=1),
                               (X[:half], y[:half], X[half:], y[half:])),
    "ncm": lambda: (sklearn_lt.NCMClassifier(), (X, y)),
    "lort_held_out": lambda: (sklearn_lt.LORTClassifier(n_epochs=1, batch_size=128,
                                                        random_state=0), (X, y)),
    "cosine_retraining": lambda: (sklearn_lt.RetrainedClassifier(
        logits="cosine", solver="sgd", n_epochs=1, batch_size=128, random_state=0), (X, y)),
    "tau_cv_fitted_bases": lambda: (sklearn_lt.TauNormClassifierCV(cv=3, random_state=0), (X, y)),
}}
model, data = make[case]()
if case.endswith("_default_working_memory"):
    sklearn.set_config(working_memory=1024)  # the default: the N x C logits would fit in it
small = tuple(a[:4 * c] for a in data)
model.fit(*small)  # warm-up: first-call allocations are not the fit's
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
model.fit(*data)
print(json.dumps({{"rise_mb": (status("VmHWM") - before) / 1024, "x_mb": X.nbytes / 2**20}}))
"""

# (case, n, d, c): N x C float32 logits of 120-240 MiB against 4 MiB chunks; NCM:
# X of 61 MiB (its copies are what is bounded).
_MEMORY_CASES = [
    ("lws", 30_000, 16, 2_000),
    # 229 MiB of N x C logits within the default 1 GiB working_memory, 127x
    # half of X: LWS kept them (230 MiB) before they had to fit in half of X.
    ("lws_default_working_memory", 30_000, 16, 2_000),
    # L-BFGS's loss and gradient: its chunks were working_memory / 8 bytes of
    # logits (all 229 MiB of them here: 690 MiB beyond X); now the shared chunk.
    ("lbfgs_default_working_memory", 30_000, 16, 2_000),
    ("tau_cv", 30_000, 16, 2_000),
    ("la_cv", 30_000, 16, 2_000),
    ("lort_cv", 30_000, 16, 2_000),
    ("early_stopping", 60_000, 16, 2_000),
    ("ncm", 250_000, 64, 10),
    # Row subsets read in place: LORT's held-out run (80% of X for the run, 20%
    # to score it: a copy of each was X beyond X) and a fold's base (2/3 of X).
    # Wide rows: X of 59 MiB, small beside it the sweep's 21 taus' predictions.
    ("lort_held_out", 30_000, 512, 10),
    ("tau_cv_fitted_bases", 30_000, 512, 10),
    # Cosine retraining normalises its rows where it reads them (a normalised
    # copy of X was X beyond X).
    ("cosine_retraining", 30_000, 512, 10),
]
# The cases bounded by half of X: X is what they would copy, their logits are small.
_BOUNDED_BY_X = {"ncm", "lort_held_out", "tau_cv_fitted_bases", "cosine_retraining"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("case, n, d, c", _MEMORY_CASES, ids=[c[0] for c in _MEMORY_CASES])
def test_peak_memory_of_fit_is_bounded_by_a_chunk_not_by_n_times_c(case, n, d, c):
    script = textwrap.dedent(_SCRIPT).format(n=n, d=d, c=c, case=case)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    n_by_c_mb = n // 2 * c * 4 / 2**20  # float32 logits of one validation fold / half
    # Beyond X: at most half of X (NCM, the lazy rows: 2-12 MiB, 51-61 MiB
    # when they were copied) or a quarter of one fold's N x C logits (measured
    # at 10-15 MiB with 4 MiB chunks; 126-463 MiB before the chunks).
    bound = 0.5 * result["x_mb"] if case in _BOUNDED_BY_X else n_by_c_mb / 4
    assert result["rise_mb"] < bound, (result, bound)
