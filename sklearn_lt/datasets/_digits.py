"""scikit-learn's bundled digits as a small long-tailed benchmark (digits-LT)."""

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._long_tailed import PROFILES, log_thirds_thresholds, make_long_tailed

__all__ = ["load_digits_lt"]

IMAGES_SHAPE = (1, 8, 8)


def _describe(bunch):
    counts = ", ".join(f"{c}: {n}" for c, n in zip(bunch.class_order, bunch.class_counts))
    many, few = bunch.shot_thresholds
    return f"""\
.. _digits_lt_dataset:

Long-tailed digits (digits-LT)
------------------------------

scikit-learn's bundled optical-recognition digits (1797 8x8 images, about 180 per
class, 10 classes; see ``sklearn.datasets.load_digits``) split into a balanced
test set and a long-tailed training set, the way CIFAR-LT is built from CIFAR.

- Test set: {bunch.n_test_per_class} images of every class ({len(bunch.y_test)} in all).
- Training set: from the remaining images, the {bunch.profile} profile of
  ``make_long_tailed`` with imbalance ratio {bunch.imbalance_ratio} and
  n_max={bunch.class_counts[0]}; {len(bunch.y_train)} images. Per class, head first:
  {counts}.
- Shot splits (``shot_thresholds``): many = more than {many} training images,
  few = fewer than {few}, medium = {few}..{many} inclusive (the log-space thirds of
  the count range, where the standard 100/20 sit on CIFAR-100-LT).
- Features: pixel counts 0..16 divided by 16, so in [0, 1]; float32. As images
  the shape is (n, 1, 8, 8).
"""


@validate_params(
    {
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "n_test_per_class": [Interval(Integral, 1, None, closed="left")],
        "n_val_per_class": [Interval(Integral, 0, None, closed="left")],
        "profile": [StrOptions(set(PROFILES))],
        "class_order": ["array-like", None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "as_images": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_lt(
    *,
    imbalance_ratio=50,
    n_test_per_class=50,
    n_val_per_class=0,
    profile="exponential",
    class_order=None,
    random_state=None,
    return_X_y=False,
    as_images=False,
):
    """Load digits-LT: a long-tailed train set and a balanced test set from digits.

    scikit-learn's bundled :func:`~sklearn.datasets.load_digits` (1797 images,
    174 to 183 per class) is split per class into a balanced test set of
    ``n_test_per_class`` images and the rest, from which
    :func:`make_long_tailed` draws the training set with ``n_max`` equal to
    the smallest remaining class.

    With the defaults (IR 50, 50 test images per class) the training set
    has 342 images, per class (digit 0 first)
    ``[124, 80, 51, 33, 21, 14, 9, 5, 3, 2]``, the test set 500, and the
    recommended shot thresholds ``(31, 8)`` split the classes 4 many
    (digits 0-3), 3 medium (4-6) and 3 few (7-9). The standard thresholds
    (100, 20) would leave only one class in "many"; see
    :func:`log_thirds_thresholds` for how ours are placed.

    Parameters
    ----------
    imbalance_ratio : float >= 1, default=50
        Head count over tail count (before rounding down).
    n_test_per_class : int, default=50
        Test images of every class; at most 173 (the smallest class has 174
        images and keeps at least one for training).
    n_val_per_class : int, default=0
        Images of every class set aside as a balanced validation set (like
        ImageNet-LT's 20 per class), for choosing hyper-parameters such as
        tau without touching the test set. They are taken before the
        training set, so ``n_max`` shrinks by as many.
    profile : {"exponential", "step"}, default="exponential"
        See :func:`long_tailed_counts`. The step profile has no medium classes.
    class_order : array-like of shape (10,), default=None
        The digits, head first. Default: 0, 1, ..., 9.
    random_state : int, RandomState instance or None, default=None
        ``None``: no randomness; each class's **last** ``n_test_per_class``
        images (in the file's order) form the test set and the training set
        takes the first images of the rest, as :func:`make_long_tailed` does.
        Otherwise the test images and the training subset are drawn at random
        from one stream, so the same ``random_state`` gives the same split.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of the Bunch.
    as_images : bool, default=False
        Give ``X`` as images of shape (n, 1, 8, 8) instead of (n, 64).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with

        X_train, y_train : ndarray of shape (n_train, 64) float32 and (n_train,) int64
            The long-tailed training set, grouped by class, head first. Pixel
            values in [0, 1] (the original 0..16 divided by 16).
        X_test, y_test : ndarray of shape (n_test, 64) float32 and (n_test,) int64
            The balanced test set.
        X_val, y_val : ndarray of shape (n_val, 64) float32 and (n_val,) int64
            The balanced validation set (empty unless ``n_val_per_class > 0``).
        class_order : ndarray of shape (10,)
            The digits, head first.
        class_counts : ndarray of shape (10,), int64
            Training images per class, aligned with ``class_order``.
        shot_thresholds : tuple ``(many, few)``
            Recommended split thresholds: many ``> many``, few ``< few``.
        train_indices, test_indices, val_indices : ndarray of int64
            Rows of ``sklearn.datasets.load_digits()`` taken for each set.
        images_shape : tuple
            ``(1, 8, 8)``: one channel, 8x8 pixels.
        target_names : ndarray of shape (10,)
            The digits' names.
        imbalance_ratio, profile, n_test_per_class
            The construction.
        DESCR : str
            Description of the dataset, with the counts.
    (X_train, y_train, X_test, y_test) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklearn_lt.datasets import load_digits_lt
    >>> digits = load_digits_lt()
    >>> digits.class_counts
    array([124,  80,  51,  33,  21,  14,   9,   5,   3,   2])
    >>> digits.X_train.shape, digits.X_test.shape
    ((342, 64), (500, 64))
    >>> digits.shot_thresholds
    (31, 8)
    """
    digits = load_digits()
    y_all = digits.target.astype(np.int64)
    classes = np.unique(y_all)
    smallest = int(np.bincount(y_all).min())
    held_out = n_test_per_class + n_val_per_class
    if held_out >= smallest:
        raise ValueError(
            f"n_test_per_class={n_test_per_class} and n_val_per_class={n_val_per_class} "
            f"leave no training image in the smallest digits class ({smallest} images); "
            f"use at most {smallest - 1} together."
        )
    rng = None if random_state is None else check_random_state(random_state)

    test_parts, val_parts, rest_parts = [], [], []
    for c in classes:
        idx = np.flatnonzero(y_all == c)
        if rng is not None:
            rng.shuffle(idx)
        else:
            idx = idx[::-1]  # held-out images come from the end of the file
        test_parts.append(np.sort(idx[:n_test_per_class]))
        val_parts.append(np.sort(idx[n_test_per_class:held_out]))
        rest_parts.append(np.sort(idx[held_out:]))
    test_indices = np.concatenate(test_parts).astype(np.int64)
    val_indices = np.concatenate(val_parts).astype(np.int64)
    rest = np.concatenate(rest_parts)
    rest.sort()

    lt = make_long_tailed(
        None,
        y_all[rest],
        imbalance_ratio=imbalance_ratio,
        profile=profile,
        class_order=class_order,
        random_state=rng,
    )
    train_indices = rest[lt.indices].astype(np.int64)

    X_all = (digits.data / 16.0).astype(np.float32)
    shape = (-1, *IMAGES_SHAPE) if as_images else (-1, X_all.shape[1])
    X_train = X_all[train_indices].reshape(shape)
    X_test = X_all[test_indices].reshape(shape)
    y_train, y_test = y_all[train_indices], y_all[test_indices]
    X_val, y_val = X_all[val_indices].reshape(shape), y_all[val_indices]
    if return_X_y:
        return X_train, y_train, X_test, y_test

    bunch = Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        X_val=X_val,
        y_val=y_val,
        class_order=lt.class_order,
        class_counts=lt.class_counts,
        shot_thresholds=log_thirds_thresholds(lt.class_counts),
        train_indices=train_indices,
        test_indices=test_indices,
        val_indices=val_indices,
        images_shape=IMAGES_SHAPE,
        target_names=digits.target_names,
        imbalance_ratio=imbalance_ratio,
        profile=profile,
        n_test_per_class=n_test_per_class,
    )
    bunch.DESCR = _describe(bunch)
    return bunch
