"""Class-sampling resamplers (Kang et al. 2020, section 3) in imbalanced-learn's API.

One class, :class:`PowerSampler`, implements the whole family; the named
samplers only fix ``q`` (or the schedule, for progressively-balanced).
The same objects resample a dataset (``fit_resample``) and produce the index
stream of each training epoch (``sample_indices``), so a head, a skorch
network and an imbalanced-learn pipeline all sample the same way.
"""

from numbers import Integral, Real

import numpy as np
import torch
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from ..utils import to_numpy
from ..utils._array import is_tensor, validate_labels
from ._probabilities import (
    draw_class_aware,
    draw_grouped,
    group_rows,
    power_probabilities,
    progressive_probabilities,
    target_counts,
)

__all__ = [
    "PowerSampler",
    "InstanceBalancedSampler",
    "ClassBalancedSampler",
    "SquareRootSampler",
    "ProgressivelyBalancedSampler",
    "ClassAwareSampler",
]


class PowerSampler(BaseSampler):
    """Resample so that class ``j`` is drawn with probability ``n_j**q / sum_i n_i**q``.

    Kang et al. (2020), eq. 1. ``q=1`` is instance-balanced sampling (the
    original class frequencies), ``q=0`` class-balanced and ``q=0.5``
    square-root sampling. The resample has ``n_samples`` rows (by default as
    many as the input), with class counts rounded from ``p_j * n_samples``:
    classes asked for more rows than they have are repeated (every row before
    any row twice), the others are subsampled without replacement.

    Parameters
    ----------
    q : float in [0, 1], default=1.0
        Exponent of the class counts.
    n_samples : int, default=None
        Rows of the resample (and of a training epoch); ``None`` keeps the
        number of input rows.
    random_state : int, RandomState instance or None, default=None
        Controls which rows are drawn.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of rows drawn for each class.
    sample_indices_ : ndarray of shape (n_samples_resampled,)
        Rows of the input that make up the resample, in order.
    class_counts_ : ndarray of shape (n_classes,)
        Samples per class of the input (before resampling); the long-tail
        scorers read it to split classes into many/medium/few-shot.
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features of the input.

    See Also
    --------
    InstanceBalancedSampler, ClassBalancedSampler, SquareRootSampler,
    ProgressivelyBalancedSampler, ClassAwareSampler

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import PowerSampler
    >>> X = np.arange(20).reshape(-1, 1)
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> X_res, y_res = PowerSampler(q=0.5, random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res)  # 4**0.5 : 2**0.5 = 2 : 1 of 20 rows
    array([13,  7])
    """

    _sampling_type = "bypass"

    _parameter_constraints = {
        "q": [Interval(Real, 0, 1, closed="both")],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, q=1.0, *, n_samples=None, random_state=None):
        self.q = q
        self.n_samples = n_samples
        self.random_state = random_state

    # imbalanced-learn's BaseSampler reads this; our target counts come from q.
    sampling_strategy = "auto"

    def class_probabilities(self, class_counts, *, epoch=None, n_epochs=None):
        """Sampling probability of each class, given the class counts.

        Parameters
        ----------
        class_counts : array-like of shape (n_classes,) or ClassCounts
            Training samples per class, all positive.
        epoch, n_epochs : int, default=None
            Position in a training run; only progressively-balanced sampling
            depends on it.

        Returns
        -------
        p : ndarray of shape (n_classes,)
        """
        self._validate_params()
        return power_probabilities(class_counts, self.q)

    def sample_indices(
        self, y, *, epoch=None, n_epochs=None, n_samples=None, random_state=None
    ):
        """Rows to visit in one training epoch (or one resample).

        Parameters
        ----------
        y : array-like or torch.Tensor of shape (n_samples,)
            Labels of the rows that may be drawn (the training split only).
        epoch, n_epochs : int, default=None
            Position in the training run (progressively-balanced sampling).
        n_samples : int, default=None
            Length of the stream; defaults to ``self.n_samples``, then to the
            sampler's epoch length (``len(y)``; see :meth:`epoch_indices`).
        random_state : int, RandomState instance or None, default=None
            Defaults to ``self.random_state``. Pass one ``RandomState`` for a
            whole training run to get a different, reproducible draw per epoch.

        Returns
        -------
        indices : ndarray of shape (n_samples,), int64
        """
        _, y_encoded, counts = validate_labels(y, len(y))
        rng = check_random_state(self.random_state if random_state is None else random_state)
        rows = group_rows(y_encoded, counts)
        return self.epoch_indices(
            rows, counts, rng, epoch=epoch, n_epochs=n_epochs, n_samples=n_samples
        )

    def epoch_indices(self, rows, class_counts, random_state, *, epoch=None, n_epochs=None,
                      n_samples=None):
        """Rows of one epoch (or one resample), in the order training visits them.

        The one draw behind :meth:`sample_indices`, ``fit_resample``,
        :class:`EpochIndexSampler` and the SGD epochs of the trained heads:
        a sampler that draws otherwise overrides this method only. Here:
        ``target_counts(p, n_samples)`` rows of each class (the probabilities
        ``p`` of :meth:`class_probabilities`), each class's rows taken as
        successive random permutations, all shuffled together.

        Parameters
        ----------
        rows : ndarray of shape (n_rows,), int64
            Row indices grouped by class: ``class_counts[0]`` rows of the
            first class, then ``class_counts[1]`` of the second...
        class_counts : ndarray of shape (n_classes,)
            Rows of each class in ``rows``, all positive.
        random_state : numpy.random.RandomState
            The stream the draw takes its randomness from.
        epoch, n_epochs : int, default=None
            Position in the training run (progressively-balanced sampling).
        n_samples : int, default=None
            Length of the epoch; defaults to ``self.n_samples``, then to the
            sampler's own epoch length (here the number of rows).

        Returns
        -------
        indices : ndarray of shape (n_samples,), int64
            Entries of ``rows``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_lt import ClassBalancedSampler
        >>> rows = np.array([10, 11, 12, 13, 20])  # 4 rows of a class, 1 of another
        >>> idx = ClassBalancedSampler().epoch_indices(rows, [4, 1], np.random.RandomState(0))
        >>> sorted(idx.tolist())  # 2.5 rows each, rounded: 3 distinct rows, and 20 twice
        [10, 11, 12, 20, 20]
        """
        p = self.class_probabilities(class_counts, epoch=epoch, n_epochs=n_epochs)
        n_samples = n_samples or self._epoch_length(class_counts)
        return draw_grouped(rows, class_counts, target_counts(p, n_samples), random_state)

    def _epoch_length(self, class_counts):
        """Rows of an epoch without ``n_samples`` passed: ``self.n_samples``, or every row."""
        return self.n_samples or int(np.sum(class_counts))

    def _check_X_y(self, X, y):
        # Drawing rows by index works on any 2-D data: strings, NaN, sparse.
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self,
            X=X,
            y=y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=False,
        )
        return X, y, binarize_y

    def fit_resample(self, X, y):
        """Resample the dataset.

        Parameters
        ----------
        X : {array-like, sparse matrix, dataframe, torch.Tensor} of shape (n_samples, n_features)
        y : array-like or torch.Tensor of shape (n_samples,)

        Returns
        -------
        X_resampled, y_resampled
            The drawn rows, each in its input's type (torch tensors stay on
            their device; lists, DataFrames and Series as imbalanced-learn
            returns them).
        """
        if is_tensor(X):
            return self._fit_resample_tensors(X, y)
        if is_tensor(y):
            # Any X imbalanced-learn takes (list, DataFrame, sparse), labels on y's device.
            X_res, _ = super().fit_resample(X, to_numpy(y))
            return X_res, y[torch.as_tensor(self.sample_indices_, device=y.device)]
        return super().fit_resample(X, y)

    def _fit_resample(self, X, y):
        self.classes_, y_encoded, self.class_counts_ = validate_labels(y, len(y))
        rng = check_random_state(self.random_state)
        self.sample_indices_ = self.epoch_indices(
            group_rows(y_encoded, self.class_counts_), self.class_counts_, rng
        )
        per_class = np.bincount(y_encoded[self.sample_indices_], minlength=len(self.classes_))
        self.sampling_strategy_ = dict(zip(self.classes_.tolist(), per_class.tolist()))
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(
            y, self.sample_indices_
        )

    def _fit_resample_tensors(self, X, y):
        self._validate_params()
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
        if len(X) != len(y):
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{len(X)}, {len(y)}]."
            )
        self.n_features_in_ = X.shape[1]
        self._fit_resample(np.empty((len(y), 0)), to_numpy(y))
        X_res = X[torch.as_tensor(self.sample_indices_, device=X.device)]
        if is_tensor(y):
            y_res = y[torch.as_tensor(self.sample_indices_, device=y.device)]
        else:
            y_res = _safe_indexing(y, self.sample_indices_)
        return X_res, y_res

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.sparse = True
        tags.sampler_tags.sample_indices = True
        return tags


class InstanceBalancedSampler(PowerSampler):
    """Instance-balanced sampling: every row equally likely (``q=1``).

    A resample of the default size is a random permutation of the input. This
    is the sampling of ordinary training, and the best one for learning
    representations (Kang et al. 2020, section 5.2).

    Parameters
    ----------
    n_samples : int, default=None
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import InstanceBalancedSampler
    >>> y = np.array([0, 0, 0, 1])
    >>> _, y_res = InstanceBalancedSampler(random_state=0).fit_resample(np.eye(4), y)
    >>> np.bincount(y_res)
    array([3, 1])
    """

    _parameter_constraints = {
        k: v for k, v in PowerSampler._parameter_constraints.items() if k != "q"
    }

    q = 1.0

    def __init__(self, *, n_samples=None, random_state=None):
        self.n_samples = n_samples
        self.random_state = random_state


class ClassBalancedSampler(PowerSampler):
    """Class-balanced sampling: every class equally likely (``q=0``).

    Used to re-train classifiers in the decoupled recipe (cRT, LWS).

    Parameters
    ----------
    n_samples : int, default=None
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import ClassBalancedSampler
    >>> y = np.array([0] * 9 + [1] * 3)
    >>> _, y_res = ClassBalancedSampler(random_state=0).fit_resample(np.eye(12), y)
    >>> np.bincount(y_res)
    array([6, 6])
    """

    _parameter_constraints = InstanceBalancedSampler._parameter_constraints

    q = 0.0

    def __init__(self, *, n_samples=None, random_state=None):
        self.n_samples = n_samples
        self.random_state = random_state


class SquareRootSampler(PowerSampler):
    """Square-root sampling (``q=1/2``), as in Mahajan et al. (2018).

    Parameters
    ----------
    n_samples : int, default=None
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import SquareRootSampler
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> SquareRootSampler().class_probabilities(np.bincount(y))
    array([0.66666667, 0.33333333])
    """

    _parameter_constraints = InstanceBalancedSampler._parameter_constraints

    q = 0.5

    def __init__(self, *, n_samples=None, random_state=None):
        self.n_samples = n_samples
        self.random_state = random_state


class ProgressivelyBalancedSampler(PowerSampler):
    """Progressively-balanced sampling (Kang et al. 2020, eq. 2).

    ``p_j(t) = (1 - t/T) p_j^IB + (t/T) p_j^CB``: instance-balanced at the
    first epoch, class-balanced at the last one (``t/T`` runs over
    ``np.linspace(0, 1, n_epochs)`` as in the official code).

    When it drives training (a head's trainer or ``BackboneEmbedder``), the
    schedule follows the training run: the trainer passes its own epoch and
    number of epochs. ``epoch`` and ``n_epochs`` below are used by
    ``fit_resample`` and by :meth:`class_probabilities` when called without them.

    Parameters
    ----------
    epoch : int, default=0
        Epoch (0-based) whose probabilities ``fit_resample`` uses.
    n_epochs : int, default=10
        Length of the schedule, ``T``.
    n_samples : int, default=None
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> from sklearn_lt import ProgressivelyBalancedSampler
    >>> sampler = ProgressivelyBalancedSampler(n_epochs=3)
    >>> for t in range(3):
    ...     print(sampler.class_probabilities([30, 10], epoch=t))
    [0.75 0.25]
    [0.625 0.375]
    [0.5 0.5]
    """

    _parameter_constraints = {
        **InstanceBalancedSampler._parameter_constraints,
        "epoch": [Interval(Integral, 0, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, epoch=0, n_epochs=10, n_samples=None, random_state=None):
        self.epoch = epoch
        self.n_samples = n_samples
        self.random_state = random_state
        self.n_epochs = n_epochs

    def class_probabilities(self, class_counts, *, epoch=None, n_epochs=None):
        """Sampling probability of each class at an epoch of the run (Kang et al. eq. 2).

        Parameters
        ----------
        class_counts : array-like of shape (n_classes,) or ClassCounts
            Training samples per class, all positive.
        epoch, n_epochs : int, default=None
            Position in a training run; ``None`` takes the sampler's own
            ``epoch`` and ``n_epochs``.

        Returns
        -------
        p : ndarray of shape (n_classes,)
        """
        self._validate_params()
        return progressive_probabilities(
            class_counts,
            self.epoch if epoch is None else epoch,
            self.n_epochs if n_epochs is None else n_epochs,
        )


class ClassAwareSampler(PowerSampler):
    """Class-aware sampling as cRT's code runs it: runs of ``n_per_visit`` rows of one class.

    Class-balanced sampling in the order of the decoupling code's
    ``ClassAwareSampler`` (Kang et al. 2020; facebookresearch/classifier-
    balancing, ``data/ClassAwareSampler.py``, with ``num_samples_cls=4`` in
    its cRT and LWS configurations): the classes are visited in cycles, each
    a fresh random order of all classes, and each visit yields the next
    ``n_per_visit`` rows of that class's own cycle through its rows (each
    cycle a fresh permutation). A training epoch's mini-batches are
    consecutive runs of this stream, as a ``DataLoader`` reads the reference
    sampler. An epoch has ``max_j n_j * n_classes`` rows, the reference's
    ``__len__`` (:class:`ClassBalancedSampler` draws as many rows as the
    data has).

    Every class is drawn equally often: :meth:`class_probabilities` is
    uniform, as :class:`ClassBalancedSampler`'s, and so is its loss in
    expectation: under the heads' L-BFGS solver the two samplers give the
    same fit. The order (runs of one class) and the epoch's length matter
    to SGD only. Each epoch starts fresh cycles, where the reference carries
    them over from one epoch to the next (see
    :func:`~sklearn_lt.sampling._probabilities.draw_class_aware`).

    Parameters
    ----------
    n_per_visit : int >= 1, default=4
        Consecutive rows drawn from a class at each visit (the reference's
        ``num_samples_cls``; 4 in cRT's configurations).
    n_samples : int, default=None
        Rows of an epoch (and of a resample); ``None``: ``max_j n_j *
        n_classes``, as the reference.
    random_state : int, RandomState instance or None, default=None
        Controls the order of the classes and of their rows.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of rows drawn for each class.
    sample_indices_ : ndarray of shape (n_samples_resampled,)
        Rows of the input that make up the resample, in order.
    class_counts_ : ndarray of shape (n_classes,)
        Samples per class of the input (before resampling).
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features of the input.

    See Also
    --------
    ClassBalancedSampler : The same class probabilities, rows shuffled together.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import ClassAwareSampler
    >>> y = np.array([0] * 6 + [1] * 2 + [2] * 4)
    >>> _, y_res = ClassAwareSampler(n_per_visit=2, random_state=0).fit_resample(np.eye(12), y)
    >>> y_res  # 6 rows x 3 classes, in runs of 2
    array([0, 0, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2, 0, 0, 1, 1, 2, 2])
    """

    _parameter_constraints = {
        **InstanceBalancedSampler._parameter_constraints,
        "n_per_visit": [Interval(Integral, 1, None, closed="left")],
    }

    q = 0.0

    def __init__(self, n_per_visit=4, *, n_samples=None, random_state=None):
        self.n_per_visit = n_per_visit
        self.n_samples = n_samples
        self.random_state = random_state

    def epoch_indices(self, rows, class_counts, random_state, *, epoch=None, n_epochs=None,
                      n_samples=None):
        """Rows of one epoch: visits of ``n_per_visit`` rows, the classes in cycles.

        Parameters
        ----------
        rows : ndarray of shape (n_rows,), int64
            Row indices grouped by class: ``class_counts[0]`` rows of the
            first class, then ``class_counts[1]`` of the second...
        class_counts : ndarray of shape (n_classes,)
            Rows of each class in ``rows``, all positive.
        random_state : numpy.random.RandomState
            The stream the draw takes its randomness from.
        epoch, n_epochs : int, default=None
            Position in the training run (the order does not depend on it).
        n_samples : int, default=None
            Length of the epoch; defaults to ``self.n_samples``, then to
            ``max(class_counts) * len(class_counts)``.

        Returns
        -------
        indices : ndarray of shape (n_samples,), int64
            Entries of ``rows``, in the order they are visited.
        """
        self._validate_params()
        n_samples = n_samples or self._epoch_length(class_counts)
        return draw_class_aware(rows, class_counts, n_samples, self.n_per_visit, random_state)

    def _epoch_length(self, class_counts):
        """``self.n_samples``, or the reference's ``max_j n_j * n_classes``."""
        counts = np.asarray(class_counts)
        return self.n_samples or int(counts.max()) * len(counts)
