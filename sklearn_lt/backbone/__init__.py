"""Stage one: a backbone and a linear classifier trained jointly (skorch).

:class:`BackboneEmbedder` trains the representation and hands its features to
a stage-two head; the networks it knows by name live here too.
"""

from ._accelerate import AcceleratedBackboneEmbedder
from ._data import augment_batch
from ._embedder import BackboneEmbedder, CosineAnnealing
from ._networks import (
    CifarResNet,
    ConvNet,
    JointNet,
    available_networks,
    build_network,
)

__all__ = [
    "AcceleratedBackboneEmbedder",
    "BackboneEmbedder",
    "CifarResNet",
    "ConvNet",
    "CosineAnnealing",
    "JointNet",
    "augment_batch",
    "available_networks",
    "build_network",
]
