"""Parameters renamed in 0.2: the old name still works until 0.3, with a FutureWarning."""

import warnings

__all__ = ["DEPRECATED", "is_set", "renamed_value"]

# The default of a renamed parameter's old name: set, it is used, with a FutureWarning.
DEPRECATED = "deprecated"


def is_set(value):
    """Whether a renamed parameter's old name was given a value."""
    return not (isinstance(value, str) and value == DEPRECATED)


def renamed_value(owner, old, old_value, new, new_value, *, stacklevel):
    """``new_value``, or ``old_value`` where the deprecated name ``old`` is set.

    Parameters
    ----------
    owner : str
        The estimator or function, named in the warning.
    old, new : str
        The parameter's name before and since 0.2.
    old_value, new_value : object
        Their values; ``old_value`` is ``"deprecated"`` unless given.
    stacklevel : int
        Frames from the warning up to the caller's call, which it points at.

    Returns
    -------
    value : object
        ``old_value`` when set (with a ``FutureWarning`` naming ``new``), else
        ``new_value``.

    Examples
    --------
    >>> from sklearn_lt.utils._deprecation import renamed_value
    >>> renamed_value("f", "tau", "deprecated", "adjustment", 1.0, stacklevel=1)
    1.0
    """
    if not is_set(old_value):
        return new_value
    warnings.warn(
        f"{owner}'s {old!r} was renamed {new!r} in 0.2 and will be removed in 0.3: "
        f"pass {new}={old_value!r} instead (the value given is used).",
        FutureWarning,
        stacklevel=stacklevel + 1,
    )
    return old_value
