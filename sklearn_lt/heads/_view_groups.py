"""Rows grouped by image, for stage two on augmented views (``transform_views``).

The official stage two of the decoupling code and of LOS/LORT reads the
training images through the frozen backbone with a new random augmentation at
every epoch: each epoch sees *one* view of every image, and the class-aware
sampler counts images. With ``K`` precomputed views per image (rows of ``X``
grouped by ``groups``), the trainer reproduces that by drawing, each epoch,
one view of each image and sampling over the images (see
:func:`~sklearn_lt.heads._trainer.train`).
"""

import numpy as np

from ..utils import to_numpy

__all__ = ["ViewGroups"]


class ViewGroups:
    """The rows (views) of each image: labels, counts and one view per image per epoch.

    Parameters
    ----------
    groups : array-like or torch.Tensor of shape (n_samples,)
        The image of each row, any labels (``transform_views``'s groups).
    y_encoded : ndarray of shape (n_samples,)
        Class index of each row.

    Attributes
    ----------
    codes : ndarray of shape (n_samples,), int64
        The image of each row as ``0 .. n_groups - 1`` (sorted labels).
    rows : ndarray of shape (n_samples,), int64
        The rows sorted by image (row order within an image).
    sizes : ndarray of shape (n_groups,), int64
        Views per image.
    labels : ndarray of shape (n_groups,), int64
        Class index of each image.

    Raises
    ------
    ValueError
        When ``groups`` is not one value per row, or the views of an image
        have different labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.heads._view_groups import ViewGroups
    >>> views = ViewGroups(["a", "a", "b", "b", "b"], np.array([0, 0, 1, 1, 1]))
    >>> views.labels, views.sizes
    (array([0, 1]), array([2, 3]))
    >>> views.row_weights().round(2)  # every image weighs one row
    array([0.5 , 0.5 , 0.33, 0.33, 0.33])
    >>> views.pick(np.random.RandomState(0)).shape  # one view of each image
    (2,)
    """

    def __init__(self, groups, y_encoded):
        groups = np.asarray(to_numpy(groups))
        y_encoded = np.asarray(y_encoded)
        if groups.ndim != 1 or len(groups) != len(y_encoded):
            raise ValueError(
                f"groups has shape {groups.shape}, y has {len(y_encoded)} rows: groups "
                "gives the image of each row (transform_views's second value)."
            )
        _, codes = np.unique(groups, return_inverse=True)
        self.codes = codes.reshape(-1).astype(np.int64)
        self.rows = np.argsort(self.codes, kind="stable")
        self.sizes = np.bincount(self.codes)
        self._starts = np.cumsum(self.sizes) - self.sizes
        self.labels = y_encoded[self.rows[self._starts]]
        mixed = y_encoded[self.rows] != np.repeat(self.labels, self.sizes)
        if mixed.any():
            image = groups[self.rows[np.flatnonzero(mixed)[0]]]
            raise ValueError(
                f"The rows of group {image!r} have different labels: the views of an "
                "image share its label (pass y[groups] with transform_views's groups)."
            )

    @property
    def n_groups(self):
        """The number of images."""
        return len(self.sizes)

    def class_counts(self, n_classes):
        """Images per class, ``(n_classes,)``: what the sampler counts."""
        return np.bincount(self.labels, minlength=n_classes)

    def row_weights(self):
        """``1 / (views of its image)`` for each row: every image weighs one row."""
        return 1.0 / self.sizes[self.codes]

    def pick(self, rng):
        """One row of each image (``(n_groups,)``, in image order), uniformly at random."""
        return self.rows[self._starts + rng.randint(0, self.sizes)]
