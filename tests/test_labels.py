"""Label encoding: ``validate_labels`` (every head's fit, the samplers) is ``np.unique``.

Small integer ranges are encoded in O(n) with a lookup table (issue #26); every
other label kind takes one sort. Either way the result is exactly
``np.unique(y, return_inverse=True, return_counts=True)``, and the labels the
caller passed are never handed back to be written to.
"""

import numpy as np
import pytest
import torch

from sklearn_lt.utils._array import validate_labels

LABELS = {
    "ints": np.array([5, 3, 5, 9, 3, 3]),
    "ints 0..C-1": np.array([2, 0, 1, 1, 2, 0]),
    "negative ints": np.array([-4, 2, 2, -4, 100], dtype=np.int16),
    "uint8": np.arange(10, dtype=np.uint8)[::-1],
    "huge range": np.array([0, 2**40, 7, 0]),
    "int64 extremes": np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    "uint64 above int64": np.array([2**63 + 5, 3, 2**63 + 5], dtype=np.uint64),
    "floats": np.array([2.0, 1.0, 2.0, -7.0]),  # integral: 2.5 is a regression target
    "strings": np.array(["b", "a", "b", "c"]),
    "objects": np.array(["b", "a", "b"], dtype=object),
    "bool": np.array([True, False, True, True]),
    "many classes": np.random.RandomState(0).randint(0, 8142, 20_000),
}


@pytest.mark.parametrize("labels", LABELS.values(), ids=LABELS.keys())
def test_validate_labels_is_numpy_unique(labels):
    classes, encoded, counts = validate_labels(labels, len(labels))
    ref_classes, ref_encoded, ref_counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(classes, ref_classes)
    assert classes.dtype == ref_classes.dtype
    np.testing.assert_array_equal(encoded, ref_encoded)
    np.testing.assert_array_equal(counts, ref_counts)
    assert encoded.dtype == np.int64 and counts.dtype == np.int64


@pytest.mark.parametrize("as_tensor", [False, True])
def test_validate_labels_never_returns_the_callers_labels(as_tensor):
    """int64 labels 0..C-1 encode to themselves: the result must still be a copy."""
    y = np.array([1, 0, 2, 1])
    labels = torch.from_numpy(y) if as_tensor else y
    _, encoded, _ = validate_labels(labels, len(y))
    np.testing.assert_array_equal(encoded, y)
    assert not np.shares_memory(encoded, y)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([0.5, 1.5, 0.5]), "Unknown label type"),
        (np.array([1.0, np.nan, 0.0]), "NaN"),
        (np.array([3, 3, 3]), r"2 or more classes are needed.*\[3\]"),
        (np.array([[0, 1], [1, 0]]), "y must be 1-D"),
    ],
)
def test_validate_labels_refusals(y, match):
    with pytest.raises(ValueError, match=match):
        validate_labels(y, len(y))
