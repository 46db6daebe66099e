"""Array/tensor helpers: the one place that knows about numpy vs torch.

Every estimator of the package computes in torch. These helpers turn what the
caller passed into a tensor (validated the scikit-learn way for numpy, by hand
for torch) and turn results back into the caller's type and device.
"""

import copy
import warnings

import numpy as np
import torch
from sklearn import get_config
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import assert_all_finite, validate_data

from ._labels import encode_labels

__all__ = [
    "as_labels",
    "check_finite",
    "feature_names",
    "is_tensor",
    "to_numpy",
    "to_tensor",
    "like_input",
    "record_features",
    "validate_features",
    "validate_features_for_fit",
    "validate_labels",
    "resolve_device",
    "two_class_rows",
]

_FLOAT_DTYPES = (torch.float32, torch.float64)


def is_tensor(x):
    """Return True when ``x`` is a :class:`torch.Tensor`."""
    return isinstance(x, torch.Tensor)


def to_numpy(x):
    """Return ``x`` as a numpy array (tensors are moved to the CPU first).

    What the heads answer is in the caller's type (a tensor in, a tensor out):
    this turns either into numpy, e.g. for a scikit-learn metric.

    Parameters
    ----------
    x : array-like or torch.Tensor
        A tensor on any device (bfloat16 is widened, exactly, to float32:
        numpy has no bfloat16), or anything ``np.asarray`` takes.

    Returns
    -------
    ndarray
        ``x`` as numpy; a CPU tensor's memory is shared, not copied.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.utils import to_numpy
    >>> to_numpy(torch.tensor([1.0, 2.0]))
    array([1., 2.], dtype=float32)
    """
    if is_tensor(x):
        if x.device.type == "meta":
            raise ValueError(
                "Got a tensor on the 'meta' device, which holds shapes but no values: "
                "move it to a real device (e.g. .to('cpu')) first."
            )
        x = x.detach().cpu()
        # numpy has no bfloat16: widen it (exactly) to float32
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def to_tensor(x, *, device=None, dtype=None):
    """Return ``x`` as a tensor on ``device`` without copying when possible.

    Read-only numpy arrays (memory maps) are wrapped without a copy: torch
    warns that they are not writable, but nothing here ever writes to input.
    Views with negative strides (``X[::-1]``, ``np.flip``, a frame's reversed
    columns), which torch cannot wrap, are the only ones copied.

    Parameters
    ----------
    x : array-like or torch.Tensor
        An object array is converted to float64 first.
    device : str or torch.device, default=None
        Where the result lives; ``None`` keeps a tensor's device (numpy goes
        to the CPU).
    dtype : torch.dtype, default=None
        The result's dtype; ``None`` keeps ``x``'s.

    Returns
    -------
    torch.Tensor
        ``x`` as a tensor, sharing its memory where no move or cast is asked.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.utils import to_tensor
    >>> to_tensor(np.arange(3.0)[::-1])
    tensor([2., 1., 0.], dtype=torch.float64)
    """
    if is_tensor(x):
        return x.to(device=device if device is not None else x.device, dtype=dtype)
    x = np.asarray(x)
    if any(stride < 0 for stride in x.strides):
        x = np.ascontiguousarray(x)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(x) if x.dtype != object else torch.as_tensor(x.astype(float))
    return t.to(device=device, dtype=dtype)


def like_input(result, reference):
    """Return tensor ``result`` in the type of ``reference``.

    Torch in means torch out (on ``reference``'s device); anything else gives
    numpy out.
    """
    if is_tensor(reference):
        return result.to(reference.device)
    return result.detach().cpu().numpy()


def resolve_device(device, X):
    """The device to compute on: ``device`` when given, else ``X``'s device."""
    if device is not None:
        return torch.device(device)
    if is_tensor(X):
        return X.device
    return torch.device("cpu")


def check_finite(X, name="X"):
    """Raise ``ValueError`` if tensor ``X`` holds NaN or infinity.

    A finite sum proves every entry finite (NaN and inf propagate) at the cost
    of one reduction and no temporary; only an overflowing sum needs the
    elementwise check, whose masks would cost more memory than X itself.
    ``sklearn.set_config(assume_finite=True)`` skips it, as for numpy input.
    """
    if (
        not get_config()["assume_finite"]
        and not bool(torch.isfinite(X.sum()))
        and not bool(torch.isfinite(X).all())
    ):
        raise ValueError(f"Input {name} contains NaN or infinity.")


def validate_features(estimator, X, *, reset, device=None):
    """Validate a 2-D float feature matrix and return it as a tensor.

    numpy-like input goes through scikit-learn's ``validate_data`` (so feature
    names, ``n_features_in_`` and the usual error messages behave as in
    scikit-learn). Torch tensors are checked here with the same rules: 2-D,
    non-empty, finite, float32 or float64 (float16/bfloat16/integers are
    upcast to float32), and ``n_features_in_`` is recorded or checked.

    Parameters
    ----------
    estimator : estimator
        Where ``n_features_in_`` is recorded (``reset=True``) or checked.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
    reset : bool
        True in ``fit``, False in ``predict`` and friends.
    device : str or torch.device, default=None
        Move the result there; ``None`` keeps a tensor's own device (numpy
        goes to the CPU).

    Returns
    -------
    X : torch.Tensor of shape (n_samples, n_features), float32 or float64
    """
    if not is_tensor(X):
        X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32])
        return to_tensor(X, device=device)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D tensor of shape (n_samples, n_features), got shape "
            f"{tuple(X.shape)}. Reshape your data with X.reshape(-1, 1) for a "
            "single feature or X.reshape(1, -1) for a single sample."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found a tensor with shape {tuple(X.shape)}: at least one sample and "
            "one feature are required."
        )
    if X.is_complex():
        raise ValueError("Complex data not supported.")
    if X.device.type == "meta":
        raise ValueError(
            "X is a tensor on the 'meta' device, which holds shapes but no values: "
            "move it to a real device (e.g. X.to('cpu')) first."
        )
    # The caller's autograd graph is never extended nor written into (X.grad).
    X = X.detach()
    if X.dtype not in _FLOAT_DTYPES:
        X = X.to(torch.float32)
    check_finite(X)
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return X.to(device) if device is not None else X


def validate_features_for_fit(estimator, X, *, device=None):
    """Validate training features without writing anything on ``estimator``.

    ``fit`` must leave an estimator as it was when it fails, so the features
    are validated on a shallow copy (same parameters and error messages) and
    what scikit-learn records about them (``n_features_in_``,
    ``feature_names_in_``) is returned, for :func:`record_features` to set
    once the fit has succeeded.

    Returns
    -------
    X : torch.Tensor of shape (n_samples, n_features)
    record : dict
        ``{"n_features_in_": int}``, plus ``"feature_names_in_"`` when X had
        string column names.
    """
    scratch = copy.copy(estimator)
    X = validate_features(scratch, X, reset=True, device=device)
    record = {"n_features_in_": scratch.n_features_in_}
    names = getattr(scratch, "feature_names_in_", None)
    if names is not None:
        record["feature_names_in_"] = names
    return X, record


def feature_names(X):
    """The column names that scikit-learn records as ``feature_names_in_``, or None.

    Those of a dataframe whose columns are all strings (scikit-learn's rule);
    anything else has none.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_lt.utils._array import feature_names
    >>> feature_names(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    array(['a', 'b'], dtype=object)
    >>> feature_names([[1.0, 2.0]]) is None
    True
    """
    columns = getattr(X, "columns", None)
    if columns is None or is_tensor(X):
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if len(names) and all(isinstance(n, str) for n in names) else None


def record_features(estimator, record):
    """Set what :func:`validate_features_for_fit` returned (and drop stale names)."""
    if "feature_names_in_" not in record and hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    for name, value in record.items():
        setattr(estimator, name, value)


def as_labels(y, name="y"):
    """1-D numpy labels from a list, numpy array or tensor (any device)."""
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {y.shape}.")
    return y


def validate_labels(y, n_samples, *, min_classes=2):
    """Check classification labels and encode them.

    Parameters
    ----------
    y : array-like or torch.Tensor of shape (n_samples,)
    n_samples : int
        Number of rows of X; a different length is an error.
    min_classes : int, default=2
        Fewer distinct labels raise a ``ValueError`` that names the classes.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    y_encoded : ndarray of shape (n_samples,), int64
        Index of each label in ``classes``.
    counts : ndarray of shape (n_classes,), int64
        Number of samples of each class.

    Examples
    --------
    >>> from sklearn_lt.utils._array import validate_labels
    >>> validate_labels([7, 3, 7, 7], 4)
    (array([3, 7]), array([1, 0, 1, 1]), array([1, 3]))
    """
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None.")
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got an array of shape {y.shape}.")
    if len(y) != n_samples:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {len(y)}]."
        )
    if y.dtype.kind not in "iu":
        # Integers are finite classification targets; anything else is checked
        # (NaN/inf first, as scikit-learn's estimators do: check_classification_targets
        # would cast them to int, a RuntimeWarning, before calling them "continuous").
        assert_all_finite(y, input_name="y")
        check_classification_targets(y)
    # O(n) for small integer ranges, one sort otherwise: np.unique's output either way.
    classes, y_encoded, counts = encode_labels(y)
    if y_encoded is y:  # never hand out the caller's memory
        y_encoded = y_encoded.copy()
    if len(classes) < min_classes:
        raise ValueError(
            f"{min_classes} or more classes are needed, but the data contains only "
            f"{len(classes)} class: {classes.tolist()}."
        )
    return classes, y_encoded, counts.astype(np.int64, copy=False)



def two_class_rows(single, axis=0):
    """Expand a binary model's single score or row ``w`` into ``(-w/2, w/2)``.

    scikit-learn's binary linear models keep one row ``w`` (and their
    ``decision_function`` one score ``s``): the logit of ``classes_[1]`` minus
    that of ``classes_[0]``. The two logits ``(-s/2, s/2)`` have the same
    softmax (their difference is ``s``). numpy arrays or tensors:

    - ``axis=0``: weights with a leading axis of length 1, ``coef_`` ``(1, d)``
      or ``intercept_`` ``(1,)``, become ``(2, d)`` or ``(2,)``;
    - ``axis=1``: scores ``(n,)`` become logits ``(n, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.utils._array import two_class_rows
    >>> two_class_rows(np.array([2.0, -4.0]), axis=1)
    array([[-1.,  1.],
           [ 2., -2.]])
    >>> two_class_rows(np.array([[1.0, 3.0]]))
    array([[-0.5, -1.5],
           [ 0.5,  1.5]])
    """
    if axis == 0 and single.shape[0] != 1:
        raise ValueError(f"Expected one row (leading axis of length 1), got {tuple(single.shape)}.")
    half = single / 2
    if is_tensor(single):
        return torch.cat([-half, half]) if axis == 0 else torch.stack([-half, half], dim=1)
    return np.concatenate([-half, half]) if axis == 0 else np.stack([-half, half], axis=1)
