"""Property-based tests (hypothesis) of the sampling and head formulas."""

import numpy as np
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from sklearn_lt import NCMClassifier
from sklearn_lt.heads import tau_normalize
from sklearn_lt.heads._modules import feature_scale, row_norms
from sklearn_lt.sampling import power_probabilities, progressive_probabilities, target_counts
from sklearn_lt.sampling._probabilities import class_indices, draw_indices

counts_st = st.lists(st.integers(1, 10_000), min_size=1, max_size=30).map(np.array)
q_st = st.floats(0, 1)


@given(counts_st, q_st)
def test_power_probabilities_are_a_distribution_ordered_like_counts(counts, q):
    p = power_probabilities(counts, q)
    assert np.all(p > 0) and np.isclose(p.sum(), 1)
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-15)  # more samples never means lower p
    assert_allclose(p * (counts.astype(float) ** q).sum(), counts.astype(float) ** q,
                    rtol=1e-9)


@given(counts_st, st.integers(1, 50), st.data())
def test_progressive_is_a_convex_mix_of_ib_and_cb(counts, n_epochs, data):
    t = data.draw(st.integers(0, n_epochs - 1))
    p = progressive_probabilities(counts, t, n_epochs)
    ib, cb = power_probabilities(counts, 1), power_probabilities(counts, 0)
    lam = 0.0 if n_epochs == 1 else t / (n_epochs - 1)
    assert_allclose(p, (1 - lam) * ib + lam * cb, atol=1e-15)


@given(counts_st, q_st, st.integers(0, 100_000))
def test_target_counts_sum_and_round(counts, q, n):
    p = power_probabilities(counts, q)
    c = target_counts(p, n)
    assert c.sum() == n and np.all(c >= 0)
    assert np.all(np.abs(c - p * n) < 1)


@settings(max_examples=50)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=8), st.integers(0, 300),
       st.integers(0, 2**31 - 1))
def test_draw_indices_respects_counts_and_spreads_repeats(sizes, n, seed):
    y = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.RandomState(seed)
    p = power_probabilities(sizes, 0.0)
    want = target_counts(p, n)
    idx = draw_indices(class_indices(y, len(sizes)), want, rng)
    assert len(idx) == n and np.all((idx >= 0) & (idx < len(y)))
    np.testing.assert_array_equal(np.bincount(y[idx], minlength=len(sizes)), want)
    hits = np.bincount(idx, minlength=len(y))
    for j in range(len(sizes)):
        rows = hits[y == j]
        assert rows.max() - rows.min() <= 1  # every row before any row twice


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
              elements=st.floats(-100, 100).filter(lambda v: v == 0 or abs(v) > 1e-3)),
       st.floats(0, 2))
@example(np.zeros((2, 3)), 2.0)  # 0 ** tau is 0 for tau > 0: zero rows once came out NaN
def test_tau_normalize_sets_norms_to_power(W, tau):
    out = tau_normalize(torch.from_numpy(W), tau).numpy()
    norms = np.linalg.norm(W, axis=1)
    nonzero = norms > 0
    assert_allclose(np.linalg.norm(out, axis=1)[nonzero], norms[nonzero] ** (1 - tau),
                    rtol=1e-9)
    assert np.all(out[~nonzero] == 0)


@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)),
              elements=st.floats(-1e3, 1e3).filter(lambda v: v == 0 or abs(v) > 1e-3)),
       st.integers(-1000, 1000))
@example(np.ones((2, 3)), 600)  # squared norms near 2**1200: overflowed to scale 1 (issue 24)
@example(np.ones((2, 3)), -600)  # near 2**-1200: underflowed to scale 1
def test_feature_scale_is_the_rms_row_norm_at_any_scale(X, k):
    # Times 2**k (exact in binary): the RMS row norm scales by 2**k, over the
    # whole float64 range; all-zero X has scale 1.
    rms = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    scale = feature_scale(torch.from_numpy(X * 2.0**k))
    if rms == 0:
        assert scale == 1.0
    else:
        assert_allclose(scale, rms * 2.0**k, rtol=1e-12)


@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 8)),
              elements=st.floats(-1e3, 1e3).filter(lambda v: v == 0 or abs(v) > 1e-3)),
       st.sampled_from([np.float32, np.float64]), st.data())
# 31 x 4 at 2**-73: subnormal squares, off by up to 10% (issue 24's NCM draw).
@example(np.random.RandomState(0).normal(size=(31, 4)), np.float32, None)
def test_row_norms_are_exact_at_any_scale(X, dtype, data):
    # Rows times 2**k over the dtype's range: no overflow, no underflow, and no
    # bits lost to subnormal squares (float32 rows near 1e-22 once lost half).
    low, high = (-100, 110) if dtype == np.float32 else (-1000, 1000)
    k = -73 if data is None else data.draw(st.integers(low, high))
    X = X.astype(dtype)
    expected = np.linalg.norm(X.astype(np.float64), axis=1) * 2.0**k
    norms = row_norms(torch.from_numpy(X * dtype(2.0**k)))[:, 0].double().numpy()
    assert_allclose(norms, expected, rtol=4 * np.finfo(dtype).eps)


@st.composite
def dtypes_and_powers_of_two(draw):
    """A float dtype and a power of two over its range (issue 24: 1e+-300, 1e+-38).

    Powers of two scale every entry exactly, so the predictions must not move
    at all. float32 from 2**-100 (~1e-30) only: below, small entries are
    subnormal (fewer significant bits).
    """
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    low, high = (-990, 990) if dtype == np.float64 else (-100, 124)
    return dtype, draw(st.integers(low, high))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), dtypes_and_powers_of_two())
@example(0, (np.float32, 124))  # rows near 1e38: squares and sums overflow float32
@example(0, (np.float64, -990))  # rows near 1e-298: squares underflow float64
def test_ncm_predictions_invariant_to_feature_scale(seed, dtype_and_power):
    dtype, k = dtype_and_power
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2], [20, 8, 3])
    X = rng.normal(size=(len(y), 4)) + np.eye(4)[y]
    Xq = rng.normal(size=(10, 4))
    for metric in ("cosine", "euclidean", "dot"):
        a = NCMClassifier(metric).fit(X.astype(dtype), y).predict(Xq.astype(dtype))
        b = NCMClassifier(metric).fit((X * 2.0**k).astype(dtype), y)
        np.testing.assert_array_equal(b.predict((Xq * 2.0**k).astype(dtype)), a)
