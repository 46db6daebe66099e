"""Fidelity suite: the stage-two heads at their defaults on several feature sources.

Issue #14, item 5. Each source (``sources.SOURCES``) gives frozen features
of a long-tailed training set, a small balanced validation set, a balanced
test set and the source's joint classifier; ``runner.MODELS`` lists the
models. ``python -m benchmarks.fidelity`` runs every model on every source
and seed (0, 1, 2), prints one table per source and the orderings, and writes
JSON. See ``benchmarks/fidelity/README.md``.
"""

from .runner import MODELS, format_orderings, format_source, main, run
from .sources import SOURCES, get_source, scaled

__all__ = [
    "MODELS",
    "SOURCES",
    "format_orderings",
    "format_source",
    "get_source",
    "main",
    "run",
    "scaled",
]
