"""ClassAwareSampler against a plain port of the decoupling code's ClassAwareSampler.

The reference (facebookresearch/classifier-balancing, data/ClassAwareSampler.py)
draws with Python's ``random``; ours with numpy: the streams differ, so the
test holds both to the structure that defines the reference's draw (runs of
``n_per_visit`` rows of one class, classes visited in cycles of random orders,
each class's rows in cycles of random permutations, ``max_j n_j * C`` rows).
"""

import random

import numpy as np
import pytest
import torch

from sklearn_lt import ClassAwareSampler, ClassBalancedSampler, CRTClassifier, RetrainedClassifier
from sklearn_lt.heads._trainer import TrainingOptions, cross_entropy, train
from sklearn_lt.sampling import EpochIndexSampler
from sklearn_lt.sampling._probabilities import class_indices


# ---------------------------------------------------------------- the reference, ported
class RandomCycleIter:
    def __init__(self, data, rand):
        self.data_list = list(data)
        self.length = len(self.data_list)
        self.i = self.length - 1
        self.rand = rand

    def __iter__(self):
        return self

    def __next__(self):
        self.i += 1
        if self.i == self.length:
            self.i = 0
            self.rand.shuffle(self.data_list)
        return self.data_list[self.i]


def class_aware_sample_generator(cls_iter, data_iter_list, n, num_samples_cls=1):
    i = 0
    j = 0
    while i < n:
        if j >= num_samples_cls:
            j = 0
        if j == 0:
            temp_tuple = next(zip(*[data_iter_list[next(cls_iter)]] * num_samples_cls))
            yield temp_tuple[j]
        else:
            yield temp_tuple[j]
        i += 1
        j += 1


def reference_epoch(labels, num_samples_cls, seed):
    """One epoch of the reference ClassAwareSampler (its ``__init__`` then ``__iter__``)."""
    rand = random.Random(seed)
    num_classes = len(np.unique(labels))
    class_iter = RandomCycleIter(range(num_classes), rand)
    cls_data_list = [list() for _ in range(num_classes)]
    for i, label in enumerate(labels):
        cls_data_list[label].append(i)
    data_iter_list = [RandomCycleIter(x, rand) for x in cls_data_list]
    num_samples = max([len(x) for x in cls_data_list]) * len(cls_data_list)
    return np.array(
        list(class_aware_sample_generator(class_iter, data_iter_list, num_samples,
                                          num_samples_cls))
    )


# ---------------------------------------------------------------- the structure
def check_class_aware(order, y, n_per_visit):
    """Assert that ``order`` is a stream the reference sampler can produce."""
    counts = np.bincount(y)
    n_classes = len(counts)
    assert len(order) == counts.max() * n_classes  # the reference's __len__
    # Runs of n_per_visit rows of one class (the last one possibly cut).
    runs = [y[order[i:i + n_per_visit]] for i in range(0, len(order), n_per_visit)]
    assert all(len(set(run.tolist())) == 1 for run in runs)
    # The classes visited in cycles: every C visits, each class once.
    visited = np.array([run[0] for run in runs])
    for start in range(0, len(visited), n_classes):
        cycle = visited[start:start + n_classes]
        assert len(set(cycle.tolist())) == len(cycle)
    # Each class's rows, in the order drawn, in cycles of all its rows.
    for j, rows in enumerate(class_indices(y, n_classes)):
        drawn = order[y[order] == j]
        for start in range(0, len(drawn), len(rows)):
            cycle = drawn[start:start + len(rows)]
            assert len(set(cycle.tolist())) == len(cycle)
            assert set(cycle.tolist()) <= set(rows.tolist())
    # Class frequencies uniform: visits differ by at most one between classes.
    visits = np.bincount(visited, minlength=n_classes)
    assert visits.max() - visits.min() <= 1


LABELS = [
    np.repeat([0, 1, 2], [13, 5, 2]),  # 39 rows: not a multiple of 4, a class of 2 < 4
    np.repeat([0, 1, 2, 3, 4], [40, 17, 9, 3, 1]),
    np.repeat([0, 1], [8, 8]),
]


@pytest.mark.parametrize("y", LABELS)
@pytest.mark.parametrize("n_per_visit", [1, 3, 4])
def test_reference_port_passes_the_structure_check(y, n_per_visit):
    # The check is the reference's structure: its own port passes it.
    for seed in range(5):
        check_class_aware(reference_epoch(y, n_per_visit, seed), y, n_per_visit)


@pytest.mark.parametrize("y", LABELS)
@pytest.mark.parametrize("n_per_visit", [1, 3, 4])
def test_sample_indices_have_the_reference_structure(y, n_per_visit):
    rng = np.random.RandomState(0)
    shuffled = y[rng.permutation(len(y))]  # rows of a class scattered
    for seed in range(5):
        order = ClassAwareSampler(n_per_visit, random_state=seed).sample_indices(shuffled)
        check_class_aware(order, shuffled, n_per_visit)


def test_same_distribution_as_the_reference():
    # The class of the first visit, and the first row drawn of a class, are
    # uniform in both (over many seeds): the same law, not only the same support.
    y = np.repeat([0, 1, 2], [6, 3, 3])
    ours, theirs = np.zeros((3, 6)), np.zeros((3, 6))
    for seed in range(3000):
        for table, order in (
            (ours, ClassAwareSampler(random_state=seed).sample_indices(y)),
            (theirs, reference_epoch(y, 4, seed)),
        ):
            table[0, y[order[0]]] += 1
            table[1, order[y[order] == 0][0]] += 1
            table[2, order[y[order] == 1][0] - 6] += 1
    for table in (ours, theirs):
        freq = table / 3000
        np.testing.assert_allclose(freq[0, :3], 1 / 3, atol=0.04)
        np.testing.assert_allclose(freq[1], 1 / 6, atol=0.04)
        np.testing.assert_allclose(freq[2, :3], 1 / 3, atol=0.04)


def test_epoch_length_and_n_samples():
    y = np.repeat([0, 1, 2], [13, 5, 2])
    assert len(ClassAwareSampler().sample_indices(y)) == 39
    assert len(ClassAwareSampler(n_samples=10).sample_indices(y)) == 10
    assert len(ClassAwareSampler().sample_indices(y, n_samples=7)) == 7
    index_sampler = EpochIndexSampler(ClassAwareSampler(), y, random_state=0)
    assert len(index_sampler) == len(list(index_sampler)) == 39
    _, y_res = ClassAwareSampler(random_state=0).fit_resample(np.zeros((20, 1)), y)
    assert sorted(np.bincount(y_res).tolist()) == [12, 12, 15]  # 10 visits of 4, cut at 39


def test_class_probabilities_and_lbfgs_are_class_balanced():
    # In expectation the class-aware sampler is class-balanced sampling: the
    # same uniform probabilities, hence the same L-BFGS fit.
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [60, 15, 5])
    X = rng.normal(size=(len(y), 4)) + np.eye(4)[y]
    np.testing.assert_array_equal(ClassAwareSampler().class_probabilities([60, 15, 5]),
                                  np.full(3, 1 / 3))
    fits = [CRTClassifier(solver="lbfgs", sampler=s, random_state=0).fit(X, y).coef_
            for s in (ClassAwareSampler(), ClassBalancedSampler())]
    np.testing.assert_array_equal(fits[0], fits[1])


def test_trainer_runs_batches_in_the_samplers_order():
    # The trainer's epoch is the sampler's stream cut into consecutive batches
    # (as a DataLoader reads the reference sampler): the rows the module sees,
    # batch after batch, have the reference's structure, every epoch.
    y = np.repeat([0, 1, 2], [30, 9, 4])
    seen = []

    class RecordRows(torch.nn.Linear):
        def forward(self, inputs):  # inputs: the row indices themselves
            seen.append(inputs[:, 0].long().numpy())
            return super().forward(inputs)

    options = TrainingOptions(solver="sgd", sampler=ClassAwareSampler(), weight_decay=0.0,
                              n_epochs=2, batch_size=8, lr=1e-9)
    train(RecordRows(1, 3).double(), torch.arange(len(y), dtype=torch.float64)[:, None], y,
          np.bincount(y), loss=cross_entropy(), options=options, rng=np.random.RandomState(0))
    assert [len(batch) for batch in seen] == ([8] * 11 + [2]) * 2  # 90 rows an epoch
    order = np.concatenate(seen)
    for epoch in (order[:90], order[90:]):
        check_class_aware(epoch, y, 4)
    assert not np.array_equal(order[:90], order[90:])  # a new draw each epoch


def test_existing_samplers_draw_as_before():
    # epoch_indices is now the one draw of every sampler: the class-balanced
    # stream is the one of draw_indices on the same rows, bit for bit.
    from sklearn_lt.sampling._probabilities import draw_indices, target_counts

    y = np.random.RandomState(1).choice(4, size=57, p=[0.6, 0.25, 0.1, 0.05])
    expected = draw_indices(class_indices(y, 4), target_counts(np.full(4, 0.25), 57),
                            np.random.RandomState(3))
    got = ClassBalancedSampler(random_state=3).sample_indices(y)
    np.testing.assert_array_equal(got, expected)


def test_retrained_classifier_takes_it_under_sgd():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [60, 15, 5])
    X = rng.normal(size=(len(y), 4)) + 2 * np.eye(4)[y]
    head = RetrainedClassifier(loss="cross_entropy", solver="sgd", sampler=ClassAwareSampler(),
                               n_epochs=3, random_state=0).fit(X, y)
    assert isinstance(head.sampler_, ClassAwareSampler) and head.n_iter_ == 3
    assert head.score(X, y) > 0.5
