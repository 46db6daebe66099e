"""Helpers for users of the package: numpy/torch conversion and CPU thread limits.

The validation and docstring helpers the estimators share live in the private
modules ``_array`` and ``_docstring``.
"""

from ._array import to_numpy, to_tensor
from ._threads import limit_threads

__all__ = ["limit_threads", "to_numpy", "to_tensor"]
