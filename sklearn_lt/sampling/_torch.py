"""A torch ``Sampler`` that draws each epoch's rows from a package sampler."""

import torch.utils.data
from sklearn.utils import check_random_state

from .._counts import ClassCounts
from ..utils import to_numpy
from ..utils._array import validate_labels
from ._probabilities import group_rows

__all__ = ["EpochIndexSampler"]


class EpochIndexSampler(torch.utils.data.Sampler):
    """Feed a ``DataLoader`` with the rows a :class:`PowerSampler` draws per epoch.

    Built from the labels of the rows the loader iterates over (the training
    split, never the full ``y``). Call :meth:`set_epoch` at the start of each
    epoch so that progressively-balanced sampling moves along its schedule;
    each epoch draws anew from one random stream, so a run is reproducible
    under ``random_state``.

    Parameters
    ----------
    sampler : PowerSampler
        Any sampler of :mod:`sklearn_lt.sampling`.
    y : array-like or torch.Tensor of shape (n_samples,)
        Labels of the dataset the loader reads.
    n_epochs : int, default=1
        Length of the training run (the progressive schedule's ``T``).
    random_state : int, RandomState instance or None, default=None
        Defaults to the sampler's own ``random_state``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import ClassBalancedSampler
    >>> from sklearn_lt.sampling import EpochIndexSampler
    >>> y = np.array([0] * 6 + [1] * 2)
    >>> index_sampler = EpochIndexSampler(ClassBalancedSampler(), y, random_state=0)
    >>> np.bincount(y[list(index_sampler)])
    array([4, 4])
    """

    def __init__(self, sampler, y, *, n_epochs=1, random_state=None):
        self.sampler = sampler
        self.y = to_numpy(y)
        self.n_epochs = n_epochs
        self.epoch = 0
        seed = sampler.random_state if random_state is None else random_state
        # an int gives a stream of its own (check_random_state makes a new RandomState)
        self._rng = check_random_state(seed)
        self._grouped = None  # (y, rows grouped by class, class counts), made at first use

    def set_epoch(self, epoch):
        """Move to ``epoch`` (0-based) of the run.

        Parameters
        ----------
        epoch : int
            The epoch about to run.
        """
        self.epoch = epoch

    def class_probabilities(self):
        """Class sampling probabilities of the current epoch.

        Returns
        -------
        p : ndarray of shape (n_classes,)
        """
        return self.sampler.class_probabilities(
            ClassCounts.from_labels(self.y),
            epoch=min(self.epoch, self.n_epochs - 1),
            n_epochs=self.n_epochs,
        )

    def _rows_by_class(self):
        """Rows grouped by class and the class counts of ``y``: computed once, not per epoch."""
        if self._grouped is None or self._grouped[0] is not self.y:
            _, y_encoded, counts = validate_labels(self.y, len(self.y))
            self._grouped = (self.y, group_rows(y_encoded, counts), counts)
        return self._grouped[1:]

    def __iter__(self):
        # The draw of ``sampler.sample_indices(y, ...)``, without re-encoding y each epoch.
        indices = self.sampler.epoch_indices(
            *self._rows_by_class(),
            self._rng,
            epoch=min(self.epoch, self.n_epochs - 1),
            n_epochs=self.n_epochs,
        )
        return iter(indices.tolist())

    def __getstate__(self):
        return {**self.__dict__, "_grouped": None}  # recomputed after unpickling

    def __len__(self):
        return self.sampler._epoch_length(self._rows_by_class()[1])
