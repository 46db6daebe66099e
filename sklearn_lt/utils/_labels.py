"""Labels: the one place that compares them, and their O(n) encoding.

Class labels may be numbers or strings (1-D numpy arrays here; ``as_labels``
and ``validate_labels`` in ``_array`` make them from lists and tensors).
Everything that matches labels to classes (the class counts, the shot splits,
the metrics, the samplers and the heads' label validation) goes through these
helpers. Small integer labels, the common case, are encoded with a lookup
table in O(n) where ``np.unique`` sorts in O(n log n).
"""

from numbers import Real

import numpy as np

__all__ = [
    "check_finite_labels",
    "check_same_label_kind",
    "encode_labels",
    "label_kind",
    "label_positions",
    "label_positions_sorted",
]


def check_finite_labels(labels, name="labels"):
    """Refuse NaN and infinite labels: NaN never equals itself, so it matches nothing."""
    if labels.dtype.kind in "fc":
        bad = ~np.isfinite(labels)
    elif labels.dtype.kind == "O":
        bad = np.array([isinstance(v, Real) and not np.isfinite(v) for v in labels.tolist()])
    else:
        return
    if bad.any():
        raise ValueError(
            f"{name} holds non-finite labels {np.unique(labels[bad]).tolist()}: a NaN label "
            "equals no label, not even itself, so it can be neither counted nor matched; "
            "drop those rows or give them a real label."
        )


def label_kind(labels):
    """``"str"`` or ``"number"``: the kind of a label array, as scikit-learn separates them."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "US":
        return "str"
    if labels.dtype.kind == "O":
        kinds = {isinstance(v, str) for v in labels.tolist()}
        if kinds == {True}:
            return "str"
        if kinds == {True, False}:
            raise ValueError(
                "Mix of label input types (string and number) in one array: "
                f"{np.unique(labels.astype(str))[:10].tolist()}."
            )
    return "number"


def check_same_label_kind(**arrays):
    """Raise scikit-learn's "Mix of label input types" for strings against numbers."""
    kinds = {name: label_kind(a) for name, a in arrays.items() if len(a)}
    if len(set(kinds.values())) > 1:
        plural = {"str": "strings", "number": "numbers"}
        described = ", ".join(f"{name} holds {plural[kind]}" for name, kind in kinds.items())
        raise ValueError(f"Mix of label input types (string and number): {described}.")


def _dense_range(labels, n_rows):
    """``(low, span)`` of integer labels whose range is small enough for a lookup table.

    A table of ``span`` entries is built and read in O(n) where a search or a
    sort costs O(n log n) (the labels of iNaturalist, 437,513 rows of 8,142
    classes: 13x faster); ``None`` for other labels (strings, floats, sparse
    or huge integer ranges), which take the sorting path.
    """
    if labels.dtype.kind not in "iu" or len(labels) == 0:
        return None
    low, high = int(labels.min()), int(labels.max())
    span = high - low + 1
    if span > max(4 * n_rows, 1 << 16) or high > np.iinfo(np.int64).max:
        return None
    return low, span


def _offsets(labels, low):
    """``labels - low`` as int64 (``labels`` itself when it already is that)."""
    labels = labels.astype(np.int64, copy=False)
    return labels if low == 0 else labels - low


def encode_labels(labels):
    """``np.unique(labels, return_inverse=True, return_counts=True)`` of 1-D numpy labels.

    Returns ``(classes, index, counts)``: the sorted distinct labels, the
    int64 index of each label in them, and the count of each class. Small
    integer labels are counted with ``np.bincount`` and mapped through a
    lookup table, in O(n) (``index`` may then be ``labels`` itself: do not
    write to it); others take one sort.

    Examples
    --------
    >>> from sklearn_lt.utils._labels import encode_labels
    >>> encode_labels(np.array([7, 3, 7, 7]))
    (array([3, 7]), array([1, 0, 1, 1]), array([1, 3]))
    """
    dense = _dense_range(labels, len(labels))
    if dense is None:
        classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
        return classes, index.reshape(-1).astype(np.int64, copy=False), counts
    low, span = dense
    offsets = _offsets(labels, low)
    counts = np.bincount(offsets, minlength=span)
    present = np.flatnonzero(counts)
    classes = (present + low).astype(labels.dtype)
    if len(present) == span:
        return classes, offsets, counts
    table = np.zeros(span, dtype=np.int64)
    table[present] = np.arange(len(present))
    return classes, table[offsets], counts[present]


def label_positions(classes, labels):
    """Index of each label of ``labels`` in ``classes`` (any order), -1 where absent.

    Both are 1-D numpy arrays of the same kind (see :func:`check_same_label_kind`);
    ``classes`` holds distinct labels.
    """
    if len(labels) == 0 or len(classes) == 0:
        return np.full(len(labels), -1, dtype=np.int64)
    dense = _dense_range(classes, len(labels))
    # (uint64 labels may not fit the int64 offsets: they take the search)
    if dense is not None and labels.dtype.kind in "iu" and labels.dtype != np.uint64:
        low, span = dense
        # One more entry, -1, for the labels outside the classes' range.
        table = np.full(span + 1, -1, dtype=np.int64)
        table[_offsets(classes, low)] = np.arange(len(classes))
        offsets = _offsets(labels, low)
        inside = offsets.view(np.uint64) < span  # negative offsets wrap past span
        if not inside.all():
            return table[np.where(inside, offsets, span)]
        identity = len(classes) == span and np.array_equal(table[:-1], np.arange(span))
        if not identity:
            return table[offsets]
        return labels.copy() if offsets is labels else offsets  # never the caller's array
    return label_positions_sorted(classes, labels)


def label_positions_sorted(classes, labels):
    """:func:`label_positions` by binary search: any labels, O(n log C)."""
    order = np.argsort(classes, kind="stable")
    index = np.clip(np.searchsorted(classes[order], labels), 0, len(classes) - 1)
    found = classes[order][index] == labels
    return np.where(found, order[index], -1).astype(np.int64)
