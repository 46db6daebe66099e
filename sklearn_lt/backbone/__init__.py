"""Stage one: a backbone and a linear classifier trained jointly (skorch), or pretrained.

:class:`BackboneEmbedder` trains the representation and hands its features to
a stage-two head; the networks it knows by name live here too.
:class:`PretrainedEmbedder` takes a pretrained network instead and turns image
files into cached features.
"""

from ._accelerate import AcceleratedBackboneEmbedder
from ._callbacks import CosineAnnealing
from ._data import augment_batch
from ._efficientnet_lite import EfficientNetLite0, efficientnet_lite0
from ._embedder import BackboneEmbedder
from ._networks import (
    CifarResNet,
    ConvNet,
    JointNet,
    available_networks,
    build_network,
)
from ._pretrained import PretrainedEmbedder

__all__ = [
    "AcceleratedBackboneEmbedder",
    "BackboneEmbedder",
    "CifarResNet",
    "ConvNet",
    "CosineAnnealing",
    "EfficientNetLite0",
    "JointNet",
    "PretrainedEmbedder",
    "augment_batch",
    "available_networks",
    "build_network",
    "efficientnet_lite0",
]
