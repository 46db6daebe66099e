"""Tensor/array helpers shared by every estimator of the package."""

from ._array import (
    check_finite,
    is_tensor,
    like_input,
    record_features,
    resolve_device,
    to_numpy,
    to_tensor,
    two_class_rows,
    validate_features,
    validate_features_for_fit,
    validate_labels,
)
from ._docstring import Substitution
from ._threads import limit_threads

__all__ = [
    "Substitution",
    "check_finite",
    "is_tensor",
    "like_input",
    "limit_threads",
    "record_features",
    "resolve_device",
    "to_numpy",
    "to_tensor",
    "validate_features",
    "validate_features_for_fit",
    "two_class_rows",
    "validate_labels",
]
