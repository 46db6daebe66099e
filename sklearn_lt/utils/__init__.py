"""Tensor/array helpers shared by every estimator of the package."""

from ._array import (
    check_finite,
    is_tensor,
    like_input,
    resolve_device,
    to_numpy,
    to_tensor,
    two_class_rows,
    validate_features,
    validate_labels,
)

__all__ = [
    "check_finite",
    "is_tensor",
    "like_input",
    "resolve_device",
    "to_numpy",
    "to_tensor",
    "validate_features",
    "two_class_rows",
    "validate_labels",
]
