"""Figures of the long-tailed papers as scikit-learn-style Display objects.

Each Display holds the computed data and draws it with ``plot(ax=None,
...)``, which sets ``ax_``, ``figure_`` and the drawn artists; the
``from_estimator`` / ``from_estimators`` / ``from_predictions`` /
``from_samplers`` class methods compute the data and plot it. matplotlib is
an optional dependency (``pip install -e ".[plot]"`` in a clone), imported only
when something is drawn.

Classes on the x axis are always sorted by training count, head first, with
the many / medium / few-shot regions marked.
"""

from ._logits import LogitsMagnitudeDisplay
from ._sampling import SamplingProbabilityDisplay
from ._shot_accuracy import ShotAccuracyDisplay
from ._tau_sweep import TauSweepDisplay
from ._weight_norm import WeightNormDisplay

__all__ = [
    "LogitsMagnitudeDisplay",
    "SamplingProbabilityDisplay",
    "ShotAccuracyDisplay",
    "TauSweepDisplay",
    "WeightNormDisplay",
]
