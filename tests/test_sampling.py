"""Samplers: Kang et al. (2020) eq. 1-2, resampling, index streams."""

import pickle

import numpy as np
import pytest
import torch
from imblearn.pipeline import make_pipeline
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_lt import (
    ClassBalancedSampler,
    InstanceBalancedSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)
from sklearn_lt.metrics import ClassCounts
from sklearn_lt.sampling import (
    EpochIndexSampler,
    power_probabilities,
    progressive_probabilities,
    target_counts,
)
from sklearn_lt.sampling._probabilities import class_indices, draw_indices

COUNTS = np.array([500, 120, 40, 9, 2])


def long_tailed(counts=COUNTS, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), n_features)) + y[:, None]
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 1.0])
def test_power_probabilities_match_eq1(q):
    expected = np.array([n**q for n in COUNTS], dtype=float)
    expected /= expected.sum()
    assert_allclose(power_probabilities(COUNTS, q), expected, rtol=1e-15)


def test_named_samplers_are_power_members():
    for sampler, q in [
        (InstanceBalancedSampler(), 1.0),
        (ClassBalancedSampler(), 0.0),
        (SquareRootSampler(), 0.5),
    ]:
        assert_allclose(sampler.class_probabilities(COUNTS), power_probabilities(COUNTS, q))
    assert_allclose(ClassBalancedSampler().class_probabilities(COUNTS), np.full(5, 0.2))
    assert_allclose(InstanceBalancedSampler().class_probabilities(COUNTS), COUNTS / COUNTS.sum())


@pytest.mark.parametrize("n_epochs", [1, 2, 5, 90])
def test_progressive_probabilities_match_eq2(n_epochs):
    ib = COUNTS / COUNTS.sum()
    cb = np.full(len(COUNTS), 1 / len(COUNTS))
    lambdas = np.linspace(0, 1, n_epochs)  # official schedule: t/T over the run
    sampler = ProgressivelyBalancedSampler(n_epochs=n_epochs)
    for t in range(n_epochs):
        expected = (1 - lambdas[t]) * ib + lambdas[t] * cb
        assert_allclose(progressive_probabilities(COUNTS, t, n_epochs), expected)
        assert_allclose(sampler.class_probabilities(COUNTS, epoch=t), expected)
    assert_allclose(sampler.class_probabilities(COUNTS, epoch=0), ib)
    if n_epochs > 1:
        assert_allclose(sampler.class_probabilities(COUNTS, epoch=n_epochs - 1), cb)


@pytest.mark.parametrize("n", [1, 7, 671, 10_000])
def test_target_counts_round_within_one(n):
    p = power_probabilities(COUNTS, 0.5)
    counts = target_counts(p, n)
    assert counts.sum() == n
    assert np.all(np.abs(counts - p * n) < 1)


@pytest.mark.parametrize(
    "sampler",
    [PowerSampler(q=0.3), ClassBalancedSampler(), SquareRootSampler(),
     ProgressivelyBalancedSampler(epoch=3, n_epochs=7)],
    ids=lambda s: type(s).__name__,
)
def test_fit_resample_follows_probabilities(sampler):
    X, y = long_tailed()
    sampler.set_params(random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert len(y_res) == len(y)
    p = sampler.class_probabilities(COUNTS)
    assert_array_equal(np.bincount(y_res, minlength=5), target_counts(p, len(y)))
    assert_array_equal(X_res, X[sampler.sample_indices_])
    assert_array_equal(y_res, y[sampler.sample_indices_])
    assert_array_equal(sampler.class_counts_, COUNTS)
    assert sampler.sampling_strategy_ == dict(enumerate(target_counts(p, len(y)).tolist()))


def test_long_resample_frequencies_within_sampling_error():
    X, y = long_tailed()
    n = 200_000
    _, y_res = SquareRootSampler(n_samples=n, random_state=1).fit_resample(X, y)
    freq = np.bincount(y_res) / n
    p = power_probabilities(COUNTS, 0.5)
    # binomial standard error; the stratified draw is far inside it
    assert np.all(np.abs(freq - p) < 3 * np.sqrt(p * (1 - p) / n))


def test_instance_balanced_resample_is_a_permutation():
    X, y = long_tailed()
    X_res, _ = InstanceBalancedSampler(random_state=0).fit_resample(X, y)
    assert_array_equal(np.sort(X_res, axis=0), np.sort(X, axis=0))
    assert not np.array_equal(X_res, X)


def test_oversampled_class_repeats_every_row_before_any_twice():
    X, y = long_tailed()
    sampler = ClassBalancedSampler(random_state=0).fit(X, y)
    idx = sampler.sample_indices(y)
    tail_rows = np.flatnonzero(y == 4)  # 2 rows, asked for ~134
    drawn = np.bincount(idx[np.isin(idx, tail_rows)], minlength=len(y))[tail_rows]
    assert drawn.max() - drawn.min() <= 1
    head_rows = np.flatnonzero(y == 0)  # subsampled without replacement
    assert np.bincount(idx[np.isin(idx, head_rows)]).max() == 1


def test_partial_rounds_are_uniform_subsets_and_order_is_shuffled():
    # draw_indices takes the partial last round of a class from a random
    # grouping: every row of a subsampled class must be equally likely, and
    # the output order must not keep classes together.
    y = np.repeat([0, 1], [10, 3])
    per_class = class_indices(y, 2)
    rng = np.random.RandomState(0)
    n_draws = 4000
    hits = np.zeros(len(y))
    first_is_class_0 = 0
    for _ in range(n_draws):
        idx = draw_indices(per_class, [4, 5], rng)  # 4 of 10, then 1 round + 2 of 3
        hits += np.bincount(idx, minlength=len(y))
        first_is_class_0 += y[idx[0]] == 0
    # each of the 10 rows of class 0 is drawn with probability 0.4
    p = 0.4
    assert np.all(np.abs(hits[:10] / n_draws - p) < 4 * np.sqrt(p * (1 - p) / n_draws))
    # class 1: 1 + 2/3 expected draws per row per call
    assert_allclose(hits[10:] / n_draws, 5 / 3, atol=0.05)
    # 4 of the 9 rows come from class 0
    p0 = 4 / 9
    assert abs(first_is_class_0 / n_draws - p0) < 4 * np.sqrt(p0 * (1 - p0) / n_draws)


def test_determinism_under_random_state():
    X, y = long_tailed()
    a = ClassBalancedSampler(random_state=3).fit_resample(X, y)[1]
    b = ClassBalancedSampler(random_state=3).fit_resample(X, y)[1]
    c = ClassBalancedSampler(random_state=4).fit_resample(X, y)[1]
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_torch_in_torch_out():
    X, y = long_tailed()
    Xt, yt = torch.from_numpy(X).float(), torch.from_numpy(y)
    X_res, y_res = ClassBalancedSampler(random_state=0).fit_resample(Xt, yt)
    assert isinstance(X_res, torch.Tensor) and isinstance(y_res, torch.Tensor)
    assert X_res.dtype == torch.float32 and X_res.device == Xt.device
    X_np, y_np = ClassBalancedSampler(random_state=0).fit_resample(X.astype(np.float32), y)
    assert_array_equal(X_res.numpy(), X_np)
    assert_array_equal(y_res.numpy(), y_np)


def test_in_imblearn_pipeline_and_grid_search_over_q():
    # Balanced accuracy weighs every class alike, as class-balanced sampling
    # (q = 0) does; Gaussian classes with one covariance make the logistic
    # model right, so the score falls as q moves towards instance-balanced.
    X, y = long_tailed(counts=[400, 120, 40, 15], n_features=2)
    pipe = make_pipeline(PowerSampler(random_state=0), LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"powersampler__q": [0.0, 0.5, 1.0]}, cv=3,
                          scoring="balanced_accuracy")
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 3
    assert search.best_params_["powersampler__q"] == 0.0
    assert scores[0] > scores[1] > scores[2]
    assert search.best_estimator_.named_steps["powersampler"].q == 0.0


def test_epoch_index_sampler_progresses():
    _, y = long_tailed()
    stream = EpochIndexSampler(ProgressivelyBalancedSampler(), y, n_epochs=4, random_state=0)
    tail_share = []
    for epoch in range(4):
        stream.set_epoch(epoch)
        idx = np.array(list(stream))
        assert len(idx) == len(stream) == len(y)
        tail_share.append(np.mean(y[idx] == 4))
        assert_allclose(stream.class_probabilities(),
                        progressive_probabilities(COUNTS, epoch, 4))
    assert tail_share == sorted(tail_share) and tail_share[-1] > 10 * tail_share[0]
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(y)), batch_size=64,
        sampler=EpochIndexSampler(ClassBalancedSampler(), y, random_state=0),
    )
    labels = torch.cat([b[0] for b in loader]).numpy()
    assert_array_equal(np.bincount(labels), target_counts(np.full(5, 0.2), len(y)))


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_q_outside_unit_interval(q):
    X, y = long_tailed()
    with pytest.raises(ValueError, match="q"):
        PowerSampler(q=q).fit_resample(X, y)
    with pytest.raises(ValueError, match="q"):
        power_probabilities(COUNTS, q)


def test_bad_schedules_and_classes():
    X, y = long_tailed()
    with pytest.raises(ValueError, match="n_epochs"):
        ProgressivelyBalancedSampler(n_epochs=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="n_epochs"):
        progressive_probabilities(COUNTS, 0, 0)
    with pytest.raises(ValueError, match="zero samples"):
        power_probabilities([10, 0, 3], 0.0)
    with pytest.raises(ValueError, match="class"):
        ClassBalancedSampler().fit_resample(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent"):
        ClassBalancedSampler().fit_resample(torch.zeros(5, 2), torch.tensor([0, 1, 0]))


def test_torch_labels_with_list_dataframe_or_sparse_features():
    # Issue #18.12: a torch y with a list or DataFrame X raised AttributeError.
    pd = pytest.importorskip("pandas")
    sparse = pytest.importorskip("scipy.sparse")
    X, y = long_tailed()
    expected_X, expected_y = ClassBalancedSampler(random_state=0).fit_resample(X, y)
    y_t = torch.from_numpy(y)
    X_list, y_res = ClassBalancedSampler(random_state=0).fit_resample(X.tolist(), y_t)
    assert isinstance(X_list, list) and X_list == expected_X.tolist()
    assert isinstance(y_res, torch.Tensor) and y_res.dtype == y_t.dtype
    assert_array_equal(y_res.numpy(), expected_y)
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(len(X)) + 100)
    X_frame, y_res = ClassBalancedSampler(random_state=0).fit_resample(frame, y_t)
    assert isinstance(X_frame, pd.DataFrame) and list(X_frame.columns) == ["a", "b", "c"]
    assert_array_equal(X_frame.to_numpy(), expected_X)
    assert_array_equal(y_res.numpy(), expected_y)
    X_sparse, y_res = ClassBalancedSampler(random_state=0).fit_resample(
        sparse.csr_matrix(X), y_t
    )
    assert sparse.issparse(X_sparse)
    assert_array_equal(X_sparse.toarray(), expected_X)
    assert_array_equal(y_res.numpy(), expected_y)
    # A tensor X with list labels: the labels keep their type too.
    X_res, y_list = ClassBalancedSampler(random_state=0).fit_resample(
        torch.from_numpy(X), y.tolist()
    )
    assert isinstance(y_list, list) and y_list == expected_y.tolist()
    assert_array_equal(X_res.numpy(), expected_X)


def test_class_probabilities_take_class_counts():
    counts = ClassCounts(["a", "b", "c"], COUNTS[:3])
    for sampler in (SquareRootSampler(), ProgressivelyBalancedSampler(epoch=2, n_epochs=5)):
        assert_allclose(sampler.class_probabilities(counts),
                        sampler.class_probabilities(COUNTS[:3]))
    with pytest.raises(ValueError, match="zero samples"):
        power_probabilities(ClassCounts([0, 1], [4, 0]), 0.5)


# ------------------------------------------------------------------ bad input
BAD_INPUT_SAMPLERS = [
    PowerSampler(q=0.2, random_state=0),
    ClassBalancedSampler(random_state=0),
    SquareRootSampler(random_state=0),
    ProgressivelyBalancedSampler(epoch=1, n_epochs=3, random_state=0),
]


@pytest.mark.parametrize("sampler", BAD_INPUT_SAMPLERS, ids=lambda s: type(s).__name__)
def test_sampler_bad_input(sampler):
    X, y = long_tailed()
    with pytest.raises(ValueError, match="inconsistent"):
        clone(sampler).fit_resample(X, y[:-1])
    with pytest.raises(ValueError, match="class"):
        clone(sampler).fit_resample(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        clone(sampler).fit_resample(X, np.linspace(0, 1, len(y)))
    # strings, NaN and object data are just rows to draw
    Xs = np.array(["a", "b", "c", "d", "e"], dtype=object)[np.arange(len(y)) % 5][:, None]
    drawn = clone(sampler)
    Xs_res, y_res = drawn.fit_resample(Xs, y)
    assert Xs_res.shape == (len(y), 1) and len(y_res) == len(y)
    assert_array_equal(Xs_res, Xs[drawn.sample_indices_])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    fitted = clone(sampler)
    Xn_res, _ = fitted.fit_resample(Xn, y)
    assert_array_equal(Xn_res, Xn[fitted.sample_indices_])  # NaN where NaN was drawn


@pytest.mark.parametrize("sampler", BAD_INPUT_SAMPLERS, ids=lambda s: type(s).__name__)
def test_sampler_string_labels_and_torch(sampler):
    X, y = long_tailed()
    labels = np.array(["a", "b", "c", "d", "e"])[y]
    X_res, y_res = clone(sampler).fit_resample(torch.from_numpy(X), labels)
    assert isinstance(X_res, torch.Tensor) and isinstance(y_res, np.ndarray)
    assert set(y_res) <= set(labels)
    # the same draw as with integer labels sorted like the names
    _, y_int = clone(sampler).fit_resample(X, y)
    assert_array_equal(y_res, np.array(["a", "b", "c", "d", "e"])[y_int])


# ------------------------------------- EpochIndexSampler: bad input, pickling
Y_SAMPLER = np.repeat([0, 1, 2], [12, 4, 2])


@pytest.mark.parametrize(
    "labels, match",
    [
        ([], "2 or more classes"),
        ([0, 0, 0], "2 or more classes"),
        ([0.0, np.nan, 1.0], "NaN"),
        (np.linspace(0, 1, 6), "Unknown label type"),
        (Y_SAMPLER[None], "1-D"),
    ],
    ids=["empty", "one-class", "nan", "continuous", "2d"],
)
def test_epoch_index_sampler_bad_labels(labels, match):
    stream = EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)
    with pytest.raises(ValueError, match=match):
        list(stream)


def test_epoch_index_sampler_strings_and_tensors():
    y = Y_SAMPLER
    names = np.array(["x", "y", "z"])[y]
    ref = list(EpochIndexSampler(ClassBalancedSampler(), y, random_state=0))
    assert np.bincount(y[ref]).tolist() == [6, 6, 6]
    assert list(EpochIndexSampler(ClassBalancedSampler(), names, random_state=0)) == ref
    for labels in (torch.from_numpy(y), torch.from_numpy(y).half(),
                   torch.from_numpy(np.repeat(y, 2))[::2]):
        assert list(EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)) == ref


def test_epoch_index_sampler_bfloat16_labels():
    y = Y_SAMPLER
    ref = list(EpochIndexSampler(ClassBalancedSampler(), y, random_state=0))
    labels = torch.from_numpy(y).bfloat16()
    assert list(EpochIndexSampler(ClassBalancedSampler(), labels, random_state=0)) == ref


def test_epoch_index_sampler_out_of_range():
    stream = EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=3,
                               random_state=0)
    stream.set_epoch(-1)
    with pytest.raises(ValueError, match="epoch must be in"):
        list(stream)
    stream.set_epoch(7)  # past the end: the last (class-balanced) epoch
    assert_allclose(stream.class_probabilities(), [1 / 3] * 3)
    with pytest.raises(ValueError, match="n_epochs"):
        list(EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=0))
    with pytest.raises(ValueError, match="q"):
        list(EpochIndexSampler(PowerSampler(q=2.0), Y_SAMPLER, random_state=0))
    with pytest.raises(ValueError, match="n_samples"):
        list(EpochIndexSampler(PowerSampler(n_samples=0), Y_SAMPLER, random_state=0))
    with pytest.raises(ValueError, match="seed"):
        EpochIndexSampler(ClassBalancedSampler(), Y_SAMPLER, random_state="seed")
    sized = EpochIndexSampler(ClassBalancedSampler(n_samples=7), Y_SAMPLER, random_state=0)
    assert len(sized) == len(list(sized)) == 7


def test_epoch_index_sampler_non_integer_n_epochs_is_an_error():
    stream = EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=2.5,
                               random_state=0)
    stream.set_epoch(1)
    with pytest.raises(ValueError, match="n_epochs"):
        list(stream)


def test_epoch_index_sampler_determinism_and_pickle():
    def stream():
        return EpochIndexSampler(ProgressivelyBalancedSampler(), Y_SAMPLER, n_epochs=3,
                                 random_state=0)

    state = np.random.get_state()[1].copy()  # noqa: NPY002
    a, b = stream(), stream()
    for epoch in range(3):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert list(a) == list(b)
    assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002 (untouched)
    a.set_epoch(1)
    loaded = pickle.loads(pickle.dumps(a))
    assert loaded.epoch == 1
    assert list(loaded) == list(a)  # the same position in the same stream


@pytest.mark.parametrize(
    "sampler",
    [PowerSampler(q=0.3, random_state=0), ClassBalancedSampler(n_samples=50, random_state=0),
     ProgressivelyBalancedSampler(epoch=2, n_epochs=4, random_state=0)],
    ids=lambda s: type(s).__name__,
)
def test_fitted_samplers_pickle(sampler):
    X, y = long_tailed()
    fitted = clone(sampler)
    X_res, y_res = fitted.fit_resample(torch.from_numpy(X), y)
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(loaded.sample_indices_, fitted.sample_indices_)
    assert_array_equal(loaded.class_counts_, fitted.class_counts_)
    assert loaded.sampling_strategy_ == fitted.sampling_strategy_
    # the unpickled sampler draws the same rows again
    X_again, y_again = loaded.fit_resample(torch.from_numpy(X), y)
    assert torch.equal(X_again, X_res)
    assert_array_equal(y_again, y_res)


# ------------------------- issue #22.5: faster paths, the same draws as before
@pytest.mark.parametrize(
    "y",
    [
        np.repeat([3, 9, 20], [40, 7, 2]),  # sparse integers: lookup table
        np.repeat(np.arange(5, dtype=np.int8), [30, 1, 8, 2, 9]),
        np.repeat(np.array([-7, 0, 2**40]), [5, 9, 3]),  # a wide range: one sort
        np.repeat(np.array(["b", "a", "c"]), [12, 5, 1]),
    ],
    ids=["sparse-int", "int8", "wide-int", "str"],
)
def test_sample_indices_is_the_per_class_draw(y):
    # sample_indices encodes y in O(n) for integers, groups the rows with a
    # radix sort and draws in place: the stream of draw_indices on the rows of
    # each class (what the heads' trainer draws), whatever the label type.
    y = np.random.RandomState(0).permutation(y)
    _, y_encoded = np.unique(y, return_inverse=True)
    per_class = class_indices(y_encoded, y_encoded.max() + 1)
    counts = target_counts(power_probabilities([len(r) for r in per_class], 0.5), 40)
    expected = draw_indices(per_class, counts, np.random.RandomState(3))
    got = SquareRootSampler(n_samples=40).sample_indices(y, random_state=3)
    assert_array_equal(got, expected)
    assert got.dtype == np.int64


def test_epoch_index_sampler_groups_once_and_follows_a_new_y():
    y = np.repeat(np.arange(4), [20, 9, 4, 1])
    stream = EpochIndexSampler(ClassBalancedSampler(), y, n_epochs=2, random_state=0)
    rng = np.random.RandomState(0)
    for epoch in range(2):  # each epoch: sample_indices on the same random stream
        stream.set_epoch(epoch)
        assert list(stream) == ClassBalancedSampler().sample_indices(
            y, random_state=rng).tolist()
    assert stream._grouped is not None
    assert pickle.loads(pickle.dumps(stream))._grouped is None  # not pickled
    stream.y = np.repeat([0, 1], [3, 3])  # a new y is grouped anew
    assert sorted(set(stream)) == list(range(6))
