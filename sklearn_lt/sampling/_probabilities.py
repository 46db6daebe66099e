"""Class sampling probabilities of Kang et al. (ICLR 2020), section 3.

Pure numpy functions: the samplers, the training loop and the plots all read
the probabilities from here.
"""

import numpy as np

from .._counts import ClassCounts, check_counts

__all__ = [
    "power_probabilities",
    "progressive_probabilities",
    "progressive_weight",
    "target_counts",
    "class_indices",
    "draw_indices",
    "draw_grouped",
    "draw_class_aware",
    "group_rows",
]


def _check_counts(class_counts):
    """Float64 counts of an array or :class:`~sklearn_lt.metrics.ClassCounts`, all positive."""
    if isinstance(class_counts, ClassCounts):
        class_counts = class_counts.counts
    counts = check_counts(class_counts).astype(np.float64)
    if np.any(counts == 0):
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(
            f"Classes at positions {empty} have zero samples: a class with no "
            "sample cannot be sampled."
        )
    return counts


def power_probabilities(class_counts, q):
    """Class sampling probabilities ``p_j = n_j**q / sum_i n_i**q`` (Kang et al. eq. 1).

    ``q=1`` is instance-balanced, ``q=0`` class-balanced and ``q=1/2``
    square-root sampling.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,) or ClassCounts
        Training samples per class; all must be positive.
    q : float in [0, 1]

    Returns
    -------
    p : ndarray of shape (n_classes,), summing to 1.

    Examples
    --------
    >>> from sklearn_lt.sampling import power_probabilities
    >>> power_probabilities([100, 25, 4], q=0.5).round(3)
    array([0.588, 0.294, 0.118])
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}.")
    powered = _check_counts(class_counts) ** q
    return powered / powered.sum()


def progressive_weight(epoch, n_epochs):
    """Weight ``t/T`` of class-balanced sampling at ``epoch`` (0-based) of ``n_epochs``.

    The official code (classifier-balancing) takes ``np.linspace(0, 1, T)[t]``:
    the first epoch is instance-balanced and the last one fully
    class-balanced. A single epoch is instance-balanced.

    Parameters
    ----------
    epoch : int
        The epoch, from 0.
    n_epochs : int
        Epochs of the run, at least 1.

    Returns
    -------
    weight : float
        ``t/T`` in [0, 1].
    """
    if not isinstance(n_epochs, (int, np.integer)) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer, got {n_epochs!r}.")
    if not isinstance(epoch, (int, np.integer)) or not 0 <= epoch < n_epochs:
        raise ValueError(f"epoch must be in [0, n_epochs={n_epochs}), got {epoch}.")
    return 0.0 if n_epochs == 1 else epoch / (n_epochs - 1)


def progressive_probabilities(class_counts, epoch, n_epochs):
    """Progressively-balanced probabilities (Kang et al. eq. 2).

    ``p_j(t) = (1 - t/T) p_j^IB + (t/T) p_j^CB`` with ``t/T`` given by
    :func:`progressive_weight`.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,) or ClassCounts
        Training samples per class, all positive.
    epoch : int
        The epoch, from 0.
    n_epochs : int
        Epochs of the run, at least 1.

    Returns
    -------
    p : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn_lt.sampling import progressive_probabilities
    >>> progressive_probabilities([30, 10], epoch=1, n_epochs=3)
    array([0.625, 0.375])
    """
    weight = progressive_weight(epoch, n_epochs)
    return (1 - weight) * power_probabilities(class_counts, 1.0) + weight * (
        power_probabilities(class_counts, 0.0)
    )


def target_counts(probabilities, n_samples):
    """Integer class counts summing to ``n_samples`` that follow ``probabilities``.

    Largest-remainder rounding of ``p_j * n_samples``: every count is within
    one of its expectation, so a resample carries no extra class-frequency
    noise (and instance-balanced sampling returns each class's own count).

    Parameters
    ----------
    probabilities : array-like of shape (n_classes,)
        Sampling probability of each class, summing to 1.
    n_samples : int
        The total.

    Returns
    -------
    counts : ndarray of shape (n_classes,), int64
    """
    p = np.asarray(probabilities, dtype=np.float64)
    exact = p * n_samples
    counts = np.floor(exact).astype(np.int64)
    short = int(n_samples - counts.sum())
    if short > 0:
        # stable sort: ties go to the earlier class, deterministically
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def group_rows(y_encoded, counts):
    """Row indices sorted by class, in row order within a class (``counts`` per class).

    A stable sort, which numpy runs as a radix sort on keys of 16 bits or
    fewer: O(n) for up to 65,536 classes.
    """
    keys = y_encoded.astype(np.uint16) if len(counts) <= 1 << 16 else y_encoded
    return np.argsort(keys, kind="stable")


def class_indices(y_encoded, n_classes):
    """Row indices of each class, as a list of ``n_classes`` int64 arrays."""
    counts = np.bincount(y_encoded, minlength=n_classes)
    return np.split(group_rows(y_encoded, counts), np.cumsum(counts)[:-1])


def draw_indices(per_class_indices, counts, random_state):
    """Draw ``counts[j]`` rows of each class and shuffle them together.

    Within a class the rows are taken as successive random permutations (as the
    official class-aware sampler cycles through each class): a class asked for
    fewer rows than it has is subsampled without replacement, one asked for
    more repeats every row before any row is repeated again.

    Parameters
    ----------
    per_class_indices : list of ndarray
        Output of :func:`class_indices`.
    counts : array-like of int, shape (n_classes,)
    random_state : numpy.random.RandomState

    Returns
    -------
    indices : ndarray of shape (sum(counts),), int64
    """
    sizes = np.array([len(rows) for rows in per_class_indices], dtype=np.int64)
    rows = np.concatenate(per_class_indices) if len(sizes) else np.empty(0, dtype=np.int64)
    return draw_grouped(rows.astype(np.int64, copy=False), sizes, counts, random_state)


def draw_grouped(rows, sizes, counts, random_state):
    """:func:`draw_indices` on the rows of all classes in one array, grouped by class.

    ``rows`` holds ``sizes[0]`` rows of the first class, then ``sizes[1]`` of
    the second... (:func:`group_rows`). Vectorised over classes: ``counts[j]
    // n_j`` whole rounds of class ``j`` are every row repeated that many
    times (their order is irrelevant, the final shuffle mixes everything), and
    the partial last round is a uniform subset of ``counts[j] % n_j`` rows
    drawn without replacement.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    if np.any((sizes == 0) & (counts > 0)):
        raise ValueError("Cannot draw samples from a class with zero samples.")
    if len(sizes) == 0 or counts.sum() == 0:
        return np.empty(0, dtype=np.int64)
    safe_sizes = np.maximum(sizes, 1)
    whole_rounds, partial = counts // safe_sizes, counts % safe_sizes
    indices = np.repeat(rows, np.repeat(whole_rounds, sizes))
    if partial.any():
        # A random permutation of all rows grouped by class with a stable sort
        # (radix for <= 16-bit labels): each class's rows come out in random
        # order, and its first ``partial[j]`` are a uniform subset.
        shuffled = random_state.permutation(len(rows))
        label_dtype = np.uint16 if len(sizes) <= 1 << 16 else np.int64
        labels = np.repeat(np.arange(len(sizes), dtype=label_dtype), sizes)
        grouped = shuffled[np.argsort(labels[shuffled], kind="stable")]
        rank_in_class = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        subset = grouped[rank_in_class < np.repeat(partial, sizes)]
        indices = np.concatenate([indices, rows[subset]])
    # In place: the same swaps as ``indices[random_state.permutation(n)]``.
    random_state.shuffle(indices)
    return indices


def draw_class_aware(rows, sizes, n_samples, n_per_visit, random_state):
    """Class-aware sampling: runs of ``n_per_visit`` rows of one class, the classes in cycles.

    A port of the decoupling code's ``ClassAwareSampler``
    (facebookresearch/classifier-balancing, ``data/ClassAwareSampler.py``,
    after OLTR): the classes are visited in cycles, each cycle a fresh random
    order of all classes; each visit takes the next ``n_per_visit`` rows of
    that class's own cycle through its rows, each cycle a fresh random
    permutation (a run may span two cycles, and a class with fewer rows than
    ``n_per_visit`` repeats rows within a run). The stream stops after
    ``n_samples`` rows, possibly inside a run. Vectorised: no Python loop
    over rows, visits or cycles.

    The reference keeps its cycles running from one epoch to the next; here
    every call starts fresh ones (the same class and row frequencies; only
    which rows fill a partial cycle at an epoch's end differs).

    Parameters
    ----------
    rows : ndarray of shape (n_rows,), int64
        Row indices grouped by class (:func:`group_rows`), ``sizes[j]`` of class ``j``.
    sizes : array-like of int, shape (n_classes,)
        Rows of each class, all positive.
    n_samples : int
        Length of the stream.
    n_per_visit : int
        Consecutive rows drawn from a class at each visit (``num_samples_cls``).
    random_state : numpy.random.RandomState

    Returns
    -------
    indices : ndarray of shape (n_samples,), int64
        Entries of ``rows``, in the order they are visited.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.sampling._probabilities import draw_class_aware
    >>> rows = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])  # class 0: 0-6, class 1: 7-8
    >>> idx = draw_class_aware(rows, [7, 2], 12, 3, np.random.RandomState(0))
    >>> idx.reshape(4, 3)  # visits of 3 rows; class 1's rows in cycles (7, 8), (8, 7), ...
    array([[5, 0, 2],
           [7, 8, 8],
           [7, 8, 7],
           [1, 6, 3]])
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    n_classes = len(sizes)
    if n_classes == 0 or np.any(sizes <= 0):
        raise ValueError("Class-aware sampling needs at least one row in every class.")
    n_visits = -(-n_samples // n_per_visit)
    n_cycles = -(-n_visits // n_classes)
    # The visited classes: cycles of random orders of all classes (RandomCycleIter).
    visited = random_state.random_sample((n_cycles, n_classes)).argsort(axis=1).ravel()
    visited = visited[:n_visits]
    visits = np.bincount(visited, minlength=n_classes)
    # Each class's stream: as many random permutations of its rows as its visits need.
    rounds = -(-visits * n_per_visit // sizes)
    lengths = rounds * sizes
    stream_start = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(n_classes), lengths)
    position = np.arange(lengths.sum()) - stream_start[owner]
    cycle = np.repeat(np.cumsum(rounds) - rounds, lengths) + position // sizes[owner]
    # Sorted by cycle + a random key in [0, 1/2): each cycle a random permutation of
    # its class (the sum never rounds into the next cycle; 10x faster than lexsort).
    order = np.argsort(cycle + 0.5 * random_state.random_sample(len(cycle)))
    row_start = np.cumsum(sizes) - sizes
    stream = rows[(row_start[owner] + position % sizes[owner])[order]]
    # Visit i of class c reads the next n_per_visit rows of c's stream.
    by_class = np.argsort(visited, kind="stable")
    rank = np.empty(n_visits, dtype=np.int64)
    rank[by_class] = np.arange(n_visits) - np.repeat(np.cumsum(visits) - visits, visits)
    first = stream_start[visited] + rank * n_per_visit
    return stream[(first[:, None] + np.arange(n_per_visit)).ravel()[:n_samples]]
