"""Stage one: a backbone and a linear classifier trained jointly (skorch), or pretrained.

:class:`BackboneEmbedder` trains the representation and hands its features to
a stage-two head; the networks it knows by name live here too.
:class:`PretrainedEmbedder` takes a pretrained network instead and turns image
files into cached features.

Names are imported on first use (PEP 562), so that ``import sklearn_lt`` does
not pay for skorch and accelerate when only the heads are used.
"""

import importlib

# public name -> private module that defines it
_LAZY = {
    "AcceleratedBackboneEmbedder": "_accelerate",
    "BackboneEmbedder": "_embedder",
    "CifarResNet": "_networks",
    "ConvNet": "_networks",
    "CosineAnnealing": "_callbacks",
    "EfficientNetLite0": "_efficientnet_lite",
    "JointNet": "_networks",
    "PretrainedEmbedder": "_pretrained",
    "augment_batch": "_data",
    "available_networks": "_networks",
    "build_network": "_networks",
    "efficientnet_lite0": "_efficientnet_lite",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
