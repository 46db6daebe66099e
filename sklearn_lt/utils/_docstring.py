"""Shared docstring entries, filled in by substitution (imbalanced-learn's convention)."""

__all__ = ["Substitution"]


class Substitution:
    """Decorator filling a docstring's ``%(name)s`` placeholders with shared text.

    Parameters shared by several estimators are written once and substituted
    where they are documented, so their descriptions cannot drift apart. A
    literal percent sign in a decorated docstring is written ``%%``.

    Examples
    --------
    >>> from sklearn_lt.utils import Substitution
    >>> @Substitution(unit="seconds")
    ... def wait(t):
    ...     '''Wait ``t`` %(unit)s.'''
    >>> wait.__doc__
    'Wait ``t`` seconds.'
    """

    def __init__(self, **entries):
        self.entries = entries

    def __call__(self, obj):
        if obj.__doc__:
            obj.__doc__ = obj.__doc__ % self.entries
        return obj
