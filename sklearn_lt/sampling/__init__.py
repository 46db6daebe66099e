"""Class sampling (Kang et al. 2020, section 3): probabilities, resamplers, index streams."""

from ._probabilities import (
    power_probabilities,
    progressive_probabilities,
    progressive_weight,
    target_counts,
)
from ._samplers import (
    ClassAwareSampler,
    ClassBalancedSampler,
    InstanceBalancedSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)
from ._torch import EpochIndexSampler

__all__ = [
    "ClassAwareSampler",
    "ClassBalancedSampler",
    "EpochIndexSampler",
    "InstanceBalancedSampler",
    "PowerSampler",
    "ProgressivelyBalancedSampler",
    "SquareRootSampler",
    "power_probabilities",
    "progressive_probabilities",
    "progressive_weight",
    "target_counts",
]
